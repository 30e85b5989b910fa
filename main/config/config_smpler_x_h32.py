"""SMPLer-X-H32: ViT-H encoder trained on all 32 datasets (released model-zoo weights smpler_x_h32.pth.tar)."""
_base_ = ['./_base_/datasets_32.py', './_base_/model_h.py']

train_batch_size = 16  # per GPU: ViT-H uses half the S/B/L batch
# README: trained on 16 GPUs -> 16 x 16 = 256 per step; itr_per_epoch = ceil(4,500,000 / 256) = 17,579,
# x end_epoch 10 = 175,790 iterations.
