"""The assembled SMPLer-X network (SPEC §0, §1) and `build_model(cfg)`.

Module names equal the released checkpoint layout (`encoder`, `body_position_net`, `body_regressor`,
`box_net`, `hand_roi_net`, `hand_position_net`, `hand_regressor`, `face_regressor`); the SMPL-X layer
is a stateless callable fetched lazily from `common.utils.human_models.get_smplx`, so it never
appears in `state_dict()`.
"""
import logging
from typing import Dict, Mapping, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from common.nets.body_rotation_net import BodyRotationNet
from common.nets.box_net import BoxNet, restore_bbox
from common.nets.face_regressor import FaceRegressor
from common.nets.hand_roi import HandRoI
from common.nets.hand_rotation_net import HandRotationNet
from common.nets.inference_transform import compile_for_inference, optimize_for_inference
from common.nets.losses import LossWeights, compute_losses
from common.nets.position_net import PositionNet
from common.nets.vit import ViTEncoder
from common.utils.camera import camera_depth_scale, camera_translation, project_to_body_heatmap
from common.utils.joint_sets import (HAND_JOINT_NUM, JOINT_PARTS, LWRIST_IDX, NECK_IDX, NUM_JOINTS,
                                     ROOT_IDX, RWRIST_IDX, SMPLX_TO_JOINT_SET)
from common.utils.rotation import rot6d_to_axis_angle, unflip_axis_angle

logger = logging.getLogger(__name__)

__all__ = ['Model', 'build_model', 'compile_for_inference', 'optimize_for_inference']

BODY_POS_JOINTS = 25      # body joints of the position net / body-pose task tokens
BODY_POSE_TOKEN_START = 6  # task tokens: 0 shape, 1 cam, 2 expr, 3 jaw, 4-5 hand (unused), 6-30 body
HAND_BOX_EXTENSION = 2.0  # restore_bbox enlargement for hands
FACE_BOX_EXTENSION = 1.5  # ... and for the face


class Model(nn.Module):
    """SMPLer-X: crop (B, 3, 512, 384) RGB in [0, 1] -> SMPL-X parameters, mesh and boxes.

    `forward(inputs, targets, meta_info, mode)`: mode 'test' returns the SPEC §1.13 dict (with
    `smplx_joint_proj (B, 137, 2)`) plus `smplx_joint_cam (B, 144, 3)` (all SMPL-X joints + cam_trans,
    metres; evaluators select from it, e.g. AGORA's 144-joint projection), and no pseudo-GT mesh (the
    evaluator builds it); mode 'train' the SPEC §3.2 loss dict (see `common.nets.losses`). Inputs are
    never modified. For fast inference use `optimize_for_inference(model.eval(), device, dtype)`
    (`common.nets.inference_transform`); this module stays what the checkpoint describes.
    """

    def __init__(self, *, feat_dim: int, depth: int, num_heads: int, human_model_path: str,
                 mlp_ratio: float = 4.0, drop_path_rate: float = 0.0, patch_size: int = 16,
                 patch_padding: int = 2, num_task_tokens: int = 31,
                 input_img_shape: Sequence[int] = (512, 384),
                 input_body_shape: Sequence[int] = (256, 192),
                 output_hm_shape: Sequence[int] = (16, 16, 12),
                 output_hand_hm_shape: Sequence[int] = (16, 16, 16),
                 input_hand_shape: Sequence[int] = (256, 256),
                 input_face_shape: Sequence[int] = (192, 192),
                 focal: Sequence[float] = (5000.0, 5000.0), princpt: Sequence[float] = (96.0, 128.0),
                 camera_3d_size: float = 2.5, upscale: int = 4,
                 loss_weights: LossWeights = LossWeights(), supervise_root_pose: bool = True):
        super().__init__()
        self.encoder = ViTEncoder(feat_dim, depth, num_heads, mlp_ratio, drop_path_rate,
                                  tuple(input_body_shape), patch_size, patch_padding, num_task_tokens)
        self.body_position_net = PositionNet(feat_dim, BODY_POS_JOINTS, output_hm_shape[0])
        self.body_regressor = BodyRotationNet(feat_dim, BODY_POS_JOINTS)
        self.box_net = BoxNet(feat_dim, BODY_POS_JOINTS, output_hm_shape[0])
        self.hand_roi_net = HandRoI(feat_dim, upscale, roi_size=output_hand_hm_shape[1],
                                    body_feat_px=input_body_shape[0] / output_hm_shape[1])
        self.hand_position_net = PositionNet(feat_dim, HAND_JOINT_NUM, output_hand_hm_shape[0])
        self.hand_regressor = HandRotationNet(feat_dim, HAND_JOINT_NUM)
        self.face_regressor = FaceRegressor(feat_dim)

        self.human_model_path = str(human_model_path)
        self.input_img_shape = tuple(input_img_shape)
        self.input_body_shape = tuple(input_body_shape)
        self.output_hm_shape = tuple(output_hm_shape)
        self.output_hand_hm_shape = tuple(output_hand_hm_shape)
        self.hand_aspect = input_hand_shape[1] / input_hand_shape[0]
        self.face_aspect = input_face_shape[1] / input_face_shape[0]
        self.focal, self.princpt = tuple(focal), tuple(princpt)
        self.depth_scale = camera_depth_scale(focal, camera_3d_size, input_body_shape)
        # body-heatmap cell -> input_body_shape pixel, (x, y): (192 / 12, 256 / 16)
        self.hm_to_px = (input_body_shape[1] / output_hm_shape[2], input_body_shape[0] / output_hm_shape[1])
        self.loss_weights = loss_weights
        self.supervise_root_pose = supervise_root_pose
        # index tables (non-persistent: they are constants, not checkpoint content)
        self.register_buffer('smplx_to_joint_set', torch.tensor(SMPLX_TO_JOINT_SET), persistent=False)
        anchor = torch.full((NUM_JOINTS,), ROOT_IDX, dtype=torch.long)
        anchor[slice(*JOINT_PARTS['lhand'])] = LWRIST_IDX
        anchor[slice(*JOINT_PARTS['rhand'])] = RWRIST_IDX
        anchor[slice(*JOINT_PARTS['face'])] = NECK_IDX
        self.register_buffer('part_anchor', anchor, persistent=False)

    # ------------------------------------------------------------------------------------------
    def init_weights(self) -> None:
        """Training init (SPEC §1.14): heads N(0, 1e-3) convs / N(0, 1e-2) linears; ViT init."""
        def _init(m):
            if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
                nn.init.normal_(m.weight, std=0.001)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, std=0.01)
                nn.init.zeros_(m.bias)
        for name, child in self.named_children():
            if name != 'encoder':
                child.apply(_init)
        self.encoder.init_weights()

    def _smplx(self):
        from common.utils.human_models import get_smplx  # lazy: building the net needs no body model
        return get_smplx(self.human_model_path)

    @torch.compiler.disable
    def _body_model(self, root_pose, body_pose, lhand_pose, rhand_pose, jaw_pose, shape, expr):
        """Neutral SMPL-X in fp32 with zero eyes and no translation -> (vertices, 144 joints).

        Never traced by `torch.compile`: the cached layer may be created on this call (inside a graph
        it would fail), and smplx's kinematic chain would break the graph anyway."""
        from common.utils.human_models import pose_smplx
        out = pose_smplx(self._smplx(), root_pose, body_pose, lhand_pose, rhand_pose, jaw_pose, shape, expr)
        return out.vertices, out.joints

    # ------------------------------------------------------------------------------------------
    def forward(self, inputs: Mapping[str, torch.Tensor], targets: Optional[Mapping] = None,
                meta_info: Optional[Mapping] = None, mode: str = 'test') -> Dict[str, torch.Tensor]:
        if mode not in ('train', 'test'):
            raise ValueError(f"Model.forward: mode must be 'train' or 'test', got {mode!r}")
        targets = targets or {}
        meta_info = meta_info or {}
        img = inputs['img']
        B = img.shape[0]
        body_img = F.interpolate(img, size=self.input_body_shape, mode='nearest')  # (B, 3, 256, 192)
        img_feat, tokens = self.encoder(body_img)  # (B, C, 16, 12), (B, 31, C)

        body_joint_img, body_joint_hm = self.body_position_net(img_feat)  # (B,25,3), (B,25,16,16,12)
        root_6d, body_6d, shape, cam_param = self.body_regressor(
            tokens[:, BODY_POSE_TOKEN_START:], tokens[:, 0], tokens[:, 1], body_joint_img)
        root_pose = rot6d_to_axis_angle(root_6d)  # (B, 3)
        body_pose = rot6d_to_axis_angle(body_6d)  # (B, 63)
        cam_trans = camera_translation(cam_param.float(), self.depth_scale)  # (B, 3) metres

        lhand_c, lhand_s, rhand_c, rhand_s, face_c, face_s = self.box_net(img_feat, body_joint_hm)
        # restored boxes: detached, squared, enlarged; (B, 4) xyxy in input_body_shape pixels
        lhand_bbox = restore_bbox(lhand_c.float(), lhand_s.float(), self.hand_aspect,
                                  HAND_BOX_EXTENSION, self.hm_to_px)
        rhand_bbox = restore_bbox(rhand_c.float(), rhand_s.float(), self.hand_aspect,
                                  HAND_BOX_EXTENSION, self.hm_to_px)
        face_bbox = restore_bbox(face_c.float(), face_s.float(), self.face_aspect,
                                 FACE_BOX_EXTENSION, self.hm_to_px)

        lhand_joint_img, rhand_joint_img, lhand_pose, rhand_pose = self.hand_branch(
            img_feat, lhand_bbox, rhand_bbox)

        expr, jaw_6d = self.face_regressor(tokens[:, 2], tokens[:, 3])
        jaw_pose = rot6d_to_axis_angle(jaw_6d)  # (B, 3)
        expr = expr.float()
        shape = shape.float()

        vertices, joints144 = self._body_model(root_pose, body_pose, lhand_pose, rhand_pose,
                                               jaw_pose, shape, expr)
        joint_cam = joints144[:, self.smplx_to_joint_set]  # (B, 137, 3)
        joint_proj = project_to_body_heatmap(joint_cam, cam_trans, self.focal, self.princpt,
                                             self.input_body_shape, self.output_hm_shape)
        mesh_cam = vertices + cam_trans[:, None, :]

        if mode == 'train':
            joint_cam_wo_ra = joint_cam - joint_cam[:, ROOT_IDX:ROOT_IDX + 1]
            joint_cam_ra = joint_cam - joint_cam[:, self.part_anchor]
            pred = dict(
                pose=torch.cat((root_pose, body_pose, lhand_pose, rhand_pose, jaw_pose), dim=1),
                shape=shape, expr=expr, joint_cam_wo_ra=joint_cam_wo_ra, joint_cam_ra=joint_cam_ra,
                joint_proj=joint_proj,
                joint_img=torch.cat((body_joint_img.float(), lhand_joint_img, rhand_joint_img), dim=1),
                lhand_bbox=lhand_bbox, rhand_bbox=rhand_bbox,
                lhand_bbox_center=lhand_c, lhand_bbox_size=lhand_s,
                rhand_bbox_center=rhand_c, rhand_bbox_size=rhand_s,
                face_bbox_center=face_c, face_bbox_size=face_s)
            return compute_losses(pred, targets, meta_info, self.loss_weights,
                                  body_px_to_hm=(1 / self.hm_to_px[0], 1 / self.hm_to_px[1]),
                                  hand_hm_shape=self.output_hand_hm_shape,
                                  body_hm_depth=self.output_hm_shape[0],
                                  supervise_root_pose=self.supervise_root_pose)

        # --- test mode: hand joints back into the body-heatmap grid; boxes to crop pixels
        joint_img = torch.cat((body_joint_img.float(), self._hand_to_body(lhand_joint_img, lhand_bbox),
                               self._hand_to_body(rhand_joint_img, rhand_bbox)), dim=1)  # (B, 65, 3)
        to_img = lhand_bbox.new_tensor([self.input_img_shape[1] / self.input_body_shape[1],
                                        self.input_img_shape[0] / self.input_body_shape[0]]).repeat(2)
        out = {
            'img': img, 'joint_img': joint_img, 'smplx_joint_proj': joint_proj,
            'smplx_mesh_cam': mesh_cam, 'smplx_joint_cam': joints144 + cam_trans[:, None, :],
            'smplx_root_pose': root_pose, 'smplx_body_pose': body_pose,
            'smplx_lhand_pose': lhand_pose, 'smplx_rhand_pose': rhand_pose, 'smplx_jaw_pose': jaw_pose,
            'smplx_shape': shape, 'smplx_expr': expr, 'cam_trans': cam_trans,
            'lhand_bbox': lhand_bbox * to_img, 'rhand_bbox': rhand_bbox * to_img,
            'face_bbox': face_bbox * to_img,
        }
        out.update(self._echo_targets(targets, meta_info))
        return out

    def hand_branch(self, img_feat: torch.Tensor, lhand_bbox: torch.Tensor, rhand_bbox: torch.Tensor
                    ) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Hand RoI -> joints and rotations, with the left hand un-flipped.

        Args:
            img_feat: (B, C, 16, 12); lhand_bbox, rhand_bbox: (B, 4) xyxy input_body_shape pixels.
        Returns:
            lhand_joint_img, rhand_joint_img (B, 20, 3) hand-heatmap units (left: x -> W_hand-1-x);
            lhand_pose, rhand_pose (B, 45) axis-angle (left: (x, -y, -z) per joint).
        """
        B = img_feat.shape[0]
        hand_feat = self.hand_roi_net(img_feat, lhand_bbox, rhand_bbox)  # (2B, C, 16, 16), left mirrored
        hand_joint_img, _ = self.hand_position_net(hand_feat)  # (2B, 20, 3) hand-heatmap units
        hand_pose = rot6d_to_axis_angle(self.hand_regressor(hand_feat, hand_joint_img))  # (2B, 45)
        hand_joint_img = hand_joint_img.float()
        flip_x = hand_joint_img.new_tensor([-1.0, 1.0, 1.0])
        shift_x = hand_joint_img.new_tensor([self.output_hand_hm_shape[2] - 1.0, 0.0, 0.0])
        lhand_joint_img = hand_joint_img[:B] * flip_x + shift_x
        return lhand_joint_img, hand_joint_img[B:], unflip_axis_angle(hand_pose[:B]), hand_pose[B:]

    def _hand_to_body(self, hand_joint_img: torch.Tensor, bbox: torch.Tensor) -> torch.Tensor:
        """(B, 20, 3) hand-heatmap units in box `bbox (B, 4)` xyxy body-input px -> body-heatmap x, y."""
        D_h, H_h, W_h = self.output_hand_hm_shape
        cell = hand_joint_img.new_tensor([W_h, H_h])
        px = hand_joint_img[..., :2] / cell * (bbox[:, None, 2:] - bbox[:, None, :2]) + bbox[:, None, :2]
        xy = px / hand_joint_img.new_tensor(self.hm_to_px)
        return torch.cat((xy, hand_joint_img[..., 2:]), dim=-1)

    def _echo_targets(self, targets: Mapping, meta_info: Mapping) -> Dict:
        """Optional test outputs: plain GT echoes (SPEC §1.13). The pseudo-GT mesh from GT parameters
        is built by the evaluator that needs it (`common.evaluation.evaluators.pseudo_gt_mesh`)."""
        out = {}
        if 'smplx_shape' in targets:
            out['smplx_shape_target'] = targets['smplx_shape']
        for key in ('img_path', 'bb2img_trans', 'gt_smplx_transl'):
            if key in meta_info:
                out[key] = meta_info[key]
        for key in ('smplx_mesh_cam', 'smpl_mesh_cam'):  # GT meshes (e.g. EHF) -> *_target
            if key in targets:
                out[f'{key}_target'] = targets[key]
        return out


def build_model(cfg, mode: str = 'test') -> Model:
    """Build `Model` from an mmengine config (the only place the config is read).

    mode 'train' applies the SPEC §1.14 initialisation; 'test' leaves PyTorch's default init (the
    weights are expected to come from a checkpoint).
    """
    enc = cfg.encoder
    weights = LossWeights(
        smplx_pose=cfg.smplx_pose_weight,
        smplx_shape=cfg.smplx_loss_weight,
        # the original's old key `smplx_kps_weight` wins when a config still sets it (SPEC §3.2)
        smplx_kps_3d=cfg.get('smplx_kps_weight', cfg.smplx_kps_3d_weight),
        smplx_kps_2d=cfg.smplx_kps_2d_weight,
        net_kps_2d=cfg.net_kps_2d_weight,
        smplx_orient=cfg.smplx_orient_weight)
    model = Model(
        feat_dim=cfg.feat_dim, depth=enc['depth'], num_heads=enc['num_heads'],
        mlp_ratio=enc['mlp_ratio'], drop_path_rate=enc['drop_path_rate'],
        patch_size=enc['patch_size'], patch_padding=enc['patch_padding'],
        num_task_tokens=enc['num_task_tokens'], human_model_path=cfg.human_model_path,
        input_img_shape=tuple(cfg.input_img_shape), input_body_shape=tuple(cfg.input_body_shape),
        output_hm_shape=tuple(cfg.output_hm_shape), output_hand_hm_shape=tuple(cfg.output_hand_hm_shape),
        input_hand_shape=tuple(cfg.input_hand_shape), input_face_shape=tuple(cfg.input_face_shape),
        focal=tuple(cfg.focal), princpt=tuple(cfg.princpt), camera_3d_size=cfg.camera_3d_size,
        upscale=cfg.upscale, loss_weights=weights,
        supervise_root_pose=cfg.agora_fix_global_orient_transl)
    if mode == 'train':
        model.init_weights()
    return model
