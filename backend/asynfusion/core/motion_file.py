"""The motion file: the one contract between the generator and anything that bakes.

Layout (BEAT2/EMAGE/AMASS style ``.npz``): ``poses`` (N,165) axis-angle in SMPL-X
order, ``expressions`` (N,100) FLAME coefficients, ``trans`` (N,3) metres in the
Y-up SMPL-X frame, ``betas``, ``mocap_frame_rate``, ``gender``, ``model``, and our
metadata as a JSON string under ``asynfusion_meta``. Optionally ``arkit`` (N,52) float32
ARKit blendshape weights in [0, 1] with their ``arkit_names`` (Apple's order), for use
outside Blender (``asynfusion generate --arkit``); files without them read as before.

Reading is lenient (other frame-rate spellings, fewer expression dims, missing
trans); writing always produces the full layout, atomically and byte-for-byte
reproducibly (fixed zip timestamps), so the same generation gives the same file.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field

import numpy as np

from .npz import write_npz
from .output import check_input, replacing
from .skeleton import NUM_JOINTS

NUM_EXPRESSIONS = 100
POSE_DIMS = 3 * NUM_JOINTS
DEFAULT_FPS = 30.0
MIN_FPS, MAX_FPS = 1.0, 1000.0
_FPS_KEYS = ("mocap_frame_rate", "mocap_framerate", "fps", "frame_rate")
META_KEY = "asynfusion_meta"


class MotionFileError(ValueError):
    """A motion file that cannot be used; the message is one sentence for a person."""


@dataclass
class Motion:
    poses: np.ndarray                   # (N, 165) float32 axis-angle
    expressions: np.ndarray             # (N, 100) float32
    trans: np.ndarray                   # (N, 3) float32, metres, Y-up
    fps: float = DEFAULT_FPS
    betas: np.ndarray = field(default_factory=lambda: np.zeros(10, np.float32))
    gender: str = "neutral"
    model: str = "smplx2020"
    meta: dict = field(default_factory=dict)
    arkit: np.ndarray | None = None     # (N, 52) float32 ARKit weights, optional
    arkit_names: tuple[str, ...] = ()   # their names, one per column

    @property
    def num_frames(self) -> int:
        return int(self.poses.shape[0])

    @property
    def seconds(self) -> float:
        return self.num_frames / float(self.fps)

    def joint_rotations(self) -> np.ndarray:
        """Poses as (N, 55, 3) axis-angle."""
        return self.poses.reshape(self.num_frames, NUM_JOINTS, 3)


def _scalar(value) -> object:
    arr = np.asarray(value)
    return arr.item() if arr.size == 1 else arr


def _frame_rate(name: str, arrays: dict) -> float:
    key = next((k for k in _FPS_KEYS if k in arrays), None)
    if key is None:
        return DEFAULT_FPS
    value = np.asarray(arrays[key])
    try:
        fps = float(value.item()) if value.size == 1 and value.dtype.kind in "iuf" else float("nan")
    except (TypeError, ValueError):
        fps = float("nan")
    if not MIN_FPS <= fps <= MAX_FPS:   # also false for NaN
        shown = repr(value.item()) if value.size == 1 else f"an array of shape {value.shape}"
        raise MotionFileError(f"{name} has a frame rate of {shown}; it must be a number of frames "
                              f"per second between {MIN_FPS:g} and {MAX_FPS:g}.")
    return fps


def non_finite(motion: Motion) -> str | None:
    """The name of the first array of ``motion`` holding NaN or infinite values, else None."""
    for key in ("poses", "expressions", "trans", "betas", "arkit"):
        value = getattr(motion, key)
        if value is not None and not np.all(np.isfinite(value)):
            return key
    return None


def _arkit(name: str, arrays: dict, n: int) -> tuple[np.ndarray | None, tuple[str, ...]]:
    """The optional ARKit weights and their names, checked against each other and the frames."""
    if "arkit" not in arrays:
        return None, ()
    weights = np.asarray(arrays["arkit"], np.float32)
    names = tuple(str(x) for x in np.asarray(arrays.get("arkit_names", np.array([]))).reshape(-1))
    if weights.ndim != 2 or weights.shape[0] != n or weights.shape[1] != len(names):
        raise MotionFileError(f"{name} has arkit weights of shape {weights.shape} for {len(names)} "
                              f"arkit_names; expected ({n}, {len(names)}).")
    return weights, names


def _meta(name: str, arrays: dict) -> dict:
    """Our metadata: a JSON object; unreadable JSON reads as none, JSON of another kind is refused."""
    if META_KEY not in arrays:
        return {}
    try:
        meta = json.loads(str(_scalar(arrays[META_KEY])))
    except json.JSONDecodeError:
        return {}
    except RecursionError:
        meta = None
    if not isinstance(meta, dict):
        raise MotionFileError(f"{name} has metadata ('{META_KEY}') that is not a JSON object; "
                              "regenerate the file or remove that entry.")
    return meta


def read_motion(path: str | os.PathLike) -> Motion:
    """Read a motion .npz, accepting the spellings BEAT2, EMAGE and AMASS use."""
    name = os.path.basename(os.fspath(path))
    check_input(path, "Motion file", MotionFileError, "choose an .npz file")   # a pipe would block np.load
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except PermissionError:
        raise MotionFileError(f"Motion file {name} cannot be read (permission denied); "
                              "check its permissions.") from None
    except Exception:
        raise MotionFileError(
            f"{name} is not a readable motion file; choose an .npz with 'poses' and 'expressions' arrays."
        ) from None

    if "poses" not in arrays:
        raise MotionFileError(f"{name} has no 'poses' array; it is not an SMPL-X motion file.")
    for key in ("poses", "expressions", "trans", "betas", "arkit"):
        if key in arrays and np.asarray(arrays[key]).dtype.kind not in "iuf":
            raise MotionFileError(f"{name} stores '{key}' as {np.asarray(arrays[key]).dtype} values, not real "
                                  "numbers; it is not a motion file this can read.")
    poses = np.asarray(arrays["poses"], dtype=np.float32)
    if poses.ndim != 2 or poses.shape[1] not in (POSE_DIMS, 156) or poses.shape[0] < 1:
        raise MotionFileError(
            f"{name} has poses of shape {poses.shape}; expected (frames, 165) SMPL-X axis-angle."
        )
    if poses.shape[1] == 156:  # SMPL-H layout: no jaw/eyes; insert zeros for them.
        poses = np.concatenate([poses[:, :66], np.zeros((len(poses), 9), np.float32), poses[:, 66:]], 1)
    n = poses.shape[0]

    expr = np.zeros((n, NUM_EXPRESSIONS), np.float32)
    if "expressions" in arrays:
        e = np.asarray(arrays["expressions"], dtype=np.float32)
        if e.ndim != 2 or e.shape[0] != n or e.shape[1] > NUM_EXPRESSIONS:
            raise MotionFileError(
                f"{name} has expressions of shape {e.shape}; expected ({n}, up to {NUM_EXPRESSIONS})."
            )
        expr[:, : e.shape[1]] = e

    trans = np.zeros((n, 3), np.float32)
    if "trans" in arrays:
        t = np.asarray(arrays["trans"], dtype=np.float32)
        if t.shape != (n, 3):
            raise MotionFileError(f"{name} has trans of shape {t.shape}; expected ({n}, 3).")
        trans = t

    meta = _meta(name, arrays)
    betas = np.asarray(arrays.get("betas", np.zeros(10)), dtype=np.float32).reshape(-1)
    motion = Motion(
        poses=poses, expressions=expr, trans=trans, fps=_frame_rate(name, arrays), betas=betas,
        gender=str(_scalar(arrays.get("gender", "neutral"))),
        model=str(_scalar(arrays.get("model", "smplx2020"))), meta=meta,
    )
    motion.arkit, motion.arkit_names = _arkit(name, arrays, n)
    bad = non_finite(motion)
    if bad is not None:
        raise MotionFileError(f"{name} contains NaN or infinite values in '{bad}'; regenerate it.")
    return motion


def motion_arrays(motion: Motion) -> dict[str, np.ndarray]:
    """The full on-disk layout of a motion, validated."""
    n = motion.num_frames
    bad = non_finite(motion)
    if bad is not None:
        raise MotionFileError(f"The motion's '{bad}' holds NaN or infinite values; it was not written.")
    poses = np.asarray(motion.poses, np.float32)
    if poses.shape != (n, POSE_DIMS):
        raise MotionFileError(f"poses must have shape ({n}, {POSE_DIMS}), not {poses.shape}.")
    expr = np.zeros((n, NUM_EXPRESSIONS), np.float32)
    e = np.asarray(motion.expressions, np.float32)
    expr[:, : e.shape[1]] = e
    arrays = {
        "poses": poses,
        "expressions": expr,
        "trans": np.asarray(motion.trans, np.float32).reshape(n, 3),
        "betas": np.asarray(motion.betas, np.float32).reshape(-1),
        "mocap_frame_rate": np.asarray(motion.fps if motion.fps != int(motion.fps) else int(motion.fps)),
        "gender": np.asarray(motion.gender),
        "model": np.asarray(motion.model),
        META_KEY: np.asarray(json.dumps(motion.meta, sort_keys=True)),
    }
    if motion.arkit is not None:
        weights = np.asarray(motion.arkit, np.float32)
        if weights.shape != (n, len(motion.arkit_names)):
            raise MotionFileError(f"arkit must have shape ({n}, {len(motion.arkit_names)}) for its "
                                  f"names, not {weights.shape}.")
        arrays["arkit"] = weights
        arrays["arkit_names"] = np.array(motion.arkit_names)
    return arrays


def write_motion(path: str | os.PathLike, motion: Motion) -> None:
    """Write atomically (core/output.py): a crash, cancel or kill mid-write leaves either the old
    file or none, never half a file; NaN or infinite values are refused, not written."""
    arrays = motion_arrays(motion)
    with replacing(path) as tmp, open(tmp, "wb") as f:
        write_npz(f, arrays)
        f.flush()
        os.fsync(f.fileno())
