"""AGORA loader."""
from data.AGORA.AGORA import AGORA

__all__ = ['AGORA']
