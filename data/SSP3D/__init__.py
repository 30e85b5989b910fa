"""SSP3D dataset (HumanData format)."""
from data.SSP3D.SSP3D import SSP3D

__all__ = ["SSP3D"]
