"""Fine-tune SMPLer-X-H32 on the 3dpw benchmark's data mix (SPEC §3.4)."""
_base_ = ['./_base_/finetune.py', './_base_/model_h.py']

trainset_3d = []
trainset_2d = ['PW3D']
trainset_humandata = ['GTA_Human2', 'EgoBody_Kinect', 'InstaVariety', 'HumanSC3D']
# 0 + 1 + 4 = 5 datasets -> per-dataset length = total_data_len 1,000,000 / 5 = 200,000 (balance strategy)
