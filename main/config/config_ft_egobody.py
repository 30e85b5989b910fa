"""Fine-tune SMPLer-X-H32 on the egobody benchmark's data mix (SPEC §3.4)."""
_base_ = ['./_base_/finetune.py', './_base_/model_h.py']

trainset_3d = ['MSCOCO']
trainset_2d = []
trainset_humandata = ['EgoBody_Egocentric', 'EgoBody_Kinect', 'BEDLAM', 'PROX']
# 1 + 0 + 4 = 5 datasets -> per-dataset length = total_data_len 1,000,000 / 5 = 200,000 (balance strategy)
