"""Mesh overlays on frames: pyrender (headless EGL) with an automatic fallback to the OpenCV painter.

People estimated from different crops have different virtual cameras (focal, princpt in original-image pixels,
SPEC §1.10). ``to_common_camera`` maps each person's vertices into one shared camera so that every person
projects to exactly the same pixels as with its own camera, and depths are scaled by focal (the original
render.py's far-to-near criterion ||transl||·2/(fx+fy)); all people are then drawn in one pass with a z-buffer.
"""
from __future__ import annotations

import logging
import os

import cv2
import numpy as np

from common.vis.raster import project_points

logger = logging.getLogger(__name__)

__all__ = ['to_common_camera', 'PyrenderRenderer', 'OpenCVRenderer', 'make_renderer', 'overlay_people',
           'draw_vertices', 'draw_boxes']

MESH_COLOR = (1.0, 1.0, 0.9)  # base colour of the original inference overlay (SPEC §5.1), RGB floats


def to_common_camera(vertices: np.ndarray, focal: np.ndarray, princpt: np.ndarray, common_focal: np.ndarray,
                     common_princpt: np.ndarray) -> np.ndarray:
    """Re-express (V,3) camera-frame vertices seen by camera (focal (2,), princpt (2,)) in a camera with
    (common_focal, common_princpt) such that pixel projections are unchanged.

    X' = k (f_x X + (c_x - C_x) Z) / F_x, Y' likewise, Z' = k Z, with k = mean(F) / mean(f).
    """
    v = np.asarray(vertices, np.float64)
    f, c = np.asarray(focal, np.float64), np.asarray(princpt, np.float64)
    F, C = np.asarray(common_focal, np.float64), np.asarray(common_princpt, np.float64)
    xy = (f * v[:, :2] + (c - C) * v[:, 2:3]) / F
    k = F.mean() / f.mean()
    return (k * np.concatenate([xy, v[:, 2:3]], 1)).astype(np.float32)


def _common_view(img_shape, people):
    h, w = img_shape[:2]
    F = np.mean([p[1] for p in people], axis=0)
    C = np.array([w / 2.0, h / 2.0])
    verts = np.stack([to_common_camera(v, f, c, F, C) for v, f, c in people])
    return verts, F, C


class OpenCVRenderer:
    """Numpy/OpenCV painter (``common.vis.raster.render_mesh_opencv``); no GL needed."""
    name = 'opencv'

    def render(self, img_bgr: np.ndarray, people: list, faces: np.ndarray) -> np.ndarray:
        """people: list of (vertices (V,3) metres camera frame, focal (2,), princpt (2,)) in image pixels."""
        if not people:
            return img_bgr.copy()
        from common.vis.raster import render_mesh_opencv
        verts, F, C = _common_view(img_bgr.shape, people)
        return render_mesh_opencv(img_bgr, verts, faces, F, C, color=(0.7, 0.7, 0.9))


class PyrenderRenderer:
    """pyrender offscreen renderer (EGL unless PYOPENGL_PLATFORM is already set); lighting as SPEC §5.1.

    Frames larger than ``max_tile`` pixels on a side are rendered in tiles of at most ``max_tile`` x ``max_tile``
    (the camera's principal point shifted per tile), so GL memory stays bounded for any photo size; the meshes
    are composited onto a copy of the frame, which is never converted to float.
    The GL context belongs to the thread that uses it: create and call it from one thread.
    """
    name = 'pyrender'

    def __init__(self, max_tile: int = 2048):
        os.environ.setdefault('PYOPENGL_PLATFORM', 'egl')  # must precede the first OpenGL import
        if not hasattr(np, 'infty'):
            np.infty = np.inf  # pyrender 0.1.45 still uses np.infty, removed in numpy 2
        import pyrender
        self._pyrender = pyrender
        self._renderer = None
        self._size = None
        self.max_tile = int(max_tile)
        self._ensure((64, 64))  # fail here (not mid-run) when no GL is available

    def _ensure(self, size):
        if self._size != size:
            if self._renderer is not None:
                self._renderer.delete()
            self._renderer = self._pyrender.OffscreenRenderer(viewport_width=size[0], viewport_height=size[1])
            self._size = size

    def render(self, img_bgr: np.ndarray, people: list, faces: np.ndarray) -> np.ndarray:
        """people: list of (vertices (V,3) metres camera frame, focal (2,), princpt (2,)) in image pixels."""
        if not people:
            return img_bgr.copy()
        pr = self._pyrender
        import trimesh
        h, w = img_bgr.shape[:2]
        verts, F, C = _common_view(img_bgr.shape, people)
        scene = pr.Scene(bg_color=(0.0, 0.0, 0.0, 0.0), ambient_light=(0.3, 0.3, 0.3))
        material = pr.MetallicRoughnessMaterial(metallicFactor=0.0, alphaMode='OPAQUE',
                                                baseColorFactor=(*MESH_COLOR, 1.0))
        flip = np.array([1.0, -1.0, -1.0], np.float32)  # OpenCV camera axes -> OpenGL (180° about x)
        for v in verts:
            mesh = trimesh.Trimesh(v * flip, faces, process=False)
            scene.add(pr.Mesh.from_trimesh(mesh, material=material, smooth=False))
        for direction in ((0, -1, 1), (0, 1, 1), (1, 1, 2)):  # lights shining from these points towards origin
            scene.add(pr.DirectionalLight(color=(1.0, 1.0, 1.0), intensity=0.8), pose=_look_at_origin(direction))
        tile_w, tile_h = min(w, self.max_tile), min(h, self.max_tile)
        self._ensure((tile_w, tile_h))
        out = img_bgr.copy()
        for y0 in range(0, h, tile_h):
            for x0 in range(0, w, tile_w):
                camera = scene.add(pr.IntrinsicsCamera(fx=F[0], fy=F[1], cx=C[0] - x0, cy=C[1] - y0, znear=0.01,
                                                       zfar=1e5))
                color, depth = self._renderer.render(scene, flags=pr.RenderFlags.RGBA)
                scene.remove_node(camera)
                th, tw = min(tile_h, h - y0), min(tile_w, w - x0)
                mask = depth[:th, :tw] > 0
                out[y0:y0 + th, x0:x0 + tw][mask] = color[:th, :tw, 2::-1][mask]  # RGB -> BGR
        return out

    def close(self) -> None:
        if self._renderer is not None:
            self._renderer.delete()
            self._renderer = None


def _look_at_origin(position) -> np.ndarray:
    """4x4 pose of a directional light at ``position`` pointing at the origin (lights shine along -z)."""
    z = np.asarray(position, np.float64)
    z /= np.linalg.norm(z)
    up = np.array([0.0, 1.0, 0.0]) if abs(z[1]) < 0.9 else np.array([1.0, 0.0, 0.0])
    x = np.cross(up, z)
    x /= np.linalg.norm(x)
    pose = np.eye(4)
    pose[:3, 0], pose[:3, 1], pose[:3, 2], pose[:3, 3] = x, np.cross(z, x), z, position
    return pose


def make_renderer(kind: str = 'auto'):
    """'pyrender' | 'opencv' | 'auto' (pyrender when a GL context can be made, else OpenCV with a notice)."""
    if kind not in ('auto', 'pyrender', 'opencv'):
        raise ValueError(f'unknown renderer {kind!r}; choose auto, pyrender or opencv')
    if kind == 'opencv':
        return OpenCVRenderer()
    try:
        return PyrenderRenderer()
    except Exception as e:  # no EGL/OSMesa, no display, broken driver: all surface as different exceptions
        if kind == 'pyrender':
            raise RuntimeError(f'pyrender cannot create an offscreen GL context ({type(e).__name__}: {e}); '
                               f'install EGL (libegl1) or use --renderer opencv') from e
        logger.warning('pyrender unavailable (%s: %s); using the OpenCV painter instead', type(e).__name__,
                       str(e).splitlines()[0] if str(e) else '')
        return OpenCVRenderer()


def draw_vertices(img_bgr: np.ndarray, vertices: np.ndarray, focal, princpt, color=(255, 0, 0),
                  alpha: float = 0.8) -> np.ndarray:
    """Project (V,3) camera-frame vertices with (focal, princpt) and draw radius-2 dots (BGR ``color``;
    the original's (0,0,255) in RGB), blended with ``alpha``."""
    uv = project_points(vertices[vertices[:, 2] > 0], focal, princpt)  # points in front of the camera
    layer = img_bgr.copy()
    for x, y in uv[np.isfinite(uv).all(1)].astype(np.int64):
        cv2.circle(layer, (int(x), int(y)), 2, color, -1)
    return cv2.addWeighted(layer, alpha, img_bgr, 1 - alpha, 0)


def draw_boxes(img_bgr: np.ndarray, boxes_xywh: np.ndarray, color=(0, 0, 255)) -> np.ndarray:
    """Draw xywh boxes (original-image pixels) with thickness 2 (red, as the original)."""
    img = img_bgr.copy()
    for x, y, w, h in np.asarray(boxes_xywh, np.float64).reshape(-1, 4):
        cv2.rectangle(img, (int(x), int(y)), (int(x + w), int(y + h)), color, 2)
    return img


def overlay_people(renderer, img_bgr: np.ndarray, people: list, faces: np.ndarray, show_verts: bool = False,
                   boxes_xywh: np.ndarray | None = None) -> np.ndarray:
    """One overlay frame: meshes (or vertex dots with ``show_verts``, as the original), then boxes if given."""
    if show_verts:
        out = img_bgr
        for v, f, c in people:
            out = draw_vertices(out, v, f, c)
        out = out.copy()
    else:
        out = renderer.render(img_bgr, people, faces)
    if boxes_xywh is not None and len(boxes_xywh):
        out = draw_boxes(out, boxes_xywh)
    return out
