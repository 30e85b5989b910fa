"""Tests of the EHF test-set loader on the synthetic EHF set."""
import json
import shutil

import cv2
import numpy as np
import pytest
import torch

from common.utils.human_models import get_smplx
from common.vis.raster import project_points
from data.EHF import EHF
from data.EHF.EHF import load_ply_vertices

SPEC_ROTVEC = np.array([-2.98747896, 0.01172457, -0.05704687])  # SPEC §4.4


@pytest.fixture(scope='module')
def ehf(synthetic_data_dir):
    return EHF(synthetic_data_dir, bbox_ratio=1.2)


def _gt_from_params(human_model_path, params_path):
    p = dict(np.load(params_path))
    t = {k: torch.as_tensor(v, dtype=torch.float32)[None] for k, v in p.items()}
    out = get_smplx(human_model_path)(
        global_orient=t['global_orient'], body_pose=t['body_pose'], left_hand_pose=t['left_hand_pose'],
        right_hand_pose=t['right_hand_pose'], jaw_pose=t['jaw_pose'], betas=t['betas'],
        expression=t['expression'], transl=t['transl'])
    return out.vertices[0].numpy(), p['focal'], p['princpt']


def test_items_have_the_contract_keys_and_shapes(ehf):
    assert len(ehf) == 4
    inputs, targets, meta = ehf[1]
    assert inputs['img'].shape == (3, 512, 384) and inputs['img'].dtype == torch.float32
    assert 0.0 <= float(inputs['img'].min()) and float(inputs['img'].max()) <= 1.0
    assert targets['smplx_mesh_cam'].shape == (10475, 3)
    assert meta['bb2img_trans'].shape == (2, 3) and meta['sample_idx'] == 1
    assert meta['img_path'].endswith('02_img.jpg')
    batch = next(iter(torch.utils.data.DataLoader(ehf, batch_size=2)))
    assert batch[0]['img'].shape == (2, 3, 512, 384) and batch[1]['smplx_mesh_cam'].shape == (2, 10475, 3)
    assert batch[2]['sample_idx'].tolist() == [0, 1]


def test_gt_mesh_is_the_rendered_person_in_the_camera_frame(ehf, synthetic_data_dir, human_model_path):
    for idx in range(len(ehf)):
        _, targets, meta = ehf[idx]
        name = meta['img_path'].split('/')[-1].split('_')[0]
        verts, _, _ = _gt_from_params(human_model_path, synthetic_data_dir / 'EHF' / 'data' / f'{name}_params.npz')
        # Ground-truth parameters through the model reproduce the loader's GT mesh: 0 mm error.
        err_mm = 1000 * np.linalg.norm(targets['smplx_mesh_cam'].numpy() - verts, axis=1).mean()
        assert err_mm < 1e-2, err_mm
    # The loader applies the SPEC rotation to the file's vertices.
    rot, _ = cv2.Rodrigues(SPEC_ROTVEC)
    raw = ehf.datalist[0]['mesh_path']
    np.testing.assert_allclose(load_ply_vertices(raw) @ rot.T, ehf[0][1]['smplx_mesh_cam'].numpy(), atol=1e-5)


def test_crop_matches_the_image_through_bb2img_trans(ehf, synthetic_data_dir):
    inputs, targets, meta = ehf[2]
    crop = inputs['img'].numpy().transpose(1, 2, 0)  # RGB in [0, 1]
    img = cv2.imread(meta['img_path'])[:, :, ::-1].astype(np.float32) / 255.0
    trans = meta['bb2img_trans'].numpy()
    vs, us = np.mgrid[40:512:37, 30:384:29]
    crop_pts = np.stack([us.ravel(), vs.ravel()], 1).astype(np.float64)
    img_pts = crop_pts @ trans[:, :2].T + trans[:, 2]
    inside = (img_pts >= 1).all(1) & (img_pts[:, 0] < img.shape[1] - 2) & (img_pts[:, 1] < img.shape[0] - 2)
    assert inside.sum() > 50
    sampled = img[np.round(img_pts[inside, 1]).astype(int), np.round(img_pts[inside, 0]).astype(int)]
    got = crop[crop_pts[inside, 1].astype(int), crop_pts[inside, 0].astype(int)]
    assert np.median(np.abs(sampled - got)) < 0.05
    # The whole person (GT mesh projected with the synthetic camera) lies inside the crop.
    params = np.load(synthetic_data_dir / 'EHF' / 'data' / '03_params.npz')
    px = project_points(targets['smplx_mesh_cam'].numpy(), params['focal'], params['princpt'])
    full = np.concatenate([trans, [[0, 0, 1]]])
    to_crop = np.linalg.inv(full)[:2]
    c = px @ to_crop[:, :2].T + to_crop[:, 2]
    assert (c[:, 0] > 0).all() and (c[:, 0] < 384).all() and (c[:, 1] > 0).all() and (c[:, 1] < 512).all()
    # The processed box has the 3:4 aspect and 1.2 padding around the annotated body box.
    ann = json.loads((synthetic_data_dir / 'EHF' / 'data' / 'EHF.json').read_text())['annotations'][2]
    x, y, w, h = meta['bbox'].tolist()
    assert w / h == pytest.approx(0.75, rel=1e-3)
    assert h >= 1.2 * (ann['body_bbox'][3] - 1) - 1e-3


def test_missing_files_give_clear_errors(tmp_path, synthetic_data_dir):
    with pytest.raises(FileNotFoundError, match=r'EHF\.json'):
        EHF(tmp_path)
    shutil.copytree(synthetic_data_dir / 'EHF', tmp_path / 'EHF')
    (tmp_path / 'EHF' / 'data' / '03_align.ply').unlink()
    with pytest.raises(FileNotFoundError, match=r'03_align\.ply'):
        EHF(tmp_path)
    with pytest.raises(ValueError, match='split'):
        EHF(synthetic_data_dir, split='train')


def test_from_config(synthetic_data_cfg):
    from data.registry import build_dataset
    ds = build_dataset(synthetic_data_cfg, 'EHF', 'test')
    assert isinstance(ds, EHF)
    assert len(ds) == 4 and ds.bbox_ratio == pytest.approx(synthetic_data_cfg.bbox_ratio)


def test_ply_reader_ascii_binary_and_extra_properties(tmp_path):
    import trimesh
    rng = np.random.default_rng(0)
    verts = rng.normal(size=(50, 3))
    faces = rng.integers(0, 50, size=(30, 3))
    mesh = trimesh.Trimesh(verts, faces, process=False,
                           vertex_colors=rng.integers(0, 255, size=(50, 4), dtype=np.uint8))
    for encoding in ('ascii', 'binary'):
        path = tmp_path / f'{encoding}.ply'
        path.write_bytes(mesh.export(file_type='ply', encoding=encoding))
        np.testing.assert_allclose(load_ply_vertices(path), verts, atol=1e-6)


def test_ground_truth_parameters_score_zero_through_the_evaluator(ehf, synthetic_data_cfg, synthetic_data_dir,
                                                                  human_model_path):
    from common.evaluation.evaluators import build_evaluator
    evaluator = build_evaluator(synthetic_data_cfg, 'EHF', dataset_len=len(ehf))
    evaluator.reset()
    for batch in torch.utils.data.DataLoader(ehf, batch_size=2):
        names = [p.split('/')[-1].split('_')[0] for p in batch[2]['img_path']]
        # A "perfect model": the GT parameters, posed without translation (metrics align translation).
        preds = [_gt_from_params(human_model_path, synthetic_data_dir / 'EHF' / 'data' / f'{n}_params.npz')[0]
                 for n in names]
        shift = torch.tensor([0.3, -0.2, 5.0])
        evaluator.process(batch, {'smplx_mesh_cam': torch.from_numpy(np.stack(preds)) + shift})
    result = evaluator.evaluate()['EHF']
    assert len(result) == 14 and max(result.values()) < 1e-2, result
    # A wrong pose scores clearly worse.
    evaluator.reset()
    batch = next(iter(torch.utils.data.DataLoader(ehf, batch_size=1)))
    wrong = batch[1]['smplx_mesh_cam'].clone()
    wrong[:, :, 1] *= 1.1
    evaluator.process(batch, {'smplx_mesh_cam': wrong})
    assert max(evaluator.evaluate()['EHF'].values()) > 1.0


@pytest.mark.parametrize('damage', ['garbage', 'truncated'])
def test_corrupt_ply_names_the_file_also_through_a_loader_worker(tmp_path, synthetic_data_dir, damage):
    from data.humandata_parse import DataError
    shutil.copytree(synthetic_data_dir / 'EHF', tmp_path / 'EHF')
    ply = tmp_path / 'EHF' / 'data' / '02_align.ply'
    data = ply.read_bytes()
    ply.write_bytes(b'ply\nformat ascii 1.0\nelement vertex 10475\nproperty float x\nend_header\n\x00\xff#'
                    if damage == 'garbage' else data[:len(data) // 4])  # cut inside the vertex list
    ds = EHF(tmp_path)
    with pytest.raises(DataError, match=r'02_align\.ply'):
        ds[1]
    loader = torch.utils.data.DataLoader(torch.utils.data.Subset(ds, [1]), batch_size=1, num_workers=1)
    with pytest.raises(DataError, match=r'02_align\.ply'):
        next(iter(loader))


def test_truncated_ehf_image_names_the_file(tmp_path, synthetic_data_dir):
    from data.humandata_parse import DataError
    shutil.copytree(synthetic_data_dir / 'EHF', tmp_path / 'EHF')
    img = tmp_path / 'EHF' / 'data' / '01_img.jpg'
    img.write_bytes(img.read_bytes()[:2000])
    with pytest.raises(DataError, match=r'01_img\.jpg: truncated JPEG'):
        EHF(tmp_path)[0]
