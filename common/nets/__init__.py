"""Network components of SMPLer-X (one module per component; names follow the released checkpoints)."""
from common.nets.body_rotation_net import BodyRotationNet
from common.nets.box_net import BoxNet, restore_bbox
from common.nets.face_regressor import FaceRegressor
from common.nets.hand_roi import HandRoI
from common.nets.hand_rotation_net import HandRotationNet
from common.nets.losses import LossWeights, compute_losses
from common.nets.position_net import PositionNet
from common.nets.vit import ViTEncoder

__all__ = ['BodyRotationNet', 'BoxNet', 'FaceRegressor', 'HandRoI', 'HandRotationNet', 'LossWeights',
           'PositionNet', 'ViTEncoder', 'compute_losses', 'restore_bbox']
