"""`python main/{train,test,inference,render}.py --help` answers without importing torch (issue #13 item 3).

Each script runs in a fresh interpreter through a small wrapper (runpy, as ``python SCRIPT --help`` would) that
reports afterwards which heavy modules the script had imported. Time is not asserted here (speed is measured,
not tested); without torch, timm and mmengine the help costs the interpreter start and argparse.
"""
import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
HEAVY = ('torch', 'timm', 'mmengine', 'cv2', 'smplx', 'ultralytics')
WRAPPER = '''
import json, runpy, sys
script = sys.argv[1]
sys.argv = [script, '--help']
code = None
try:
    runpy.run_path(script, run_name='__main__')
except SystemExit as exc:
    code = exc.code
print('@@' + json.dumps({'code': code, 'heavy': [m for m in %r if m in sys.modules]}))
''' % (HEAVY,)

SCRIPTS = [
    'main/train.py', 'main/test.py', 'main/render.py',
    'main/inference.py', 'main/export.py',
    'tools/make_synthetic_assets.py',
]


@pytest.mark.parametrize('script', SCRIPTS)
def test_help_imports_no_heavy_module(script, tmp_path):
    proc = subprocess.run([sys.executable, '-c', WRAPPER, str(REPO / script)], cwd=tmp_path, capture_output=True,
                          text=True, timeout=120)
    report = json.loads(proc.stdout.rsplit('@@', 1)[1])
    assert report['code'] in (0, None), proc.stderr[-2000:]
    assert 'usage:' in proc.stdout and '--help' in proc.stdout
    assert report['heavy'] == [], f'{script} --help imported {report["heavy"]}'
