"""Fine-tuning settings shared by config_ft_*.py (SPEC §3.4, §3.5): start from a trained SMPLer-X-H32
checkpoint and adapt it to one benchmark's data for 5 short epochs with a lower final lr."""
_base_ = ['./default.py']

lr = 1e-5
min_lr = 5e-7  # lower cosine floor than pre-training (1e-6)
end_epoch = 5
train_batch_size = 16  # per GPU (the H model)
continue_train = True  # load pretrained_model_path; start_over (True) restarts at epoch 0, fresh optimizer
# The original shipped a placeholder ('../path_to_smpler_x_h32/snapshot.pth.tar'); we point at the released
# H32 checkpoint under pretrained_model_dir. Override with --cfg-options pretrained_model_path=/abs/path.
pretrained_model_path = 'smpler_x_h32.pth.tar'
fine_tune = None  # fine-tune every module
total_data_len = 1000000  # 1e6 items per epoch, split evenly: per-dataset length = 1e6 / #datasets
