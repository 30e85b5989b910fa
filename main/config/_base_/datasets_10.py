"""The 10-dataset training mix (SPEC §3.4). Order matters (trainset_3d + trainset_2d + trainset_humandata)."""
_base_ = ['./default.py']

trainset_3d = ['MSCOCO', 'AGORA']
trainset_2d = []
trainset_humandata = [
    'BEDLAM', 'SPEC', 'GTA_Human2', 'SynBody', 'PoseTrack', 'EgoBody_Egocentric', 'PROX', 'CrowdPose',
]  # 8 sets; 2 + 0 + 8 = 10
total_data_len = 1500000  # = 10 datasets x 150,000 items each (balance strategy)
# itr_per_epoch = ceil(total_data_len / num_gpus / train_batch_size) (SPEC §3.3). The original does
# not state the GPU count of the S/B/L runs; e.g. 8 GPUs x 32 = 256 per step -> ceil(1,500,000 / 256) = 5,860.
