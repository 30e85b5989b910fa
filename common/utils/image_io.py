"""Read an image file, or say why it cannot be used.

OpenCV decodes a truncated JPEG without an error: the missing rows come back grey and only libjpeg's
"Premature end of JPEG file" line reaches stderr. `read_image` detects such files (the entropy-coded data
of the last scan is not followed by the end-of-image marker) and reports them like any other unreadable
file. A bottom-layer module (numpy + OpenCV), shared by the datasets and inference.
"""
from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

__all__ = ['ImageReadError', 'read_image', 'jpeg_is_truncated']

_JPEG_SOI = b'\xff\xd8'  # start of image
_JPEG_SOS = b'\xff\xda'  # start of scan: the entropy-coded data follows
_JPEG_EOI = b'\xff\xd9'  # end of image


class ImageReadError(OSError):
    """An image file that is missing, undecodable or truncated; ``path`` and ``reason`` say which."""

    def __init__(self, path, reason: str):
        self.path, self.reason = str(path), reason
        super().__init__(f'{path}: {reason}')


def jpeg_is_truncated(data: bytes) -> bool:
    """Whether JPEG bytes lack the end-of-image marker after their last scan.

    Inside entropy-coded data every 0xFF byte is followed by 0x00 or a restart marker, so ``FF D9`` after
    the last ``FF DA`` can only be the real end of the image (an EXIF thumbnail's own end marker comes
    before the main image's first scan; bytes appended after the end marker do not matter).
    """
    last_scan = data.rfind(_JPEG_SOS)
    return last_scan < 0 or data.rfind(_JPEG_EOI) < last_scan


def read_image(path: str | os.PathLike, flags: int = cv2.IMREAD_COLOR) -> np.ndarray:
    """The decoded image (for the default flags (H, W, 3) uint8 BGR, EXIF orientation applied, exactly as
    ``cv2.imread``).

    Raises:
        ImageReadError: the file is missing or unreadable, OpenCV cannot decode it, or it is a JPEG
            truncated before its end-of-image marker.
    """
    path = Path(path)
    try:
        buf = path.read_bytes()
    except OSError as exc:
        reason = 'no such file' if not path.exists() else f'cannot be read ({exc.strerror or exc})'
        raise ImageReadError(path, reason) from None
    if buf.startswith(_JPEG_SOI) and jpeg_is_truncated(buf):
        raise ImageReadError(path, 'truncated JPEG (the file ends before its end-of-image marker)')
    img = cv2.imdecode(np.frombuffer(buf, dtype=np.uint8), flags) if buf else None
    if img is None:
        raise ImageReadError(path, 'not a decodable image (empty, corrupt or an unsupported format)')
    return img
