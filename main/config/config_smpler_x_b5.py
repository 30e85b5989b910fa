"""SMPLer-X-B5: ViT-B encoder trained on 5 datasets (the paper's data-scaling study)."""
_base_ = ['./_base_/datasets_5.py', './_base_/model_b.py']
