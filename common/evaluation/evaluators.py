"""Dataset evaluators: ``reset() / process(batch, outputs) / evaluate()`` (STYLE rule 10).

``process`` receives the collated batch ``(inputs, targets, meta_info)`` and the model's test-mode output
dict (SPEC §1.13) and keeps one row of per-sample errors (millimetres) keyed by ``meta_info['sample_idx']``.
``evaluate`` gathers the rows of every rank (through ``common.utils.distributed``), orders them by sample
index, drops duplicates, and on rank 0 returns ``{dataset: {metric: mean value}}``; other ranks get ``{}``.
After ``evaluate`` the main rank also exposes ``samples`` (per-sample rows) and ``rank_counts``.

Evaluators:
  * :class:`WholeBodyEvaluator` — the 14 EHF numbers (SPEC §4.4) against a GT mesh: ``targets
    ['smplx_mesh_cam']`` for EHF / AGORA-val, for HumanData sets the pseudo-GT mesh it builds from the GT
    SMPL-X parameters (:func:`pseudo_gt_mesh`, source ``('pseudo_gt', 'smplx')``).
  * :class:`PW3DEvaluator` — MPJPE / PA-MPJPE on 14 LSP joints against the SMPL GT.
  * :class:`AgoraPredictionWriter` — the AGORA test split: one ``.pkl`` per person for the official server.
"""
from __future__ import annotations

import logging
import pickle
from pathlib import Path

import numpy as np
import torch

from common.evaluation import metrics as M
from common.utils.camera import PROJ_DEPTH_EPS
from common.utils import distributed as comm

logger = logging.getLogger(__name__)

__all__ = [
    'DatasetEvaluator', 'WholeBodyEvaluator', 'PW3DEvaluator', 'AgoraPredictionWriter',
    'EmptyTestSetError', 'load_whole_body_sets', 'build_evaluator', 'pseudo_gt_mesh', 'PSEUDO_GT_KEYS',
    'PSEUDO_GT_SOURCE',
]

# GT SMPL-X parameters a test item needs for the pseudo-GT mesh, and the gt_sources entry that builds it
PSEUDO_GT_KEYS = ('smplx_pose', 'smplx_shape', 'smplx_expr', 'smplx_cam_trans')
PSEUDO_GT_SOURCE = ('pseudo_gt', 'smplx')

MM_PER_M = 1000.0


class EmptyTestSetError(RuntimeError):
    """No sample reached the evaluator (empty dataset or every sample filtered out)."""


class DatasetEvaluator:
    """Protocol of every evaluator (see module docstring)."""

    dataset_name: str = ''
    metric_names: tuple[str, ...] = ()

    def reset(self) -> None:
        raise NotImplementedError

    def process(self, batch: tuple[dict, dict, dict], outputs: dict) -> None:
        raise NotImplementedError

    def evaluate(self) -> dict[str, dict[str, float]]:
        raise NotImplementedError


def _sample_indices(meta_info: dict, batch_size: int) -> np.ndarray:
    if 'sample_idx' not in meta_info:
        raise KeyError("meta_info has no 'sample_idx'; evaluators need it to gather results in dataset "
                       "order (common.engine.tester adds it to every item)")
    idx = np.asarray(torch.as_tensor(meta_info['sample_idx']).cpu(), dtype=np.int64).reshape(-1)
    assert idx.shape == (batch_size,), f'sample_idx {idx.shape} vs batch {batch_size}'
    return idx


def _img_paths(meta_info: dict, batch_size: int) -> list[str]:
    paths = meta_info.get('img_path')
    return [str(p) for p in paths] if paths is not None else [''] * batch_size


class _PerSampleEvaluator(DatasetEvaluator):
    """Keeps (sample_idx, img_path, metric row) per sample and gathers them across ranks."""

    def __init__(self, dataset_name: str, expected_count: int | None = None):
        self.dataset_name = dataset_name
        self.expected_count = expected_count
        self.samples: list[dict] = []
        self.rank_counts: list[int] = []
        self.reset()

    def reset(self) -> None:
        self._idx: list[np.ndarray] = []
        self._paths: list[str] = []
        self._rows: list[np.ndarray] = []

    def _add(self, meta_info: dict, errors: dict[str, torch.Tensor], scale: float = MM_PER_M) -> None:
        """errors: {metric: (B,)} in metres, stored ×``scale`` (millimetres) in ``metric_names`` order."""
        batch = next(iter(errors.values())).shape[0]
        self._idx.append(_sample_indices(meta_info, batch))
        self._paths.extend(_img_paths(meta_info, batch))
        table = torch.stack([errors[m].detach().double().cpu() for m in self.metric_names], dim=1)
        self._rows.append(table.numpy() * scale)

    def _local(self) -> tuple[np.ndarray, list[str], np.ndarray]:
        if not self._idx:
            return np.zeros(0, np.int64), [], np.zeros((0, len(self.metric_names)))
        return np.concatenate(self._idx), list(self._paths), np.concatenate(self._rows)

    def evaluate(self) -> dict[str, dict[str, float]]:
        gathered = comm.all_gather(self._local())
        if not comm.is_main_process():
            return {}
        self.rank_counts = [len(g[0]) for g in gathered]
        idx = np.concatenate([g[0] for g in gathered])
        paths = [p for g in gathered for p in g[1]]
        rows = np.concatenate([g[2] for g in gathered])
        if len(idx) == 0:
            raise EmptyTestSetError(f'{self.dataset_name}: no sample was evaluated (is the test set empty?)')
        order = np.argsort(idx, kind='stable')
        idx, rows, paths = idx[order], rows[order], [paths[i] for i in order]
        keep = np.concatenate([[True], idx[1:] != idx[:-1]])
        if not keep.all():
            logger.warning('%s: %d duplicate samples dropped', self.dataset_name, int((~keep).sum()))
            idx, rows, paths = idx[keep], rows[keep], [p for p, k in zip(paths, keep) if k]
        if self.expected_count is not None and len(idx) != self.expected_count:
            logger.warning('%s: evaluated %d samples but the dataset has %d', self.dataset_name, len(idx),
                           self.expected_count)
        self.samples = [{'sample_idx': int(i), 'img_path': p, **dict(zip(self.metric_names, map(float, r)))}
                        for i, p, r in zip(idx, paths, rows)]
        means = rows.mean(axis=0)
        return {self.dataset_name: {m: float(v) for m, v in zip(self.metric_names, means)}}

    @property
    def num_samples(self) -> int:
        return len(self.samples)


def pseudo_gt_mesh(targets: dict, body_model) -> torch.Tensor:
    """The pseudo-GT mesh of HumanData test sets: GT SMPL-X parameters through the neutral layer.

    Args:
        targets: ``smplx_pose (B, 159)`` axis-angle (root 3, body 63, lhand 45, rhand 45, jaw 3; hands
            relative to the mean hand), ``smplx_shape (B, 10)``, ``smplx_expr (B, 10)``,
            ``smplx_cam_trans (B, 3)`` metres.
        body_model: ``common.utils.human_models.get_smplx(...)`` (neutral; eyes zero, no transl).
    Returns:
        (B, 10475, 3) float32 vertices + cam_trans, metres, camera frame.
    """
    p = torch.as_tensor(targets['smplx_pose']).float()
    from common.utils.human_models import pose_smplx
    out = pose_smplx(body_model, p[:, :3], p[:, 3:66], p[:, 66:111], p[:, 111:156], p[:, 156:159],
                     torch.as_tensor(targets['smplx_shape']), torch.as_tensor(targets['smplx_expr']))
    return out.vertices + torch.as_tensor(targets['smplx_cam_trans']).float()[:, None, :]


def _lookup(batch: tuple[dict, dict, dict], outputs: dict, sources: tuple[tuple[str, str], ...], body_model=None):
    """The first GT found: ``('targets' | 'outputs', key)`` reads a tensor, ``('pseudo_gt', 'smplx')`` builds
    :func:`pseudo_gt_mesh` when the targets hold ``PSEUDO_GT_KEYS`` (and a body model is given)."""
    _, targets, _ = batch
    where = {'targets': targets, 'outputs': outputs}
    for source, key in sources:
        if source == 'pseudo_gt':
            if body_model is not None and all(k in targets for k in PSEUDO_GT_KEYS):
                return pseudo_gt_mesh(targets, body_model)
        elif key in where[source]:
            return where[source][key]
    wanted = ', '.join(f'targets{list(PSEUDO_GT_KEYS)} (pseudo-GT)' if s == 'pseudo_gt' else f'{s}[{k!r}]'
                       for s, k in sources)
    raise KeyError(f'ground truth not found: looked for {wanted}. The dataset must provide a GT mesh '
                   '(or the GT SMPL-X parameters from which the evaluator builds the pseudo-GT mesh)')


class WholeBodyEvaluator(_PerSampleEvaluator):
    """The 14 whole-body numbers of SPEC §4.4 (mm), prediction ``outputs['smplx_mesh_cam']``.

    Args:
        dataset_name: key of the result dict.
        sets: vertex sets / regressors (:func:`load_whole_body_sets`).
        gt_sources: where to read the (B, 10475, 3) GT mesh (camera frame, metres), first found wins:
            tuple of ('targets' | 'outputs', key) or ('pseudo_gt', 'smplx') (:func:`pseudo_gt_mesh`).
        expected_count: dataset size, checked (warning) after gathering.
        body_model: the neutral SMPL-X layer (``get_smplx``) for the pseudo-GT source.
    """

    metric_names = M.WHOLE_BODY_METRICS

    def __init__(self, dataset_name: str, sets: M.WholeBodyMetricSets,
                 gt_sources=(('targets', 'smplx_mesh_cam'),), expected_count: int | None = None,
                 body_model=None):
        self.sets = sets
        self.gt_sources = tuple(gt_sources)
        self.body_model = body_model
        super().__init__(dataset_name, expected_count)

    def process(self, batch, outputs) -> None:
        pred = outputs['smplx_mesh_cam']
        gt = _lookup(batch, outputs, self.gt_sources, self.body_model)
        self._add(batch[2], M.whole_body_errors(pred, torch.as_tensor(gt).to(pred.device), self.sets))


class PW3DEvaluator(_PerSampleEvaluator):
    """3DPW: MPJPE (pelvis-aligned) and PA-MPJPE on 14 LSP joints (mm).

    Prediction joints: ``smplx_joint_regressor (55, 10475)`` applied to ``outputs['smplx_mesh_cam']``.
    GT joints: ``targets['smpl_joint_cam'] (B, 24, 3)`` when given, else ``smpl_joint_regressor (24, 6890)``
    applied to ``targets['smpl_mesh_cam']`` or ``outputs['smpl_mesh_cam_target']``.
    """

    metric_names = ('mpjpe_body', 'pa_mpjpe_body')

    def __init__(self, dataset_name: str, smplx_joint_regressor, smpl_joint_regressor=None,
                 expected_count: int | None = None):
        self.smplx_joint_regressor = torch.as_tensor(np.asarray(smplx_joint_regressor), dtype=torch.float64)
        self.smpl_joint_regressor = (None if smpl_joint_regressor is None else
                                     torch.as_tensor(np.asarray(smpl_joint_regressor), dtype=torch.float64))
        super().__init__(dataset_name, expected_count)

    def process(self, batch, outputs) -> None:
        _, targets, meta_info = batch
        pred = M.regress_joints(self.smplx_joint_regressor, outputs['smplx_mesh_cam'])
        if 'smpl_joint_cam' in targets:
            gt = torch.as_tensor(targets['smpl_joint_cam'])
        else:
            if self.smpl_joint_regressor is None:
                raise KeyError("PW3D: targets lack 'smpl_joint_cam' and no SMPL J_regressor was given")
            mesh = _lookup(batch, outputs, (('targets', 'smpl_mesh_cam'), ('outputs', 'smpl_mesh_cam_target')))
            gt = M.regress_joints(self.smpl_joint_regressor, mesh)
        self._add(meta_info, M.lsp14_errors(pred, gt.to(pred.device)))


class AgoraPredictionWriter(_PerSampleEvaluator):
    """AGORA test split: writes ``{out_dir}/{image stem}_personId_{k}.pkl`` per person.

    Each pickle holds ``params`` (axis-angle ``global_orient (1,3), body_pose (1,21,3),
    left_hand_pose/right_hand_pose (1,15,3)`` (relative to the SMPL-X mean hand pose), ``jaw_pose,
    leye_pose, reye_pose (1,3)``, ``betas (1,10)``, ``expression (1,10)``, ``transl (1,3)`` metres) and
    ``joints (144, 2)``: all SMPL-X joints ``outputs['smplx_joint_cam'] (B, 144, 3)`` projected with the
    virtual camera (as the model's ``smplx_joint_proj``, which holds only the 137-joint subset), mapped
    body-input pixels → crop → image with ``meta_info['bb2img_trans']`` and rescaled to ``full_res`` when
    ``meta_info['img_shape']`` (H, W) differs from it. ``evaluate`` returns ``{dataset: {'num_predictions': N}}``.

    Args:
        focal, princpt: virtual camera in ``input_body_shape`` pixels; body_shape, crop_shape: (H, W)
        of the body input (256, 192) and of the crop (512, 384).
    """

    metric_names = ('num_predictions',)

    def __init__(self, out_dir: str | Path, dataset_name: str = 'AGORA', focal=(5000.0, 5000.0),
                 princpt=(96.0, 128.0), body_shape=(256, 192), crop_shape=(512, 384), full_res=(2160, 3840),
                 expected_count: int | None = None):
        self.out_dir = Path(out_dir)
        self.focal, self.princpt = tuple(focal), tuple(princpt)
        self.body_to_crop = np.array([crop_shape[1] / body_shape[1], crop_shape[0] / body_shape[0]])
        self.full_res = full_res
        super().__init__(dataset_name, expected_count)

    def process(self, batch, outputs) -> None:
        _, _, meta_info = batch
        self.out_dir.mkdir(parents=True, exist_ok=True)
        batch_size = outputs['smplx_mesh_cam'].shape[0]
        sample_idx = _sample_indices(meta_info, batch_size)
        paths = _img_paths(meta_info, batch_size)
        joint_cam = outputs['smplx_joint_cam'].detach().double().cpu().numpy()          # (B, 144, 3) metres
        # perspective projection (the model's PROJ_DEPTH_EPS) into body-input pixels, then crop pixels
        px = joint_cam[..., :2] / (joint_cam[..., 2:] + PROJ_DEPTH_EPS) * np.array(self.focal) + np.array(self.princpt)
        joints = px * self.body_to_crop
        trans = torch.as_tensor(meta_info['bb2img_trans']).double().cpu().numpy()        # (B, 2, 3)
        joints = np.einsum('bij,bkj->bki', trans[:, :, :2], joints) + trans[:, None, :, 2]
        if 'img_shape' in meta_info:
            shape = torch.as_tensor(meta_info['img_shape']).double().cpu().numpy().reshape(batch_size, 2)
            joints = joints * (np.array(self.full_res[::-1]) / shape[:, ::-1])[:, None]
        person = meta_info.get('person_idx', sample_idx)
        get = {k: outputs[k].detach().float().cpu().numpy() for k in (
            'smplx_root_pose', 'smplx_body_pose', 'smplx_lhand_pose', 'smplx_rhand_pose', 'smplx_jaw_pose',
            'smplx_shape', 'smplx_expr', 'cam_trans')}
        for b in range(batch_size):
            params = {
                'global_orient': get['smplx_root_pose'][b].reshape(1, 3),
                'body_pose': get['smplx_body_pose'][b].reshape(1, 21, 3),
                'left_hand_pose': get['smplx_lhand_pose'][b].reshape(1, 15, 3),
                'right_hand_pose': get['smplx_rhand_pose'][b].reshape(1, 15, 3),
                'jaw_pose': get['smplx_jaw_pose'][b].reshape(1, 3),
                'leye_pose': np.zeros((1, 3), np.float32), 'reye_pose': np.zeros((1, 3), np.float32),
                'betas': get['smplx_shape'][b].reshape(1, 10), 'expression': get['smplx_expr'][b].reshape(1, 10),
                'transl': get['cam_trans'][b].reshape(1, 3)}
            stem = Path(paths[b]).stem or f'{sample_idx[b]:06d}'
            name = self.out_dir / f'{stem}_personId_{int(torch.as_tensor(person[b]))}.pkl'
            with open(name, 'wb') as f:
                pickle.dump({'params': params, 'joints': joints[b].astype(np.float32)}, f)
        self._add(meta_info, {'num_predictions': torch.ones(batch_size, dtype=torch.float64)}, scale=1.0)

    def evaluate(self) -> dict[str, dict[str, float]]:
        result = super().evaluate()
        if result:
            result[self.dataset_name] = {'num_predictions': float(self.num_samples)}
            logger.info('AGORA: %d prediction files in %s', self.num_samples, self.out_dir)
        return result


def load_whole_body_sets(human_model_path: str | Path) -> M.WholeBodyMetricSets:
    """Read the J_regressor, J14 regressor and hand/face vertex ids from ``human_model_path``."""
    from common.utils import human_models as hm
    smplx_model = hm.get_smplx(human_model_path)
    return M.WholeBodyMetricSets.from_arrays(
        smplx_model.J_regressor.numpy(), hm.load_j14_regressor(human_model_path),
        hm.load_hand_vertex_ids(human_model_path), hm.load_face_vertex_ids(human_model_path))


# Test sets whose GT is a real mesh in targets['smplx_mesh_cam'] (others use the pseudo-GT mesh first).
_MESH_GT_SETS = ('EHF', 'AGORA')


def build_evaluator(cfg, testset: str, dataset_len: int | None = None,
                    output_dir: str | Path | None = None) -> DatasetEvaluator:
    """The evaluator for ``testset`` (config boundary).

    Reads ``cfg.human_model_path``; for AGORA, ``cfg.agora_benchmark`` ending in 'test' selects the
    prediction writer (files under ``{output_dir}/agora_predictions``) instead of the val metrics.
    """
    if testset == 'PW3D':
        from common.utils import human_models as hm
        smpl = None
        try:
            smpl = hm.get_smpl(cfg.human_model_path).J_regressor.numpy()
        except FileNotFoundError as err:
            logger.warning('SMPL model not loaded (%s); PW3D needs targets["smpl_joint_cam"]', err)
        return PW3DEvaluator(testset, hm.get_smplx(cfg.human_model_path).J_regressor.numpy(), smpl,
                             expected_count=dataset_len)
    if testset == 'AGORA' and str(cfg.agora_benchmark).endswith('test'):
        if output_dir is None:
            raise ValueError('AGORA test split needs an output_dir for the prediction files')
        return AgoraPredictionWriter(Path(output_dir) / 'agora_predictions', testset, focal=tuple(cfg.focal),
                                     princpt=tuple(cfg.princpt), body_shape=tuple(cfg.input_body_shape),
                                     crop_shape=tuple(cfg.input_img_shape), expected_count=dataset_len)
    from common.utils import human_models as hm
    sources = (('targets', 'smplx_mesh_cam'), ('outputs', 'smplx_mesh_cam_target'), PSEUDO_GT_SOURCE)
    if testset not in _MESH_GT_SETS:
        sources = (PSEUDO_GT_SOURCE,) + sources
    return WholeBodyEvaluator(testset, load_whole_body_sets(cfg.human_model_path), sources,
                              expected_count=dataset_len, body_model=hm.get_smplx(cfg.human_model_path))
