"""UBody (COCO-WholeBody keypoints + SMPL-X fits per scene), train and test splits.

Files under ``{data_dir}/UBody/`` (one folder per scene, e.g. ConductMusic, Entertainment, ...)::

    annotations/{scene}/keypoint_annotation.json  COCO-WholeBody (data/MSCOCO/wholebody.py); an annotation
                                                  may carry its SMPL-X fit as 'smplx_param' and its image
                                                  the camera as 'cam_param' {'focal', 'princpt'}
    annotations/{scene}/smplx_annotation.json     optional: {str(annotation id): NeuralAnnot-style entry}
    images/{scene}/{file_name}
    splits/intra_scene_test_list.npy              video names held out for testing (optional for the
                                                  train split); an image belongs to the video named by
                                                  the first folder of its file_name

Sub-sampling: ``UBody_train_sample_interval``, else the config's ``train_sample_interval`` (10 in the
released configs, SPEC §3.4); ``test_sample_interval`` (100) for the test split. Test items are
HumanData test items (SMPL-X parameters as pseudo-GT); test samples without a fit are left out.
"""
import logging

import numpy as np

from data.annotated import AnnotatedDataset, load_json
from data.MSCOCO.wholebody import neuralannot_smplx, wholebody_keypoints, wholebody_part_boxes

__all__ = ['UBody']

logger = logging.getLogger(__name__)


class UBody(AnnotatedDataset):
    """UBody train / test set (every scene under ``annotations/``)."""

    supported_splits = ('train', 'test')

    download_hint = ('Get UBody (https://github.com/IDEA-Research/OSX, "UBody dataset") and place it as '
                     'documented in data/UBody/UBody.py.')

    use_generic_sample_interval = True

    def parse_samples(self):
        root = self.data_dir / 'UBody'
        ann_root = root / 'annotations'
        scenes = sorted(p.name for p in ann_root.iterdir() if p.is_dir()) if ann_root.is_dir() else []
        scenes = [s for s in scenes if (ann_root / s / 'keypoint_annotation.json').is_file()]
        if not scenes:
            raise FileNotFoundError(f'UBody: no {ann_root}/<scene>/keypoint_annotation.json found. '
                                    f'{self.download_hint}')
        split_file = root / 'splits' / 'intra_scene_test_list.npy'
        if self.split == 'test' and not split_file.is_file():
            raise FileNotFoundError(f'UBody: the test split needs {split_file}. {self.download_hint}')
        held_out = set(np.load(split_file, allow_pickle=True).astype(str).tolist()) if split_file.is_file() else set()
        samples = []
        for scene in scenes:
            db = load_json(ann_root / scene / 'keypoint_annotation.json')
            fits_path = ann_root / scene / 'smplx_annotation.json'
            fits = load_json(fits_path) if fits_path.is_file() else {}
            images = {img['id']: img for img in db['images']}
            for ann in db['annotations']:
                img = images[ann['image_id']]
                in_test = img['file_name'].split('/')[0] in held_out
                if in_test != (self.split == 'test') or ann.get('iscrowd', 0):
                    continue
                kp2d, valid = wholebody_keypoints(ann)
                sample = {'image_path': f"images/{scene}/{img['file_name']}",
                          'img_hw': (img['height'], img['width']), 'bbox': ann['bbox'][:4], 'kp2d': kp2d,
                          'kp_valid': valid, 'kp3d': None, 'part_boxes': wholebody_part_boxes(ann)}
                fit = fits.get(str(ann['id']))
                if fit is None and 'smplx_param' in ann:
                    fit = {'smplx_param': ann['smplx_param'], 'cam_param': img.get('cam_param')}
                    if fit['cam_param'] is None:
                        fit.pop('cam_param')
                if fit is not None:
                    sample['smplx'], sample['cam'] = neuralannot_smplx(fit, ann)
                elif self.split == 'test':
                    continue  # nothing to evaluate against
                samples.append(sample)
        return samples
