"""Reading image files with a reason when they cannot be used (shared by inference and the datasets).

OpenCV decodes a truncated JPEG without an error (only libjpeg's "Premature end of JPEG file" on stderr) and
returns an image whose missing part is grey; ``read_image`` refuses such files.
"""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

__all__ = ['ImageReadError', 'read_image', 'jpeg_is_truncated']

_JPEG_SUFFIXES = ('.jpg', '.jpeg', '.jpe', '.jfif')
_TAIL = 1 << 16  # the end-of-image marker of a complete JPEG lies in its last bytes (up to padding/trailers)


class ImageReadError(OSError):
    """An image file that cannot be used; the message names the file and the problem."""


def jpeg_is_truncated(path: str | Path) -> bool:
    """True when a JPEG file lacks its end-of-image marker (FF D9), i.e. was cut short.

    The marker is looked for in the last 64 KiB; a file with a longer trailer after it (e.g. a motion photo)
    is checked by a full decode with Pillow, which reports truncation itself."""
    path = Path(path)
    with open(path, 'rb') as f:
        f.seek(max(0, path.stat().st_size - _TAIL))
        if b'\xff\xd9' in f.read():
            return False
    from PIL import Image
    try:
        with Image.open(path) as img:
            img.load()
    except OSError:
        return True
    return False


def read_image(path: str | Path, flags: int = cv2.IMREAD_COLOR) -> np.ndarray:
    """``cv2.imread`` that raises ``ImageReadError`` (missing, undecodable or truncated JPEG) instead of
    returning None or a partly grey image. Returns (H, W, 3) uint8 BGR for the default ``flags``."""
    path = Path(path)
    if not path.is_file():
        raise ImageReadError(f'{path}: no such image file')
    img = cv2.imread(str(path), flags)
    if img is None:
        raise ImageReadError(f'{path}: not an image OpenCV can decode (corrupt, empty or an unsupported format)')
    if path.suffix.lower() in _JPEG_SUFFIXES and jpeg_is_truncated(path):
        raise ImageReadError(f'{path}: truncated JPEG (the file ends before its end-of-image marker); re-extract or '
                             f're-download it')
    return img
