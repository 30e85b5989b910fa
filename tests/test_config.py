"""Config files carry the SPEC values; load_config resolves paths, checks overrides and warns about unknown keys.

Expected values are typed in from SPEC §1.1, §1.2, §3.4, §3.5 (not read back from the config code).
"""
import argparse
import logging
import math
import os
from pathlib import Path

import pytest

from common.config import (
    ConfigError, add_cfg_options_argument, config_path_for_model, known_keys, load_config, parse_cfg_options,
    runtime_paths,
)

REPO = Path(__file__).resolve().parents[1]

HUMANDATA_32 = [
    'BEDLAM', 'SPEC', 'GTA_Human2', 'SynBody', 'PoseTrack', 'EgoBody_Egocentric', 'PROX', 'CrowdPose',
    'EgoBody_Kinect', 'MPI_INF_3DHP', 'RICH', 'MuCo', 'InstaVariety', 'Behave', 'UP3D', 'ARCTIC', 'OCHuman',
    'CHI3D', 'RenBody_HiRes', 'MTP', 'HumanSC3D', 'RenBody', 'FIT3D', 'Talkshow', 'SSP3D', 'LSPET']
# Training order (trainset_3d + trainset_2d + trainset_humandata) per dataset count, SPEC §3.4.
ORDER = {
    32: ['MSCOCO', 'AGORA', 'UBody', 'PW3D', 'MPII', 'Human36M'] + HUMANDATA_32,
    20: ['MSCOCO', 'AGORA', 'UBody', 'PW3D'] + HUMANDATA_32[:16],
    10: ['MSCOCO', 'AGORA', 'BEDLAM', 'SPEC', 'GTA_Human2', 'SynBody', 'PoseTrack', 'EgoBody_Egocentric', 'PROX',
         'CrowdPose'],
    5: ['MSCOCO', 'AGORA', 'BEDLAM', 'SPEC', 'GTA_Human2'],
}
TOTAL = {32: 4_500_000, 20: 3_000_000, 10: 1_500_000, 5: 750_000}
PER_DATASET = {32: 140_625, 20: 150_000, 10: 150_000, 5: 150_000}
# variant: (model_type, feat_dim, depth, heads, drop_path_rate, vitpose file), SPEC §1.2
VARIANTS = {
    's': ('smpler_x_s', 384, 12, 12, 0.10, 'vitpose_small.pth'),
    'b': ('smpler_x_b', 768, 12, 12, 0.30, 'vitpose_base.pth'),
    'l': ('smpler_x_l', 1024, 24, 16, 0.50, 'vitpose_large.pth'),
    'h': ('smpler_x_h', 1280, 32, 16, 0.55, 'vitpose_huge.pth'),
}
FT_ORDER = {
    '3dpw': ['PW3D', 'GTA_Human2', 'EgoBody_Kinect', 'InstaVariety', 'HumanSC3D'],
    'agora': ['AGORA', 'GTA_Human2', 'BEDLAM', 'SynBody', 'SPEC'],
    'arctic': ['MSCOCO', 'ARCTIC', 'BEDLAM', 'EgoBody_Egocentric', 'PoseTrack'],
    'egobody': ['MSCOCO', 'EgoBody_Egocentric', 'EgoBody_Kinect', 'BEDLAM', 'PROX'],
    'renbody': ['RenBody_HiRes', 'RenBody', 'BEDLAM', 'SynBody', 'CHI3D'],
    'ubody': ['UBody', 'MSCOCO', 'EgoBody_Egocentric', 'PoseTrack', 'Talkshow'],
}


def _order(cfg):
    return list(cfg.trainset_3d) + list(cfg.trainset_2d) + list(cfg.trainset_humandata)


@pytest.mark.parametrize('variant', 'sblh')
@pytest.mark.parametrize('n', [5, 10, 20, 32])
def test_pretrain_configs_carry_spec_values(variant, n):
    cfg = load_config(f'config_smpler_x_{variant}{n}.py')
    model_type, feat_dim, depth, heads, dpr, vitpose = VARIANTS[variant]
    assert cfg.model_type == model_type and cfg.feat_dim == feat_dim
    assert dict(cfg.encoder) == dict(depth=depth, num_heads=heads, mlp_ratio=4.0, drop_path_rate=dpr,
                                     patch_size=16, patch_padding=2, num_task_tokens=31)
    assert os.path.basename(cfg.encoder_pretrained_model_path) == vitpose
    assert cfg.lr == (2e-5 if variant + str(n) == 'l5' else 1e-5)
    assert cfg.min_lr == 1e-6 and cfg.end_epoch == 10 and cfg.scheduler == 'cos'
    assert cfg.train_batch_size == (16 if variant == 'h' else 32)
    assert cfg.num_thread == (2 if n == 32 else 4)
    assert _order(cfg) == ORDER[n] and len(ORDER[n]) == n
    assert cfg.total_data_len == TOTAL[n] and cfg.total_data_len // n == PER_DATASET[n]
    assert cfg.RenBody_train_sample_interval == (1 if n == 32 else 10)
    assert (cfg.BEDLAM_train_sample_interval, cfg.EgoBody_Kinect_train_sample_interval,
            cfg.MPI_INF_3DHP_train_sample_interval, cfg.train_sample_interval, cfg.test_sample_interval) == \
        (5, 10, 5, 10, 100)
    assert cfg.continue_train is False and cfg.pretrained_model_path is None and cfg.fine_tune is None


def test_h32_full_key_values():
    cfg = load_config('config_smpler_x_h32')
    expected = dict(
        input_img_shape=(512, 384), input_body_shape=(256, 192), output_hm_shape=(16, 16, 12),
        output_hand_hm_shape=(16, 16, 16), output_face_hm_shape=(8, 8, 8), input_hand_shape=(256, 256),
        input_face_shape=(192, 192), focal=(5000, 5000), princpt=(96, 128), body_3d_size=2, hand_3d_size=0.3,
        face_3d_size=0.3, camera_3d_size=2.5, upscale=4, hand_pos_joint_num=20, face_pos_joint_num=72,
        num_noise_sample=0, save_epoch=1, syncbn=True, bbox_ratio=1.2, start_over=True, agora_fix_betas=True,
        agora_fix_global_orient_transl=True, agora_valid_root_pose=True, testset='EHF', use_cache=True,
        data_strategy='balance', smplx_loss_weight=1.0, smplx_pose_weight=10.0, smplx_kps_3d_weight=100.0,
        smplx_kps_2d_weight=1.0, net_kps_2d_weight=1.0, agora_benchmark='agora_model', print_iters=100,
        lr_mult=1, test_batch_size=32, vis=False, make_same_len=False, seed=2023, precision='fp32',
        grad_clip_norm=None, keep_last_ckpts=0, strict_data=False, random_init=False, no_aug=False,
        eval_on_train=False,
    )
    for key, value in expected.items():
        assert cfg[key] == value, key
    assert tuple(cfg.input_img_shape) == (512, 384)  # tuple, not list
    assert 'encoder_config_file' not in cfg and 'num_task_token' not in cfg
    # README 16-GPU H32 run: ceil(4.5M / 16 GPUs / 16 per GPU) = 17,579 iterations per epoch
    assert math.ceil(cfg.total_data_len / 16 / cfg.train_batch_size) == 17_579


@pytest.mark.parametrize('name', sorted(FT_ORDER))
def test_finetune_configs(name):
    cfg = load_config(f'config_ft_{name}.py')
    assert cfg.model_type == 'smpler_x_h' and cfg.feat_dim == 1280 and cfg.encoder.depth == 32
    assert (cfg.lr, cfg.min_lr, cfg.end_epoch, cfg.train_batch_size) == (1e-5, 5e-7, 5, 16)
    assert cfg.continue_train is True and cfg.start_over is True and cfg.fine_tune is None
    assert cfg.total_data_len == 1_000_000 and cfg.total_data_len // len(_order(cfg)) == 200_000
    assert _order(cfg) == FT_ORDER[name]
    assert cfg.pretrained_model_path == str(REPO / 'pretrained_models' / 'smpler_x_h32.pth.tar')


def test_model_zoo_names_resolve():
    h32 = REPO / 'main' / 'config' / 'config_smpler_x_h32.py'
    for name in ['smpler_x_h32', 'smpler_x_h32_correct', 'config_smpler_x_h32', 'config_smpler_x_h32.py',
                 'smpler_x_h32_correct.pth.tar']:
        assert config_path_for_model(name) == h32, name
    with pytest.raises(ConfigError, match='smpler_x_h23'):
        config_path_for_model('smpler_x_h23')
    with pytest.raises(ConfigError, match='does not exist'):
        load_config('no/such/config.py')


def test_runtime_keys_resolve_under_root():
    cfg = load_config('smpler_x_s5')
    assert cfg.root_dir == str(REPO)
    assert cfg.human_model_path == str(REPO / 'common' / 'utils' / 'human_model_files')
    assert cfg.data_dir == str(REPO / 'dataset')
    assert cfg.pretrained_model_dir == str(REPO / 'pretrained_models')
    assert cfg.output_root == str(REPO / 'output')
    assert cfg.encoder_pretrained_model_path == str(REPO / 'pretrained_models' / 'vitpose_small.pth')


def test_runtime_overrides_absolute_wins_relative_under_root(tmp_path):
    cfg = load_config('smpler_x_s5', {'data_dir': str(tmp_path / 'd'), 'output_root': 'elsewhere/out',
                                      'pretrained_model_dir': str(tmp_path)})
    assert cfg.data_dir == str(tmp_path / 'd')
    assert cfg.output_root == str(REPO / 'elsewhere' / 'out')
    assert cfg.encoder_pretrained_model_path == str(tmp_path / 'vitpose_small.pth')
    cfg = load_config('smpler_x_s5', [f'root_dir={tmp_path}'])
    assert cfg.human_model_path == str(tmp_path / 'common' / 'utils' / 'human_model_files')


def test_string_overrides_parse_literals_nested_and_lists():
    cfg = load_config('smpler_x_s5', ['lr=1e-4', 'encoder.depth=2', "trainset_humandata=['Synthetic']",
                                      'train_batch_size=4', 'syncbn=False', 'trainset_2d=[PW3D, MPII]',
                                      'testset=AGORA', 'input_img_shape=[256, 192]', 'grad_clip_norm=1.0'])
    assert cfg.lr == 1e-4 and isinstance(cfg.lr, float)
    assert cfg.encoder.depth == 2 and cfg.encoder.num_heads == 12  # nested override keeps siblings
    assert cfg.trainset_humandata == ['Synthetic'] and cfg.trainset_2d == ['PW3D', 'MPII']
    assert cfg.train_batch_size == 4 and cfg.syncbn is False and cfg.testset == 'AGORA'
    assert cfg.input_img_shape == (256, 192) and isinstance(cfg.input_img_shape, tuple)
    assert cfg.grad_clip_norm == 1.0


def test_dict_overrides_int_to_float_and_nested_dict():
    cfg = load_config('smpler_x_b10', {'lr': 1, 'encoder': {'depth': 2, 'num_heads': 2}, 'feat_dim': 64,
                                       'total_data_len': 'auto', 'pretrained_model_path': 'x.pth.tar'})
    assert cfg.lr == 1.0 and isinstance(cfg.lr, float)
    assert (cfg.encoder.depth, cfg.encoder.num_heads, cfg.encoder.mlp_ratio, cfg.feat_dim) == (2, 2, 4.0, 64)
    assert cfg.total_data_len == 'auto'
    assert cfg.pretrained_model_path == str(REPO / 'pretrained_models' / 'x.pth.tar')


@pytest.mark.parametrize('override, key, close', [
    ('encoder.dpth=2', 'encoder.dpth', 'encoder.depth'),
    ('train_batch_sise=2', 'train_batch_sise', 'train_batch_size'),
    ('end_epochs=3', 'end_epochs', 'end_epoch'),
    ('lr.value=3', 'lr.value', None),
])
def test_unknown_key_names_key_and_close_match(override, key, close):
    with pytest.raises(ConfigError) as info:
        load_config('smpler_x_s5', [override])
    assert isinstance(info.value, ValueError)
    assert repr(key) in str(info.value)
    if close:
        assert close in str(info.value)


@pytest.mark.parametrize('override, key, expected', [
    ({'lr': 'abc'}, 'lr', 'float'),
    ({'train_batch_size': 1.5}, 'train_batch_size', 'int'),
    ({'trainset_3d': 3}, 'trainset_3d', 'list'),
    ({'syncbn': 1}, 'syncbn', 'bool'),
    ({'train_batch_size': True}, 'train_batch_size', 'int'),
    ({'encoder': 3}, 'encoder', 'dict'),
    ({'encoder.depth': 'two'}, 'encoder.depth', 'int'),
    ({'lr': None}, 'lr', 'float'),
])
def test_wrong_type_names_key_type_and_value(override, key, expected):
    with pytest.raises(ConfigError) as info:
        load_config('smpler_x_s5', override)
    message = str(info.value)
    assert repr(key) in message and expected in message and repr(list(override.values())[0]) in message


def test_choice_keys_rejected():
    with pytest.raises(ConfigError, match='precision'):
        load_config('smpler_x_s5', ['precision=fp8'])


@pytest.mark.parametrize('override,reason', [
    ('egobody_fix_betas=True', 'not implemented'),
    ('shapy_eval_split=val', 'SHAPY'),
    ('vis=True', 'test.py --vis'),
    ('num_noise_sample=3', 'unused'),
    ('hand_pos_joint_num=21', 'informational'),
    ('face_pos_joint_num=68', 'informational'),
    ('output_face_hm_shape=[4,4,4]', 'no face heatmap'),
])
def test_keys_that_would_change_nothing_are_refused(override, reason):
    key = override.split('=')[0]
    with pytest.raises(ConfigError, match=f"'{key}'.*not supported.*{reason}"):
        load_config('smpler_x_s5', [override])
    # the original's values (in every released config) are accepted
    cfg = load_config('smpler_x_s5', ['output_face_hm_shape=[8,8,8]'])
    assert (cfg.egobody_fix_betas, cfg.shapy_eval_split, cfg.vis, cfg.num_noise_sample) == (False, None, False, 0)


def test_parse_cfg_options_and_argparse():
    parser = argparse.ArgumentParser()
    add_cfg_options_argument(parser)
    args = parser.parse_args(['--cfg-options', 'lr=2e-5', 'encoder.depth=2', 'exp=a=b', 'x=None', 'y=(1, 2)'])
    assert parse_cfg_options(args.cfg_options) == {'lr': 2e-5, 'encoder.depth': 2, 'exp': 'a=b', 'x': None,
                                                   'y': (1, 2)}
    assert parser.parse_args([]).cfg_options is None
    with pytest.raises(ConfigError, match='KEY=VALUE'):
        parse_cfg_options(['lr'])


def test_runtime_paths_without_a_config_file(tmp_path):
    """What --result_path needs before the run's config is known: the same paths load_config gives."""
    assert runtime_paths()['output_root'] == str(REPO / 'output')
    assert runtime_paths({'output_root': str(tmp_path), 'lr': 1.0}) == dict(
        runtime_paths(), output_root=str(tmp_path))
    assert runtime_paths({'root_dir': str(tmp_path)})['output_root'] == str(tmp_path / 'output')
    cfg = load_config('smpler_x_s5', {'output_root': 'runs'})
    assert runtime_paths({'output_root': 'runs'})['output_root'] == cfg.output_root == str(REPO / 'runs')


def test_config_file_with_unknown_keys_warns_with_close_matches(tmp_path, caplog):
    user = tmp_path / 'my_config.py'
    user.write_text(f"_base_ = ['{REPO}/main/config/config_smpler_x_s32.py']\n"
                    "lrr = 1e-4\ntrain_batch_sise = 4\nmy_note = 'x'\nlr = 2e-5\n")
    with caplog.at_level(logging.WARNING, logger='common.config'):
        cfg = load_config(user)
    assert cfg.lr == 2e-5 and cfg.lrr == 1e-4  # loaded as written; only warned about
    warned = {r.getMessage().split("unknown key '")[1].split("'")[0]: r.getMessage() for r in caplog.records}
    assert sorted(warned) == ['lrr', 'my_note', 'train_batch_sise']
    assert str(user) in warned['lrr'] and "did you mean lr" in warned['lrr']
    assert 'did you mean train_batch_size' in warned['train_batch_sise']
    assert 'no similar key exists' in warned['my_note']


def test_shipped_configs_define_only_known_keys(caplog):
    """Every key of every shipped config is known (so the warning above only fires for user mistakes)."""
    assert {'lr', 'feat_dim', 'encoder', 'trainset_humandata', 'BEDLAM_train_sample_interval'} <= known_keys()
    assert 'output_dir' not in known_keys() and '_base_' not in known_keys()
    with caplog.at_level(logging.WARNING, logger='common.config'):
        for path in sorted((REPO / 'main' / 'config').glob('config_*.py')):
            load_config(path)
    assert not [r for r in caplog.records if 'unknown key' in r.getMessage()]
