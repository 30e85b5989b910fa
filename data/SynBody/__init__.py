"""SynBody dataset (HumanData format)."""
from data.SynBody.SynBody import SynBody

__all__ = ["SynBody"]
