"""BEDLAM dataset (HumanData format)."""
from data.BEDLAM.BEDLAM import BEDLAM

__all__ = ["BEDLAM"]
