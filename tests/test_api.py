"""The public API (``import smplerx``): load, predict, predict_video, and that it is the CLI's code path."""
from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.fixtures.inference import TINY_CFG_OPTIONS

ROOT = Path(__file__).resolve().parents[1]
BUS_JPG = Path(__import__('ultralytics').__file__).parent / 'assets' / 'bus.jpg'  # a real photo (810x1080)


@pytest.fixture(scope='module')
def tiny_model(human_model_path, tiny_checkpoint):
    import smplerx
    return smplerx.load('config_smpler_x_s32', ckpt=tiny_checkpoint, cfg_options=TINY_CFG_OPTIONS,
                        human_model_path=human_model_path, device='cpu')


def test_installed_package_imports_and_predicts_from_another_directory(tmp_path, human_model_path):
    """`pip install -e .` (done by make) makes `import smplerx` work anywhere: a real photo, given boxes, every
    documented field with its shape."""
    script = f'''
import json, numpy as np, smplerx
m = smplerx.load('config_smpler_x_s32', random_weights=True, cfg_options={TINY_CFG_OPTIONS!r},
                 human_model_path={str(human_model_path)!r}, device='cpu')
people = m.predict({str(BUS_JPG)!r}, boxes=[[50, 230, 200, 680], {{"bbox": [650, 220, 160, 620], "score": 0.7}}])
p = people[0]
print(json.dumps({{'file': smplerx.__file__, 'n': len(people), 'params': {{k: list(v.shape) for k, v in p.params.items()}},
  'vertices': list(p.vertices.shape), 'joints': list(p.joints.shape), 'bbox': list(p.bbox.shape),
  'bbox_det': p.bbox_det.tolist(), 'focal': list(p.focal.shape), 'princpt': list(p.princpt.shape),
  'scores': [q.score for q in people], 'track_id': p.track_id, 'finite': bool(np.isfinite(p.vertices).all())}}))
'''
    out = subprocess.run([sys.executable, '-c', script], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    res = json.loads(out.stdout.strip().splitlines()[-1])
    assert Path(res['file']).resolve() == ROOT / 'smplerx' / '__init__.py'
    assert res['n'] == 2
    assert res['params'] == {'global_orient': [1, 3], 'body_pose': [21, 3], 'left_hand_pose': [15, 3],
                             'right_hand_pose': [15, 3], 'jaw_pose': [1, 3], 'leye_pose': [1, 3], 'reye_pose': [1, 3],
                             'betas': [1, 10], 'expression': [1, 10], 'transl': [1, 3]}
    assert res['vertices'] == [10475, 3] and res['joints'] == [144, 3]
    assert res['bbox'] == [4] and res['focal'] == [2] and res['princpt'] == [2]
    assert res['bbox_det'] == [50, 230, 200, 680]  # given boxes are used as they are, in the given order
    assert res['scores'] == [1.0, pytest.approx(0.7)] and res['track_id'] is None and res['finite']


def test_predict_fields_agree_with_each_other(tiny_model):
    import cv2
    rgb = cv2.imread(str(BUS_JPG))[:, :, ::-1].copy()
    people = tiny_model.predict(rgb, boxes=[[50, 230, 200, 680]])
    p = people[0]
    x, y, w, h = p.bbox
    # the crop camera of SPEC §1.10 in image pixels
    np.testing.assert_allclose(p.focal, [5000 / 192 * w, 5000 / 256 * h], rtol=1e-5)
    np.testing.assert_allclose(p.princpt, [96 / 192 * w + x, 128 / 256 * h + y], rtol=1e-5)
    # params reproduce the mesh and the joints (transl included)
    from common.inference.stream import pose_people
    verts, joints = pose_people(tiny_model.body_model, [p.params])
    np.testing.assert_allclose(verts[0], p.vertices, atol=2e-5)
    np.testing.assert_allclose(joints[0], p.joints, atol=2e-5)
    # a path and the RGB array give the same result; a list gives a list per image
    from_path = tiny_model.predict(str(BUS_JPG), boxes=[[50, 230, 200, 680]])[0]
    np.testing.assert_array_equal(from_path.params['body_pose'], p.params['body_pose'])
    both = tiny_model.predict([rgb, str(BUS_JPG)], boxes=[[[50, 230, 200, 680]], []])
    assert [len(b) for b in both] == [1, 0]
    np.testing.assert_allclose(both[0][0].params['transl'], p.params['transl'], atol=1e-6)


@pytest.mark.parametrize('call,match', [
    (lambda m: m.predict(np.zeros((10, 10), np.uint8), boxes=[[0, 0, 5, 5]]), 'uint8 RGB array'),
    (lambda m: m.predict(np.zeros((10, 10, 3), np.float32), boxes=[[0, 0, 5, 5]]), 'uint8 RGB array'),
    (lambda m: m.predict([str(BUS_JPG)] * 2, boxes=[[[0, 0, 5, 5]]]), '1 box list'),
    (lambda m: m.predict('/nonexistent/x.jpg', boxes=[[0, 0, 5, 5]]), 'no such image file'),
    (lambda m: m.predict(str(BUS_JPG), boxes=[[0, 0, 5]]), 'must be 4 numbers'),
])
def test_predict_bad_inputs_say_what_is_wrong(tiny_model, call, match):
    with pytest.raises((ValueError, OSError), match=match):
        call(tiny_model)


@pytest.mark.parametrize('kwargs,match', [
    (dict(name_or_config=None), 'needs a model name'),
    (dict(name_or_config='config_smpler_x_s32'), 'give its weights with ckpt'),
    (dict(name_or_config='config_smpler_x_s32', ckpt='x.pth', random_weights=True), 'not both'),
    (dict(name_or_config='config_smpler_x_s32', random_weights=True, precision='fp8'), 'precision'),
])
def test_load_argument_errors(kwargs, match):
    import smplerx
    with pytest.raises(ValueError, match=match):
        smplerx.load(**kwargs)


def test_predict_video_equals_inference_cli(tmp_path, tiny_model, model_args, inference_entry):
    """The API and main/inference.py are one code path: same parameters on the demo video and its boxes."""
    video, boxes = ROOT / 'demo' / 'sample.mp4', ROOT / 'demo' / 'sample_boxes.json'
    frames = list(tiny_model.predict_video(video, boxes, batch_size=4, start=1, end=6, multi_person=False))
    assert [f.frame for f in frames] == list(range(1, 7)) and all(f.image.shape == (240, 320, 3) for f in frames)
    inference_entry.main(['--video_input', str(video), '--bbox_file', str(boxes), '--start', '1', '--end', '6',
                          '--output_folder', str(tmp_path / 'cli'), '--no_overlay', *model_args])
    res = np.load(tmp_path / 'cli' / 'results.npz')
    people = [p for f in frames for p in f.people]
    assert len(people) == len(res['frame']) and len(people) > 0
    np.testing.assert_array_equal([p.track_id for p in people], res['track_id'])
    for key in ('global_orient', 'body_pose', 'left_hand_pose', 'betas', 'expression', 'transl'):
        api = np.stack([p.params[key] for p in people]).reshape(res[key].shape)
        np.testing.assert_allclose(api, res[key], atol=1e-6, err_msg=key)
    np.testing.assert_allclose(np.stack([p.focal for p in people]), res['focal'], rtol=1e-6)


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


def test_inference_and_api_never_import_the_dataset_package():
    """Layers point one way (STYLE 18): inference and the API use common/utils/crop.py, not data/."""
    offenders = {str(p.relative_to(ROOT)): sorted(m for m in _imports(p) if m == 'data' or m.startswith('data.'))
                 for folder in ('common/inference', 'smplerx') for p in (ROOT / folder).rglob('*.py')}
    assert {k: v for k, v in offenders.items() if v} == {}


def test_importing_the_api_and_the_tester_loads_no_dataset_module():
    script = ('import sys, smplerx.api, common.engine.tester; '
              'print(sorted(m for m in sys.modules if m == "data" or m.startswith("data.")))')
    out = subprocess.run([sys.executable, '-c', script], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == '[]'
