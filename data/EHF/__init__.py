"""EHF test set loader."""
from data.EHF.EHF import EHF, EHF_GT_ROTVEC, ehf_gt_rotation, load_ply_vertices

__all__ = ['EHF', 'EHF_GT_ROTVEC', 'ehf_gt_rotation', 'load_ply_vertices']
