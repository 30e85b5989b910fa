"""Behave dataset (HumanData format)."""
from data.Behave.Behave import Behave

__all__ = ["Behave"]
