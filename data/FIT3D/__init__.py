"""FIT3D dataset (HumanData format)."""
from data.FIT3D.FIT3D import FIT3D

__all__ = ["FIT3D"]
