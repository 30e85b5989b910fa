"""SMPLer-X-B32: ViT-B encoder trained on all 32 datasets (released model-zoo weights smpler_x_b32.pth.tar)."""
_base_ = ['./_base_/datasets_32.py', './_base_/model_b.py']
