"""Training-item throughput of the HumanData pipeline (augmentation on), printed as JSON.

Measures (1) where the time of one item goes (image decode, crop + colour, keypoint targets, SMPL-X
targets, box targets), single-threaded in this process; (2) items/s of one process (= one loader
worker) and its CPU time per item (process time: comparable across runs on a loaded machine); (3)
items/s of a DataLoader with 1..N workers.

Examples:
    python benchmarks/data_throughput.py                       # synthetic body model + images in a temp dir
    python benchmarks/data_throughput.py --img_size 1080 1920 --workers 1 2 4
    python benchmarks/data_throughput.py --data_dir dataset --human_model_path common/utils/human_model_files \
        --dataset Synthetic
"""
import argparse
import json
import logging
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from common.utils.human_models import get_smplx  # noqa: E402
from data.smplx_joints import get_smplx_joints  # noqa: E402
from data.humandata_records import GENDERS  # noqa: E402
from data.registry import get_dataset_class  # noqa: E402
from data.targets import (process_db_coord, process_human_model_output, process_part_boxes,  # noqa: E402
                          source_joint_img)
from common.utils.crop import generate_patch_image  # noqa: E402
from common.utils.image_io import read_image  # noqa: E402
from data.transforms import apply_color_scale, get_aug_config  # noqa: E402


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data_dir", help="dataset root holding preprocessed_datasets/ (default: generate one)")
    p.add_argument("--human_model_path", help="SMPL-X model folder (default: generate a synthetic one)")
    p.add_argument("--dataset", default="Synthetic", help="registered HumanData dataset name")
    p.add_argument("--num_images", type=int, default=12, help="images to generate (default 12)")
    p.add_argument("--img_size", type=int, nargs=2, default=(720, 1280), metavar=("H", "W"),
                   help="generated image size (default 720 1280)")
    p.add_argument("--items", type=int, default=64, help="items per measurement (default 64)")
    p.add_argument("--batch_size", type=int, default=16, help="DataLoader batch size (default 16)")
    p.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="DataLoader worker counts")
    return p.parse_args()


def prepare(args, tmp: Path):
    hmp = args.human_model_path
    if hmp is None:
        from data.synthetic.body_model_files import write_body_model_files
        write_body_model_files(tmp, seed=0)
        hmp = tmp / "human_model_files"
    data_dir = args.data_dir
    if data_dir is None:
        from data.synthetic.humandata_set import write_humandata_train_set
        data_dir = tmp / "dataset"
        write_humandata_train_set(data_dir, hmp, num_samples=args.num_images, seed=0,
                                  img_size=tuple(args.img_size))
    return Path(data_dir), Path(hmp)


def stage_times(ds, n):
    """Mean milliseconds per stage over n items (same work as HumanData._build_item)."""
    rng = np.random.default_rng(0)
    acc = dict(read=0.0, crop_color=0.0, keypoints=0.0, smplx=0.0, boxes=0.0)
    r = ds.records
    for k in range(n):
        i = k % len(ds)
        scale, rot, color, flip = get_aug_config(rng)
        t0 = time.perf_counter()
        img = read_image(ds.image_file(i))
        t1 = time.perf_counter()
        patch, trans, _ = generate_patch_image(img, r.bbox[i], scale, rot, flip)
        apply_color_scale(cv2.cvtColor(patch, cv2.COLOR_BGR2RGB), color)
        t2 = time.perf_counter()
        kp3d = r.kp3d[i] if r.has_kp3d[i] else None
        process_db_coord(r.kp2d[i], kp3d, r.kp_valid[i], flip, img.shape[1], trans, rot, ds.geometry)
        t3 = time.perf_counter()
        params = ds.smplx_params(i)
        if params is not None:
            process_human_model_output(params, ds.camera(i), flip, img.shape[1], trans, rot,
                                       get_smplx_joints(ds.human_model_path, params.gender),
                                       joint_img=source_joint_img(r.kp2d[i], kp3d, ds.geometry), geo=ds.geometry)
        t4 = time.perf_counter()
        boxes = {p: r.part_box[i, j] for j, p in enumerate(("lhand", "rhand", "face"))}
        valid = {p: bool(r.part_valid[i, j]) for j, p in enumerate(("lhand", "rhand", "face"))}
        process_part_boxes(boxes, valid, trans, flip, img.shape[1], ds.geometry)
        t5 = time.perf_counter()
        for key, dt in zip(acc, (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4)):
            acc[key] += dt
    return {k: round(1000 * v / n, 2) for k, v in acc.items()}


def full_mesh_smplx_ms(ds, n):
    """The SMPL-X stage through the full-mesh layer (`human_models.SMPLX`), for comparison."""
    t = time.perf_counter()
    for k in range(n):
        i = k % len(ds)
        params = ds.smplx_params(i)
        if params is not None:
            kp3d = ds.records.kp3d[i] if ds.records.has_kp3d[i] else None
            process_human_model_output(params, ds.camera(i), False, 1000.0, np.eye(2, 3, dtype=np.float32), 0.0,
                                       get_smplx(ds.human_model_path, params.gender),
                                       joint_img=source_joint_img(ds.records.kp2d[i], kp3d, ds.geometry),
                                       geo=ds.geometry)
    return round(1000 * (time.perf_counter() - t) / n, 2)


def loader_rate(ds, workers, batch_size, items):
    loader = torch.utils.data.DataLoader(ds, batch_size=batch_size, num_workers=workers,
                                         sampler=torch.utils.data.RandomSampler(ds, replacement=True,
                                                                                num_samples=items + batch_size),
                                         persistent_workers=False)
    it = iter(loader)
    next(it)  # worker start-up and first batch excluded
    t = time.perf_counter()
    n = sum(b[0]["img"].shape[0] for b in it)
    return n / (time.perf_counter() - t)


def main():
    args = parse_args()
    logging.basicConfig(level=logging.WARNING)
    torch.set_num_threads(1)  # what a DataLoader worker gets
    with tempfile.TemporaryDirectory() as tmp:
        data_dir, hmp = prepare(args, Path(tmp))
        cls = get_dataset_class(args.dataset)
        ds = cls("train", data_dir=data_dir, human_model_path=hmp, use_cache=False)
        for code in np.unique(ds.records.gender):  # load every body model used, outside the timings
            gender = GENDERS[int(code)]
            get_smplx(hmp, gender), get_smplx_joints(hmp, gender)
        ds[0]
        img = read_image(ds.image_file(0))
        stages = stage_times(ds, args.items)
        full_mesh_ms = full_mesh_smplx_ms(ds, args.items)
        t, cpu = time.perf_counter(), time.process_time()
        for k in range(args.items):
            ds[k % len(ds)]
        single = args.items / (time.perf_counter() - t)
        cpu_ms = 1000 * (time.process_time() - cpu) / args.items  # robust to other load on a shared machine
        rates = {str(w): round(loader_rate(ds, w, args.batch_size, args.items), 1) for w in args.workers}
    print(json.dumps({
        "dataset": args.dataset, "image_hw": list(img.shape[:2]), "records": len(ds),
        "cpu_count": os.cpu_count(), "torch_threads_per_process": 1,
        "ms_per_item_by_stage": stages, "ms_per_item_total": round(sum(stages.values()), 2),
        "ms_smplx_stage_with_full_mesh_layer_instead": full_mesh_ms,
        "items_per_s_one_process": round(single, 1), "cpu_ms_per_item_one_process": round(cpu_ms, 2),
        "items_per_s_dataloader_by_workers": rates, "batch_size": args.batch_size,
    }, indent=2))


if __name__ == "__main__":
    main()
