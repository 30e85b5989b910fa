"""LSPET dataset (HumanData format)."""
from data.LSPET.LSPET import LSPET

__all__ = ["LSPET"]
