"""UBody loader."""
from data.UBody.UBody import UBody

__all__ = ['UBody']
