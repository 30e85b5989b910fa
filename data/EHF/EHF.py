"""EHF test set (SPEC §4.4): 100 frames of one person with a registered SMPL-X ground-truth mesh each.

Layout under ``{data_dir}/EHF/data/``::

    EHF.json        COCO-style: ``images`` (id, file_name[, height, width]) and ``annotations``
                    (image_id, body_bbox, lefthand_bbox, righthand_bbox, face_bbox; xywh pixels)
    NN_img.jpg      the frames (the name comes from ``file_name``)
    NN_align.ply    GT meshes (SMPL-X topology, 10475 vertices); ``NN`` = ``file_name`` up to the first '_'

Test items (torch's default collate batches them)::

    inputs    img (3, 512, 384) float32 RGB in [0, 1]
    targets   smplx_mesh_cam (10475, 3) float32, GT mesh rotated into the camera frame by the fixed
              EHF rotation (no translation: every EHF metric aligns translation), metres
    meta_info bb2img_trans (2, 3) float32 crop → image, img_path str, sample_idx int,
              bbox (4,) float32 processed body box xywh in image pixels
"""
import json
import logging
from pathlib import Path

import cv2
import numpy as np
import torch
import trimesh

from common.utils.crop import INPUT_IMG_SHAPE, generate_patch_image, process_bbox
from common.utils.image_io import ImageReadError, read_image
from data.humandata_parse import DataError
from data.transforms import NO_AUG, apply_color_scale

__all__ = ['EHF', 'EHF_GT_ROTVEC', 'ehf_gt_rotation', 'load_ply_vertices', 'EHF_DOWNLOAD_HINT']

logger = logging.getLogger(__name__)

# Rotation applied to every EHF GT mesh to bring it into the camera frame (SPEC §4.4), axis-angle radians.
EHF_GT_ROTVEC = (-2.98747896, 0.01172457, -0.05704687)
SMPLX_NUM_VERTICES = 10475
EHF_DOWNLOAD_HINT = ('EHF is distributed with SMPL-X: register at https://smpl-x.is.tue.mpg.de and download '
                     '"EHF" (NN_img.jpg / NN_align.ply frames); the COCO-style EHF.json with body/hand/face '
                     'boxes comes with the Hand4Whole/OSX data release. For a pipeline check without it: '
                     'python tools/make_synthetic_assets.py OUT_DIR, then data_dir=OUT_DIR/dataset.')


def ehf_gt_rotation():
    """(3, 3) float64 rotation matrix of ``EHF_GT_ROTVEC`` (Rodrigues)."""
    rot, _ = cv2.Rodrigues(np.asarray(EHF_GT_ROTVEC, dtype=np.float64))
    return rot


_PLY_TYPES = {'char': 'i1', 'int8': 'i1', 'uchar': 'u1', 'uint8': 'u1', 'short': 'i2', 'int16': 'i2',
              'ushort': 'u2', 'uint16': 'u2', 'int': 'i4', 'int32': 'i4', 'uint': 'u4', 'uint32': 'u4',
              'float': 'f4', 'float32': 'f4', 'double': 'f8', 'float64': 'f8'}


def _read_ply_header(f):
    """→ (format, vertex count, [(name, numpy type)] of the vertex element) when the vertex element comes
    first and has only scalar properties, else None."""
    if f.readline().strip() != b'ply':
        return None
    fmt, count, props, element = None, None, [], None
    for raw in f:
        words = raw.decode('ascii', 'replace').split()
        if not words or words[0] in ('comment', 'obj_info'):
            continue
        if words[0] == 'end_header':
            break
        if words[0] == 'format':
            fmt = words[1]
        elif words[0] == 'element':
            element = words[1]
            if element == 'vertex' and count is None:
                count = int(words[2])
            elif count is None:
                return None  # another element before the vertices
        elif words[0] == 'property' and element == 'vertex':
            if words[1] == 'list' or words[1] not in _PLY_TYPES:
                return None
            props.append((words[2], _PLY_TYPES[words[1]]))
    return fmt, count, props


def load_ply_vertices(path):
    """(V, 3) float64 vertices of a PLY mesh, in file order (no merging or re-ordering).

    ASCII and binary little-endian files whose first element is the vertex list are read directly;
    anything else goes through trimesh.

    Raises:
        FileNotFoundError: no such file. DataError: the file cannot be parsed as a mesh (names the file).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f'EHF ground-truth mesh not found: {path}. {EHF_DOWNLOAD_HINT}')
    try:
        return _parse_ply_vertices(path)
    except Exception as exc:  # noqa: BLE001 - numpy/trimesh raise many types; all mean a broken file
        raise DataError(f'{path}: cannot read the EHF ground-truth mesh ({type(exc).__name__}: {exc}). The file '
                        f'is damaged or not a PLY mesh: download it again. {EHF_DOWNLOAD_HINT}') from exc


def _parse_ply_vertices(path):
    with open(path, 'rb') as f:
        header = _read_ply_header(f)
        if header is not None:
            fmt, count, props = header
            names = [n for n, _ in props]
            if count is not None and all(a in names for a in 'xyz'):
                cols = [names.index(a) for a in 'xyz']
                if fmt == 'ascii':
                    data = np.loadtxt(f, max_rows=count, usecols=cols, dtype=np.float64, ndmin=2)
                    if data.shape == (count, 3):
                        return data
                elif fmt == 'binary_little_endian':
                    rows = np.fromfile(f, dtype=np.dtype([(n, '<' + t) for n, t in props]), count=count)
                    if rows.shape[0] == count:
                        return np.stack([rows[a].astype(np.float64) for a in 'xyz'], axis=1)
    mesh = trimesh.load(path, process=False, force='mesh')
    return np.asarray(mesh.vertices, dtype=np.float64)


class EHF(torch.utils.data.Dataset):
    """EHF evaluation set (test split only).

    Args:
        data_dir: dataset root; files are read from ``{data_dir}/EHF/data``.
        bbox_ratio: enlargement of the body box after the 3:4 aspect fix (config ``bbox_ratio``, 1.2).
        input_img_shape: (H, W) crop size.
    """

    def __init__(self, data_dir, bbox_ratio=1.2, input_img_shape=INPUT_IMG_SHAPE, split='test'):
        if split != 'test':
            raise ValueError(f"EHF is a test set; got split={split!r} (use split='test')")
        self.data_path = Path(data_dir) / 'EHF' / 'data'
        self.annot_path = self.data_path / 'EHF.json'
        self.bbox_ratio = float(bbox_ratio)
        self.input_img_shape = tuple(input_img_shape)
        self.split = split
        self.gt_rotation = ehf_gt_rotation().astype(np.float32)
        self.datalist = self._load_annotations()

    @classmethod
    def from_config(cls, cfg, split='test'):
        """Build from the config keys ``data_dir``, ``bbox_ratio`` (default 1.2) and ``input_img_shape``."""
        return cls(cfg.data_dir, bbox_ratio=cfg.bbox_ratio,
                   input_img_shape=cfg.input_img_shape, split=split)

    def _load_annotations(self):
        if not self.annot_path.is_file():
            raise FileNotFoundError(f'EHF annotation file not found: {self.annot_path}. {EHF_DOWNLOAD_HINT}')
        with open(self.annot_path) as f:
            db = json.load(f)
        if 'annotations' not in db or 'images' not in db:
            raise ValueError(f"{self.annot_path}: expected COCO-style keys 'images' and 'annotations', "
                             f'got {sorted(db)}')
        images = {img['id']: img for img in db['images']}
        datalist, missing, dropped = [], [], 0
        for ann in db['annotations']:
            img_info = images.get(ann['image_id'])
            if img_info is None:
                raise ValueError(f"{self.annot_path}: annotation {ann.get('id')} refers to image_id "
                                 f"{ann['image_id']}, which is not in 'images'")
            img_path = self.data_path / img_info['file_name']
            mesh_path = self.data_path / f"{img_info['file_name'].split('_')[0]}_align.ply"
            missing += [p for p in (img_path, mesh_path) if not p.is_file()]
            height, width = img_info.get('height'), img_info.get('width')
            if (height is None or width is None) and img_path.is_file():
                height, width = self._read(img_path).shape[:2]
            bbox = process_bbox(np.asarray(ann['body_bbox'], dtype=np.float32), width, height,
                                ratio=self.bbox_ratio)
            if bbox is None:
                dropped += 1
                logger.warning('%s: annotation %s (%s) has a body box %s with no area inside the %dx%d '
                               'image; skipped', self.annot_path, ann.get('id'), img_info['file_name'],
                               ann['body_bbox'], width, height)
                continue
            datalist.append({'img_path': str(img_path), 'mesh_path': str(mesh_path), 'bbox': bbox,
                             'img_shape': (height, width), 'ann_id': ann.get('id')})
        if missing:
            shown = ', '.join(str(p) for p in missing[:5])
            raise FileNotFoundError(f'EHF: {len(missing)} file(s) listed in {self.annot_path} are missing, '
                                    f'e.g. {shown}. {EHF_DOWNLOAD_HINT}')
        logger.info('EHF: %d samples from %s (%d skipped)', len(datalist), self.annot_path, dropped)
        return datalist

    def __len__(self):
        return len(self.datalist)

    @staticmethod
    def _read(path):
        """(H, W, 3) uint8 BGR; DataError naming the file when it is unreadable or a truncated JPEG."""
        try:
            return read_image(path)
        except ImageReadError as exc:
            raise DataError(f'EHF image {exc}. {EHF_DOWNLOAD_HINT}') from None

    def __getitem__(self, idx):
        data = self.datalist[idx]
        img = self._read(data['img_path'])
        scale, rot, color_scale, do_flip = NO_AUG
        patch, _, inv_trans = generate_patch_image(img, data['bbox'], scale, rot, do_flip, self.input_img_shape)
        img_tensor = apply_color_scale(patch[:, :, ::-1], color_scale)  # BGR → RGB, (3, H, W) in [0, 1]
        verts = load_ply_vertices(data['mesh_path'])
        if verts.shape != (SMPLX_NUM_VERTICES, 3):
            raise DataError(f"{data['mesh_path']}: expected an SMPL-X mesh with {SMPLX_NUM_VERTICES} "
                            f'vertices, got {verts.shape}; the file is damaged or not an EHF mesh')
        mesh_cam = (verts @ self.gt_rotation.T.astype(np.float64)).astype(np.float32)  # R · v per vertex
        inputs = {'img': torch.from_numpy(img_tensor)}
        targets = {'smplx_mesh_cam': torch.from_numpy(mesh_cam)}
        meta_info = {'bb2img_trans': torch.from_numpy(np.asarray(inv_trans, dtype=np.float32)),
                     'img_path': data['img_path'], 'sample_idx': idx,
                     'bbox': torch.from_numpy(np.asarray(data['bbox'], dtype=np.float32))}
        return inputs, targets, meta_info
