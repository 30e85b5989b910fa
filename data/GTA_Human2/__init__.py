"""GTA_Human2 dataset (HumanData format)."""
from data.GTA_Human2.GTA_Human2 import GTA_Human2

__all__ = ["GTA_Human2"]
