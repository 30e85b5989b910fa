"""One web-app job: an uploaded photo or video through the API's one inference path (``Predictor.stream``) and
the project's result writers (``FrameWriter``, ``assemble_results``: the files of ``main/inference.py``) into the
job's folder, frame by frame, so the page can show progress and a cancelled job stops at the next frame; then
what the page shows and offers for download.

The job folder holds ``results/`` (the inference output folder: ``results.npz``, ``smplx/``, ``meta/``, ``mesh/``,
``img/`` for a photo's overlay; ``results/export/`` for a video's animation files: BVH and animated glb per track,
``scene.glb``, as ``main/export.py`` writes them), ``overlay.mp4`` for a video and ``people.zip`` (a video's
per-person files).
"""
from __future__ import annotations

import logging
import threading
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from smplerx.cli import MESH_FORMATS

logger = logging.getLogger(__name__)

__all__ = ['JobOptions', 'JobResult', 'JobCancelled', 'JobFailed', 'run_job', 'people_table', 'TABLE_HEADERS',
           'MESH_FORMATS']

TABLE_HEADERS = ['frame', 'person', 'track id', 'box x', 'box y', 'box w', 'box h', 'score', 'betas[0:3]',
                 '|betas|']
_MAX_SINGLE_DOWNLOADS = 40  # more per-person files than this (videos) are offered as one people.zip
# One job on the shared model at a time, also while a cancelled job's thread runs to its next frame.
_MODEL_LOCK = threading.Lock()


class JobCancelled(Exception):
    """Raised by the progress callback to stop a job at the next frame."""


class JobFailed(Exception):
    """A job that cannot run or finish, with a message for the page (names the file and what to do)."""


@dataclass
class JobOptions:
    """The page's options. show_bbox: draw the person boxes on the overlay; mesh_formats: per-person meshes
    ('obj', 'ply', 'glb'); animation: a video's animation files (``common.export``: BVH and animated glb per
    track, the scene glb); renderer: overlay renderer."""
    multi_person: bool = True
    track: bool = True
    smooth: bool = False
    show_bbox: bool = True
    mesh_formats: tuple = ('obj', 'glb')
    animation: bool = True
    batch_size: int = 16
    renderer: str = 'auto'


@dataclass
class JobResult:
    """What a finished job shows: overlay_image (photo) or overlay_video, the per-person table rows
    (``TABLE_HEADERS``), the download files and the number of frames."""
    kind: str
    overlay_image: Path | None
    overlay_video: Path | None
    table: list = field(default_factory=list)
    downloads: list = field(default_factory=list)
    frames: int = 0


def upload_kind(path: Path) -> str:
    """'image' for image suffixes (as the inference input rules), else 'video' (decoding decides)."""
    from common.inference.io import IMAGE_EXTENSIONS
    return 'image' if Path(path).suffix.lower() in IMAGE_EXTENSIONS else 'video'


def run_job(predictor, media: Path, boxes: Path | None, job_dir: Path, opts: JobOptions,
            progress: Callable[[int, int | None], None] | None = None) -> JobResult:
    """Run one upload into ``job_dir``.

    Args:
        predictor: ``smplerx.Predictor``; media: the uploaded photo or video; boxes: optional boxes JSON.
        progress: called as ``progress(frames_done, frames_total_or_None)`` after each written frame (in the
            caller's thread); it may raise ``JobCancelled`` to stop the job there.
    Raises:
        JobFailed: unreadable upload, bad boxes file, no detector weights, nobody found, ... (readable message).
        JobCancelled: from ``progress``.
    """
    import smplerx

    from common.inference.io import open_source
    from common.inference.output_stage import FrameWriter
    from common.inference.result_files import assemble_results
    media, job_dir = Path(media), Path(job_dir)
    kind = upload_kind(media)
    out = job_dir / 'results'
    video = job_dir / 'overlay.mp4' if kind == 'video' else None
    write = smplerx.WriteOptions(mesh_formats=tuple(opts.mesh_formats), save_images=kind == 'image',
                                 video_output=video, renderer=opts.renderer, show_bbox=opts.show_bbox)
    writer = None
    try:
        with _MODEL_LOCK:
            source = open_source(media)
            stream = smplerx.StreamOptions(batch_size=opts.batch_size, multi_person=opts.multi_person,
                                           track=opts.track or opts.smooth, smooth=opts.smooth, fps=source.fps)
            writer = FrameWriter(out, write, predictor.faces, predictor.body_model, source.fps, source.path)
            try:
                for result in predictor.stream(source, boxes, stream):
                    writer.write(result)
                    if progress is not None:
                        progress(writer.frames_written, source.num_frames or None)
            finally:
                writer.close()
    except JobCancelled:
        raise
    except Exception as e:  # noqa: BLE001 - every failure becomes a message on the page
        raise JobFailed(_readable(e, media, boxes)) from e
    results = assemble_results(out, writer.frame_ids)
    if results is None:
        raise JobFailed(f'{media.name}: no frame could be processed')
    with np.load(results) as res:
        table = people_table(res)
    if not table:
        raise JobFailed(f'{media.name}: nobody was found (no person box); upload a boxes file, or check that '
                        f'people are visible and large enough')
    overlay_image = out / 'img' / media.name if kind == 'image' else None
    downloads = _downloads(out, job_dir, results)
    if kind == 'video' and opts.animation:
        downloads += _animation_files(predictor, out, source.fps, media)
    return JobResult(kind, overlay_image, video if video is not None and video.is_file() else None, table,
                     downloads, writer.frames_written)


def _animation_files(predictor, out: Path, fps: float, media: Path) -> list[Path]:
    """The BVH / glb per track and the scene glb of a video's results (``main/export.py --format all``)."""
    from common.export.exporter import export_results
    from common.export.rig import RigError
    from common.export.tracks import ExportInputError
    try:
        return export_results(out, 'all', body_model=predictor.body_model, fps=fps)
    except (ExportInputError, RigError) as e:
        raise JobFailed(f'{media.name}: the animation export failed: {e}') from e


def people_table(res) -> list[list]:
    """Rows of ``TABLE_HEADERS`` from a ``results.npz`` mapping: one per person and frame."""
    rows = []
    for i in range(len(res['frame'])):
        x, y, w, h = (round(float(v), 1) for v in res['bbox_det'][i])
        betas = res['betas'][i]
        rows.append([int(res['frame'][i]), int(res['person'][i]), int(res['track_id'][i]), x, y, w, h,
                     round(float(res['score'][i]), 3), ', '.join(f'{b:+.2f}' for b in betas[:3]),
                     round(float(np.linalg.norm(betas)), 3)])
    return rows


def _downloads(out: Path, job_dir: Path, results: Path) -> list[Path]:
    """results.npz, then the per-person npz and mesh files (or one people.zip when there are many)."""
    person_files = sorted((out / 'smplx').glob('*.npz')) + sorted(p for p in (out / 'mesh').glob('*')
                                                                   if p.suffix[1:] in MESH_FORMATS)
    if len(person_files) <= _MAX_SINGLE_DOWNLOADS:
        return [results] + person_files
    archive = job_dir / 'people.zip'
    with zipfile.ZipFile(archive, 'w', zipfile.ZIP_DEFLATED) as z:
        for sub in ('smplx', 'meta', 'mesh'):
            for p in sorted((out / sub).glob('*')):
                z.write(p, f'{sub}/{p.name}')
    return [results, archive]


def _readable(e: Exception, media: Path, boxes: Path | None) -> str:
    """The message of a failed job: the API's errors name the file and the fix (uploads by their own name, not
    their place in the server's cache); others get their type."""
    from common.inference.detection import BoxFileError
    from common.inference.io import IMAGE_EXTENSIONS, FrameSourceError
    from common.weights import WeightsNotFoundError
    msg = str(e)
    for path in (media, boxes):
        if path is not None:
            msg = msg.replace(str(path), path.name)
    if isinstance(e, WeightsNotFoundError) and boxes is None:
        return f'{msg}\n\nWithout detector weights, upload a boxes file with the person boxes.'
    if isinstance(e, FrameSourceError) and upload_kind(media) == 'video':
        return (f'{msg}\n\nUpload a photo ({" ".join(IMAGE_EXTENSIONS)}) or a video (mp4, mov, avi, mkv, webm, '
                f'...).')
    if isinstance(e, (FrameSourceError, BoxFileError, WeightsNotFoundError, ValueError)):
        return msg
    logger.exception('job on %s failed', media)
    return f'{media.name}: processing failed ({type(e).__name__}: {msg})'
