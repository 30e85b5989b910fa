"""MPII (2D body keypoints + NeuralAnnot SMPL-X pseudo-GT), train split.

Files under ``{data_dir}/MPII/``::

    annotations/train.json                         COCO-style: images (id, file_name, height, width) and
                                                   annotations (id, image_id, bbox xywh, keypoints 16×3)
    annotations/MPII_train_SMPLX_NeuralAnnot.json  {str(annotation id): NeuralAnnot entry} (see
                                                   data/MSCOCO/wholebody.py for the entry layout)
    images/{file_name}

MPII's 16 joints map by name to the 137 set (Thorax and Head_top have no counterpart). Keypoints are 2D
only (truncation flags 0, SPEC §7.11); no hand/face boxes. Hands and face of the NeuralAnnot fit are
treated as not annotated unless the entry says otherwise.
"""
import logging

from data.annotated import AnnotatedDataset, load_json, map_to_joint_set, require_files
from data.MSCOCO.wholebody import neuralannot_smplx

__all__ = ['MPII', 'MPII_JOINT_NAMES']

logger = logging.getLogger(__name__)

MPII_JOINT_NAMES = ('R_Ankle', 'R_Knee', 'R_Hip', 'L_Hip', 'L_Knee', 'L_Ankle', 'Pelvis', 'Thorax', 'Neck',
                    'Head_top', 'R_Wrist', 'R_Elbow', 'R_Shoulder', 'L_Shoulder', 'L_Elbow', 'L_Wrist')


class MPII(AnnotatedDataset):
    """MPII Human Pose train set with NeuralAnnot SMPL-X fits."""

    download_hint = ('Get the MPII images (http://human-pose.mpi-inf.mpg.de), the COCO-style train.json '
                     'and the NeuralAnnot SMPL-X fits (https://github.com/mks0601/NeuralAnnot_RELEASE) and place '
                     'them as documented in data/MPII/MPII.py.')

    def parse_samples(self):
        root = self.data_dir / 'MPII' / 'annotations'
        ann_path, smplx_path = root / 'train.json', root / 'MPII_train_SMPLX_NeuralAnnot.json'
        require_files('MPII', [ann_path, smplx_path], self.download_hint)
        db, fits = load_json(ann_path), load_json(smplx_path)
        images = {img['id']: img for img in db['images']}
        samples = []
        for ann in db['annotations']:
            img = images[ann['image_id']]
            kps = [float(v) for v in ann['keypoints']]
            xyv = [kps[3 * k:3 * k + 3] for k in range(len(MPII_JOINT_NAMES))]
            kp2d, valid = map_to_joint_set(MPII_JOINT_NAMES, [p[:2] for p in xyv], [p[2] > 0 for p in xyv])
            sample = {'image_path': f"images/{img['file_name']}", 'img_hw': (img['height'], img['width']),
                      'bbox': ann['bbox'][:4], 'kp2d': kp2d, 'kp_valid': valid, 'kp3d': None}
            fit = fits.get(str(ann['id']))
            if fit is not None:
                no_parts = {'lefthand_valid': False, 'righthand_valid': False, 'face_valid': False}
                sample['smplx'], sample['cam'] = neuralannot_smplx(fit, no_parts)
            samples.append(sample)
        return samples
