"""Frame sources for inference: a video file, a folder of images, or one image.

Frame numbering (used in output names ``{frame:06d}_{person}``):
- video: 1-based index of the decoded frame (the numbering ``ffmpeg -i in.mp4 %06d.jpg`` gives);
- image folder whose file stems are all integers (``000001.jpg`` ...): that integer;
- any other image folder: 1-based position in sorted file-name order; single image: 1.
``--start S --end N`` keep frames S, S+1, ..., S+N-1 (as the original: ``--end`` is a count).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np

from common.utils.images import ImageReadError, read_image

logger = logging.getLogger(__name__)

__all__ = ['Frame', 'FrameSourceError', 'FrameSource', 'open_source', 'IMAGE_EXTENSIONS']

IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp', '.webp', '.tif', '.tiff')


class FrameSourceError(RuntimeError):
    """An input that cannot be read at all (missing, not a video, empty folder)."""


@dataclass
class Frame:
    """One decoded frame.

    Attributes:
        index: frame number used in output names.
        name: output image file name (``{index:06d}.jpg`` for video, the file name for images).
        image: (H, W, 3) uint8 BGR.
    """
    index: int
    name: str
    image: np.ndarray


class FrameSource:
    """Iterable of ``Frame`` with ``kind`` ('video' | 'images' | 'image'), ``fps``, ``num_frames`` (expected
    count after --start/--end; an upper bound for videos whose header lies), ``total_frames`` (the whole
    input's count: the video header's, or the number of image files) and ``path``."""

    def __init__(self, path: Path, kind: str, fps: float, num_frames: int, items: list | None,
                 start: int | None, end: int | None, total_frames: int = 0):
        self.path, self.kind, self.fps, self.num_frames = path, kind, fps, num_frames
        self._items, self._start, self._end = items, start, end
        self.total_frames = total_frames or num_frames

    def _in_range(self, index: int) -> bool:
        if self._start is not None and index < self._start:
            return False
        return self._end is None or index < (self._start or 1) + self._end

    def __iter__(self) -> Iterator[Frame]:
        if self.kind == 'video':
            yield from self._iter_video()
            return
        for index, file in self._items:
            try:
                img = read_image(file)
            except ImageReadError as e:
                logger.warning('skipping frame %d: %s', index, e)
                continue
            yield Frame(index, file.name, img)

    def _iter_video(self) -> Iterator[Frame]:
        cap = cv2.VideoCapture(str(self.path))
        index = 0
        try:
            while True:
                ok, img = cap.read()
                if not ok or img is None:
                    break
                index += 1
                if self._end is not None and index >= (self._start or 1) + self._end:
                    break
                if self._in_range(index):
                    yield Frame(index, f'{index:06d}.jpg', img)
        finally:
            cap.release()
        expected = self.num_frames + (self._start or 1) - 1
        if index < expected:
            logger.warning('video %s ended after %d frames although its header announces %d: the file may be '
                           'truncated; results were written for the frames that could be decoded',
                           self.path, index, expected)


def _numbered(files: list[Path]) -> list[tuple[int, Path]]:
    stems = [f.stem for f in files]
    if all(s.isdigit() for s in stems):
        return sorted(zip((int(s) for s in stems), files))
    return list(enumerate(sorted(files), start=1))


def open_source(path: str | Path, start: int | None = None, end: int | None = None,
                expect: str | None = None) -> FrameSource:
    """Open a video file, an image folder or a single image.

    Args:
        start, end: first frame number (>= 1) and number of frames (>= 1), as ``--start`` / ``--end``.
        expect: 'video' (given as ``--video_input``) or 'images' (``--img_path``): a path of the other kind is
            refused with a message naming the right flag; None accepts both.
    Raises:
        FrameSourceError: the path does not exist or is of the other kind, the video cannot be opened, has no
            frames or none from ``start`` on, or the folder holds no image files in range (the message lists what
            was found).
    """
    path = Path(path)
    flag = {'video': '--video_input', 'images': '--img_path'}.get(expect, 'input')
    if start is not None and start < 1 or end is not None and end < 1:
        raise FrameSourceError(f'--start and --end must be >= 1 (frames are numbered from 1; --end is a count), got '
                               f'--start {start} --end {end}')
    if not path.exists():
        raise FrameSourceError(f'{flag} {path} does not exist; pass a video file (--video_input) or an image '
                               f'file/folder (--img_path)')
    is_image = path.is_file() and path.suffix.lower() in IMAGE_EXTENSIONS
    if expect == 'video' and (path.is_dir() or is_image):
        raise FrameSourceError(f'--video_input {path} is {"a folder" if path.is_dir() else "an image"}; give image '
                               f'files and folders with --img_path')
    if expect == 'images' and path.is_file() and not is_image:
        raise FrameSourceError(f'--img_path {path} is neither an image ({" ".join(IMAGE_EXTENSIONS)}) nor a folder '
                               f'of images; give videos with --video_input')
    if path.is_dir():
        all_files = sorted(p for p in path.iterdir() if p.is_file())
        files = [p for p in all_files if p.suffix.lower() in IMAGE_EXTENSIONS]
        if len(files) < len(all_files):
            logger.info('%s: ignoring %d non-image files (image extensions: %s)', path,
                        len(all_files) - len(files), ' '.join(IMAGE_EXTENSIONS))
        if not files:
            raise FrameSourceError(f'image folder {path} holds no image files ({len(all_files)} other files); '
                                   f'expected {"/".join(IMAGE_EXTENSIONS)} frames, e.g. from '
                                   f'`ffmpeg -i video.mp4 {path}/%06d.jpg`')
        items = _numbered(files)
        src = FrameSource(path, 'images', 30.0, 0, items, start, end, total_frames=len(items))
        src._items = [(i, f) for i, f in items if src._in_range(i)]
        src.num_frames = len(src._items)
        if not src._items:
            raise FrameSourceError(f'no frames of {path} fall in --start {start} --end {end} '
                                   f'(frame numbers {items[0][0]}..{items[-1][0]})')
        return src
    if path.suffix.lower() in IMAGE_EXTENSIONS:
        return FrameSource(path, 'image', 30.0, 1, [(1, path)], None, None)
    cap = cv2.VideoCapture(str(path))
    try:
        if not cap.isOpened():
            raise FrameSourceError(f'cannot open video {path}: not a video file OpenCV can decode (check the file '
                                   f'with `ffprobe {path}`)')
        fps = cap.get(cv2.CAP_PROP_FPS) or 30.0
        count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        ok, _ = cap.read()
    finally:
        cap.release()
    if not ok:
        raise FrameSourceError(f'video {path} has no decodable frame (empty or corrupt file)')
    first = start or 1
    if count > 0 and first > count:
        raise FrameSourceError(f'--start {first} is past the last frame of {path} (its header announces {count} '
                               f'frames)')
    n = max(count - first + 1, 0) if count > 0 else 0
    if end is not None:
        n = min(n, end) if count > 0 else end
    return FrameSource(path, 'video', float(fps), n, None, start, end, total_frames=count)
