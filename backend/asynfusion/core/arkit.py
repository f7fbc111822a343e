"""ARKit face weights from the motion file's FLAME face, and ARKit names on other people's meshes.

Why here: the add-on (baking onto ARKit-named shape keys), the backend (``arkit`` arrays in a
motion file, Live Link Face CSV) and the fitting script all need the same 52 names, the same
spelling rules and the same read-out, so they live once in the torch-free core.

The read-out is a fitted linear map (``flame_arkit.npz``, made by
``asynfusion/tools/fit_flame_arkit.py`` from BEAT2 captures and their phone alignments; see
``docs/flame_to_arkit.md``): standardised (100 FLAME coefficients + jaw axis-angle) -> the
mouth shapes, clipped to [0, 1], with ``jawOpen`` at least ``mouthClose`` (ARKit's
mouthClose closes the lips the jaw has opened; without that opening it would push them
through each other).
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass

import numpy as np

# The 52 ARKit blendshapes in the order Apple lists them (and Live Link Face writes them).
ARKIT_NAMES: tuple[str, ...] = (
    "eyeBlinkLeft", "eyeLookDownLeft", "eyeLookInLeft", "eyeLookOutLeft", "eyeLookUpLeft",
    "eyeSquintLeft", "eyeWideLeft", "eyeBlinkRight", "eyeLookDownRight", "eyeLookInRight",
    "eyeLookOutRight", "eyeLookUpRight", "eyeSquintRight", "eyeWideRight",
    "jawForward", "jawRight", "jawLeft", "jawOpen", "mouthClose", "mouthFunnel", "mouthPucker",
    "mouthRight", "mouthLeft", "mouthSmileLeft", "mouthSmileRight", "mouthFrownLeft",
    "mouthFrownRight", "mouthDimpleLeft", "mouthDimpleRight", "mouthStretchLeft",
    "mouthStretchRight", "mouthRollLower", "mouthRollUpper", "mouthShrugLower", "mouthShrugUpper",
    "mouthPressLeft", "mouthPressRight", "mouthLowerDownLeft", "mouthLowerDownRight",
    "mouthUpperUpLeft", "mouthUpperUpRight", "browDownLeft", "browDownRight", "browInnerUp",
    "browOuterUpLeft", "browOuterUpRight", "cheekPuff", "cheekSquintLeft", "cheekSquintRight",
    "noseSneerLeft", "noseSneerRight", "tongueOut",
)
NUM_ARKIT = len(ARKIT_NAMES)
INDEX = {name: i for i, name in enumerate(ARKIT_NAMES)}
FACE_INPUTS = 103                  # 100 FLAME expression coefficients + jaw axis-angle
FIT_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "flame_arkit.npz")

_SIDE = {"l": "left", "left": "left", "r": "right", "right": "right"}
_CANONICAL = {name.lower(): name for name in ARKIT_NAMES}


def _tokens(name: str) -> list[str]:
    """Words of a key name: split at separators and at lower->upper case changes."""
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", name.strip())
    return [t.lower() for t in re.split(r"[\s_.\-]+", spaced) if t]


def canonical_name(key: str) -> str | None:
    """The ARKit name a shape key stands for, in any common spelling, else None.

    ``jawOpen``, ``JawOpen``, ``jaw_open``, ``mouthSmile_L``, ``mouthSmileLeft``,
    ``MouthSmile_R``, ``mouth_smile_right`` are all recognised; a per-side key of a shape
    ARKit has once (ICT-FaceKit's ``browInnerUp_L``, ``cheekPuff_R``) stands for that shape.
    """
    words = _tokens(key)
    if not words:
        return None
    side = _SIDE.get(words[-1]) if len(words) > 1 else None
    stem = "".join(words[:-1]) if side else "".join(words)
    if side is not None and stem + side in _CANONICAL:
        return _CANONICAL[stem + side]
    return _CANONICAL.get(stem)


def arkit_keys(key_names: list[str]) -> dict[str, str]:
    """Shape-key name -> ARKit name, for the keys of a mesh that are ARKit shapes."""
    found = {}
    for key in key_names:
        name = canonical_name(key)
        if name is not None:
            found[key] = name
    return found


@dataclass
class ArkitFit:
    """The shipped read-out: z = (face - mean) / std; weights = clip(z @ matrix + bias, 0, 1)."""
    mean: np.ndarray           # (103,)
    std: np.ndarray            # (103,)
    matrix: np.ndarray         # (103, 52); zero columns for shapes the data cannot name
    bias: np.ndarray           # (52,)
    fitted: tuple[str, ...]    # the ARKit names the fit drives
    about: dict


def load_fit(path: str = FIT_PATH) -> ArkitFit:
    with np.load(path, allow_pickle=False) as d:
        names = tuple(str(n) for n in d["names"])
        if names != ARKIT_NAMES:
            raise ValueError(f"{os.path.basename(path)} is not laid out in ARKit's order")
        return ArkitFit(mean=d["mean"].astype(np.float64), std=d["std"].astype(np.float64),
                        matrix=d["matrix"].astype(np.float64), bias=d["bias"].astype(np.float64),
                        fitted=tuple(str(n) for n in d["fitted"]), about=json.loads(str(d["about"])))


def face_inputs(expressions: np.ndarray, jaw: np.ndarray) -> np.ndarray:
    """(N, 103): FLAME coefficients (zero-padded to 100) next to the jaw's axis-angle."""
    e = np.asarray(expressions, np.float64)
    x = np.zeros((len(e), FACE_INPUTS))
    x[:, :e.shape[1]] = e[:, :100]
    x[:, 100:] = np.asarray(jaw, np.float64).reshape(len(e), 3)
    return x


SOFT_KNEE = 0.6   # above this a fitted weight bends smoothly towards 1 instead of being cut off at 1


def soft_ceiling(x: np.ndarray, knee: float = SOFT_KNEE, ceiling: float = 1.0) -> np.ndarray:
    """x below ``knee``; above it knee + (ceiling - knee) tanh((x - knee) / (ceiling - knee)):
    the same slope at the knee, never above ``ceiling``. Used for the jaw (jawOpen, and
    mouthClose, which jawOpen is raised to): a hard clip at 1 held every over-wide opening at the
    shape's full extent (ARKit jawOpen 1.0 on 3-6 % of generated frames, the capture's 0.3-1 %:
    a yawn); the curve keeps their order and reaches full weight only for the widest. Other
    shapes keep the clip. core/mouth.py bends a generated face's opening the same way."""
    x = np.asarray(x, np.float64)
    span = ceiling - knee
    return np.where(x <= knee, x, knee + span * np.tanh((x - knee) / span))


def raw_readout(fit: ArkitFit, inputs: np.ndarray) -> np.ndarray:
    """(N, 52) fitted values in [0, 1] before jawOpen is raised to mouthClose."""
    z = (np.asarray(inputs, np.float64) - fit.mean) / fit.std
    w = np.clip(z @ fit.matrix + fit.bias, 0.0, 1.0)
    mouth = [INDEX["jawOpen"], INDEX["mouthClose"]]
    w[:, mouth] = soft_ceiling(np.maximum(z @ fit.matrix[:, mouth] + fit.bias[mouth], 0.0))
    return w


def flame_to_arkit(expressions: np.ndarray, jaw: np.ndarray, fit: ArkitFit | None = None) -> np.ndarray:
    """(N, 52) ARKit weights in [0, 1] from FLAME expressions (N, <=100) and jaw axis-angle (N, 3)."""
    fit = load_fit() if fit is None else fit
    w = raw_readout(fit, face_inputs(expressions, jaw))
    close, opening = INDEX["mouthClose"], INDEX["jawOpen"]
    w[:, opening] = np.maximum(w[:, opening], w[:, close])
    return w
