"""Tests of the synthetic HumanData training set and the synthetic EHF set."""
import json
from pathlib import Path

import cv2
import numpy as np
import torch
import trimesh

from common.utils.human_models import get_smplx, load_hand_vertex_ids
from common.vis.raster import project_points, render_mesh_opencv
from data.synthetic.ehf_set import write_ehf_set
from data.synthetic.humandata_set import synthetic_camera, write_humandata_train_set

SMPLX_KEYS = {'global_orient': (3,), 'body_pose': (21, 3), 'betas': (10,), 'transl': (3,),
              'left_hand_pose': (15, 3), 'right_hand_pose': (15, 3), 'jaw_pose': (3,), 'leye_pose': (3,),
              'reye_pose': (3,), 'expression': (10,)}


def _load(data_dir):
    content = np.load(Path(data_dir) / 'preprocessed_datasets' / 'synthetic_train.npz', allow_pickle=True)
    return {k: content[k] for k in content.files}


def _forward(human_model_path, params, with_transl=True):
    n = params['global_orient'].shape[0]
    t = {k: torch.as_tensor(np.asarray(v), dtype=torch.float32).reshape(n, -1) for k, v in params.items()}
    out = get_smplx(human_model_path)(
        global_orient=t['global_orient'], body_pose=t['body_pose'], left_hand_pose=t['left_hand_pose'],
        right_hand_pose=t['right_hand_pose'], jaw_pose=t['jaw_pose'], betas=t['betas'],
        expression=t['expression'], leye_pose=t['leye_pose'], reye_pose=t['reye_pose'],
        transl=t['transl'] if with_transl else None)
    return out.vertices.numpy(), out.joints.numpy()


def test_humandata_file_has_the_documented_layout(synthetic_data_dir):
    d = _load(synthetic_data_dir)
    n = len(d['image_path'])
    assert n >= 12 and bool(d['__keypoints_compressed__']) is False
    for key in ('bbox_xywh', 'lhand_bbox_xywh', 'rhand_bbox_xywh', 'face_bbox_xywh'):
        assert d[key].shape == (n, 5), key
    assert d['keypoints2d_smplx'].shape == (n, 144, 3) and d['keypoints3d_smplx'].shape == (n, 144, 4)
    assert d['keypoints2d_smplx_mask'].shape == (144,) and d['keypoints3d_smplx_mask'].shape == (144,)
    smplx = d['smplx'].item()
    assert set(smplx) == set(SMPLX_KEYS)
    for key, shape in SMPLX_KEYS.items():
        assert smplx[key].shape == (n,) + shape, key
    meta = d['meta'].item()
    assert meta['height'].shape == (n,) and meta['width'].shape == (n,)
    for rel, h, w in zip(d['image_path'], meta['height'], meta['width']):
        img = cv2.imread(str(synthetic_data_dir / 'Synthetic' / rel))
        assert img is not None and img.shape == (h, w, 3), rel
    # Some images show two people (shared image_path).
    assert len(set(d['image_path'].tolist())) < n


def test_parameters_keypoints_and_boxes_agree(synthetic_data_dir, human_model_path):
    d = _load(synthetic_data_dir)
    smplx, meta = d['smplx'].item(), d['meta'].item()
    verts, joints = _forward(human_model_path, smplx)
    np.testing.assert_allclose(d['keypoints3d_smplx'][..., :3], joints, atol=1e-4)
    proj = project_points(d['keypoints3d_smplx'][..., :3], meta['focal_length'][:, None],
                          meta['principal_point'][:, None])
    np.testing.assert_allclose(d['keypoints2d_smplx'][..., :2], proj, atol=1e-2)
    assert (d['keypoints3d_smplx'][..., 2] > 0.5).all()  # everybody in front of the camera
    # The body box holds every joint and has roughly 1.2 padding around the projected vertices.
    box = d['bbox_xywh']
    kp = d['keypoints2d_smplx'][..., :2]
    assert (kp >= box[:, None, :2] - 1e-3).all() and (kp <= box[:, None, :2] + box[:, None, 2:4] + 1e-3).all()
    vpx = project_points(verts, meta['focal_length'][:, None], meta['principal_point'][:, None])
    np.testing.assert_allclose(box[:, 3], 1.2 * (vpx[..., 1].max(1) - vpx[..., 1].min(1)), rtol=1e-4)
    # The left-hand box holds the left-hand vertices, and not the right ones (hands apart).
    ids = load_hand_vertex_ids(human_model_path)
    lbox = d['lhand_bbox_xywh']
    lv = vpx[:, ids['left_hand']]
    assert (lv >= lbox[:, None, :2] - 1e-2).all() and (lv <= lbox[:, None, :2] + lbox[:, None, 2:4] + 1e-2).all()
    assert (d['lhand_bbox_xywh'][:, 4] == 1).any() and (d['face_bbox_xywh'][:, 2:4] > 1).all()


def test_image_shows_the_annotated_person(synthetic_data_dir, human_model_path):
    d = _load(synthetic_data_dir)
    smplx, meta = d['smplx'].item(), d['meta'].item()
    single = [i for i, p in enumerate(d['image_path']) if (d['image_path'] == p).sum() == 1][0]
    params = {k: v[single:single + 1] for k, v in smplx.items()}
    verts, _ = _forward(human_model_path, params)
    img = cv2.imread(str(synthetic_data_dir / 'Synthetic' / d['image_path'][single])).astype(np.float32)
    black = np.zeros(img.shape, dtype=np.uint8)
    _, mask = render_mesh_opencv(black, verts[0], get_smplx(human_model_path).faces,
                                 meta['focal_length'][single], meta['principal_point'][single], return_mask=True)
    assert mask.sum() > 500
    inner = cv2.erode(mask.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    # Inside the person the image is shaded mesh (smooth, low noise); outside it is the noisy background.
    lap = np.abs(cv2.Laplacian(img.mean(2), cv2.CV_32F))
    ring = cv2.dilate(mask.astype(np.uint8), np.ones((9, 9), np.uint8)).astype(bool) & ~mask
    assert np.median(lap[inner]) < np.median(lap[ring])


def test_ehf_set_layout_and_gt_rotation(synthetic_data_dir, human_model_path):
    data = synthetic_data_dir / 'EHF' / 'data'
    ann = json.loads((data / 'EHF.json').read_text())
    assert len(ann['images']) == len(ann['annotations']) == 4
    rot, _ = cv2.Rodrigues(np.array([-2.98747896, 0.01172457, -0.05704687]))  # SPEC §4.4
    faces = get_smplx(human_model_path).faces
    for img_info, a in zip(ann['images'], ann['annotations']):
        assert a['image_id'] == img_info['id']
        name = img_info['file_name'].split('_')[0]
        img = cv2.imread(str(data / img_info['file_name']))
        assert img.shape == (img_info['height'], img_info['width'], 3)
        mesh = trimesh.load(data / f'{name}_align.ply', process=False)
        assert np.asarray(mesh.vertices).shape == (10475, 3)
        np.testing.assert_array_equal(np.asarray(mesh.faces), faces)
        params = dict(np.load(data / f'{name}_params.npz'))
        focal, princpt = params.pop('focal'), params.pop('princpt')
        verts, _ = _forward(human_model_path, {k: v[None] for k, v in params.items()})
        cam = np.asarray(mesh.vertices) @ rot.T  # the loader's R · v
        np.testing.assert_allclose(cam, verts[0], atol=1e-5)
        x, y, w, h = a['body_bbox']
        px = project_points(cam, focal, princpt)
        assert np.allclose([x, y, x + w, y + h], [*px.min(0), *px.max(0)], atol=1e-3)
        for key in ('lefthand_bbox', 'righthand_bbox', 'face_bbox'):
            bx, by, bw, bh = a[key]
            assert x - 1e-3 <= bx and bx + bw <= x + w + 1e-3 and bw > 0 and bh > 0, key


def test_generators_are_deterministic_and_sized(tmp_path, human_model_path):
    for sub in ('a', 'b'):
        write_humandata_train_set(tmp_path / sub, human_model_path, num_samples=2, seed=5, img_size=(96, 128))
        write_ehf_set(tmp_path / sub, human_model_path, num_frames=1, seed=5, img_size=(90, 120))
    a, b = _load(tmp_path / 'a'), _load(tmp_path / 'b')
    np.testing.assert_array_equal(a['keypoints3d_smplx'], b['keypoints3d_smplx'])
    assert cv2.imread(str(tmp_path / 'a' / 'Synthetic' / 'images' / '000001.jpg')).shape == (96, 128, 3)
    assert cv2.imread(str(tmp_path / 'a' / 'EHF' / 'data' / '01_img.jpg')).shape == (90, 120, 3)
    focal, princpt = synthetic_camera((96, 128))
    np.testing.assert_allclose(a['meta'].item()['principal_point'][0], princpt)
    np.testing.assert_allclose(a['meta'].item()['focal_length'][0], focal)


def test_test_split_file_loads_as_humandata_test_set(tmp_path, human_model_path):
    from data.Synthetic.Synthetic import Synthetic
    write_humandata_train_set(tmp_path, human_model_path, num_samples=2, seed=3, img_size=(96, 128), split='test')
    assert (tmp_path / 'Synthetic' / 'images' / 'test_000001.jpg').is_file()
    ds = Synthetic('test', data_dir=tmp_path, human_model_path=human_model_path, use_cache=False)
    smplx = np.load(tmp_path / 'preprocessed_datasets' / 'synthetic_test.npz', allow_pickle=True)['smplx'].item()
    _, targets, meta = ds[0]
    np.testing.assert_allclose(targets['smplx_cam_trans'], smplx['transl'][0], atol=1e-6)
    assert len(ds) == len(smplx['transl'])


def test_train_set_loads_through_the_registry(synthetic_data_cfg):
    from data.registry import build_dataset
    from data.transforms import NO_AUG
    synthetic_data_cfg.use_cache = False
    ds = build_dataset(synthetic_data_cfg, 'Synthetic', 'train')
    assert len(ds) == len(_load(synthetic_data_cfg.data_dir)['image_path']) and not ds.records.skipped
    for i in range(len(ds)):
        _, targets, meta = ds.build_item(i, NO_AUG)
        assert meta['is_3D'] == 1 and meta['joint_trunc'].sum() >= 100  # whole person inside the crop
