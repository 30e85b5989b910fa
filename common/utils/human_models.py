"""SMPL-X and SMPL body models: a stateless, batched wrapper over the ``smplx`` package (SPEC §6).

The wrapped layers are *not* ``nn.Module`` children of the network, so they never appear in a
``state_dict`` (checkpoints hold network weights only). One ``smplx`` layer is kept per device and created
on first use; calls run in float32 outside autocast and return tensors on the inputs' device.

Files expected under ``human_model_path`` (``cfg.human_model_path``, default
``common/utils/human_model_files``)::

    smplx/SMPLX_{NEUTRAL,MALE,FEMALE}.npz      smplx/MANO_SMPLX_vertex_ids.pkl
    smplx/SMPL-X__FLAME_vertex_ids.npy          smplx/SMPLX_to_J14.pkl
    smpl/SMPL_{NEUTRAL,MALE,FEMALE}.pkl
"""
from __future__ import annotations

import copy
import functools
import logging
import pickle
import threading
import zipfile
import zlib
from contextlib import contextmanager
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np
import torch

__all__ = [
    "BodyModelError", "BodyModelFilesMissing", "BodyModelFileError", "BodyModelOutput", "SMPLX", "SMPL",
    "get_smplx", "pose_smplx", "get_smpl", "SMPLX_NPZ_KEYS", "load_hand_vertex_ids", "load_face_vertex_ids",
    "load_j14_regressor", "load_chumpy_pickle", "expected_files", "SMPLX_NUM_VERTICES", "SMPL_NUM_VERTICES",
]

logger = logging.getLogger(__name__)

SMPLX_NUM_VERTICES = 10475
SMPL_NUM_VERTICES = 6890
GENDERS = ("neutral", "male", "female")

_FILES = {
    "smplx": ["smplx/SMPLX_NEUTRAL.npz", "smplx/SMPLX_MALE.npz", "smplx/SMPLX_FEMALE.npz"],
    "smplx_extra": ["smplx/MANO_SMPLX_vertex_ids.pkl", "smplx/SMPL-X__FLAME_vertex_ids.npy",
                    "smplx/SMPLX_to_J14.pkl"],
    "smpl": ["smpl/SMPL_NEUTRAL.pkl", "smpl/SMPL_MALE.pkl", "smpl/SMPL_FEMALE.pkl"],
}


def expected_files() -> list[str]:
    """Every file (relative to ``human_model_path``) the project may read."""
    return [f for group in _FILES.values() for f in group]


# Arrays smplx reads from an SMPL-X .npz (smplx.SMPLX with use_face_contour=True).
SMPLX_NPZ_KEYS = ("v_template", "f", "J_regressor", "kintree_table", "weights", "shapedirs", "posedirs",
                  "hands_componentsl", "hands_componentsr", "hands_meanl", "hands_meanr", "lmk_faces_idx",
                  "lmk_bary_coords", "dynamic_lmk_faces_idx", "dynamic_lmk_bary_coords")
# What a damaged file raises while numpy, pickle or smplx read it.
_READ_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, pickle.UnpicklingError, ValueError, KeyError,
                AttributeError, IndexError, OSError)
_REDOWNLOAD = ("Download it again from https://smpl-x.is.tue.mpg.de (SMPL: https://smpl.is.tue.mpg.de), or "
               "point human_model_path elsewhere (--cfg-options human_model_path=/path/to/human_model_files).")


class BodyModelError(Exception):
    """A body-model file is missing or unusable (base of the two errors below)."""


class BodyModelFilesMissing(BodyModelError, FileNotFoundError):
    """Raised when SMPL-X / SMPL files are not where the config says they are."""

    def __init__(self, model_dir: Path, missing: list[str]):
        lines = [f"Body model files missing under {model_dir}:"]
        lines += [f"  - {m}" for m in missing]
        lines += [
            "Expected layout (relative to that folder): " + ", ".join(expected_files()) + ".",
            "Register and download SMPL-X (models_smplx_v1_1.zip, plus the MANO/FLAME vertex ids) from "
            "https://smpl-x.is.tue.mpg.de and SMPL (v1.1.0) from https://smpl.is.tue.mpg.de, then put "
            "them there, or point the config key `human_model_path` elsewhere "
            "(--cfg-options human_model_path=/path/to/human_model_files).",
            "For tests and a pipeline check without licensed files: "
            "python tools/make_synthetic_assets.py OUT_DIR (writes OUT_DIR/human_model_files).",
        ]
        super().__init__("\n".join(lines))
        self.missing = missing


class BodyModelFileError(BodyModelError, ValueError):
    """A body-model file exists but cannot be used: truncated, corrupt or not the expected kind of file."""

    def __init__(self, path: Path, problem: str):
        super().__init__(f"Body model file {path} {problem}. {_REDOWNLOAD}")
        self.path = path


@contextmanager
def _reading(path: Path):
    """Turn the errors of reading a damaged ``path`` into one BodyModelFileError naming the file."""
    try:
        yield
    except BodyModelError:
        raise
    except _READ_ERRORS as err:
        raise BodyModelFileError(path, f"cannot be read ({type(err).__name__}: {err}); it is probably truncated "
                                       f"or corrupt") from err


def _check_smplx_npz(path: Path) -> None:
    """Raise BodyModelFileError unless ``path`` is a readable .npz holding every array smplx needs."""
    with _reading(path):
        with np.load(path, allow_pickle=False) as npz:
            names = set(npz.files)
    missing = [k for k in SMPLX_NPZ_KEYS if k not in names]
    if missing:
        raise BodyModelFileError(path, f"has no {', '.join(missing)} (it holds {', '.join(sorted(names)) or 'nothing'}"
                                       f"); it is not a complete SMPL-X model file")


def _require(model_dir: str | Path, rel_paths: list[str]) -> list[Path]:
    model_dir = Path(model_dir)
    missing = [p for p in rel_paths if not (model_dir / p).is_file()]
    if missing:
        raise BodyModelFilesMissing(model_dir, missing)
    return [model_dir / p for p in rel_paths]


@dataclass
class BodyModelOutput:
    """Posed body. ``vertices`` (B, V, 3) and ``joints`` (B, J, 3), metres, model frame (+ transl)."""

    vertices: torch.Tensor
    joints: torch.Tensor

    def __getitem__(self, key: str) -> torch.Tensor:
        return getattr(self, key)

    def keys(self):
        return [f.name for f in fields(self)]


# --- loading official pickles without chumpy ---------------------------------------------------------
class _ChumpyStub:
    """Stands in for any chumpy class while unpickling; keeps the pickled state."""

    def __init__(self, *args, **kwargs):
        self._state = None

    def __setstate__(self, state):
        self._state = state

    def to_array(self):
        state = self._state
        if isinstance(state, dict):
            for key in ("x", "_x", "a", "r"):
                if key in state and isinstance(state[key], np.ndarray):
                    return state[key]
            arrays = [v for v in state.values() if isinstance(v, np.ndarray)]
            if len(arrays) == 1:
                return arrays[0]
        raise ValueError("cannot convert a chumpy object to an array (state keys: "
                         f"{list(state) if isinstance(state, dict) else type(state)})")


class _NoChumpyUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        if module.split(".")[0] == "chumpy":
            return _ChumpyStub
        return super().find_class(module, name)


def load_chumpy_pickle(path: str | Path) -> dict:
    """Load an official SMPL/SMPL-X ``.pkl`` (which may hold chumpy arrays) without chumpy installed.

    Chumpy objects become numpy arrays; everything else (numpy, scipy.sparse) is left as is.
    """
    path = Path(path)
    with _reading(path):
        with open(path, "rb") as f:
            data = _NoChumpyUnpickler(f, encoding="latin1").load()
        if not isinstance(data, dict):
            raise BodyModelFileError(path, f"holds a {type(data).__name__}, not the dict of an SMPL model")
        return {k: (v.to_array() if isinstance(v, _ChumpyStub) else v) for k, v in data.items()}


# --- the wrappers ------------------------------------------------------------------------------------
class _PerDeviceLayer:
    """Holds one smplx layer per device: built once on the CPU, copied to other devices on first use."""

    def __init__(self, factory):
        # Built outside inference mode: layers first created under torch.inference_mode() would hold
        # inference tensors that later autograd-tracked calls cannot save for backward.
        with torch.inference_mode(False):
            self.cpu = factory().eval().requires_grad_(False)
        self._layers: dict[torch.device, torch.nn.Module] = {torch.device("cpu"): self.cpu}
        self._lock = threading.Lock()

    def get(self, device: torch.device) -> torch.nn.Module:
        layer = self._layers.get(device)
        if layer is None:
            with self._lock:
                layer = self._layers.get(device)
                if layer is None:
                    with torch.inference_mode(False):
                        layer = copy.deepcopy(self.cpu).to(device)
                    self._layers[device] = layer
        return layer


class SMPLX:
    """Stateless, batched SMPL-X (neutral by default): 10 betas, 10 expression coefficients, face contour
    on (144 joints), ``flat_hand_mean=False`` (hand poses are offsets from the mean hand pose), no PCA.
    """

    num_betas = 10
    num_expression_coeffs = 10
    num_vertices = SMPLX_NUM_VERTICES

    def __init__(self, model_dir: str | Path, gender: str = "neutral", flat_hand_mean: bool = False):
        gender = gender.lower()
        if gender not in GENDERS:
            raise ValueError(f"gender must be one of {GENDERS}, got {gender!r}")
        (path,) = _require(model_dir, [f"smplx/SMPLX_{gender.upper()}.npz"])
        _check_smplx_npz(path)
        self.model_path = path
        self.gender = gender

        def factory():
            import smplx
            with _reading(path):
                    return smplx.SMPLX(
                    str(path), gender=gender, num_betas=self.num_betas, use_pca=False,
                    num_expression_coeffs=self.num_expression_coeffs, use_face_contour=True,
                    flat_hand_mean=flat_hand_mean, create_global_orient=False, create_body_pose=False,
                    create_left_hand_pose=False, create_right_hand_pose=False, create_jaw_pose=False,
                    create_leye_pose=False, create_reye_pose=False, create_betas=False,
                    create_expression=False, create_transl=False, ext="npz")

        self._layers = _PerDeviceLayer(factory)
        cpu = self._layers.cpu
        self.faces = np.asarray(cpu.faces, dtype=np.int64)  # (20908, 3)
        self.J_regressor = cpu.J_regressor                 # (55, 10475), read-only
        self.parents = cpu.parents                         # (55,)
        self.left_hand_mean = cpu.left_hand_mean           # (45,) axis-angle
        self.right_hand_mean = cpu.right_hand_mean         # (45,)

    def __call__(self, *, global_orient: torch.Tensor, body_pose: torch.Tensor,
                 left_hand_pose: torch.Tensor, right_hand_pose: torch.Tensor, jaw_pose: torch.Tensor,
                 betas: torch.Tensor, expression: torch.Tensor, leye_pose: torch.Tensor | None = None,
                 reye_pose: torch.Tensor | None = None, transl: torch.Tensor | None = None
                 ) -> BodyModelOutput:
        """Pose the model.

        Args: axis-angle ``global_orient (B,3)``, ``body_pose (B,63)``, ``left_hand_pose``/
        ``right_hand_pose (B,45)``, ``jaw_pose (B,3)``, optional ``leye_pose``/``reye_pose (B,3)``
        (zeros when omitted); ``betas (B,10)``, ``expression (B,10)``; optional ``transl (B,3)`` metres.

        Returns: ``BodyModelOutput`` with ``vertices (B,10475,3)`` and ``joints (B,144,3)``, float32
        metres, on the device of ``global_orient``.
        """
        device = global_orient.device
        batch = global_orient.shape[0]
        zeros = global_orient.new_zeros(batch, 3, dtype=torch.float32)
        kwargs = dict(global_orient=global_orient, body_pose=body_pose, left_hand_pose=left_hand_pose,
                      right_hand_pose=right_hand_pose, jaw_pose=jaw_pose, betas=betas,
                      expression=expression,
                      leye_pose=zeros if leye_pose is None else leye_pose,
                      reye_pose=zeros if reye_pose is None else reye_pose)
        if transl is not None:
            kwargs["transl"] = transl
        kwargs = {k: v.reshape(batch, -1).float() for k, v in kwargs.items()}
        layer = self._layers.get(device)
        with torch.autocast(device_type=device.type, enabled=False):
            out = layer(**kwargs)
        return BodyModelOutput(vertices=out.vertices, joints=out.joints)


class SMPL:
    """Stateless, batched SMPL (10 betas) for SMPL-annotated data. Official chumpy pickles load as is."""

    num_betas = 10
    num_vertices = SMPL_NUM_VERTICES

    def __init__(self, model_dir: str | Path, gender: str = "neutral"):
        gender = gender.lower()
        if gender not in GENDERS:
            raise ValueError(f"gender must be one of {GENDERS}, got {gender!r}")
        (path,) = _require(model_dir, [f"smpl/SMPL_{gender.upper()}.pkl"])
        self.model_path = path
        self.gender = gender

        def factory():
            import smplx
            from smplx.utils import Struct
            data = Struct(**load_chumpy_pickle(path))
            with _reading(path):
                return smplx.SMPL(str(path.parent), data_struct=data, gender=gender,
                                  num_betas=self.num_betas, create_global_orient=False,
                                  create_body_pose=False, create_betas=False, create_transl=False)

        self._layers = _PerDeviceLayer(factory)
        cpu = self._layers.cpu
        self.faces = np.asarray(cpu.faces, dtype=np.int64)  # (13776, 3)
        self.J_regressor = cpu.J_regressor                 # (24, 6890), read-only

    def __call__(self, *, global_orient: torch.Tensor, body_pose: torch.Tensor, betas: torch.Tensor,
                 transl: torch.Tensor | None = None) -> BodyModelOutput:
        """``global_orient (B,3)``, ``body_pose (B,69)`` axis-angle, ``betas (B,10)``, ``transl (B,3)``.

        Returns ``vertices (B,6890,3)`` and the 24 skeleton ``joints (B,24,3)``, float32 metres.
        """
        device = global_orient.device
        batch = global_orient.shape[0]
        kwargs = dict(global_orient=global_orient, body_pose=body_pose, betas=betas)
        if transl is not None:
            kwargs["transl"] = transl
        kwargs = {k: v.reshape(batch, -1).float() for k, v in kwargs.items()}
        with torch.autocast(device_type=device.type, enabled=False):
            out = self._layers.get(device)(**kwargs)
        return BodyModelOutput(vertices=out.vertices, joints=out.joints[:, :24])


@functools.lru_cache(maxsize=None)
def _cached(kind: str, model_dir: str, gender: str):
    return SMPLX(model_dir, gender) if kind == "smplx" else SMPL(model_dir, gender)


def get_smplx(model_dir: str | Path, gender: str = "neutral") -> SMPLX:
    """The process-wide SMPL-X wrapper for ``model_dir`` and ``gender`` (created on first use)."""
    return _cached("smplx", str(Path(model_dir).resolve()), gender.lower())


def pose_smplx(body_model, root_pose, body_pose, lhand_pose, rhand_pose, jaw_pose, shape, expr) -> BodyModelOutput:
    """The network's SMPL-X call (SPEC §1.13): ``body_model`` (``get_smplx``) in float32 with zero eyes and no
    translation, from axis-angle ``root_pose (B, 3), body_pose (B, 63), lhand_pose/rhand_pose (B, 45)`` (relative
    to the mean hand), ``jaw_pose (B, 3)``, ``shape (B, 10)``, ``expr (B, 10)``. Used by the model, the
    onnxruntime backend and the evaluator's pseudo-GT, so all three pose the body the same way."""
    return body_model(global_orient=root_pose.float(), body_pose=body_pose.float(),
                      left_hand_pose=lhand_pose.float(), right_hand_pose=rhand_pose.float(),
                      jaw_pose=jaw_pose.float(), betas=shape.float(), expression=expr.float())


def get_smpl(model_dir: str | Path, gender: str = "neutral") -> SMPL:
    """The process-wide SMPL wrapper for ``model_dir`` and ``gender`` (created on first use)."""
    return _cached("smpl", str(Path(model_dir).resolve()), gender.lower())


def load_hand_vertex_ids(model_dir: str | Path) -> dict[str, np.ndarray]:
    """SMPL-X vertex ids of the MANO hands: ``{'left_hand': (778,), 'right_hand': (778,)}`` int64."""
    (path,) = _require(model_dir, ["smplx/MANO_SMPLX_vertex_ids.pkl"])
    with _reading(path), open(path, "rb") as f:
        data = pickle.load(f, encoding="latin1")
        return {k: np.asarray(data[k], dtype=np.int64) for k in ("left_hand", "right_hand")}


def load_face_vertex_ids(model_dir: str | Path) -> np.ndarray:
    """SMPL-X vertex ids of the FLAME head: (5023,) int64."""
    (path,) = _require(model_dir, ["smplx/SMPL-X__FLAME_vertex_ids.npy"])
    with _reading(path):
        return np.load(path).astype(np.int64)


def load_j14_regressor(model_dir: str | Path) -> np.ndarray:
    """Regressor from SMPL-X vertices to the 14 LSP body joints: (14, 10475) float32."""
    (path,) = _require(model_dir, ["smplx/SMPLX_to_J14.pkl"])
    with _reading(path), open(path, "rb") as f:
        data = pickle.load(f, encoding="latin1")
        if hasattr(data, "toarray"):
            data = data.toarray()
        return np.asarray(data, dtype=np.float32)
