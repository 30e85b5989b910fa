"""One shared pinhole camera per image, and each person's translation moved into it (pure numpy).

Every person is estimated in its own *crop camera* (SPEC §1.10): focal 5000 px on the 192x256 body crop,
i.e. ``focal``/``princpt`` in image pixels that depend on the person's box. Those cameras disagree with each
other, so people of one frame have no common 3D frame. The *image camera* is one camera for the whole image:

- intrinsics (``image_intrinsics``): principal point at the image centre ``(W/2, H/2)``; focal from
  ``--focal PX`` (square pixels), or ``--fov DEG`` (the field of view across the larger image side:
  ``f = max(W, H) / 2 / tan(fov / 2)``), or by default ``f = sqrt(W^2 + H^2)`` (the image diagonal in
  pixels, CLIFF's estimate for unknown cameras, ~ 53° across the diagonal, ~ 55° across the wider side of a
  16:9 frame).
- translation (``to_image_camera``): a person is moved rigidly (its pose and shape unchanged) so that its
  **pelvis** projects to the same pixel as through its crop camera and its depth scales with the focal ratio.
  With the pelvis ``P`` (crop camera, metres), crop intrinsics ``f, c`` and image intrinsics ``F, C``:

      Z' = Z * F / f;   X' = (f_x X / Z + c_x - C_x) * Z' / F_x;   Y' = (f_y Y / Z + c_y - C_y) * Z' / F_y
      transl_image_camera = transl + (P' - P)

  so the person's apparent size (``F / Z' = f / Z`` pixels per metre) and image position are kept. Points away
  from the pelvis keep their pixel up to the perspective difference of the two cameras (the crop camera sits
  tens of metres away with a huge focal, almost orthographic; the image camera is a normal lens): a point
  at lateral offset ``u`` pixels from the pelvis and depth offset ``dz`` moves by about
  ``u * dz * (1 / Z' - 1 / Z)`` pixels. ``reprojection_error`` measures it.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ['ImageCamera', 'image_intrinsics', 'to_image_camera', 'project', 'reprojection_error',
           'attach_image_camera', 'PELVIS']

PELVIS = 0  # SMPL-X joint index of the pelvis (the point kept exactly)


@dataclass(frozen=True)
class ImageCamera:
    """The user's choice of the shared camera: ``focal`` (pixels) or ``fov`` (degrees across the larger image
    side), at most one; neither = the default (image diagonal). ``describe()`` goes into ``run.json``."""
    focal: float | None = None
    fov: float | None = None

    def __post_init__(self):
        if self.focal is not None and self.fov is not None:
            raise ValueError('give the image camera as a focal length or a field of view, not both')
        if self.focal is not None and not (self.focal > 0 and math.isfinite(self.focal)):
            raise ValueError(f'focal must be a positive number of pixels, got {self.focal}')
        if self.fov is not None and not 0 < self.fov < 180:
            raise ValueError(f'fov must be in (0, 180) degrees, got {self.fov}')

    def intrinsics(self, width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
        return image_intrinsics(width, height, focal=self.focal, fov=self.fov)

    def describe(self) -> dict:
        rule = 'focal' if self.focal is not None else 'fov' if self.fov is not None else 'diagonal'
        return {'rule': rule, 'focal': self.focal, 'fov': self.fov}


def image_intrinsics(width: int, height: int, focal: float | None = None,
                     fov: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Image-camera intrinsics for a (width, height) image: ((fx, fy), (cx, cy)) float64 pixels (module doc)."""
    if focal is None:
        focal = (max(width, height) / 2 / math.tan(math.radians(fov) / 2) if fov is not None
                 else math.hypot(width, height))
    return np.array([focal, focal], np.float64), np.array([width / 2, height / 2], np.float64)


def to_image_camera(transl: np.ndarray, pelvis: np.ndarray, focal: np.ndarray, princpt: np.ndarray,
                    image_focal: np.ndarray, image_princpt: np.ndarray) -> np.ndarray:
    """A person's translation in the image camera (module doc).

    Args:
        transl: (3,) or (1, 3) ``transl`` of the crop camera, metres.
        pelvis: (3,) the pelvis joint in the crop camera (``transl`` included), metres.
        focal, princpt: (2,) crop-camera intrinsics, image pixels; image_focal, image_princpt: (2,) the image
            camera's.
    Returns:
        (3,) float64 ``transl_image_camera``, metres.
    """
    t = np.asarray(transl, np.float64).reshape(3)
    p = np.asarray(pelvis, np.float64).reshape(3)
    f, c = np.asarray(focal, np.float64), np.asarray(princpt, np.float64)
    F, C = np.asarray(image_focal, np.float64), np.asarray(image_princpt, np.float64)
    z = p[2] * math.sqrt(F[0] * F[1] / (f[0] * f[1]))
    pix = f * p[:2] / p[2] + c  # the pelvis pixel through the crop camera
    p_new = np.array([(pix[0] - C[0]) * z / F[0], (pix[1] - C[1]) * z / F[1], z])
    return t + (p_new - p)


def project(points: np.ndarray, focal: np.ndarray, princpt: np.ndarray) -> np.ndarray:
    """(..., 3) camera-frame points -> (..., 2) pixels through a pinhole camera (focal (2,), princpt (2,))."""
    p = np.asarray(points, np.float64)
    return p[..., :2] / np.maximum(p[..., 2:3], 1e-9) * np.asarray(focal) + np.asarray(princpt)


def reprojection_error(joints: np.ndarray, transl: np.ndarray, transl_image: np.ndarray, focal, princpt,
                       image_focal, image_princpt) -> np.ndarray:
    """(N,) pixel distance between each joint through its crop camera and, moved to ``transl_image``, through
    the image camera. ``joints`` (N, 3) crop camera, metres (``transl`` included)."""
    j = np.asarray(joints, np.float64)
    moved = j - np.asarray(transl, np.float64).reshape(3) + np.asarray(transl_image, np.float64).reshape(3)
    return np.linalg.norm(project(j, focal, princpt) - project(moved, image_focal, image_princpt), axis=-1)


def attach_image_camera(result, camera: ImageCamera) -> None:
    """Fill ``transl_image_camera``, ``image_focal``, ``image_princpt`` of every person of a ``FrameResult``."""
    w, h = result.size
    F, C = camera.intrinsics(w, h)
    for p in result.people:
        t = to_image_camera(p.params['transl'], p.joints[PELVIS], p.focal, p.princpt, F, C)
        p.transl_image_camera = t.astype(np.float32)
        p.image_focal, p.image_princpt = F.astype(np.float32), C.astype(np.float32)
