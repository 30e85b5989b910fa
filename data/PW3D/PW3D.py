"""3DPW (SMPL ground truth converted to SMPL-X body/root), train and test splits.

Files under ``{data_dir}/PW3D/``::

    data/3DPW_{train,test}.json  COCO-style: images (id, file_name, sequence, height, width,
                             cam_param {'focal': (2,), 'princpt': (2,)}) and annotations (id, image_id,
                             bbox xywh, smpl_param {'pose': (72,), 'shape': (10,), 'trans': (3,), 'gender'})
    imageFiles/{sequence}/{file_name}

SMPL → SMPL-X (SPEC §4.2): the root orientation and the first 21 body-joint rotations are taken over, the
SMPL translation is kept, the SMPL betas are *not* used (shape unsupervised: zeros, shape_valid 0),
hands and face are not annotated, and there are no hand/face boxes. There are no dataset keypoints: the
joint targets come from the SMPL-X parameters projected with the sequence camera.

Test items (for the 3DPW evaluator: MPJPE / PA-MPJPE on 14 LSP joints): ``inputs.img``; ``targets``
``smpl_mesh_cam (6890, 3)`` and ``smpl_joint_cam (24, 3)`` (gendered SMPL with the GT pose, betas and
translation; metres, camera frame); ``meta_info`` ``bb2img_trans (2, 3)``, ``img_path``, ``sample_idx``.
"""
import logging

import numpy as np
import torch

from common.utils import joint_sets as js
from common.utils.human_models import get_smpl
from data.annotated import AnnotatedDataset, load_json, require_files

__all__ = ['PW3D']

logger = logging.getLogger(__name__)


class PW3D(AnnotatedDataset):
    """3DPW train / test set."""

    supported_splits = ('train', 'test')
    img_dir_name = 'PW3D'
    download_hint = ('Get 3DPW (https://virtualhumans.mpi-inf.mpg.de/3DPW) and the COCO-style '
                     '3DPW_{split}.json annotations, and place them as documented in data/PW3D/PW3D.py.')

    def parse_samples(self):
        path = self.data_dir / 'PW3D' / 'data' / f'3DPW_{self.split}.json'
        require_files('PW3D', [path], self.download_hint)
        db = load_json(path)
        images = {img['id']: img for img in db['images']}
        samples = []
        for ann in db['annotations']:
            img = images[ann['image_id']]
            smpl = ann['smpl_param']
            pose = np.asarray(smpl['pose'], np.float32).reshape(-1)
            smplx = {'root_pose': pose[:3], 'body_pose': pose[3:66], 'lhand_pose': np.zeros(45, np.float32),
                     'rhand_pose': np.zeros(45, np.float32), 'jaw_pose': np.zeros(3, np.float32),
                     'shape': np.zeros(10, np.float32), 'expr': np.zeros(10, np.float32),
                     'trans': np.asarray(smpl['trans'], np.float32).reshape(3),
                     'lhand_valid': False, 'rhand_valid': False, 'face_valid': False}
            cam = img['cam_param']
            gender = {'m': 'male', 'f': 'female'}.get(str(smpl.get('gender', 'n'))[:1].lower(), 'neutral')
            samples.append({
                'image_path': f"imageFiles/{img['sequence']}/{img['file_name']}",
                'img_hw': (img['height'], img['width']), 'bbox': ann['bbox'][:4],
                'kp2d': np.zeros((js.NUM_JOINTS, 2), np.float32), 'kp_valid': np.zeros(js.NUM_JOINTS, np.float32),
                'kp3d': None, 'smplx': smplx,
                'gender': gender, 'extra': {'pose': pose, 'gender': gender,
                                            'shape': np.asarray(smpl['shape'], np.float32).reshape(10)},
                'cam': {'focal': np.asarray(cam['focal'], np.float32).reshape(2),
                        'princpt': np.asarray(cam['princpt'], np.float32).reshape(2)}})
        return samples

    def _test_targets(self, index, params, inv_trans):
        """SMPL ground truth of sample ``index`` (see the module docstring)."""
        gt = self.extras[index]
        t = {'global_orient': gt['pose'][None, :3], 'body_pose': gt['pose'][None, 3:72],
             'betas': gt['shape'][None], 'transl': params.trans[None]}
        with torch.no_grad():
            out = get_smpl(self.human_model_path, gt['gender'])(
                **{k: torch.from_numpy(np.ascontiguousarray(v, np.float32)) for k, v in t.items()})
        targets = {'smpl_mesh_cam': out.vertices[0].numpy(), 'smpl_joint_cam': out.joints[0].numpy()}
        meta_info = {'img_path': str(self.image_file(index)), 'bb2img_trans': inv_trans,
                     'sample_idx': np.int64(index)}
        return targets, meta_info
