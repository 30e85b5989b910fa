"""AGORA (synthetic images with SMPL-X ground truth): train, validation and test splits.

Files under ``{data_dir}/AGORA/``::

    AGORA_{train,validation,test}.json
        COCO-style: images (id, file_name_3840x2160, file_name_1280x720) and annotations (id, image_id,
        bbox, lhand_bbox, rhand_bbox, face_bbox (xywh in 3840×2160 pixels, null when absent),
        joints_2d_path (127×2, 3840×2160 pixels), joints_3d_path (127×3, metres camera frame),
        smplx_param_path, gender, is_valid[, person_id])
    the ``*_path`` files (json, relative to the AGORA folder) and the images under the listed file names

``smplx_param_path`` holds SMPL-X parameters either with our names (root_pose, body_pose, lhand_pose,
rhand_pose, jaw_pose, shape, expr, trans) or with smplx names (global_orient, body_pose, left_hand_pose,
right_hand_pose, jaw_pose, betas, expression, transl); betas beyond 10 (kids) are cut. The 127 joints are
the SMPL-X joints without the face contour and map to the 137 set like the 144 do (contour joints invalid).
``resolution`` (config ``agora_resolution``, default '1280x720') picks the image set; coordinates are
scaled from 3840×2160. ``is_valid == False`` annotations are skipped. The config flags
``agora_fix_betas`` / ``agora_fix_global_orient_transl`` select annotation variants the SPEC does not
describe; they are logged and ignored here (``agora_fix_global_orient_transl`` still decides whether the
pose loss supervises the root, `common.model.build_model`). ``agora_valid_root_pose=False`` takes the
root orientation out of AGORA's training targets (``smplx_pose_valid[:3] = 0``); the released configs set
True.

Split 'test' reads ``AGORA_validation.json`` (items with ``targets.smplx_mesh_cam`` (10475, 3), the GT mesh
from the gendered SMPL-X with its translation, for the whole-body metrics) or, when ``agora_benchmark``
ends in 'test', ``AGORA_test.json`` (no ground truth: only boxes; items carry ``meta_info.img_shape`` and
``person_idx``, the person's index among its image's annotations or the annotation's ``person_id``, for
the official-server prediction files). Every test item has ``meta_info`` ``bb2img_trans``, ``img_path``,
``sample_idx``.
"""
import logging

import numpy as np
import torch

from common.utils import joint_sets as js
from common.utils.human_models import get_smplx
from data.annotated import AnnotatedDataset, load_json, require_files

__all__ = ['AGORA']

logger = logging.getLogger(__name__)

FULL_HW = (2160, 3840)
RESOLUTIONS = {'3840x2160': (2160, 3840), '1280x720': (720, 1280)}
_SMPLX_NAMES = {'global_orient': 'root_pose', 'left_hand_pose': 'lhand_pose', 'right_hand_pose': 'rhand_pose',
                'betas': 'shape', 'expression': 'expr', 'transl': 'trans'}
_WIDTHS = {'root_pose': 3, 'body_pose': 63, 'lhand_pose': 45, 'rhand_pose': 45, 'jaw_pose': 3, 'shape': 10,
           'expr': 10, 'trans': 3}


def _smplx_from_file(data):
    p = {_SMPLX_NAMES.get(k, k): np.asarray(v, np.float32).reshape(-1) for k, v in data.items()
         if _SMPLX_NAMES.get(k, k) in _WIDTHS}
    out = {}
    for k, w in _WIDTHS.items():
        v = p.get(k, np.zeros(w, np.float32))
        out[k] = np.concatenate([v, np.zeros(max(0, w - v.size), np.float32)])[:w]
    out.update(lhand_valid='lhand_pose' in p, rhand_valid='rhand_pose' in p,
               face_valid='jaw_pose' in p and 'expr' in p)
    return out


class AGORA(AnnotatedDataset):
    """AGORA train / validation / test set."""

    supported_splits = ('train', 'test')

    download_hint = ('Register at https://agora.is.tue.mpg.de, download the images and SMPL-X fits, convert '
                     'them to the COCO-style AGORA_train.json (OSX data release) and place them as documented '
                     'in data/AGORA/AGORA.py.')

    @classmethod
    def config_options(cls, cfg):
        for flag in ('agora_fix_betas', 'agora_fix_global_orient_transl'):
            if cfg[flag]:
                logger.warning('AGORA: config %s=True selects an annotation variant this loader does not '
                               'know; the annotations are read as listed in AGORA_train.json', flag)
        return {'resolution': cfg.agora_resolution,
                'benchmark': str(cfg.agora_benchmark),
                'valid_root_pose': bool(cfg.agora_valid_root_pose)}

    def root_pose_supervised(self, index):
        return self.options.get('valid_root_pose', True)

    def annotation_file(self):
        if self.split == 'train':
            return 'AGORA_train.json'
        return 'AGORA_test.json' if self.options.get('benchmark', 'na').endswith('test') else 'AGORA_validation.json'

    def parse_samples(self):
        root = self.data_dir / 'AGORA'
        path = root / self.annotation_file()
        require_files('AGORA', [path], self.download_hint)
        res = self.options.get('resolution', '1280x720')
        if res not in RESOLUTIONS:
            raise ValueError(f'AGORA: resolution must be one of {sorted(RESOLUTIONS)}, got {res!r}')
        hw = RESOLUTIONS[res]
        scale = hw[1] / FULL_HW[1]
        db = load_json(path)
        images = {img['id']: img for img in db['images']}
        src = np.asarray(js.SMPLX_TO_JOINT_SET)
        samples, people = [], {}
        for ann in db['annotations']:
            person = people[ann['image_id']] = people.get(ann['image_id'], -1) + 1
            if not ann.get('is_valid', True):
                continue
            img = images[ann['image_id']]
            kp2d = np.zeros((js.NUM_JOINTS, 2), np.float32)
            kp3d = np.zeros((js.NUM_JOINTS, 3), np.float32)
            present = np.zeros(js.NUM_JOINTS, bool)
            if ann.get('joints_2d_path') and ann.get('joints_3d_path'):
                j2d = np.asarray(load_json(root / ann['joints_2d_path']), np.float32).reshape(-1, 2) * scale
                j3d = np.asarray(load_json(root / ann['joints_3d_path']), np.float32).reshape(-1, 3)
                present = src < min(j2d.shape[0], j3d.shape[0])
                kp2d[present], kp3d[present] = j2d[src[present]], j3d[src[present]]
            boxes = {part: (None if ann.get(key) is None else np.asarray(ann[key], np.float32)[:4] * scale)
                     for part, key in (('lhand', 'lhand_bbox'), ('rhand', 'rhand_bbox'), ('face', 'face_bbox'))}
            params = ann.get('smplx_param_path')
            samples.append({
                'image_path': img[f'file_name_{res}'], 'img_hw': hw,
                'bbox': np.asarray(ann['bbox'], np.float32)[:4] * scale, 'kp2d': kp2d,
                'kp_valid': present.astype(np.float32), 'kp3d': kp3d if present.any() else None,
                'part_boxes': boxes, 'smplx': _smplx_from_file(load_json(root / params)) if params else None,
                'gender': {'m': 'male', 'f': 'female'}.get(str(ann.get('gender', 'n'))[:1].lower(), 'neutral'),
                'extra': {'person_idx': int(ann.get('person_id', person))}})
        return samples

    def _test_targets(self, index, params, inv_trans):
        meta_info = {'img_path': str(self.image_file(index)), 'bb2img_trans': inv_trans,
                     'sample_idx': np.int64(index), 'img_shape': self.records.img_hw[index].astype(np.float32),
                     'person_idx': np.int64(self.extras[index]['person_idx'])}
        if params is None:
            if self.annotation_file() != 'AGORA_test.json':
                raise ValueError(f'AGORA/{self.annotation_file()} sample {index}: no smplx_param_path; the '
                                 'validation split needs SMPL-X ground truth')
            return {}, meta_info
        t = {k: torch.from_numpy(np.asarray(v, np.float32).reshape(1, -1)) for k, v in dict(
            global_orient=params.root_pose, body_pose=params.body_pose, left_hand_pose=params.lhand_pose,
            right_hand_pose=params.rhand_pose, jaw_pose=params.jaw_pose, betas=params.shape,
            expression=params.expr, transl=params.trans).items()}
        with torch.no_grad():
            mesh = get_smplx(self.human_model_path, params.gender)(**t).vertices[0].numpy()
        return {'smplx_mesh_cam': mesh}, meta_info
