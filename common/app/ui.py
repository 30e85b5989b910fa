"""The Gradio page of the web demo: upload a photo or a video (and optionally a boxes file), see the overlay, the
per-person table and the downloads. Jobs go through Gradio's queue one at a time (the model is shared), each in
its own folder (``JobFolders``), with a progress bar per frame; the Stop button cancels a queued job and stops a
running one at its next frame.
"""
# no `from __future__ import annotations`: Gradio finds the gr.Request parameters by their real annotation
import html
import logging
import threading
import time
from pathlib import Path

from common.app.demo_mode import PIPELINE_CHECK_TEXT, PIPELINE_CHECK_TITLE
from common.app.job import MESH_FORMATS, TABLE_HEADERS, JobCancelled, JobFailed, JobOptions, run_job
from common.app.jobs import JobFolders

logger = logging.getLogger(__name__)

__all__ = ['build_app', 'launch_options']

_CSS = """
#pipeline-check {border: 2px solid #d97706; background: #fffbeb; padding: 0.6em 1em; border-radius: 6px}
#pipeline-check pre {white-space: pre-wrap; margin: 0.3em 0 0 0; font-size: 0.85em}
#status {min-height: 1.5em}
"""


def _banner_html() -> str:
    return (f'<div id="pipeline-check"><strong>{html.escape(PIPELINE_CHECK_TITLE)}</strong>'
            f'<pre>{html.escape(PIPELINE_CHECK_TEXT)}</pre></div>')


class _Sessions:
    """Stop flags of the running jobs, by Gradio session."""

    def __init__(self):
        self._flags: dict[str, threading.Event] = {}
        self._lock = threading.Lock()

    def start(self, session: str) -> threading.Event:
        with self._lock:
            flag = self._flags[session] = threading.Event()
        return flag

    def stop(self, session: str) -> None:
        with self._lock:
            flag = self._flags.pop(session, None)
        if flag is not None:
            flag.set()

    def end(self, session: str, flag: threading.Event) -> None:
        with self._lock:
            if self._flags.get(session) is flag:
                del self._flags[session]


def launch_options() -> dict:
    """Look of the page, for ``Blocks.launch`` (Gradio 6 takes theme and css there): system fonts only, so the
    page needs no web fonts (works offline)."""
    import gradio as gr
    theme = gr.themes.Default(font=['ui-sans-serif', 'system-ui', 'sans-serif'],
                              font_mono=['ui-monospace', 'monospace'])
    return {'theme': theme, 'css': _CSS}


def build_app(predictor, jobs: JobFolders, *, pipeline_check: bool, model_label: str, batch_size: int = 16,
              renderer: str = 'auto'):
    """The ``gr.Blocks`` page (queue not yet configured; ``main/app.py`` does that and launches it with
    ``launch_options()``). Gradio's own upload/output cache is cleaned with the job folders' age.

    Args:
        predictor: ``smplerx.Predictor`` shared by all jobs; jobs: where job folders go (and their maximum age).
        pipeline_check: show the pipeline-check banner (random weights / synthetic body model).
        model_label: one line naming the model, weights, device and precision.
    """
    import gradio as gr

    sessions = _Sessions()

    def run(media, boxes, multi_person, track, smooth, show_bbox, mesh_formats, animation, request: gr.Request,
            progress=gr.Progress()):
        empty = (None, None, None, None)
        if media is None:
            return ('**Upload a photo or a video first.**',) + empty
        session = request.session_hash or 'local'
        flag = sessions.start(session)
        job_dir = jobs.new()
        started = time.monotonic()
        progress(0, desc='waiting for the model')

        def on_frame(done: int, total: int | None) -> None:
            if flag.is_set():
                raise JobCancelled(f'stopped after {done} frame(s)')
            progress((done, total) if total else (done, None), desc='frames', unit='frames')

        opts = JobOptions(multi_person=multi_person, track=track, smooth=smooth, show_bbox=show_bbox,
                          mesh_formats=tuple(mesh_formats or ()), animation=animation, batch_size=batch_size,
                          renderer=renderer)
        try:
            result = run_job(predictor, Path(media), Path(boxes) if boxes else None, job_dir, opts, on_frame)
        except JobCancelled as e:
            return (f'**Job cancelled** by the Stop button ({e}).',) + empty
        except JobFailed as e:
            return ('**Job failed**: ' + html.escape(str(e)).replace('\n', '<br>'),) + empty
        finally:
            sessions.end(session, flag)
        status = (f'**Done** in {time.monotonic() - started:.1f} s: {result.frames} frame(s), '
                  f'{len(result.table)} person result(s).'
                  + (' *Pipeline check: the meshes are noise.*' if pipeline_check else ''))
        return (status, str(result.overlay_image) if result.overlay_image else None,
                str(result.overlay_video) if result.overlay_video else None, result.table,
                [str(p) for p in result.downloads])

    def stop(request: gr.Request):
        sessions.stop(request.session_hash or 'local')
        return '**Job cancelled** by the Stop button (a running job stops at its next frame).'

    age = int(jobs.max_age_s)
    with gr.Blocks(title='SMPLer-X demo', analytics_enabled=False, delete_cache=(max(60, age // 4), age)) as demo:
        gr.Markdown('# SMPLer-X: whole-body SMPL-X from a photo or a video\n' + html.escape(model_label))
        if pipeline_check:
            gr.HTML(_banner_html())
        with gr.Row():
            # no file_types filter: every upload reaches run_job, whose errors name the file and the fix
            media = gr.File(label='Photo or video', type='filepath', elem_id='media')
            boxes = gr.File(label='Person boxes (JSON, optional; format in README "Inference")', type='filepath',
                            elem_id='boxes')
        with gr.Row():
            multi_person = gr.Checkbox(True, label='every person (off: the largest only)')
            track = gr.Checkbox(True, label='track people across frames')
            smooth = gr.Checkbox(False, label='smooth over time (videos)')
            show_bbox = gr.Checkbox(True, label='draw the person boxes')
            mesh_formats = gr.CheckboxGroup(list(MESH_FORMATS), value=['obj', 'glb'], label='mesh files',
                                            elem_id='mesh-formats')
            animation = gr.Checkbox(True, label='animation files: BVH + glTF per track (videos)', elem_id='animation')
        with gr.Row():
            run_button = gr.Button('Run', variant='primary', elem_id='run')
            stop_button = gr.Button('Stop', variant='stop', elem_id='stop')
        status = gr.Markdown(elem_id='status')
        with gr.Row():
            image_out = gr.Image(label='Overlay (photo)', type='filepath', interactive=False,
                                 elem_id='overlay-image')
            video_out = gr.Video(label='Overlay (video)', interactive=False, autoplay=True, loop=True,
                                 elem_id='overlay-video')
        table = gr.Dataframe(headers=TABLE_HEADERS, label='People', interactive=False, elem_id='people')
        downloads = gr.File(label='Downloads (results.npz, per-person parameters and meshes, animation files)',
                            file_count='multiple', interactive=False, elem_id='downloads')
        job = run_button.click(run, [media, boxes, multi_person, track, smooth, show_bbox, mesh_formats, animation],
                               [status, image_out, video_out, table, downloads])
        stop_button.click(stop, None, status, cancels=[job], queue=False)
    return demo
