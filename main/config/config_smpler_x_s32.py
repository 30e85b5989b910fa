"""SMPLer-X-S32: ViT-S encoder trained on all 32 datasets (released model-zoo weights smpler_x_s32.pth.tar)."""
_base_ = ['./_base_/datasets_32.py', './_base_/model_s.py']
