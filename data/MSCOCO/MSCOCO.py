"""MSCOCO (COCO-WholeBody keypoints + NeuralAnnot SMPL-X pseudo-GT), train split.

Files under ``{data_dir}/MSCOCO/``::

    annotations/coco_wholebody_train_v1.0.json          COCO-WholeBody (see data/MSCOCO/wholebody.py)
    annotations/MSCOCO_train_SMPLX_all_NeuralAnnot.json {str(annotation id): NeuralAnnot entry}
    images/train2017/{file_name}

Crowd annotations and annotations without any body keypoint are skipped; annotations without a
NeuralAnnot entry keep their keypoint targets and get no SMPL-X targets. Keypoints are 2D only, so (as
in the original, SPEC §7.11) their truncation flags are all 0; supervision comes from the SMPL-X targets
(joint image by projection with the NeuralAnnot camera). Body boxes use ``process_bbox(ratio=bbox_ratio)``.
"""
import logging

from data.annotated import AnnotatedDataset, load_json, require_files
from data.MSCOCO.wholebody import neuralannot_smplx, wholebody_keypoints, wholebody_part_boxes

__all__ = ['MSCOCO']

logger = logging.getLogger(__name__)


class MSCOCO(AnnotatedDataset):
    """COCO-WholeBody train set with NeuralAnnot SMPL-X fits."""

    download_hint = ('Get COCO 2017 train images (https://cocodataset.org), the COCO-WholeBody annotations '
                     '(https://github.com/jin-s13/COCO-WholeBody) and the NeuralAnnot SMPL-X fits '
                     '(https://github.com/mks0601/NeuralAnnot_RELEASE) and place them as documented in '
                     'data/MSCOCO/MSCOCO.py.')

    def parse_samples(self):
        root = self.data_dir / 'MSCOCO'
        wb_path = root / 'annotations' / 'coco_wholebody_train_v1.0.json'
        smplx_path = root / 'annotations' / 'MSCOCO_train_SMPLX_all_NeuralAnnot.json'
        require_files('MSCOCO', [wb_path, smplx_path], self.download_hint)
        db, fits = load_json(wb_path), load_json(smplx_path)
        images = {img['id']: img for img in db['images']}
        samples = []
        for ann in db['annotations']:
            if ann.get('iscrowd', 0) or ann.get('num_keypoints', 1) == 0:
                continue
            img = images[ann['image_id']]
            kp2d, valid = wholebody_keypoints(ann)
            sample = {'image_path': f"images/train2017/{img['file_name']}",
                      'img_hw': (img['height'], img['width']), 'bbox': ann['bbox'][:4],
                      'kp2d': kp2d, 'kp_valid': valid, 'kp3d': None, 'part_boxes': wholebody_part_boxes(ann)}
            fit = fits.get(str(ann['id']))
            if fit is not None:
                sample['smplx'], sample['cam'] = neuralannot_smplx(fit, ann)
            samples.append(sample)
        return samples
