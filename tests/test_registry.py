"""Dataset registry, config boundary and the dataset-specific HumanData classes."""
import numpy as np
import pytest
import torch

from data import registry
from data.humandata import HumanData
from data.registry import DATASETS, build_dataset, build_train_dataset, get_dataset_class
from tests.fixtures.humandata import random_params, write_humandata

HUMANDATA_32 = ["BEDLAM", "SPEC", "GTA_Human2", "SynBody", "PoseTrack", "EgoBody_Egocentric", "PROX",
                "CrowdPose", "EgoBody_Kinect", "MPI_INF_3DHP", "RICH", "MuCo", "InstaVariety", "Behave", "UP3D",
                "ARCTIC", "OCHuman", "CHI3D", "RenBody_HiRes", "MTP", "HumanSC3D", "RenBody", "FIT3D",
                "Talkshow", "SSP3D", "LSPET"]


def test_every_humandata_set_of_the_32_config_is_registered():
    for name in HUMANDATA_32 + ["Synthetic"]:
        cls = DATASETS[name]
        assert issubclass(cls, HumanData) and cls.dataset_name() == name
        assert cls.default_files("train") and cls.default_files("test")
    assert len({DATASETS[n].default_files("train") for n in HUMANDATA_32}) == 26


def test_unknown_name_lists_known_names_and_close_matches():
    with pytest.raises(KeyError) as err:
        get_dataset_class("BEDLAMM")
    msg = str(err.value)
    assert "'BEDLAMM'" in msg and "Did you mean 'BEDLAM'" in msg and "GTA_Human2" in msg and "Talkshow" in msg


def test_unknown_name_fails_before_any_data_is_read(tiny_cfg_factory, tmp_path, monkeypatch):
    def no_reading(*a, **k):
        raise AssertionError("a dataset was built before the names were checked")

    monkeypatch.setattr(HumanData, "__init__", no_reading)
    cfg = tiny_cfg_factory(data_dir=str(tmp_path), trainset_3d=[], trainset_2d=[],
                           trainset_humandata=["BEDLAM", "SynBodyy"])
    with pytest.raises(KeyError, match="Did you mean 'SynBody'"):
        build_train_dataset(cfg)


def test_fixed_intrinsics_of_gta_human2_and_synbody():
    gta = DATASETS["GTA_Human2"]
    assert gta.focal == (1158.0337, 1158.0337) and gta.princpt == (960.0, 540.0) and gta.img_shape == (1080, 1920)
    syn = DATASETS["SynBody"]
    assert syn.focal == (540.0, 540.0) and syn.princpt == (640.0, 360.0) and syn.img_shape == (720, 1280)
    assert DATASETS["SPEC"].focal is None


def test_build_from_config_reads_interval_and_builds_balanced_mix(tiny_cfg_factory, humandata_dir):
    root, _ = humandata_dir
    cfg = tiny_cfg_factory(data_dir=str(root), trainset_3d=[], trainset_2d=[],
                           trainset_humandata=["Synthetic", "SPEC"], total_data_len=10,
                           Synthetic_train_sample_interval=2, use_cache=False)
    cfg.humandata_files = {"SPEC": {"train": ["synthetic_train.npz"]}}
    ds = build_dataset(cfg, "Synthetic", "train")
    assert len(ds) == 3
    assert sorted(ds.records.source[:, 1].tolist()) == [0, 2, 4]  # shuffled for 'balance', interval 2
    # 'SPEC' reads the same file through the files override but its images from {data_dir}/SPEC/.
    (root / "SPEC").symlink_to(root / "Synthetic", target_is_directory=True)
    mix = build_train_dataset(cfg)
    assert len(mix) == 10 and mix.per_db_len == 5 and mix.names == ["Synthetic", "SPEC"]
    batch = next(iter(torch.utils.data.DataLoader(mix, batch_size=2)))
    assert batch[1]["smplx_pose"].shape == (2, 159)
    assert len(build_dataset(cfg, "Synthetic", "test")) == 6
    cfg.eval_on_train = True  # test items from the (shuffled) training file
    on_train = build_dataset(cfg, "Synthetic", "test")
    assert on_train.split == "test" and sorted(on_train.records.source[:, 1].tolist()) == [0, 2, 4]
    cfg.eval_on_train = False
    # Legacy strategy (None): the HumanData group is concatenated, then equalised with the other groups.
    cfg.data_strategy = None
    legacy = build_train_dataset(cfg)
    assert len(legacy) == 9 and legacy.names == ["humandata"] and legacy.datasets[0].lengths == [3, 6]


def test_bedlam_hand_poses_become_mean_relative(tmp_path, human_model_path):
    from common.utils.human_models import SMPLX, get_smplx
    rng = np.random.default_rng(21)
    params = random_params(2, rng)
    params["betas"] = rng.normal(0, 0.5, (2, 11)).astype(np.float32)  # BEDLAM stores 11 betas
    write_humandata(tmp_path, human_model_path, name="BEDLAM", file="bedlam_train.npz",
                    params={**params, "betas": params["betas"][:, :10]})
    # Re-write the file with flat-hand-mean (absolute) hand poses and 11 betas, as BEDLAM has them.
    path = tmp_path / "preprocessed_datasets" / "bedlam_train.npz"
    with np.load(path, allow_pickle=True) as z:
        content = dict(z)
    neutral = get_smplx(human_model_path)
    absolute = dict(params)
    absolute["left_hand_pose"] = params["left_hand_pose"].reshape(2, 45) + neutral.left_hand_mean.numpy()
    absolute["right_hand_pose"] = params["right_hand_pose"].reshape(2, 45) + neutral.right_hand_mean.numpy()
    content["smplx"] = np.array(absolute, dtype=object)
    np.savez(path, **content)
    ds = DATASETS["BEDLAM"]("train", data_dir=tmp_path, human_model_path=human_model_path, use_cache=False)
    p = ds.smplx_params(1)
    np.testing.assert_allclose(p.lhand_pose, params["left_hand_pose"][1].reshape(-1), atol=1e-5)
    np.testing.assert_allclose(p.rhand_pose, params["right_hand_pose"][1].reshape(-1), atol=1e-5)
    np.testing.assert_allclose(p.shape, params["betas"][1, :10])
    # The converted pose on the mean-relative model = the absolute pose on a flat-hand-mean model.
    flat = SMPLX(human_model_path, flat_hand_mean=True)
    t = lambda a: torch.as_tensor(np.asarray(a, np.float32)).reshape(1, -1)
    common = dict(global_orient=t(p.root_pose), body_pose=t(p.body_pose), jaw_pose=t(p.jaw_pose),
                  betas=t(p.shape), expression=t(p.expr))
    with torch.no_grad():
        a = neutral(left_hand_pose=t(p.lhand_pose), right_hand_pose=t(p.rhand_pose), **common).joints
        b = flat(left_hand_pose=t(absolute["left_hand_pose"][1]), right_hand_pose=t(absolute["right_hand_pose"][1]),
                 **common).joints
    np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-5)


def test_talkshow_copies_the_left_hand_unless_fixed(tmp_path, human_model_path, tiny_cfg_factory):
    rng = np.random.default_rng(22)
    params = random_params(2, rng)
    info = write_humandata(tmp_path, human_model_path, name="Talkshow", file="talkshow_train.npz", params=params)
    with np.load(info["path"], allow_pickle=True) as z:
        content = dict(z)
    stored = dict(params)
    stored["expression"] = rng.normal(size=(2, 100)).astype(np.float32)  # Talkshow keeps 100 coefficients
    stored["body_pose"] = params["body_pose"].reshape(2, 63)  # flat layout
    content["smplx"] = np.array(stored, dtype=object)
    np.savez(info["path"], **content)
    cls = DATASETS["Talkshow"]
    # the original (SPEC §4.1): the left hand pose copied into the right hand
    p = cls("train", data_dir=tmp_path, human_model_path=human_model_path, use_cache=False).smplx_params(0)
    np.testing.assert_allclose(p.rhand_pose, params["left_hand_pose"][0].reshape(-1))
    np.testing.assert_allclose(p.lhand_pose, params["left_hand_pose"][0].reshape(-1))
    np.testing.assert_allclose(p.expr, stored["expression"][0, :10])
    np.testing.assert_allclose(p.body_pose, params["body_pose"][0].reshape(-1))
    # fix_talkshow_right_hand=True (through the config): the file's own right hand
    cfg = tiny_cfg_factory(data_dir=str(tmp_path), use_cache=False, fix_talkshow_right_hand=True)
    p = cls.from_config(cfg, "train").smplx_params(0)
    np.testing.assert_allclose(p.rhand_pose, params["right_hand_pose"][0].reshape(-1))
