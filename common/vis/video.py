"""Browser-playable video output: H.264 (libx264), yuv420p BT.709, even frame size, MP4 with the index up front.

Written frame by frame through PyAV (which ships its own FFmpeg build with libx264), so a video never sits in
memory. Chrome, Firefox and Safari play these files in a ``<video>`` element; OpenCV's ``mp4v`` (MPEG-4 Part 2)
files play in none of them.

Frame size rules (README "Inference outputs"):
- the first frame fixes the video size; an odd width or height gets one replicated pixel column/row at the
  right/bottom edge (H.264 with 4:2:0 chroma needs even sizes), never a rescale;
- a later frame of another size (an image folder of mixed sizes) is scaled to fit inside the video size with
  its aspect ratio kept and centred on black (letterbox), and one warning per video says how many frames were.
"""
from __future__ import annotations

import logging
import math
import os
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

logger = logging.getLogger(__name__)

__all__ = ['VideoWriter', 'VIDEO_SUFFIXES', 'letterbox']

VIDEO_SUFFIXES = ('.mp4',)  # container chosen from the suffix; H.264 in MP4 is what every browser plays
_BT709 = 1  # matrix/primaries/transfer code point of BT.709 (ISO/IEC 23091-2, FFmpeg's AVCOL_* enums)
_LIMITED_RANGE = 1  # FFmpeg's AVCOL_RANGE_MPEG: luma 16..235, what yuv420p conversion produces
_ENCODER_OPTIONS = {'crf': '20', 'preset': 'veryfast'}  # x264 quality (lower = better; 23 is x264's default)


def letterbox(img: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Scale ``img`` (H, W, 3) to fit inside ``size`` = (width, height) keeping its aspect ratio; centre it on
    black. Returns (height, width, 3) of the input's dtype."""
    w, h = size
    ih, iw = img.shape[:2]
    scale = min(w / iw, h / ih)
    nw, nh = max(1, round(iw * scale)), max(1, round(ih * scale))
    out = np.zeros((h, w, img.shape[2]), img.dtype)
    x0, y0 = (w - nw) // 2, (h - nh) // 2
    out[y0:y0 + nh, x0:x0 + nw] = cv2.resize(img, (nw, nh), interpolation=cv2.INTER_AREA)
    return out


class VideoWriter:
    """H.264/MP4 writer opened on the first frame.

    The file is written as ``PATH.partial`` and renamed to ``path`` by ``close()``, so an interrupted run never
    leaves a half-written video under the final name (a resumed run rewrites the video from all frames).

    Args:
        path: output file; must end with one of ``VIDEO_SUFFIXES``.
        fps: frames per second (> 0).

    Attributes:
        count: frames written so far; size: (width, height) of the video once the first frame came (even).
    """

    def __init__(self, path: Path, fps: float):
        self.path = Path(path)
        if self.path.suffix.lower() not in VIDEO_SUFFIXES:
            raise ValueError(f'video output {self.path}: unsupported suffix {self.path.suffix!r}; use '
                             f'{" or ".join(VIDEO_SUFFIXES)} (H.264, plays in browsers)')
        if not (math.isfinite(fps) and fps > 0):
            raise ValueError(f'video output {self.path}: frame rate must be a positive number, got {fps}')
        self.fps = float(fps)
        self.count, self.size, self._letterboxed = 0, None, 0
        self._container = self._stream = None
        self._partial = self.path.with_name(self.path.name + '.partial')

    def _open(self, width: int, height: int) -> None:
        import av
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.size = (width + width % 2, height + height % 2)
        # movflags=faststart moves the index to the front, so a browser starts playing before the download ends
        self._container = av.open(str(self._partial), mode='w', format='mp4', options={'movflags': '+faststart'})
        self._stream = self._container.add_stream('libx264', rate=Fraction(self.fps).limit_denominator(1001),
                                                  options=dict(_ENCODER_OPTIONS))
        self._stream.width, self._stream.height = self.size
        self._stream.pix_fmt = 'yuv420p'
        cc = self._stream.codec_context  # say how write() converts (BT.709, limited range) so players agree
        cc.colorspace = cc.color_primaries = cc.color_trc = _BT709
        cc.color_range = _LIMITED_RANGE

    def write(self, img_bgr: np.ndarray) -> None:
        """Append one frame: (H, W, 3) uint8 BGR (OpenCV's layout)."""
        if img_bgr.ndim != 3 or img_bgr.shape[2] != 3 or img_bgr.dtype != np.uint8:
            raise ValueError(f'video output {self.path}: frames must be (H, W, 3) uint8 BGR, got '
                             f'{img_bgr.shape} {img_bgr.dtype}')
        h, w = img_bgr.shape[:2]
        if self._container is None:
            self._open(w, h)
        elif (w + w % 2, h + h % 2) != self.size:
            img_bgr = letterbox(img_bgr, self.size)
            self._letterboxed += 1
            h, w = img_bgr.shape[:2]
        if (w, h) != self.size:  # odd first size: replicate the last column/row
            img_bgr = cv2.copyMakeBorder(img_bgr, 0, self.size[1] - h, 0, self.size[0] - w, cv2.BORDER_REPLICATE)
        import av
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(img_bgr), format='bgr24')
        frame = frame.reformat(format='yuv420p', dst_colorspace='ITU709')
        for packet in self._stream.encode(frame):
            self._container.mux(packet)
        self.count += 1

    def close(self) -> None:
        """Flush the encoder, finish the file and move it to ``path``. No frames written: no file."""
        if self._container is None:
            return
        try:
            for packet in self._stream.encode(None):
                self._container.mux(packet)
        finally:
            self._container.close()
            self._container = self._stream = None
        os.replace(self._partial, self.path)
        if self._letterboxed:
            logger.warning('%s: %d of %d frame(s) had another size than the first frame %dx%d and were scaled '
                           'to fit (aspect ratio kept, black borders)', self.path, self._letterboxed, self.count,
                           *self.size)
