"""SMPLer-X-S10: ViT-S encoder trained on 10 datasets (the paper's data-scaling study)."""
_base_ = ['./_base_/datasets_10.py', './_base_/model_s.py']
