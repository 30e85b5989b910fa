"""MuCo dataset (HumanData format)."""
from data.MuCo.MuCo import MuCo

__all__ = ["MuCo"]
