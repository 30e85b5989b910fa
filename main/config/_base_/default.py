"""Settings shared by every SMPLer-X config (SPEC §1.1, §3.3, §3.5), plus our runtime keys.

Per-experiment files inherit this through `datasets_*.py` / `finetune.py` and a `model_*.py` file and
override what differs. Every key any module reads has a value here, so no code needs a fallback default.
"""
_base_ = ['./sample_intervals.py']

# ------------------------------------------------------------------ runtime paths (filled by load_config)
root_dir = None  # None -> absolute repository root; relative paths below are resolved against it
human_model_path = 'common/utils/human_model_files'  # SMPL-X / SMPL model files
data_dir = 'dataset'  # datasets: {data_dir}/{Name}/, {data_dir}/preprocessed_datasets/
pretrained_model_dir = 'pretrained_models'  # released checkpoints and ViTPose init weights
output_root = 'output'  # runs go to {output_root}/{exp_name}_{timestamp}/ (common/run_dir.py)
# The original's runtime keys exp_name, output_dir, model_dir, log_dir, result_dir, vis_dir, code_dir and
# num_gpus are not config keys here: they are derived when a run starts and held by common.run_dir.Run.

# ------------------------------------------------------------------ fixed args (SPEC §1.1, all variants)
input_img_shape = (512, 384)  # (H, W) of the person crop the datasets produce
input_body_shape = (256, 192)  # (H, W) the encoder sees (nearest resize of the crop, factor 1/2)
output_hm_shape = (16, 16, 12)  # (D, H, W) body heatmap = encoder patch grid 256/16 x 192/16, depth 16
output_hand_hm_shape = (16, 16, 16)  # (D, H, W) hand heatmap; roi_align output is 16 x 16
output_face_hm_shape = (8, 8, 8)  # informational (no face heatmap); load_config refuses another value
input_hand_shape = (256, 256)  # only its aspect ratio (1.0) is used, to square hand boxes
input_face_shape = (192, 192)  # only its aspect ratio (1.0) is used, to square face boxes
focal = (5000, 5000)  # virtual focal length (pixels of input_body_shape)
princpt = (input_body_shape[1] / 2, input_body_shape[0] / 2)  # (96.0, 128.0) = centre of the 192x256 image
body_3d_size = 2.0  # metres: depth range of the body heatmap
hand_3d_size = 0.3  # metres: depth range of the hand heatmap
face_3d_size = 0.3  # metres
camera_3d_size = 2.5  # enters the camera depth scale k (SPEC §1.10)
upscale = 4  # HandRoI feature upsampling factor (16x12 -> 64x48)
# Informational keys of the original's configs: nothing reads them, so load_config refuses another value.
hand_pos_joint_num = 20
face_pos_joint_num = 72
num_noise_sample = 0  # unused by the original as well
# The original's `num_task_token = 24` is dropped: it was never read; the encoder uses
# encoder['num_task_tokens'] = 31 (model_*.py).

# ------------------------------------------------------------------ optimisation (SPEC §3.3, §3.4)
lr = 1e-5  # Adam, no weight decay
lr_mult = 1  # lr multiplier of the "special" parameter group (SPEC §3.3) ...
lr_mult_modules = ()  # ... = these top-level modules, e.g. ('encoder',); () = empty group, as the original
min_lr = 1e-6  # eta_min of the cosine schedule
scheduler = 'cos'  # 'cos': CosineAnnealingLR over end_epoch * itr_per_epoch, stepped every iteration
step_size = None  # only for scheduler='step' (learning-rate drop period; unit as documented by the trainer)
gamma = 0.1  # only for scheduler='step': lr multiplier at each drop
end_epoch = 10
train_batch_size = 32  # per GPU; the H configs use 16
# itr_per_epoch = ceil(total_data_len / num_gpus / train_batch_size) (SPEC §3.3); see datasets_*.py.
syncbn = True  # BatchNorm -> SyncBatchNorm under DDP
fine_tune = None  # None: train all; 'backbone' | 'neck_and_head' | 'head' freeze the rest (SPEC §3.3)
random_init = False  # True: skip the ViTPose encoder initialisation
continue_train = False  # True: load pretrained_model_path before training
start_over = True  # with continue_train: restart at epoch 0 without the optimizer state
pretrained_model_path = None  # checkpoint to continue from / to test; relative -> under pretrained_model_dir
seed = 2023  # python, numpy and torch seeds
precision = 'fp32'  # 'fp32' | 'bf16' | 'fp16' (autocast; the original trains in fp32)
grad_clip_norm = None  # max global gradient norm; None = no clipping (as the original)
keep_last_ckpts = 0  # keep only the newest N checkpoints; 0 = keep all

# ------------------------------------------------------------------ loss weights (SPEC §3.2)
smplx_loss_weight = 1.0  # betas
smplx_pose_weight = 10.0  # 159-d axis-angle pose
smplx_kps_3d_weight = 100.0  # joint_cam and smplx_joint_cam
smplx_kps_2d_weight = 1.0  # joint_proj
net_kps_2d_weight = 1.0  # joint_img and smplx_joint_img (position-net heatmap joints)
# Set: an extra 'smplx_orient' term, L1 on the 3 root-pose values masked like smplx_pose, times this weight
# (the SPEC gives only that the term exists when the key is set). None: no such term (the released configs).
smplx_orient_weight = None

# ------------------------------------------------------------------ data
data_strategy = 'balance'  # MultipleDatasets: every dataset gives total_data_len // #datasets items
use_cache = True  # cache parsed HumanData annotations
strict_data = False  # True: a missing/corrupt dataset file or bad sample is an error instead of a skip
# Per-dataset HumanData annotation files, e.g. {'BEDLAM': {'train': ['bedlam_train.npz'], 'test': [...]}};
# a dataset not listed reads preprocessed_datasets/{name lowercased}_{split}.npz.
humandata_files = {}
data_cache_dir = None  # parsed-annotation cache; None -> {data_dir}/cache
check_image_files = True  # at first load, flag samples whose image file is missing (substituted when loaded)
no_aug = False  # True: no training augmentation (scale/rotation/colour/flip)
# Fixes of the original's data quirks, off by default so the training signal is the original's:
fix_eyeball_swap = False  # True: HumanData eyeball keypoints (Face_3/4) use the model's order (SPEC §6.4)
fix_talkshow_right_hand = False  # True: Talkshow's right hand from right_hand_pose (the original: left hand)
neutral_model_for_betas_neutral = False  # True: samples whose betas come from betas_neutral use the
# neutral SMPL-X model (the original: the smplx dict's own gender entry, if any)
bbox_ratio = 1.2  # box enlargement for HumanData (body boxes use bbox_ratio * 0.833) and EHF/MSCOCO
inference_bbox_ratio = 1.25  # detector box enlargement in inference.py (the original's process_bbox default)
agora_fix_betas = True  # selects an AGORA annotation variant the SPEC does not describe: logged, ignored
agora_fix_global_orient_transl = True  # also makes the pose loss supervise the root (SPEC §3.2)
agora_valid_root_pose = True  # False: AGORA samples get no root-pose supervision (smplx_pose_valid[:3] = 0)
egobody_fix_betas = False  # not implemented (variant not in the SPEC); load_config refuses True
agora_benchmark = 'agora_model'
agora_resolution = '1280x720'  # AGORA image resolution the loader reads: '1280x720' or '3840x2160'
shapy_eval_split = None  # SHAPY (HBW) evaluation is not implemented; load_config refuses another value
# Informational list of the original (what its dataset folders hold); not read by the code.
dataset_list = ['Human36M', 'MSCOCO', 'MPII', 'AGORA', 'EHF', 'SynBody', 'GTA_Human2', 'EgoBody_Egocentric',
                'EgoBody_Kinect', 'UBody', 'PW3D', 'MuCo', 'PROX']

# ------------------------------------------------------------------ test / logging / checkpointing
testset = 'EHF'  # informational (the original's key): `main/test.py --testset` selects the test set
test_batch_size = 32
eval_on_train = False  # evaluate a 10,000-sample subset of a training set
vis = False  # the original's test flag; here `main/test.py --vis` (load_config refuses True)
num_thread = 4  # DataLoader workers per GPU (the 32-dataset configs use 2)
print_iters = 100  # log every 100 iterations
save_epoch = 1  # checkpoint every epoch (and always after the last)
