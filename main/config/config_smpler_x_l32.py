"""SMPLer-X-L32: ViT-L encoder trained on all 32 datasets (released model-zoo weights smpler_x_l32.pth.tar)."""
_base_ = ['./_base_/datasets_32.py', './_base_/model_l.py']
