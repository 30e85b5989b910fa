"""SMPLer-X-L5: ViT-L encoder trained on 5 datasets (the paper's data-scaling study)."""
_base_ = ['./_base_/datasets_5.py', './_base_/model_l.py']

lr = 2e-5  # the original's L5 config doubles the learning rate
