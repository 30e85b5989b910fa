"""SPEC dataset (HumanData format)."""
from data.SPEC.SPEC import SPEC

__all__ = ["SPEC"]
