"""3DPW loader."""
from data.PW3D.PW3D import PW3D

__all__ = ['PW3D']
