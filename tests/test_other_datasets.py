"""Tests of the annotation-format loaders (MSCOCO, MPII, Human36M, PW3D, UBody, AGORA) on tiny
fabricated annotation files written in the documented formats."""
import json

import cv2
import numpy as np
import pytest

from common.utils import joint_sets as js
from data.AGORA import AGORA
from data.Human36M import Human36M
from data.MPII import MPII
from data.MSCOCO import MSCOCO
from data.PW3D import PW3D
from data.transforms import NO_AUG
from data.UBody import UBody

H, W = 240, 320
TARGET_SHAPES = {
    'joint_img': (137, 3), 'smplx_joint_img': (137, 3), 'joint_cam': (137, 3), 'smplx_joint_cam': (137, 3),
    'smplx_pose': (159,), 'smplx_shape': (10,), 'smplx_expr': (10,),
    **{f'{p}_bbox_{k}': (2,) for p in ('lhand', 'rhand', 'face') for k in ('center', 'size')},
}
META_SHAPES = {
    'joint_valid': (137, 1), 'joint_trunc': (137, 1), 'smplx_joint_valid': (137, 1),
    'smplx_joint_trunc': (137, 1), 'smplx_pose_valid': (159,), 'smplx_shape_valid': (), 'smplx_expr_valid': (),
    'is_3D': (), 'lhand_bbox_valid': (), 'rhand_bbox_valid': (), 'face_bbox_valid': (),
}
BODY_BOX = [110.0, 40.0, 100.0, 160.0]  # centre (160, 120)
CENTRE = (160.0, 120.0)
J = {name: i for i, name in enumerate(js.JOINT_NAMES)}


def _write_image(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), np.random.default_rng(0).integers(0, 255, (H, W, 3), dtype=np.uint8))


def _write_json(path, obj):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj))


def _fit():
    """A NeuralAnnot-style entry: neutral pose 3 m in front of a 500 px camera at the image centre."""
    p = {'root_pose': [np.pi, 0, 0], 'body_pose': [0.0] * 63, 'lhand_pose': [0.0] * 45, 'rhand_pose': [0.0] * 45,
         'jaw_pose': [0.0] * 3, 'shape': [0.5] * 10, 'expr': [0.1] * 10, 'trans': [0.0, 0.0, 3.0]}
    return {'smplx_param': p, 'cam_param': {'focal': [500.0, 500.0], 'princpt': list(CENTRE)}}


def _wholebody_ann(ann_id, image_id, **extra):
    body = np.zeros((17, 3))
    body[0] = [*CENTRE, 2]  # nose at the box centre
    body[5] = [140, 80, 2]  # left shoulder
    face = np.zeros((68, 3))
    face[17] = [150, 60, 2]  # first eyebrow landmark -> Face_5
    face[0] = [140, 70, 1]   # first contour landmark -> Face_56
    return {'id': ann_id, 'image_id': image_id, 'bbox': BODY_BOX, 'iscrowd': 0, 'num_keypoints': 2,
            'keypoints': body.ravel().tolist(), 'foot_kpts': [0.0] * 18, 'face_kpts': face.ravel().tolist(),
            'lefthand_kpts': [0.0] * 63, 'righthand_kpts': [0.0] * 63,
            'lefthand_box': [200, 120, 20, 20], 'righthand_box': [100, 120, 20, 20], 'face_box': [140, 40, 40, 40],
            'lefthand_valid': True, 'righthand_valid': False, 'face_valid': True, **extra}


def _check_item(item):
    inputs, targets, meta = item
    assert inputs['img'].shape == (3, 512, 384)
    for k, shape in TARGET_SHAPES.items():
        assert np.shape(targets[k]) == shape, k
    for k, shape in META_SHAPES.items():
        assert np.shape(meta[k]) == shape, k
    assert all(np.isfinite(np.asarray(v, np.float64)).all() for v in targets.values())
    return inputs, targets, meta


def _build(cls, tmp_path, human_model_path, **kw):
    return cls('train', data_dir=tmp_path, human_model_path=human_model_path, bbox_ratio=1.2, **kw)


def test_mscoco(tmp_path, human_model_path):
    root = tmp_path / 'MSCOCO'
    _write_image(root / 'images' / 'train2017' / 'a.jpg')
    anns = [_wholebody_ann(1, 10), _wholebody_ann(2, 10, iscrowd=1), _wholebody_ann(3, 10, num_keypoints=0)]
    _write_json(root / 'annotations' / 'coco_wholebody_train_v1.0.json',
                {'images': [{'id': 10, 'file_name': 'a.jpg', 'height': H, 'width': W}], 'annotations': anns})
    with pytest.raises(FileNotFoundError, match='MSCOCO_train_SMPLX_all_NeuralAnnot.json'):
        _build(MSCOCO, tmp_path, human_model_path)
    _write_json(root / 'annotations' / 'MSCOCO_train_SMPLX_all_NeuralAnnot.json', {'1': _fit()})
    ds = _build(MSCOCO, tmp_path, human_model_path)
    assert len(ds) == 1  # crowd and keypoint-less annotations skipped
    for _ in range(3):
        _check_item(ds[0])  # random augmentation (flip, rotation, scale) keeps the layout
    _, targets, meta = _check_item(ds.build_item(0, NO_AUG))
    valid = meta['joint_valid'][:, 0]
    assert valid[J['Nose']] == 1 and valid[J['L_Shoulder']] == 1 and valid[J['Face_5']] == 1
    assert valid[J['Face_56']] == 1 and valid[J['R_Shoulder']] == 0 and valid.sum() == 4
    np.testing.assert_allclose(targets['joint_img'][J['Nose'], :2], [6.0, 8.0], atol=0.05)  # crop centre
    assert meta['is_3D'] == 0 and meta['joint_trunc'].sum() == 0  # 2D-only: SPEC §7.11
    assert meta['lhand_bbox_valid'] == 1 and meta['rhand_bbox_valid'] == 0 and meta['face_bbox_valid'] == 1
    # SMPL-X pseudo-GT: valid body and left hand, right hand invalid (WholeBody flag), shape supervised.
    assert meta['smplx_pose_valid'][:66].all() and meta['smplx_pose_valid'][66:111].all()
    assert not meta['smplx_pose_valid'][111:156].any() and meta['smplx_shape_valid'] == 1
    np.testing.assert_allclose(targets['smplx_shape'], 0.5)
    # SMPL-X joints come from the fit (projected with its camera into the crop: in view, not truncated).
    assert meta['smplx_joint_trunc'][0, 0] == 1 and meta['smplx_joint_valid'][J['R_Thumb_1'], 0] == 0
    assert np.abs(targets['smplx_joint_cam'][J['L_Knee']]).sum() > 0.1
    np.testing.assert_array_equal(targets['smplx_joint_img'], targets['joint_img'])  # SPEC §4.2 table


def test_mpii(tmp_path, human_model_path):
    root = tmp_path / 'MPII'
    _write_image(root / 'images' / 'm.jpg')
    kps = np.zeros((16, 3))
    kps[6] = [*CENTRE, 1]  # pelvis
    kps[13] = [130, 80, 1]  # left shoulder
    _write_json(root / 'annotations' / 'train.json', {
        'images': [{'id': 0, 'file_name': 'm.jpg', 'height': H, 'width': W}],
        'annotations': [{'id': 5, 'image_id': 0, 'bbox': BODY_BOX, 'keypoints': kps.ravel().tolist()}]})
    _write_json(root / 'annotations' / 'MPII_train_SMPLX_NeuralAnnot.json', {'5': _fit()})
    ds = _build(MPII, tmp_path, human_model_path)
    _, targets, meta = _check_item(ds.build_item(0, NO_AUG))
    assert np.nonzero(meta['joint_valid'][:, 0])[0].tolist() == [J['Pelvis'], J['L_Shoulder']]
    np.testing.assert_allclose(targets['joint_img'][0, :2], [6.0, 8.0], atol=0.05)
    assert not meta['smplx_pose_valid'][66:].any()  # hands and face not annotated


def test_human36m(tmp_path, human_model_path):
    root = tmp_path / 'Human36M'
    _write_image(root / 'images' / 's1' / 'f.jpg')
    stem = root / 'annotations' / 'Human36M_subject1'
    rot = cv2.Rodrigues(np.array([0.1, -0.2, 0.05]))[0]
    t_mm = np.array([100.0, -50.0, 4000.0])
    world = np.random.default_rng(1).normal(0, 300, (17, 3))  # mm
    _write_json(stem.with_name(stem.name + '_data.json'), {
        'images': [{'id': 0, 'file_name': 's1/f.jpg', 'height': H, 'width': W, 'subject': 1, 'action_idx': 2,
                    'subaction_idx': 1, 'cam_idx': 1, 'frame_idx': 0}],
        'annotations': [{'id': 0, 'image_id': 0, 'bbox': BODY_BOX}]})
    _write_json(stem.with_name(stem.name + '_camera.json'),
                {'1': {'R': rot.tolist(), 't': t_mm.tolist(), 'f': [500.0, 500.0], 'c': list(CENTRE)}})
    _write_json(stem.with_name(stem.name + '_joint_3d.json'), {'2': {'1': {'0': world.tolist()}}})
    fit = _fit()['smplx_param']
    _write_json(stem.with_name(stem.name + '_SMPLX_NeuralAnnot.json'),
                {'2': {'1': {'0': {k: fit[k] for k in ('root_pose', 'body_pose', 'shape', 'trans')}}}})
    ds = _build(Human36M, tmp_path, human_model_path, subjects=(1,))
    _, targets, meta = _check_item(ds.build_item(0, NO_AUG))
    cam = (world @ rot.T + t_mm) / 1000.0
    # H36M order: 0 Pelvis, 4 L_Hip, 13 L_Wrist. joint_cam is root-relative, metres, camera frame.
    np.testing.assert_allclose(targets['joint_cam'][J['L_Hip']], cam[4] - cam[0], atol=1e-5)
    np.testing.assert_allclose(targets['joint_cam'][J['L_Wrist']], cam[13] - cam[0], atol=1e-5)
    assert meta['is_3D'] == 1 and meta['joint_valid'].sum() == 14
    assert meta['smplx_pose_valid'][:66].all() and not meta['smplx_pose_valid'][66:].any()
    with pytest.raises(FileNotFoundError, match='Human36M_subject5_data.json'):
        _build(Human36M, tmp_path, human_model_path, subjects=(5,))


def _write_pw3d(root, split):
    _write_image(root / 'imageFiles' / 'seq_a' / 'image_00000.jpg')
    pose = np.zeros(72)
    pose[:3] = [np.pi, 0, 0]
    pose[66:72] = 1.0  # SMPL hand joints 22, 23: not part of SMPL-X body_pose
    _write_json(root / 'data' / f'3DPW_{split}.json', {
        'images': [{'id': 0, 'file_name': 'image_00000.jpg', 'sequence': 'seq_a', 'height': H, 'width': W,
                    'cam_param': {'focal': [500.0, 500.0], 'princpt': list(CENTRE)}}],
        'annotations': [{'id': 0, 'image_id': 0, 'bbox': BODY_BOX,
                         'smpl_param': {'pose': pose.tolist(), 'shape': [1.0] * 10, 'trans': [0, 0, 3.0],
                                        'gender': 'male'}}]})
    return pose


def test_pw3d(tmp_path, human_model_path):
    _write_pw3d(tmp_path / 'PW3D', 'train')
    ds = _build(PW3D, tmp_path, human_model_path)
    _, targets, meta = _check_item(ds.build_item(0, NO_AUG))
    assert meta['smplx_shape_valid'] == 0 and not targets['smplx_shape'].any()
    assert meta['smplx_pose_valid'][:66].all() and not meta['smplx_pose_valid'][66:].any()
    assert not targets['smplx_pose'][3:66].any()
    assert meta['joint_valid'].sum() == 0 and meta['lhand_bbox_valid'] == 0
    assert meta['smplx_joint_trunc'][0, 0] == 1 and meta['smplx_joint_valid'][:25].all()
    assert not meta['smplx_joint_valid'][25:].any()


def test_ubody(tmp_path, human_model_path):
    root = tmp_path / 'UBody'
    for video in ('vid1', 'vid2'):
        _write_image(root / 'images' / 'Speech' / video / '000001.jpg')
    _write_json(root / 'annotations' / 'Speech' / 'keypoint_annotation.json', {
        'images': [{'id': 0, 'file_name': 'vid1/000001.jpg', 'height': H, 'width': W,
                    'cam_param': _fit()['cam_param']},
                   {'id': 1, 'file_name': 'vid2/000001.jpg', 'height': H, 'width': W}],
        'annotations': [_wholebody_ann(7, 0, smplx_param=_fit()['smplx_param']), _wholebody_ann(8, 1)]})
    (root / 'splits').mkdir()
    np.save(root / 'splits' / 'intra_scene_test_list.npy', np.array(['vid2']))
    ds = _build(UBody, tmp_path, human_model_path)
    assert len(ds) == 1 and ds.image_file(0).name == '000001.jpg' and 'vid1' in str(ds.image_file(0))
    _, targets, meta = _check_item(ds.build_item(0, NO_AUG))
    assert meta['smplx_shape_valid'] == 1 and meta['face_bbox_valid'] == 1
    with pytest.raises(FileNotFoundError, match='keypoint_annotation.json'):
        _build(UBody, tmp_path / 'elsewhere', human_model_path)


def _ubody_two_frames(root):
    for k in (1, 2):
        _write_image(root / 'images' / 'Speech' / 'vid1' / f'00000{k}.jpg')
    _write_json(root / 'annotations' / 'Speech' / 'keypoint_annotation.json', {
        'images': [{'id': k, 'file_name': f'vid1/00000{k}.jpg', 'height': H, 'width': W} for k in (1, 2)],
        'annotations': [_wholebody_ann(k, k) for k in (1, 2)]})


def test_ubody_from_config_uses_train_sample_interval(tmp_path, tiny_cfg):
    from data.registry import build_dataset
    _ubody_two_frames(tmp_path / 'UBody')
    tiny_cfg.data_dir = str(tmp_path)
    tiny_cfg.pop('UBody_train_sample_interval', None)
    tiny_cfg.train_sample_interval = 1
    assert len(build_dataset(tiny_cfg, 'UBody', 'train')) == 2
    tiny_cfg.train_sample_interval = 2
    ds = build_dataset(tiny_cfg, 'UBody', 'train')
    assert len(ds) == 1 and ds.bbox_ratio == pytest.approx(tiny_cfg.bbox_ratio)
    tiny_cfg.UBody_train_sample_interval = 1  # the dataset-specific key wins
    assert len(build_dataset(tiny_cfg, 'UBody', 'train')) == 2


def test_agora(tmp_path, human_model_path):
    root = tmp_path / 'AGORA'
    _write_image(root / 'images_1280x720' / 'ag.png')
    j2d = np.tile(np.array([[480.0, 360.0]]), (127, 1))  # 3840x2160 pixels -> (160, 120) at 1280x720
    j3d = np.random.default_rng(2).normal(0, 0.3, (127, 3)) + [0, 0, 5]
    _write_json(root / 'ann' / 'j2d.json', j2d.tolist())
    _write_json(root / 'ann' / 'j3d.json', j3d.tolist())
    fit = _fit()['smplx_param']
    _write_json(root / 'ann' / 'smplx.json', {'global_orient': fit['root_pose'], 'body_pose': fit['body_pose'],
                                              'betas': [0.2] * 11, 'transl': fit['trans']})
    ann = {'id': 0, 'image_id': 0, 'bbox': [3 * v for v in BODY_BOX], 'lhand_bbox': None,
           'rhand_bbox': [300, 360, 60, 60], 'face_bbox': None, 'joints_2d_path': 'ann/j2d.json',
           'joints_3d_path': 'ann/j3d.json', 'smplx_param_path': 'ann/smplx.json', 'gender': 'female',
           'is_valid': True}
    _write_json(root / 'AGORA_train.json', {
        'images': [{'id': 0, 'file_name_1280x720': 'images_1280x720/ag.png', 'file_name_3840x2160': 'x.png'}],
        'annotations': [ann, {**ann, 'id': 1, 'is_valid': False}]})
    ds = _build(AGORA, tmp_path, human_model_path)
    assert len(ds) == 1
    np.testing.assert_allclose(ds.records.bbox[0, 3], (160 - 1) * 1.2, rtol=1e-4)  # scaled box (h - 1) * 1.2
    _, targets, meta = _check_item(ds.build_item(0, NO_AUG))
    valid = meta['joint_valid'][:, 0]
    assert valid[:J['Face_56']].all() and not valid[J['Face_56']:].any()  # no face-contour joints in 127
    np.testing.assert_allclose(targets['joint_img'][J['Nose'], :2], [6.0, 8.0], atol=0.05)
    np.testing.assert_allclose(targets['joint_cam'][J['L_Hip']], j3d[1] - j3d[0], atol=1e-5)
    assert meta['is_3D'] == 1 and meta['rhand_bbox_valid'] == 1 and meta['lhand_bbox_valid'] == 0
    np.testing.assert_allclose(targets['smplx_shape'], 0.2)  # 11 kid betas cut to 10
    assert not meta['smplx_pose_valid'][66:].any()  # no hand/face parameters in the file
    assert meta['smplx_pose_valid'][:66].all()  # agora_valid_root_pose (True in the released configs)
    no_root = _build(AGORA, tmp_path, human_model_path, valid_root_pose=False)
    pose_valid = no_root.build_item(0, NO_AUG)[2]['smplx_pose_valid']
    assert not pose_valid[:3].any() and pose_valid[3:66].all()
    with pytest.raises(ValueError, match='resolution'):
        _build(AGORA, tmp_path, human_model_path, resolution='640x480')


def test_unsupported_split_is_refused(tmp_path, human_model_path):
    with pytest.raises(ValueError, match='split'):
        MSCOCO('test', data_dir=tmp_path, human_model_path=human_model_path)


def test_pw3d_test_split_gives_smpl_ground_truth(tmp_path, human_model_path):
    import torch
    from common.utils.human_models import get_smpl
    pose = _write_pw3d(tmp_path / 'PW3D', 'test')
    ds = PW3D('test', data_dir=tmp_path, human_model_path=human_model_path)
    inputs, targets, meta = ds[0]
    assert inputs['img'].shape == (3, 512, 384) and meta['bb2img_trans'].shape == (2, 3)
    out = get_smpl(human_model_path, 'male')(
        global_orient=torch.tensor(pose[None, :3], dtype=torch.float32),
        body_pose=torch.tensor(pose[None, 3:], dtype=torch.float32), betas=torch.ones(1, 10),
        transl=torch.tensor([[0.0, 0.0, 3.0]]))
    np.testing.assert_allclose(targets['smpl_mesh_cam'], out.vertices[0].numpy(), atol=1e-5)
    np.testing.assert_allclose(targets['smpl_joint_cam'], out.joints[0].numpy(), atol=1e-5)


def test_ubody_test_split_is_the_held_out_videos(tmp_path, human_model_path):
    root = tmp_path / 'UBody'
    _ubody_two_frames(root)
    db = json.loads((root / 'annotations' / 'Speech' / 'keypoint_annotation.json').read_text())
    for ann in db['annotations']:
        ann['smplx_param'] = _fit()['smplx_param']
    db['images'][1]['file_name'] = 'vid2/000002.jpg'
    _write_image(root / 'images' / 'Speech' / 'vid2' / '000002.jpg')
    _write_json(root / 'annotations' / 'Speech' / 'keypoint_annotation.json', db)
    with pytest.raises(FileNotFoundError, match='intra_scene_test_list.npy'):
        UBody('test', data_dir=tmp_path, human_model_path=human_model_path)
    (root / 'splits').mkdir()
    np.save(root / 'splits' / 'intra_scene_test_list.npy', np.array(['vid2']))
    test = UBody('test', data_dir=tmp_path, human_model_path=human_model_path)
    train = UBody('train', data_dir=tmp_path, human_model_path=human_model_path)
    assert len(test) == len(train) == 1 and 'vid2' in str(test.image_file(0)) and 'vid1' in str(train.image_file(0))
    _, targets, meta = test[0]
    np.testing.assert_allclose(targets['smplx_cam_trans'], [0.0, 0.0, 3.0])
    np.testing.assert_allclose(targets['smplx_shape'], 0.5)
    assert meta['img_path'].endswith('vid2/000002.jpg')


def test_agora_validation_and_test_splits(tmp_path, human_model_path):
    import torch
    from common.utils.human_models import get_smplx
    root = tmp_path / 'AGORA'
    _write_image(root / 'images_1280x720' / 'ag.png')
    fit = _fit()['smplx_param']
    _write_json(root / 'ann' / 'smplx.json', fit)
    img = [{'id': 0, 'file_name_1280x720': 'images_1280x720/ag.png', 'file_name_3840x2160': 'x.png'}]
    ann = {'id': 0, 'image_id': 0, 'bbox': [3 * v for v in BODY_BOX], 'smplx_param_path': 'ann/smplx.json',
           'gender': 'female'}
    _write_json(root / 'AGORA_validation.json', {'images': img, 'annotations': [ann]})
    _write_json(root / 'AGORA_test.json', {'images': img, 'annotations': [
        {'id': 0, 'image_id': 0, 'bbox': [3 * v for v in BODY_BOX]},
        {'id': 1, 'image_id': 0, 'bbox': [3 * v for v in BODY_BOX]}]})
    val = AGORA('test', data_dir=tmp_path, human_model_path=human_model_path, benchmark='agora_model_val')
    _, targets, meta = val[0]
    t = {k: torch.tensor(np.asarray(v, np.float32)[None]) for k, v in fit.items()}
    ref = get_smplx(human_model_path, 'female')(
        global_orient=t['root_pose'], body_pose=t['body_pose'], left_hand_pose=t['lhand_pose'],
        right_hand_pose=t['rhand_pose'], jaw_pose=t['jaw_pose'], betas=t['shape'], expression=t['expr'],
        transl=t['trans']).vertices[0].numpy()
    np.testing.assert_allclose(targets['smplx_mesh_cam'], ref, atol=1e-5)
    test = AGORA('test', data_dir=tmp_path, human_model_path=human_model_path, benchmark='agora_model_test')
    assert len(test) == 2
    _, targets, meta = test[1]
    assert targets == {} and int(meta['person_idx']) == 1
    np.testing.assert_allclose(meta['img_shape'], [720, 1280])
