"""RICH dataset (HumanData format)."""
from data.RICH.RICH import RICH

__all__ = ["RICH"]
