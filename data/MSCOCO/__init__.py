"""MSCOCO (COCO-WholeBody + NeuralAnnot SMPL-X) and the shared base of the annotation-format loaders."""
from data.MSCOCO.MSCOCO import MSCOCO

__all__ = ['MSCOCO']
