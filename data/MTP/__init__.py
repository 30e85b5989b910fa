"""MTP dataset (HumanData format)."""
from data.MTP.MTP import MTP

__all__ = ["MTP"]
