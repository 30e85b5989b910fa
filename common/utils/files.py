"""Atomic file writes: the one way outputs (checkpoints, safetensors, inference files) reach the disk.

A write goes to ``NAME.tmp`` in the same folder and is renamed onto ``NAME`` only when it completed, so an
interrupted or failed write never damages the previous ``NAME``. The finished file gets the permissions a
plain ``open(NAME, 'w')`` would give (``0o666`` minus the umask), whatever mode the writing library chose for
its own temporary file (safetensors creates ``0o600`` files). A failing write removes the temporary file and
raises :class:`FileWriteError` saying what happened ("no space left on device while writing NAME", ...).
"""
from __future__ import annotations

import errno
import os
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO, Iterator

__all__ = ['FileWriteError', 'atomic_write', 'atomic_open']

_NO_SPACE = (errno.ENOSPC, errno.EDQUOT)


class FileWriteError(OSError):
    """Writing ``path`` failed (disk full, permission, I/O error); the previous file is unchanged.

    ``errno`` is the cause's error number (``errno.ENOSPC`` for a full disk); ``path`` the file meant to be written.
    """

    def __init__(self, path: Path, cause: OSError):
        if cause.errno in _NO_SPACE:
            text = (f'no space left on device while writing {path}; free some space and run again '
                    f'(the previous {path.name}, if any, is unchanged)')
        else:
            text = f'cannot write {path}: {cause.strerror or cause}'
        super().__init__(text)
        self.errno = cause.errno
        self.path = path


class _RecordingFile:
    """A binary file whose ``write``/``flush`` remember the first OSError before re-raising it.

    torch.save's zip writer catches the OSError of a failed ``write`` and raises ``RuntimeError: [enforce
    fail at inline_container.cc] unexpected pos ...`` instead; the recorded error says what really happened.
    """

    def __init__(self, file: BinaryIO):
        self._file = file
        self.error: OSError | None = None

    def write(self, data) -> int:
        try:
            return self._file.write(data)
        except OSError as err:
            self.error = self.error or err
            raise

    def flush(self) -> None:
        try:
            self._file.flush()
        except OSError as err:
            self.error = self.error or err
            raise


def _fsync_dir(folder: Path) -> None:
    """Make a rename in ``folder`` durable; not supported on every platform or filesystem."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextmanager
def atomic_write(path, *, fsync: bool = True) -> Iterator[Path]:
    """Yield the temporary path ``path.tmp`` to write to; on success move it onto ``path``.

    Args:
        path: the file to (re)write; its folder is created when missing.
        fsync: flush the data and the rename to the disk (checkpoints); False for many small files whose
            loss on a power cut is tolerated (inference outputs are redone by ``--resume``).
    Raises:
        FileWriteError: an OSError while writing, syncing or renaming (the temp file is removed and an
            existing ``path`` is left as it was). Other exceptions pass through, also removing the temp file.
    """
    path = Path(path)
    tmp = path.with_name(path.name + '.tmp')
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.unlink(missing_ok=True)  # a stale temp file of a killed run may carry another mode
        os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))  # the kernel applies the umask
        mode = os.stat(tmp).st_mode & 0o777
    except OSError as err:
        raise FileWriteError(path, err) from err
    try:
        yield tmp
        if (os.stat(tmp).st_mode & 0o777) != mode:  # the writer replaced the file with its own mode
            os.chmod(tmp, mode)
        if fsync:
            with open(tmp, 'rb+') as f:
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as err:
        tmp.unlink(missing_ok=True)
        raise FileWriteError(path, err) from err
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    if fsync:
        _fsync_dir(path.parent)


@contextmanager
def atomic_open(path, *, fsync: bool = True) -> Iterator[BinaryIO]:
    """``atomic_write`` with the temporary file opened for binary writing (e.g. for ``torch.save(obj, f)``).

    A library that turns the file's OSError into another exception (torch.save raises ``RuntimeError ...
    unexpected pos``) still gives FileWriteError naming the real cause.
    """
    with atomic_write(path, fsync=fsync) as tmp:
        with open(tmp, 'wb') as raw:
            file = _RecordingFile(raw)
            try:
                yield file  # type: ignore[misc]  # duck-typed binary file (write/flush)
                raw.flush()
            except Exception as err:
                if file.error is not None and not isinstance(err, OSError):
                    raise file.error from err
                raise
