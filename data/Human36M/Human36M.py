"""Human3.6M (3D body joints, cameras, NeuralAnnot SMPL-X), train split (subjects 1, 5, 6, 7, 8).

Files under ``{data_dir}/Human36M/``, per subject S::

    annotations/Human36M_subject{S}_data.json    COCO-style: images (id, file_name, height, width,
                                                 subject, action_idx, subaction_idx, cam_idx, frame_idx)
                                                 and annotations (id, image_id, bbox xywh)
    annotations/Human36M_subject{S}_camera.json  {str(cam_idx): {'R': 3×3, 't': (3,) mm, 'f': (2,), 'c': (2,)}}
                                                 world → camera: X_cam = R · X_world + t
    annotations/Human36M_subject{S}_joint_3d.json {action: {subaction: {frame: 17×3 world mm}}}
    annotations/Human36M_subject{S}_SMPLX_NeuralAnnot.json {action: {subaction: {frame: SMPL-X params}}}
                                                 (world frame; keys as in data/MSCOCO/wholebody.py)
    images/{file_name}

The 3D joints go to the camera frame (metres) and are projected with (f, c) for the 2D keypoints. SMPL-X
targets use the camera extrinsics: the root orientation is left-multiplied by R and the mesh moved so the
root follows R·root + t (SPEC §4.2). Hands and face are not annotated (validity 0); no hand/face boxes.
"""
import logging

import numpy as np

from data.annotated import AnnotatedDataset, load_json, map_to_joint_set, require_files
from data.MSCOCO.wholebody import neuralannot_smplx

__all__ = ['Human36M', 'H36M_JOINT_NAMES', 'TRAIN_SUBJECTS']

logger = logging.getLogger(__name__)

H36M_JOINT_NAMES = ('Pelvis', 'R_Hip', 'R_Knee', 'R_Ankle', 'L_Hip', 'L_Knee', 'L_Ankle', 'Torso', 'Neck',
                    'Nose_H36M', 'Head_top', 'L_Shoulder', 'L_Elbow', 'L_Wrist', 'R_Shoulder', 'R_Elbow',
                    'R_Wrist')
TRAIN_SUBJECTS = (1, 5, 6, 7, 8)


class Human36M(AnnotatedDataset):
    """Human3.6M train set (subjects from ``options['subjects']``, default 1, 5, 6, 7, 8)."""

    download_hint = ('Get Human3.6M (http://vision.imar.ro/human3.6m, registration) with the per-subject '
                     'json annotations and NeuralAnnot SMPL-X fits (https://github.com/mks0601/NeuralAnnot_RELEASE) '
                     'and place them as documented in data/Human36M/Human36M.py.')

    def parse_samples(self):
        root = self.data_dir / 'Human36M' / 'annotations'
        samples = []
        for subject in self.options.get('subjects', TRAIN_SUBJECTS):
            stem = root / f'Human36M_subject{subject}'
            paths = [stem.with_name(stem.name + s) for s in
                     ('_data.json', '_camera.json', '_joint_3d.json', '_SMPLX_NeuralAnnot.json')]
            require_files('Human36M', paths, self.download_hint)
            db, cams, joints, fits = (load_json(p) for p in paths)
            images = {img['id']: img for img in db['images']}
            for ann in db['annotations']:
                img = images[ann['image_id']]
                key = (str(img['action_idx']), str(img['subaction_idx']), str(img['frame_idx']))
                cam = cams[str(img['cam_idx'])]
                rot = np.asarray(cam['R'], np.float64).reshape(3, 3)
                t_m = np.asarray(cam['t'], np.float64).reshape(3) / 1000.0
                world = np.asarray(joints[key[0]][key[1]][key[2]], np.float64).reshape(-1, 3) / 1000.0
                cam_xyz = world @ rot.T + t_m
                focal = np.asarray(cam['f'], np.float64).reshape(2)
                princpt = np.asarray(cam['c'], np.float64).reshape(2)
                xy = cam_xyz[:, :2] / cam_xyz[:, 2:3] * focal + princpt
                kp2d, valid = map_to_joint_set(H36M_JOINT_NAMES, xy)
                kp3d, _ = map_to_joint_set(H36M_JOINT_NAMES, cam_xyz)
                sample = {'image_path': f"images/{img['file_name']}", 'img_hw': (img['height'], img['width']),
                          'bbox': ann['bbox'][:4], 'kp2d': kp2d, 'kp_valid': valid, 'kp3d': kp3d,
                          'cam': {'focal': focal, 'princpt': princpt}}
                fit = fits.get(key[0], {}).get(key[1], {}).get(key[2])
                if fit is not None:
                    no_parts = {'lefthand_valid': False, 'righthand_valid': False, 'face_valid': False}
                    sample['smplx'], _ = neuralannot_smplx(fit, no_parts)
                    sample['cam'] = {**sample['cam'], 'R': rot, 't': t_m}
                samples.append(sample)
        return samples
