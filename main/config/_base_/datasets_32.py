"""The 32-dataset training mix of SMPLer-X-{S,B,L,H}32 (SPEC §3.4). Order matters: MultipleDatasets
indexes trainset_3d + trainset_2d + trainset_humandata in this order; the split into the three lists
only mirrors the original (each dataset class knows its own kind)."""
_base_ = ['./default.py']

trainset_3d = ['MSCOCO', 'AGORA', 'UBody']
trainset_2d = ['PW3D', 'MPII', 'Human36M']
trainset_humandata = [
    'BEDLAM', 'SPEC', 'GTA_Human2', 'SynBody', 'PoseTrack', 'EgoBody_Egocentric', 'PROX', 'CrowdPose',
    'EgoBody_Kinect', 'MPI_INF_3DHP', 'RICH', 'MuCo', 'InstaVariety', 'Behave', 'UP3D', 'ARCTIC', 'OCHuman',
    'CHI3D', 'RenBody_HiRes', 'MTP', 'HumanSC3D', 'RenBody', 'FIT3D', 'Talkshow', 'SSP3D', 'LSPET',
]  # 26 sets; 3 + 3 + 26 = 32
total_data_len = 4500000  # = 32 datasets x 140,625 items each (balance strategy); README "#Inst. 4.5M"
# itr_per_epoch = ceil(total_data_len / num_gpus / train_batch_size) (SPEC §3.3). The original does
# not state the GPU count of the S/B/L runs; e.g. 8 GPUs x 32 = 256 per step -> ceil(4,500,000 / 256) = 17,579.
RenBody_train_sample_interval = 1  # commented out in the original 32 configs -> default 1
num_thread = 2  # the 32-dataset configs use 2 loader workers per GPU (the others 4)
