"""Bad data in HumanData sets: samples the original drops are dropped, samples only our checks find bad
keep their place and are substituted when loaded; each case is reported with file, sample and reason and
counted per dataset, or refused with ``strict_data=True``."""
import logging

import cv2
import numpy as np
import pytest
import torch

from data.humandata_parse import DataError, MalformedHumanData
from data.humandata_records import defect_bit
from data.Synthetic.Synthetic import Synthetic
from tests.fixtures.humandata import write_humandata


def make(root, hmp, **kw):
    return Synthetic("train", data_dir=root, human_model_path=hmp, use_cache=False, **kw)


@pytest.fixture
def bad_set(tmp_path, human_model_path):
    """8 samples: #1 NaN 2D keypoint, #2 box right of the image, #4 image file missing, #5 NaN 3D keypoint,
    #6 box left of the image."""
    info = write_humandata(tmp_path, human_model_path, n=8, seed=11)
    with np.load(info["path"], allow_pickle=True) as z:
        content = dict(z)
    content["keypoints2d_smplx"][1, 20, 0] = np.nan  # L_Wrist (NaN in unused keypoints is ignored)
    content["bbox_xywh"][2, :4] = [400, 10, 50, 80]  # right of the 320-pixel-wide image: sanitises to nothing
    content["keypoints3d_smplx"][5, 0, 2] = np.nan
    content["bbox_xywh"][6, :4] = [-100, 10, 50, 80]  # the original's clamp keeps it; our check flags it
    np.savez(info["path"], **content)
    (tmp_path / "Synthetic" / info["image_paths"][4]).unlink()
    return tmp_path, info


def test_bad_samples_are_dropped_or_flagged_with_reasons_and_counted(bad_set, human_model_path, caplog):
    root, info = bad_set
    with caplog.at_level(logging.WARNING):
        ds = make(root, human_model_path)
    # Only the original's filters (box that sanitises to nothing, NaN keypoints3d) leave the index list.
    assert ds.records.source[:, 1].tolist() == [0, 1, 3, 4, 6, 7]
    assert ds.records.skipped == {"bbox_invalid": 1, "nan_keypoints3d": 1}
    assert ds.records.flagged == {"nonfinite_keypoints2d": 1, "missing_image": 1, "bbox_outside_image": 1}
    assert ds.records.defect.tolist() == [0, defect_bit("nonfinite_keypoints2d"), 0, defect_bit("missing_image"),
                                          defect_bit("bbox_outside_image"), 0]
    text = caplog.text
    for idx, reason in ((1, "nonfinite_keypoints2d"), (2, "bbox_invalid"), (4, "missing_image"),
                        (5, "nan_keypoints3d"), (6, "bbox_outside_image")):
        assert f"{info['path']} sample {idx}: {reason}" in text
    assert info["image_paths"][4] in text
    assert ("Synthetic/train: 6 samples from 1 file(s); skipped: bbox_invalid=1, nan_keypoints3d=1; kept but "
            "substituted when loaded: bbox_outside_image=1, missing_image=1, nonfinite_keypoints2d=1") in text


def test_flagged_sample_is_substituted_and_counted(bad_set, human_model_path, caplog):
    root, _ = bad_set
    ds = make(root, human_model_path)
    with caplog.at_level(logging.WARNING):
        for k in (1, 3, 4):  # the flagged positions
            inputs, targets, _ = ds[k]
            assert inputs["img"].shape == (3, 512, 384) and np.isfinite(targets["joint_img"]).all()
    assert "Synthetic/train sample 1: nonfinite_keypoints2d" in caplog.text
    assert "Synthetic/train sample 4: bbox_outside_image" in caplog.text
    assert "substituting another sample (3 so far in this process)" in caplog.text


def test_test_split_drops_what_training_flags(bad_set, human_model_path):
    root, _ = bad_set
    (root / "preprocessed_datasets" / "synthetic_test.npz").write_bytes(
        (root / "preprocessed_datasets" / "synthetic_train.npz").read_bytes())
    ds = Synthetic("test", data_dir=root, human_model_path=human_model_path, use_cache=False)
    assert ds.records.source[:, 1].tolist() == [0, 3, 7]
    assert not ds.records.flagged and not ds.records.defect.any()


def test_strict_mode_refuses_the_first_bad_sample(bad_set, human_model_path):
    root, info = bad_set
    with pytest.raises(DataError, match=r"sample 5: nan_keypoints3d.*strict_data=False"):
        make(root, human_model_path, strict_data=True)


def test_strict_mode_refuses_a_cache_with_skips(bad_set, human_model_path, tmp_path):
    root, _ = bad_set
    Synthetic("train", data_dir=root, human_model_path=human_model_path, cache_dir=tmp_path / "c")
    with pytest.raises(DataError, match="refuses skipped data"):
        Synthetic("train", data_dir=root, human_model_path=human_model_path, cache_dir=tmp_path / "c",
                  strict_data=True)


@pytest.mark.parametrize("change,match", [
    (dict(drop_keys=("__keypoints_compressed__",)), "missing required key.*__keypoints_compressed__"),
    (dict(extra={"bbox_xywh": np.zeros((3, 3), np.float32)}), r"'bbox_xywh' has shape \(3, 3\)"),
    (dict(extra={"keypoints2d_smplx": np.zeros((3, 50, 3), np.float32),
                 "keypoints2d_smplx_mask": np.ones(50, np.uint8)}), "has 50 keypoints"),
    (dict(drop_keys=("keypoints2d_smplx",)), "no 2D keypoints"),
])
def test_malformed_file_is_skipped_or_refused(tmp_path, human_model_path, caplog, change, match):
    info = write_humandata(tmp_path, human_model_path, n=3, seed=12, **change)
    with caplog.at_level(logging.ERROR):
        ds = make(tmp_path, human_model_path)
    assert len(ds) == 0 and ds.records.skipped == {"malformed_file": 1}
    assert str(info["path"]) in caplog.text
    with pytest.raises(MalformedHumanData, match=match):
        make(tmp_path, human_model_path, strict_data=True)


def test_unreadable_npz_and_missing_file(tmp_path, human_model_path):
    (tmp_path / "preprocessed_datasets").mkdir()
    with pytest.raises(DataError, match="not found"):
        make(tmp_path, human_model_path, strict_data=True)
    assert make(tmp_path, human_model_path).records.skipped == {"missing_file": 1}
    (tmp_path / "preprocessed_datasets" / "synthetic_train.npz").write_bytes(b"not a zip file")
    with pytest.raises(MalformedHumanData, match="cannot be read as .npz"):
        make(tmp_path, human_model_path, strict_data=True)


def _corrupt_image(root, info, index):
    (root / "Synthetic" / info["image_paths"][index]).write_bytes(b"garbage")


def test_unreadable_image_at_getitem_substitutes_or_raises(tmp_path, human_model_path, caplog):
    info = write_humandata(tmp_path, human_model_path, n=3, seed=13)
    ds = make(tmp_path, human_model_path)
    strict = make(tmp_path, human_model_path, strict_data=True)
    _corrupt_image(tmp_path, info, 1)  # broken after the start-up check
    with caplog.at_level(logging.WARNING):
        inputs, _, _ = ds[1]
    assert inputs["img"].shape == (3, 512, 384)
    assert f"Synthetic/train sample 1: cannot use image" in caplog.text and info["image_paths"][1] in caplog.text
    with pytest.raises(DataError, match=f"Synthetic/train sample 1: cannot use image .*{info['image_paths'][1]}"):
        strict[1]


def test_worker_error_names_dataset_sample_and_path(tmp_path, human_model_path):
    info = write_humandata(tmp_path, human_model_path, n=2, seed=14)
    ds = make(tmp_path, human_model_path, strict_data=True)
    _corrupt_image(tmp_path, info, 1)
    loader = torch.utils.data.DataLoader(torch.utils.data.Subset(ds, [1]), batch_size=1, num_workers=1)
    with pytest.raises(DataError, match=f"Synthetic/train sample 1: cannot use image .*{info['image_paths'][1]}"):
        next(iter(loader))


def test_item_errors_carry_dataset_sample_and_path(tmp_path, human_model_path, monkeypatch):
    info = write_humandata(tmp_path, human_model_path, n=2, seed=15)
    ds = make(tmp_path, human_model_path)

    def broken(*a, **k):
        raise ValueError("boom")

    monkeypatch.setattr("data.humandata.process_db_coord", broken)
    with pytest.raises(DataError, match=f"Synthetic/train sample 0 .*{info['image_paths'][0]}.*ValueError: boom"):
        ds[0]


def test_all_images_unreadable_gives_up(tmp_path, human_model_path):
    info = write_humandata(tmp_path, human_model_path, n=2, seed=16)
    ds = make(tmp_path, human_model_path)
    for i in range(2):
        _corrupt_image(tmp_path, info, i)
    assert cv2.imread(str(tmp_path / "Synthetic" / info["image_paths"][0])) is None
    with pytest.raises(DataError, match="unusable samples in a row"):
        ds[0]


def _jpeg_sample(root, info, index, truncate):
    """Make sample ``index`` a JPEG file (optionally cut before its end) and point the annotation at it."""
    png = root / "Synthetic" / info["image_paths"][index]
    ok, data = cv2.imencode(".jpg", cv2.imread(str(png)))
    data = data.tobytes()
    rel = info["image_paths"][index].replace(".png", ".jpg")
    (root / "Synthetic" / rel).write_bytes(data[:len(data) * 2 // 3] if truncate else data)
    with np.load(info["path"], allow_pickle=True) as z:
        content = dict(z)
    content["image_path"][index] = rel
    np.savez(info["path"], **content)
    return rel


def test_truncated_jpeg_in_training_is_substituted_and_counted_or_refused(tmp_path, human_model_path, caplog):
    info = write_humandata(tmp_path, human_model_path, n=3, seed=17)
    rel = _jpeg_sample(tmp_path, info, 1, truncate=False)
    assert make(tmp_path, human_model_path).build_item(1)[0]["img"].shape == (3, 512, 384)  # a whole JPEG loads
    _jpeg_sample(tmp_path, info, 1, truncate=True)
    assert cv2.imread(str(tmp_path / "Synthetic" / rel)) is not None  # OpenCV alone would use it silently
    ds = make(tmp_path, human_model_path)
    with caplog.at_level(logging.WARNING):
        inputs, _, _ = ds[1]
    assert inputs["img"].shape == (3, 512, 384)
    path = tmp_path / "Synthetic" / rel
    assert f"Synthetic/train sample 1: cannot use image {path}: truncated JPEG" in caplog.text
    assert "substituting another sample (1 so far in this process)" in caplog.text
    with pytest.raises(DataError, match=f"sample 1: cannot use image .*{rel}: truncated JPEG"):
        make(tmp_path, human_model_path, strict_data=True)[1]


def test_startup_summary_counts_skipped_and_flagged_per_dataset(bad_set, tiny_cfg_factory, caplog):
    from data.registry import build_train_dataset
    root, _ = bad_set
    cfg = tiny_cfg_factory(data_dir=str(root), use_cache=False, trainset_3d=[], trainset_2d=[],
                           trainset_humandata=["Synthetic"])
    with caplog.at_level(logging.INFO, logger="data.registry"):
        build_train_dataset(cfg)
    assert ("Synthetic                    6 samples   skipped: bbox_invalid=1, nan_keypoints3d=1   flagged: "
            "bbox_outside_image=1, missing_image=1, nonfinite_keypoints2d=1") in caplog.text
