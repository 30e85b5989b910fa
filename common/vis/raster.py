"""A small numpy/OpenCV mesh painter (no OpenGL needed).

Used to render the synthetic datasets and as the fallback of the overlay renderer when no GL context is
available. Camera convention: OpenCV (x right, y down, z forward), metres, pinhole intrinsics in pixels.

Algorithm: project every vertex, drop faces with a vertex closer than ``NEAR_Z`` (behind the camera),
faces facing away from the camera and faces entirely outside the image, shade each remaining face with
Lambert's law under a head-light (light at the camera centre), sort faces far → near and paint them with
``cv2.fillConvexPoly`` (painter's algorithm). Several people are merged into one face list, so they are
painted in one common depth order.
"""
import logging

import cv2
import numpy as np

__all__ = ['render_mesh_opencv', 'project_points', 'NEAR_Z']

logger = logging.getLogger(__name__)

NEAR_Z = 1e-2  # metres; faces with any vertex nearer than this (or behind the camera) are culled
AMBIENT = 0.3  # shade = AMBIENT + (1 - AMBIENT) * cos(angle between face normal and view ray)
_SUBPIXEL_BITS = 4  # cv2 fill with 1/16-pixel vertex precision


def project_points(points_cam, focal, princpt):
    """Pinhole projection.

    Args:
        points_cam: (..., 3) camera-frame points in metres (z > 0 in front of the camera).
        focal: (2,) fx, fy in pixels.
        princpt: (2,) cx, cy in pixels.

    Returns:
        (..., 2) pixel coordinates (x right, y down). Points with z <= 0 give meaningless values.
    """
    points_cam = np.asarray(points_cam, dtype=np.float64)
    z = points_cam[..., 2:3]
    z = np.where(np.abs(z) < 1e-12, 1e-12, z)
    return points_cam[..., :2] / z * np.asarray(focal, dtype=np.float64) + np.asarray(princpt, dtype=np.float64)


def _as_people(vertices, faces, color):
    """Merge (V,3) or (N,V,3) vertices into one vertex list, one face list and per-face colours."""
    vertices = np.asarray(vertices, dtype=np.float64)
    if vertices.ndim == 2:
        vertices = vertices[None]
    if vertices.ndim != 3 or vertices.shape[-1] != 3:
        raise ValueError(f'vertices must have shape (V,3) or (N,V,3), got {vertices.shape}')
    faces = np.asarray(faces, dtype=np.int64)
    if faces.ndim != 2 or faces.shape[1] != 3:
        raise ValueError(f'faces must have shape (F,3), got {faces.shape}')
    if faces.size and (faces.min() < 0 or faces.max() >= vertices.shape[1]):
        raise ValueError(f'faces index vertices 0..{faces.max()}, but there are only {vertices.shape[1]} vertices')
    num_people, num_verts = vertices.shape[:2]
    color = np.asarray(color, dtype=np.float64).reshape(-1, 3)
    if color.shape[0] not in (1, num_people):
        raise ValueError(f'color must be (3,) or (N,3) with N={num_people} people, got {color.shape}')
    color = np.broadcast_to(color, (num_people, 3))
    all_faces = (faces[None] + num_verts * np.arange(num_people)[:, None, None]).reshape(-1, 3)
    face_color = np.repeat(color, faces.shape[0], axis=0)  # (N*F, 3) RGB in [0,1]
    return vertices.reshape(-1, 3), all_faces, face_color


def render_mesh_opencv(img_bgr, vertices, faces, focal, princpt, color=(0.7, 0.7, 0.9), return_mask=False,
                       cull_backfaces=True):
    """Paint one or several meshes over an image.

    Args:
        img_bgr: (H, W, 3) uint8 BGR image (not modified).
        vertices: (V, 3) or (N, V, 3) camera-frame vertices in metres (OpenCV axes).
        faces: (F, 3) integer vertex indices, counter-clockwise seen from outside (outward normals).
        focal: (2,) fx, fy in pixels.
        princpt: (2,) cx, cy in pixels.
        color: RGB in [0, 1], (3,) for everybody or (N, 3) one per person.
        return_mask: also return the (H, W) bool mask of painted pixels.
        cull_backfaces: skip faces whose outward normal points away from the camera (halves the work for
            closed meshes; turn off for meshes with inconsistent winding).

    Returns:
        (H, W, 3) uint8 BGR image with the meshes painted, and the mask if ``return_mask``.
    """
    img_bgr = np.asarray(img_bgr)
    if img_bgr.ndim != 3 or img_bgr.shape[2] != 3:
        raise ValueError(f'img_bgr must be (H,W,3), got {img_bgr.shape}')
    out = np.ascontiguousarray(img_bgr, dtype=np.uint8).copy()
    height, width = out.shape[:2]
    mask = np.zeros((height, width), dtype=np.uint8)
    verts, all_faces, face_color = _as_people(vertices, faces, color)

    tri = verts[all_faces]  # (F, 3 corners, 3 xyz)
    keep = tri[:, :, 2].min(axis=1) > NEAR_Z  # fully in front of the camera
    normal = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    centre = tri.mean(axis=1)
    norm_len = np.linalg.norm(normal, axis=1)
    ray_len = np.linalg.norm(centre, axis=1)
    cos_view = -(normal * centre).sum(axis=1) / np.maximum(norm_len * ray_len, 1e-12)  # >0: faces the camera
    keep &= norm_len > 0
    if cull_backfaces:
        keep &= cos_view > 0
    # Faces are also dropped if their projection misses the image entirely.
    tri_px = project_points(np.where(keep[:, None, None], tri, 1.0), focal, princpt)  # (F, 3, 2)
    lo, hi = tri_px.min(axis=1), tri_px.max(axis=1)
    keep &= (hi[:, 0] >= 0) & (lo[:, 0] <= width - 1) & (hi[:, 1] >= 0) & (lo[:, 1] <= height - 1)
    if not keep.any():
        return (out, mask.astype(bool)) if return_mask else out

    idx = np.nonzero(keep)[0]
    order = idx[np.argsort(-centre[idx, 2], kind='stable')]  # far → near
    shade = AMBIENT + (1.0 - AMBIENT) * np.abs(cos_view[order])
    bgr = np.clip(face_color[order][:, ::-1] * shade[:, None] * 255.0, 0, 255).round().astype(np.int64)
    # Limit coordinates so the fixed-point conversion cannot overflow (clipping only ever touches faces
    # that reach far outside the image, which are then still drawn over the visible part).
    limit = 8 * max(height, width)
    pts = np.clip(tri_px[order], -limit, limit + max(height, width))
    pts = np.round(pts * (1 << _SUBPIXEL_BITS)).astype(np.int32)
    colours = bgr.tolist()
    for poly, col in zip(pts, colours):
        cv2.fillConvexPoly(out, poly, col, lineType=cv2.LINE_8, shift=_SUBPIXEL_BITS)
        if return_mask:
            cv2.fillConvexPoly(mask, poly, 1, lineType=cv2.LINE_8, shift=_SUBPIXEL_BITS)
    logger.debug('painted %d of %d faces', len(order), len(all_faces))
    return (out, mask.astype(bool)) if return_mask else out
