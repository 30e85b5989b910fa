"""common.utils.files: atomic writes keep the previous file on failure, say when the disk is full, and give
finished files the permissions the umask asks for."""
import errno
import os
import stat

import pytest

from common.utils.files import FileWriteError, atomic_open, atomic_write


@pytest.fixture
def umask_027():
    old = os.umask(0o027)
    yield 0o640  # 0o666 & ~0o027
    os.umask(old)


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_success_replaces_the_file_with_umask_permissions(tmp_path, umask_027):
    path = tmp_path / 'sub' / 'out.bin'
    with atomic_write(path) as tmp:
        assert tmp.name == 'out.bin.tmp' and tmp.parent == path.parent
        tmp.write_bytes(b'new')
        os.chmod(tmp, 0o600)  # what safetensors does to its own files
    assert path.read_bytes() == b'new' and _mode(path) == umask_027
    assert sorted(p.name for p in path.parent.iterdir()) == ['out.bin']


def test_writer_that_replaces_the_temp_file_still_gets_umask_permissions(tmp_path, umask_027):
    path = tmp_path / 'out.bin'
    with atomic_write(path, fsync=False) as tmp:
        other = tmp_path / 'elsewhere'
        other.write_bytes(b'x')
        os.chmod(other, 0o600)
        os.replace(other, tmp)  # a library writing its own temp file and renaming it onto ours
    assert _mode(path) == umask_027


@pytest.mark.parametrize('code, text', [(errno.ENOSPC, 'no space left on device while writing'),
                                        (errno.EDQUOT, 'no space left on device while writing'),
                                        (errno.EIO, 'cannot write')])
def test_os_error_keeps_previous_file_and_removes_temp(tmp_path, code, text):
    path = tmp_path / 'out.json'
    path.write_text('old')
    with pytest.raises(FileWriteError) as info:
        with atomic_write(path) as tmp:
            tmp.write_text('half')
            raise OSError(code, os.strerror(code))
    assert str(info.value).startswith(f'{text} {path}') and info.value.errno == code
    assert isinstance(info.value, OSError) and isinstance(info.value.__cause__, OSError)
    assert path.read_text() == 'old'
    assert sorted(p.name for p in tmp_path.iterdir()) == ['out.json']


def test_other_errors_pass_through_and_remove_temp(tmp_path):
    path = tmp_path / 'out.json'
    for exc in (ValueError('bad value'), KeyboardInterrupt()):
        with pytest.raises(type(exc)):
            with atomic_write(path) as tmp:
                tmp.write_text('half')
                raise exc
        assert list(tmp_path.iterdir()) == []


def test_stale_temp_file_of_a_killed_run_is_replaced(tmp_path, umask_027):
    path = tmp_path / 'out.bin'
    stale = tmp_path / 'out.bin.tmp'
    stale.write_bytes(b'stale')
    os.chmod(stale, 0o600)
    with atomic_open(path) as f:
        f.write(b'fresh')
    assert path.read_bytes() == b'fresh' and _mode(path) == umask_027 and not stale.exists()


def test_atomic_open_on_a_full_disk(tmp_path, full_disk):
    path = tmp_path / 'out.bin'
    path.write_bytes(b'old')
    full_disk(limit=10)
    with pytest.raises(FileWriteError, match=f'^no space left on device while writing {path}'):
        with atomic_open(path) as f:
            f.write(b'x' * 100_000)  # larger than the buffer: goes straight to the failing raw write
    assert path.read_bytes() == b'old' and sorted(p.name for p in tmp_path.iterdir()) == ['out.bin']


def test_unwritable_folder_names_the_file(tmp_path):
    if os.geteuid() == 0:
        blocker = tmp_path / 'file'
        blocker.write_text('')  # a file where a folder should be: fails for root too
        path = blocker / 'out.bin'
    else:
        os.chmod(tmp_path, 0o500)
        path = tmp_path / 'out.bin'
    try:
        with pytest.raises(FileWriteError, match=f'cannot write {path}'):
            with atomic_write(path) as tmp:
                tmp.write_bytes(b'x')
    finally:
        os.chmod(tmp_path, 0o700)


def test_inference_writers_on_a_full_disk(tmp_path, full_disk):
    """Inference files go through the same writer: a full disk names the file and leaves no .tmp behind."""
    import numpy as np

    from common.inference import result_files
    from common.inference.person import PARAM_SHAPES
    params = {k: np.zeros(s, np.float32) for k, s in PARAM_SHAPES.items()}
    result_files.write_person(tmp_path, '000001_0', params, {'frame': 1})
    full_disk(100, result_files)  # result_files.py opens the temp file of an npz itself
    with pytest.raises(FileWriteError, match=f'^no space left on device while writing {tmp_path / "smplx"}'):
        result_files.write_person(tmp_path, '000002_0', params, {'frame': 2})
    assert not list(tmp_path.rglob('*.tmp'))
    assert sorted(p.name for p in (tmp_path / 'smplx').iterdir()) == ['000001_0.npz']
