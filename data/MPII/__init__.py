"""MPII loader."""
from data.MPII.MPII import MPII

__all__ = ['MPII']
