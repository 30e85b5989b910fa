"""HumanSC3D dataset (HumanData format)."""
from data.HumanSC3D.HumanSC3D import HumanSC3D

__all__ = ["HumanSC3D"]
