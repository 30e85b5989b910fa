"""Tests of the numpy/OpenCV mesh painter."""
import numpy as np
import pytest
import trimesh

from common.vis.raster import project_points, render_mesh_opencv

H, W = 200, 240
FOCAL = (500.0, 500.0)
PRINCPT = (120.0, 100.0)


def _cube(centre, size):
    box = trimesh.creation.box(extents=(size, size, size))  # outward, counter-clockwise faces
    return np.asarray(box.vertices) + np.asarray(centre), np.asarray(box.faces)


def _background():
    return np.full((H, W, 3), 17, dtype=np.uint8)


def test_cube_in_front_paints_its_projection_only():
    verts, faces = _cube((0.0, 0.0, 3.0), 0.5)
    out, mask = render_mesh_opencv(_background(), verts, faces, FOCAL, PRINCPT, return_mask=True)
    assert out.shape == (H, W, 3) and out.dtype == np.uint8
    # The visible front face is the square at z = 2.75 with half-size 0.25 m -> 500*0.25/2.75 = 45.45 px.
    half = 500 * 0.25 / 2.75
    ys, xs = np.nonzero(mask)
    assert abs(xs.min() - (120 - half)) <= 1.5 and abs(xs.max() - (120 + half)) <= 1.5
    assert abs(ys.min() - (100 - half)) <= 1.5 and abs(ys.max() - (100 + half)) <= 1.5
    # Everything outside the mask is untouched, everything inside differs from the background.
    assert np.array_equal(out[~mask], _background()[~mask])
    assert (out[mask] != 17).any(axis=1).all()
    # The face looks straight at the camera centre: near-full Lambert shade of (0.7,0.7,0.9) in BGR.
    b, g, r = out[100, 120].astype(int)
    assert b > g and abs(g - r) <= 1 and b >= 0.9 * 0.95 * 255


def test_mesh_behind_camera_paints_nothing():
    verts, faces = _cube((0.0, 0.0, -3.0), 0.5)
    out, mask = render_mesh_opencv(_background(), verts, faces, FOCAL, PRINCPT, return_mask=True)
    assert not mask.any()
    assert np.array_equal(out, _background())


def test_face_crossing_the_camera_plane_is_culled_alone():
    # Two camera-facing triangles: one fully in front, one with a vertex behind the camera.
    verts = np.array([[-0.5, -0.5, 2.0], [0.5, 0.5, 2.0], [0.5, -0.5, 2.0],
                      [-0.5, 0.5, 2.0], [0.5, 0.5, 2.0], [-0.5, 0.5, -1.0]])
    faces = np.array([[0, 1, 2], [3, 4, 5]])
    _, mask = render_mesh_opencv(_background(), verts, faces, FOCAL, PRINCPT, return_mask=True,
                                 cull_backfaces=False)
    _, mask_front = render_mesh_opencv(_background(), verts, faces[:1], FOCAL, PRINCPT, return_mask=True,
                                       cull_backfaces=False)
    assert mask_front.sum() > 1000
    assert np.array_equal(mask, mask_front)


@pytest.mark.parametrize('swap', [False, True])
def test_nearer_mesh_occludes_farther(swap):
    near_v, faces = _cube((0.0, 0.0, 2.0), 0.4)
    far_v, _ = _cube((0.0, 0.0, 4.0), 1.2)
    verts = np.stack([near_v, far_v])
    colors = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])  # near red, far blue (RGB)
    if swap:
        verts, colors = verts[::-1], colors[::-1]
    out = render_mesh_opencv(_background(), verts, faces, FOCAL, PRINCPT, color=colors)
    b, g, r = out[100, 120].astype(int)
    assert r > 200 and b == 0, (b, g, r)  # near red cube in front
    # Next to the near cube (its half-size 0.2/1.8*500 = 55 px) the far blue cube shows.
    b, g, r = out[100, 120 + 80].astype(int)
    assert b > 200 and r == 0, (b, g, r)


def test_backface_culling_switch():
    # One triangle whose outward normal points away from the camera (+z).
    verts = np.array([[-0.5, -0.5, 2.0], [0.5, -0.5, 2.0], [0.5, 0.5, 2.0]])
    faces = np.array([[0, 1, 2]])
    assert np.cross(verts[1] - verts[0], verts[2] - verts[0])[2] > 0
    _, mask = render_mesh_opencv(_background(), verts, faces, FOCAL, PRINCPT, return_mask=True)
    assert not mask.any()
    _, mask = render_mesh_opencv(_background(), verts, faces, FOCAL, PRINCPT, return_mask=True,
                                 cull_backfaces=False)
    assert mask.sum() > 1000


def test_project_points_pinhole():
    pts = np.array([[0.2, -0.1, 2.0], [0.0, 0.0, 1.0]])
    px = project_points(pts, (400.0, 300.0), (10.0, 20.0))
    np.testing.assert_allclose(px, [[10 + 400 * 0.1, 20 - 300 * 0.05], [10.0, 20.0]])


def test_bad_shapes_are_refused():
    verts, faces = _cube((0.0, 0.0, 3.0), 0.5)
    with pytest.raises(ValueError, match='vertices'):
        render_mesh_opencv(_background(), verts[:, :2], faces, FOCAL, PRINCPT)
    with pytest.raises(ValueError, match='faces'):
        render_mesh_opencv(_background(), verts, faces + 100, FOCAL, PRINCPT)
    with pytest.raises(ValueError, match='color'):
        render_mesh_opencv(_background(), verts, faces, FOCAL, PRINCPT, color=np.ones((3, 3)))
