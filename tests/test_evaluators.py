"""Evaluators (common/evaluation/evaluators.py) and the sharded evaluation loop, incl. torchrun with 2 ranks."""
import json
import os
import pickle
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch

from common.engine.tester import InferenceSampler, format_results
from common.evaluation import evaluators as E
from common.evaluation.metrics import WHOLE_BODY_METRICS

REPO = Path(__file__).resolve().parents[1]


def _batch(gt, idx, paths=None):
    meta = {'sample_idx': torch.as_tensor(idx)}
    if paths is not None:
        meta['img_path'] = paths
    return {}, {'smplx_mesh_cam': gt}, meta


def test_whole_body_evaluator_orders_by_sample_and_averages_in_mm(toy_sets):
    rng = np.random.default_rng(0)
    gt = torch.as_tensor(rng.normal(size=(4, 10475, 3)), dtype=torch.float32)
    pred = gt.clone()
    shift = torch.tensor([0.003, 0.0, 0.004])              # 5 mm on the left hand of samples 1 and 3
    pred[1, toy_sets.left_hand_vertices] += shift
    pred[3, toy_sets.left_hand_vertices] += shift
    ev = E.WholeBodyEvaluator('EHF', toy_sets, expected_count=4)
    ev.process(_batch(gt[2:], [2, 3], ['c.jpg', 'd.jpg']), {'smplx_mesh_cam': pred[2:]})   # out of order
    ev.process(_batch(gt[:2], [0, 1], ['a.jpg', 'b.jpg']), {'smplx_mesh_cam': pred[:2]})
    res = ev.evaluate()
    assert list(res) == ['EHF'] and list(res['EHF']) == list(WHOLE_BODY_METRICS)
    assert res['EHF']['mpvpe_l_hand'] == pytest.approx(2.5, abs=1e-4)        # (0 + 5 + 0 + 5) / 4 mm
    assert res['EHF']['mpvpe_hand'] == pytest.approx(1.25, abs=1e-4)
    assert res['EHF']['pa_mpvpe_face'] == pytest.approx(0.0, abs=1e-4)
    assert [s['sample_idx'] for s in ev.samples] == [0, 1, 2, 3]
    assert [s['img_path'] for s in ev.samples] == ['a.jpg', 'b.jpg', 'c.jpg', 'd.jpg']
    assert [round(s['mpvpe_l_hand'], 3) for s in ev.samples] == [0.0, 5.0, 0.0, 5.0]
    assert ev.rank_counts == [4]
    table = format_results('EHF', res['EHF'])
    assert 'MPVPE (L-Hands): 2.50 mm' in table and 'PA MPVPE (All): ' in table
    assert len([ln for ln in table.splitlines() if ln.endswith(' mm')]) == 14


def test_whole_body_evaluator_perfect_prediction_is_zero(toy_sets):
    gt = torch.randn(3, 10475, 3)
    ev = E.WholeBodyEvaluator('EHF', toy_sets)
    ev.process(_batch(gt, [0, 1, 2]), {'smplx_mesh_cam': gt.clone()})
    assert all(v == pytest.approx(0.0, abs=1e-3) for v in ev.evaluate()['EHF'].values())


def test_pseudo_gt_source_and_missing_gt_message(toy_sets, human_model_path):
    """HumanData sets: the evaluator builds the GT mesh from the GT SMPL-X parameters (not the model)."""
    from common.utils.human_models import get_smplx
    body_model = get_smplx(human_model_path)
    gen = torch.Generator().manual_seed(0)
    targets = {'smplx_pose': torch.randn(2, 159, generator=gen) * 0.2, 'smplx_shape': torch.randn(2, 10, generator=gen),
               'smplx_expr': torch.randn(2, 10, generator=gen), 'smplx_cam_trans': torch.tensor([[0.1, 0.2, 8.0]] * 2)}
    p = targets['smplx_pose']
    ref = body_model(global_orient=p[:, :3], body_pose=p[:, 3:66], left_hand_pose=p[:, 66:111],
                     right_hand_pose=p[:, 111:156], jaw_pose=p[:, 156:159], betas=targets['smplx_shape'],
                     expression=targets['smplx_expr']).vertices + targets['smplx_cam_trans'][:, None]
    mesh = E.pseudo_gt_mesh(targets, body_model)
    assert mesh.shape == (2, 10475, 3) and torch.equal(mesh, ref)
    ev = E.WholeBodyEvaluator('UBody', toy_sets, gt_sources=(E.PSEUDO_GT_SOURCE,), body_model=body_model)
    ev.process(({}, targets, {'sample_idx': torch.tensor([0, 1])}), {'smplx_mesh_cam': ref + 1.0})
    res = ev.evaluate()['UBody']
    assert res['mpvpe_all'] == pytest.approx(0.0, abs=1e-3) and res['pa_mpvpe_all'] == pytest.approx(0.0, abs=1e-3)
    ev.reset()
    ev.process(({}, targets, {'sample_idx': torch.tensor([0, 1])}), {'smplx_mesh_cam': ref.flip(0)})
    assert ev.evaluate()['UBody']['mpvpe_all'] > 1.0  # really compared with the per-sample GT
    with pytest.raises(KeyError, match='smplx_cam_trans'):
        ev.process(({}, {'smplx_pose': p}, {'sample_idx': torch.tensor([0])}), {'smplx_mesh_cam': ref[:1]})


def test_empty_and_duplicates(toy_sets):
    ev = E.WholeBodyEvaluator('EHF', toy_sets)
    with pytest.raises(E.EmptyTestSetError, match='EHF'):
        ev.evaluate()
    gt = torch.randn(2, 10475, 3)
    ev.process(_batch(gt, [0, 1]), {'smplx_mesh_cam': gt})
    ev.process(_batch(gt[:1], [1]), {'smplx_mesh_cam': gt[:1] + 0.5})   # sample 1 again: dropped
    ev.evaluate()
    assert ev.num_samples == 2


def test_pw3d_evaluator_hand_case():
    # Identity "regressor" on a 55-point mesh: the mesh is the SMPL-X skeleton itself.
    gt = torch.as_tensor(np.random.default_rng(0).normal(size=(1, 24, 3)) * 0.3).repeat(2, 1, 1)  # float64
    pred = torch.zeros(2, 55, 3, dtype=torch.float64)
    pred[:, :24] = gt + torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64)   # removed by pelvis alignment
    pred[1, 15, 1] += 0.028                                    # head of sample 1 off by 28 mm
    ev = E.PW3DEvaluator('PW3D', np.eye(55))
    ev.process(({}, {'smpl_joint_cam': gt}, {'sample_idx': torch.tensor([0, 1])}), {'smplx_mesh_cam': pred})
    res = ev.evaluate()['PW3D']
    assert res["mpjpe_body"] == pytest.approx((0 + 28 / 14) / 2, abs=1e-4)
    pa = [row['pa_mpjpe_body'] for row in ev.samples]
    assert pa[0] == pytest.approx(0.0, abs=1e-3) and pa[1] > 0.1
    assert 'MPJPE (Body): 1.00 mm' in format_results('PW3D', res)


def test_agora_writer_maps_joints_to_full_resolution(tmp_path):
    # camera-frame joints whose projections land on body-input pixels (16, 32) and (0, 0)
    joint_cam = torch.zeros(1, 144, 3)
    joint_cam[..., 2] = 10.0
    z = 10.0 + 1e-4  # + the projection's depth epsilon
    joint_cam[0, 0, :2] = torch.tensor([(16.0 - 96.0) / 5000.0 * z, (32.0 - 128.0) / 5000.0 * z])
    joint_cam[0, 1, :2] = torch.tensor([-96.0 / 5000.0 * z, -128.0 / 5000.0 * z])
    out = {'smplx_joint_cam': joint_cam,
           'smplx_mesh_cam': torch.zeros(1, 10475, 3), 'smplx_root_pose': torch.zeros(1, 3),
           'smplx_body_pose': torch.zeros(1, 63), 'smplx_lhand_pose': torch.zeros(1, 45),
           'smplx_rhand_pose': torch.zeros(1, 45), 'smplx_jaw_pose': torch.zeros(1, 3),
           'smplx_shape': torch.arange(10.0)[None], 'smplx_expr': torch.zeros(1, 10),
           'cam_trans': torch.tensor([[0.1, 0.2, 30.0]])}
    meta = {'sample_idx': torch.tensor([7]), 'img_path': ['/x/ag_trainset_0001.png'],
            'bb2img_trans': torch.tensor([[[2.0, 0.0, 10.0], [0.0, 2.0, 20.0]]]),
            'img_shape': torch.tensor([[720, 1280]]), 'person_idx': torch.tensor([3])}
    ev = E.AgoraPredictionWriter(tmp_path, focal=(5000.0, 5000.0), princpt=(96.0, 128.0), body_shape=(256, 192),
                                 crop_shape=(512, 384))
    ev.process(({}, {}, meta), out)
    assert ev.evaluate() == {'AGORA': {'num_predictions': 1.0}}
    with open(tmp_path / 'ag_trainset_0001_personId_3.pkl', 'rb') as f:
        data = pickle.load(f)
    # body px (16, 32) -> crop (32, 64) -> image (74, 148) -> x3 for 1280x720 -> 3840x2160: (222, 444)
    assert data['joints'].shape == (144, 2)  # every SMPL-X joint (the model's smplx_joint_proj has 137)
    np.testing.assert_allclose(data['joints'][0], [222.0, 444.0], rtol=1e-4)
    np.testing.assert_allclose(data['joints'][1], [30.0, 60.0], rtol=1e-4, atol=1e-3)
    assert data['params']['body_pose'].shape == (1, 21, 3)
    np.testing.assert_allclose(data['params']['betas'][0], np.arange(10.0))
    np.testing.assert_allclose(data['params']['transl'][0], [0.1, 0.2, 30.0], rtol=1e-6)


@pytest.mark.parametrize('size,world', [(7, 2), (5, 4), (0, 2), (3, 1)])
def test_inference_sampler_shards_cover_dataset_once(size, world):
    shards = [list(InferenceSampler(size, r, world)) for r in range(world)]
    assert sum(shards, []) == list(range(size))


_DIST_SCRIPT = textwrap.dedent('''
    import json, sys
    import numpy as np
    import torch
    from torch.utils.data import Dataset
    from common.utils import distributed as comm
    from common.engine.tester import build_test_loader, inference_on_dataset
    from common.evaluation.evaluators import PW3DEvaluator

    class Joints(Dataset):
        """Sample i: GT = 24 joints on a line; the stub model puts the head (i + 1) * 14 mm off."""
        def __len__(self):
            return 7
        def __getitem__(self, i):
            gt = torch.zeros(24, 3)
            gt[:, 0] = torch.arange(24.0) * 0.1
            return {'img': torch.full((1,), float(i))}, {'smpl_joint_cam': gt}, {'img_path': f'{i}.jpg'}

    class Stub(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.zeros(1))
        def forward(self, inputs, targets, meta_info, mode):
            mesh = torch.zeros(len(inputs['img']), 55, 3)
            mesh[:, :24] = targets['smpl_joint_cam']
            mesh[:, 15, 2] += (inputs['img'][:, 0] + 1) * 0.014
            return {'smplx_mesh_cam': mesh}

    comm.init_from_env('cpu')
    loader = build_test_loader(Joints(), batch_size=2)
    ev = PW3DEvaluator('PW3D', np.eye(55), expected_count=7)
    res = inference_on_dataset(Stub(), loader, ev, device='cpu')
    if comm.is_main_process():
        json.dump({'res': res, 'counts': ev.rank_counts, 'samples': ev.samples}, open(sys.argv[1], 'w'))
    else:
        assert res == {}, res
    comm.destroy()
''')


def test_torchrun_two_ranks_gather_on_rank0_in_dataset_order(tmp_path):
    script = tmp_path / 'dist_eval.py'
    script.write_text(_DIST_SCRIPT)
    out = tmp_path / 'out.json'
    env = dict(os.environ, PYTHONPATH=str(REPO), OMP_NUM_THREADS='1')
    proc = subprocess.run([sys.executable, '-m', 'torch.distributed.run', '--standalone', '--nproc_per_node', '2',
                           str(script), str(out)], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    data = json.loads(out.read_text())
    assert data['counts'] == [4, 3] and sum(data['counts']) == 7
    assert [s['sample_idx'] for s in data['samples']] == list(range(7))
    assert [s['img_path'] for s in data['samples']] == [f'{i}.jpg' for i in range(7)]
    # Per-sample MPJPE = 14 (i + 1) mm / 14 joints = i + 1 mm; the mean over the 7 samples is 4 mm.
    np.testing.assert_allclose([s['mpjpe_body'] for s in data['samples']], np.arange(1, 8), atol=1e-4)
    assert data['res']['PW3D']['mpjpe_body'] == pytest.approx(4.0, abs=1e-4)


def test_build_evaluator_picks_protocol_per_test_set(tiny_cfg, tmp_path):
    ehf = E.build_evaluator(tiny_cfg, 'EHF', 4)
    assert isinstance(ehf, E.WholeBodyEvaluator) and ehf.gt_sources[0] == ('targets', 'smplx_mesh_cam')
    assert ehf.sets.regressor.shape == (60, 10475) and len(ehf.sets.face_vertices) == 5023
    ubody = E.build_evaluator(tiny_cfg, 'UBody', 4)
    assert ubody.gt_sources[0] == E.PSEUDO_GT_SOURCE and ubody.body_model is not None
    assert isinstance(E.build_evaluator(tiny_cfg, 'PW3D', 4), E.PW3DEvaluator)
    assert isinstance(E.build_evaluator(tiny_cfg, 'AGORA', 4), E.WholeBodyEvaluator)        # val metrics
    tiny_cfg.agora_benchmark = 'agora_model_test'
    writer = E.build_evaluator(tiny_cfg, 'AGORA', 4, tmp_path)
    assert isinstance(writer, E.AgoraPredictionWriter) and writer.out_dir == tmp_path / 'agora_predictions'
