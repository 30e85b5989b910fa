"""SMPLer-X-H20: ViT-H encoder trained on 20 datasets (the paper's data-scaling study)."""
_base_ = ['./_base_/datasets_20.py', './_base_/model_h.py']

train_batch_size = 16  # per GPU: ViT-H uses half the S/B/L batch
