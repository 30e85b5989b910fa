"""The 20-dataset training mix (SPEC §3.4): the first 20 of the 32-dataset order without MPII and
Human36M. Order matters (trainset_3d + trainset_2d + trainset_humandata)."""
_base_ = ['./default.py']

trainset_3d = ['MSCOCO', 'AGORA', 'UBody']
trainset_2d = ['PW3D']
trainset_humandata = [
    'BEDLAM', 'SPEC', 'GTA_Human2', 'SynBody', 'PoseTrack', 'EgoBody_Egocentric', 'PROX', 'CrowdPose',
    'EgoBody_Kinect', 'MPI_INF_3DHP', 'RICH', 'MuCo', 'InstaVariety', 'Behave', 'UP3D', 'ARCTIC',
]  # 16 sets; 3 + 1 + 16 = 20
total_data_len = 3000000  # = 20 datasets x 150,000 items each (balance strategy)
# itr_per_epoch = ceil(total_data_len / num_gpus / train_batch_size) (SPEC §3.3). The original does
# not state the GPU count of the S/B/L runs; e.g. 8 GPUs x 32 = 256 per step -> ceil(3,000,000 / 256) = 11,719.
