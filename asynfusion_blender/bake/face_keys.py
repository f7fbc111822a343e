"""Which face a mesh's shape keys speak, and the curves a bake writes for it (no bpy).

Two namings are understood: ``Exp000..Exp099`` (FLAME coefficients, SMPL-X rigs) take the
motion's expressions as they are; ARKit names in any common spelling (core/arkit.py) take
the fitted FLAME -> ARKit read-out plus procedural blinks, gaze and brows
(core/face_motion.py), so ReadyPlayerMe, VRoid perfect-sync, ICT-FaceKit and similar faces
move from the same motion file. Only keys the mesh has are written.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .curve_math import Curve, expression_curves, resample_linear
from ..core import arkit
from ..core.face_track import arkit_track
from ..core.motion_file import Motion

FLAME, ARKIT = "FLAME", "ARKit"
EXP_PREFIX = "Exp"


@dataclass
class FaceKeys:
    kind: str                     # FLAME or ARKIT
    columns: dict[str, int]       # shape-key name -> FLAME coefficient / ARKit index


def detect(key_names: list[str]) -> FaceKeys | None:
    """The naming a mesh's keys follow (Exp### wins when both are present), else None."""
    flame = {k: int(k[3:]) for k in key_names
             if k.startswith(EXP_PREFIX) and k[3:].isdigit() and int(k[3:]) < 100}
    if flame:
        return FaceKeys(FLAME, flame)
    found = arkit.arkit_keys(list(key_names))
    if found:
        return FaceKeys(ARKIT, {k: arkit.INDEX[n] for k, n in found.items()})
    return None


def describe(face: FaceKeys, mesh_name: str) -> str:
    """One sentence saying which keys of the mesh the bake drives."""
    if face.kind == FLAME:
        return f"Face '{mesh_name}': {len(face.columns)} FLAME expression keys (Exp###)."
    shapes = set(face.columns.values())
    missing = [n for i, n in enumerate(arkit.ARKIT_NAMES) if i not in shapes]
    text = f"Face '{mesh_name}': {len(face.columns)} ARKit keys for {len(shapes)} of the 52 ARKit shapes"
    if missing:
        shown = ", ".join(missing[:6]) + (", ..." if len(missing) > 6 else "")
        text += f" (missing: {shown})"
    return text + "."


def jaw_open_key(face: FaceKeys) -> str | None:
    """The name of an ARKit face's jawOpen key (in whatever spelling it has), else None."""
    if face.kind != ARKIT:
        return None
    return next((name for name, col in face.columns.items() if col == arkit.INDEX["jawOpen"]), None)


def no_face_sentence(mesh_name: str) -> str:
    return (f"Mesh '{mesh_name}' has neither Exp000-Exp099 nor ARKit-named shape keys (jawOpen, "
            "mouthClose, eyeBlinkLeft, ...); choose a face mesh with them, or untick Face.")


def _key_path(name: str) -> str:
    escaped = name.replace("\\", "\\\\").replace('"', '\\"')
    return f'key_blocks["{escaped}"].value'


def track_for(faces: list[FaceKeys], motion: Motion, seed: int) -> np.ndarray | None:
    """The ARKit track, computed once for every ARKit face of one bake (head, teeth, eyes, ...)."""
    return arkit_track(motion, seed) if any(f.kind == ARKIT for f in faces) else None


def face_curves(face: FaceKeys, motion: Motion, i0: np.ndarray, t: np.ndarray, seed: int = 0,
                track: np.ndarray | None = None) -> list[Curve]:
    """Shape-key value curves at scene frames, one per key the mesh has (``track``: the ARKit
    track already computed for this motion and seed)."""
    if face.kind == FLAME:
        return expression_curves(motion.expressions, list(face.columns), i0, t)
    v = resample_linear(arkit_track(motion, seed) if track is None else track, i0, t)
    return [Curve(_key_path(name), 0, "ARKit", v[:, col]) for name, col in face.columns.items()]
