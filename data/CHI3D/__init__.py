"""CHI3D dataset (HumanData format)."""
from data.CHI3D.CHI3D import CHI3D

__all__ = ["CHI3D"]
