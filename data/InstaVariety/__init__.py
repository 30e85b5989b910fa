"""InstaVariety dataset (HumanData format)."""
from data.InstaVariety.InstaVariety import InstaVariety

__all__ = ["InstaVariety"]
