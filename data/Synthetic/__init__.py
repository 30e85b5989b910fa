"""Synthetic HumanData training set (ours; tests and the offline demo)."""
from data.Synthetic.Synthetic import Synthetic

__all__ = ["Synthetic"]
