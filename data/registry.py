"""Datasets by name: the explicit `DATASETS` dict and the builders the entry scripts call.

Every dataset lives in ``data/<Name>/<Name>.py`` as class ``<Name>`` with a classmethod
``from_config(cfg, split)``. Names are the ones the config files use (``trainset_3d``, ``trainset_2d``,
``trainset_humandata``, ``testset``). An unknown name raises `KeyError` listing the known names and the
closest matches, before any data is read.
"""
from __future__ import annotations

import difflib
import importlib
import logging

from data.dataset import MultipleDatasets

__all__ = ["DATASETS", "DATASET_NAMES", "HUMANDATA_NAMES", "get_dataset_class", "build_dataset",
           "build_train_dataset", "train_dataset_names"]

logger = logging.getLogger(__name__)

# The 26 HumanData sets of the 32-dataset configs (SPEC §3.4), in config order, and our synthetic set.
HUMANDATA_NAMES = (
    "BEDLAM", "SPEC", "GTA_Human2", "SynBody", "PoseTrack", "EgoBody_Egocentric", "PROX", "CrowdPose",
    "EgoBody_Kinect", "MPI_INF_3DHP", "RICH", "MuCo", "InstaVariety", "Behave", "UP3D", "ARCTIC", "OCHuman",
    "CHI3D", "RenBody_HiRes", "MTP", "HumanSC3D", "RenBody", "FIT3D", "Talkshow", "SSP3D", "LSPET",
    "Synthetic",
)
# Sources in their original formats, and the EHF test set.
OTHER_NAMES = ("MSCOCO", "AGORA", "UBody", "PW3D", "Human36M", "MPII", "EHF")
DATASET_NAMES = HUMANDATA_NAMES + OTHER_NAMES


def _import_all() -> dict[str, type]:
    found = {}
    for name in DATASET_NAMES:
        module_name = f"data.{name}.{name}"
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name not in (module_name, f"data.{name}"):
                raise
            logger.debug("dataset module %s is not available", module_name)
            continue
        found[name] = getattr(module, name)
    return found


DATASETS: dict[str, type] = _import_all()


def get_dataset_class(name: str) -> type:
    """The class registered as ``name``; `KeyError` naming the known names and close matches if none."""
    try:
        return DATASETS[name]
    except KeyError:
        close = difflib.get_close_matches(name, list(DATASETS), n=3, cutoff=0.5)
        hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        raise KeyError(f"unknown dataset {name!r}.{hint} Known datasets: {', '.join(sorted(DATASETS))}. "
                       "Dataset names are case-sensitive (data/<Name>/<Name>.py).") from None


def build_dataset(cfg, name: str, split: str):
    """Build dataset ``name`` for ``split`` ('train' or 'test') from the config."""
    cls = get_dataset_class(name)
    return cls.from_config(cfg, split)


def train_dataset_names(cfg) -> list[str]:
    """``trainset_3d + trainset_2d + trainset_humandata`` (the order MultipleDatasets indexes)."""
    return list(cfg.trainset_3d) + list(cfg.trainset_2d) + list(cfg.trainset_humandata)


def _log_summary(built: dict) -> None:
    """One start-up line per dataset: samples kept, samples skipped and samples flagged (substituted when
    loaded) per reason."""
    lines = []
    for name, ds in built.items():
        records = getattr(ds, "records", None)
        line = f"  {name:<20s} {len(ds):>9d} samples"
        for label in ("skipped", "flagged"):
            counts = getattr(records, label, None) or {}
            line += f"   {label}: " + (", ".join(f"{k}={v}" for k, v in sorted(counts.items()) if v) or "-")
        lines.append(line)
    logger.info("training datasets:\n%s", "\n".join(lines))


def build_train_dataset(cfg) -> MultipleDatasets:
    """The training set: every dataset of the config behind `MultipleDatasets` (SPEC §4.3).

    All names are checked before any dataset is built. Datasets that end up empty (missing or malformed
    files skipped with ``strict_data=False``) are left out with a warning. ``data_strategy`` None gives
    the original's legacy mix: the 3D, 2D and HumanData groups each concatenated, then equalised.
    """
    names = train_dataset_names(cfg)
    if not names:
        raise ValueError("no training datasets: set trainset_3d / trainset_2d / trainset_humandata")
    for name in names:
        get_dataset_class(name)  # fail on a typo before reading anything
    built = {}
    for name in names:
        built[name] = build_dataset(cfg, name, "train")
    _log_summary(built)
    empty = [n for n, d in built.items() if len(d) == 0]
    if empty:
        logger.warning("training datasets without samples are left out: %s", ", ".join(empty))
    if len(empty) == len(built):
        raise ValueError(f"every training dataset is empty ({', '.join(names)}); check data_dir="
                         f"{cfg.data_dir} and the warnings above")
    strategy, seed = cfg.data_strategy, int(cfg.seed)
    if strategy is None:
        groups, group_names = [], []
        for label, group in (("3d", cfg.trainset_3d), ("2d", cfg.trainset_2d),
                             ("humandata", cfg.trainset_humandata)):
            members = [n for n in group if n not in empty]
            if members:
                groups.append(MultipleDatasets([built[n] for n in members], "concat", names=members))
                group_names.append(label)
        return MultipleDatasets(groups, None, seed=seed, names=group_names)
    keep = [n for n in names if n not in empty]
    return MultipleDatasets([built[n] for n in keep], strategy, cfg.total_data_len,
                            seed=seed, names=keep)
