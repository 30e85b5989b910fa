"""SMPLer-X-S5: ViT-S encoder trained on 5 datasets (the paper's data-scaling study)."""
_base_ = ['./_base_/datasets_5.py', './_base_/model_s.py']
