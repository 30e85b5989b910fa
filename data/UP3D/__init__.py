"""UP3D dataset (HumanData format)."""
from data.UP3D.UP3D import UP3D

__all__ = ["UP3D"]
