"""SMPLer-X-L20: ViT-L encoder trained on 20 datasets (the paper's data-scaling study)."""
_base_ = ['./_base_/datasets_20.py', './_base_/model_l.py']
