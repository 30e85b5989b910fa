"""The 5-dataset training mix (SPEC §3.4). Order matters (trainset_3d + trainset_2d + trainset_humandata)."""
_base_ = ['./default.py']

trainset_3d = ['MSCOCO', 'AGORA']
trainset_2d = []
trainset_humandata = ['BEDLAM', 'SPEC', 'GTA_Human2']  # 2 + 0 + 3 = 5
total_data_len = 750000  # = 5 datasets x 150,000 items each (balance strategy)
# itr_per_epoch = ceil(total_data_len / num_gpus / train_batch_size) (SPEC §3.3). The original does
# not state the GPU count of the S/B/L runs; e.g. 8 GPUs x 32 = 256 per step -> ceil(750,000 / 256) = 2,930.
