"""Fine-tune SMPLer-X-H32 on the renbody benchmark's data mix (SPEC §3.4)."""
_base_ = ['./_base_/finetune.py', './_base_/model_h.py']

trainset_3d = []
trainset_2d = []
trainset_humandata = ['RenBody_HiRes', 'RenBody', 'BEDLAM', 'SynBody', 'CHI3D']
# 0 + 0 + 5 = 5 datasets -> per-dataset length = total_data_len 1,000,000 / 5 = 200,000 (balance strategy)
