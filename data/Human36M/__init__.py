"""Human3.6M loader."""
from data.Human36M.Human36M import Human36M

__all__ = ['Human36M']
