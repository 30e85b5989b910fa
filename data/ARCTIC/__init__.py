"""ARCTIC dataset (HumanData format)."""
from data.ARCTIC.ARCTIC import ARCTIC

__all__ = ["ARCTIC"]
