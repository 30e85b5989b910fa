"""tools/make_synthetic_assets.py: argument mistakes end with one line and exit status 2, before any writing."""
import pytest

from tools.make_synthetic_assets import main


@pytest.mark.parametrize('case, message', [
    ('file as OUT_DIR', 'OUT_DIR {f}: {f} is a file, not a folder'),
    ('file above OUT_DIR', 'OUT_DIR {f}/sub: {f} is a file, not a folder'),
    ('file as --demo-video', '--demo-video {f}: {f} is a file, not a folder'),
    ('--train_samples 0', '--train_samples must be at least 1, got 0'),
    ('--test_frames -1', '--test_frames must be at least 1, got -1'),
])
def test_argument_mistakes(case, message, tmp_path, capsys):
    f = tmp_path / 'notes.txt'
    f.write_text('not a folder')
    out = tmp_path / 'out'
    argv = {'file as OUT_DIR': [str(f)], 'file above OUT_DIR': [str(f / 'sub')],
            'file as --demo-video': [str(out), '--demo-video', str(f)],
            '--train_samples 0': [str(out), '--train_samples', '0'],
            '--test_frames -1': [str(out), '--test_frames', '-1']}[case]
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith('make_synthetic_assets.py: error: ')
    assert message.format(f=f) in lines[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ['notes.txt']   # nothing written
