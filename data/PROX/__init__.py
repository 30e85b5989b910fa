"""PROX dataset (HumanData format)."""
from data.PROX.PROX import PROX

__all__ = ["PROX"]
