"""The built-in character's head: the ICT-FaceKit head (MIT) placed on the SMPL-X skeleton (no bpy).

``data/ict_facekit/ict_head.npz`` is a trimmed copy of the ICT-FaceKit neutral head and its
53 ARKit-named expression shapes, made by ``backend/asynfusion/tools/make_ict_head.py``; its
LICENSE and CREDITS.md sit beside it and ship with the add-on.

Placement keeps the head at its real size (centimetres -> metres) and moves it so that the
midpoint of its eyeballs sits on the midpoint of the SMPL-X eye joints: the eyes then turn
about their own centres when the eye bones rotate, and the neck reaches down into the body.

How the jaw opens: through the ``jawOpen`` shape key only. The FLAME -> ARKit read-out
(core/arkit.py) already folds the motion's jaw rotation into ``jawOpen``, and ICT's
``mouthClose`` is shaped against ICT's own ``jawOpen``; skinning the chin to the jaw bone as
well would open the mouth twice. So the head is skinned to ``head`` and ``neck`` only (and
the eyeballs to the eye bones); the jaw bone is still keyed by a bake but moves no vertex.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from ..core import skeleton

PATH = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "data", "ict_facekit",
                    "ict_head.npz")
CM = 0.01
# Where the skin turns from head to neck: a jaw line that runs from under the chin (deep below the
# eyes at the front) up to behind the jaw angle, then a band of this width (metres).
JAW_LINE = (0.115, 0.75, 0.07, 0.13)    # depth below the eyes at eye depth, slope per metre forward, min, max
NECK_BAND = 0.045
EYE_BONES = ("left_eye_smplhf", "right_eye_smplhf")


@dataclass
class Head:
    verts: np.ndarray                       # (V, 3) metres, SMPL-X frame
    sizes: np.ndarray                       # (P,) vertices per polygon
    loops: np.ndarray                       # (sum sizes,) vertex indices
    parts: np.ndarray                       # (P,) index into part_names
    part_names: tuple[str, ...]
    weights: np.ndarray                     # (V, 55) skin weights
    keys: list[tuple[str, np.ndarray]]      # (ARKit-style name, (V, 3) metres)
    lip_vertices: tuple[int, int]           # upper and lower midline lip vertex


def load_arrays(path: str = PATH) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as d:
        return {k: d[k] for k in d.files}


def place(vertices_cm: np.ndarray, eye_centres_cm: np.ndarray, joints: np.ndarray) -> np.ndarray:
    """ICT centimetres -> metres, the eyes' midpoint on the SMPL-X eye joints' midpoint."""
    eyes = joints[[skeleton.JOINT_NAMES.index(n) for n in EYE_BONES]]
    return (vertices_cm - eye_centres_cm.mean(0)) * CM + eyes.mean(0)


def skin_weights(verts: np.ndarray, vertex_eye: np.ndarray, joints: np.ndarray) -> np.ndarray:
    """Head above the jaw line, neck below it (a smooth band), eyeballs on their eye bones; the chin
    stays all head so that a nod does not shear it.

    Weights are rounded to 1/16 so that Blender gets few distinct weights per group."""
    names = skeleton.JOINT_NAMES
    eye = joints[names.index(EYE_BONES[0])]
    below = eye[1] - verts[:, 1]
    depth, slope, low, high = JAW_LINE
    line = np.clip(depth + slope * (verts[:, 2] - eye[2]), low, high)
    s = np.clip((below - line) / NECK_BAND, 0.0, 1.0)
    neck = np.round(s * s * (3 - 2 * s) * 16) / 16
    weights = np.zeros((len(verts), skeleton.NUM_JOINTS))
    weights[:, names.index("head")] = 1.0 - neck
    weights[:, names.index("neck")] = neck
    for k, bone in enumerate(EYE_BONES, start=1):
        on_eye = vertex_eye == k
        weights[on_eye] = 0.0
        weights[on_eye, names.index(bone)] = 1.0
    return weights


def shape_keys(arrays: dict[str, np.ndarray]) -> list[tuple[str, np.ndarray]]:
    """Dense (V, 3) metre deltas from the sparse float16 centimetre storage."""
    count = len(arrays["vertices"])
    offsets, moved, deltas = arrays["key_offsets"], arrays["key_vertices"], arrays["key_deltas"]
    keys = []
    for k, name in enumerate(arrays["names"]):
        a, b = int(offsets[k]), int(offsets[k + 1])
        dense = np.zeros((count, 3))
        dense[moved[a:b].astype(np.int64)] = deltas[a:b].astype(np.float64) * CM
        keys.append((str(name), dense))
    return keys


def ict_head(joints: np.ndarray, path: str = PATH) -> Head:
    """The head for a skeleton's rest joints (SMPL-X frame, metres)."""
    a = load_arrays(path)
    verts = place(a["vertices"].astype(np.float64), a["eye_centres"].astype(np.float64), joints)
    upper, lower = (int(i) for i in a["lip_vertices"])
    return Head(verts=verts, sizes=a["polygon_sizes"].astype(np.int64),
                loops=a["polygon_vertices"].astype(np.int64), parts=a["polygon_parts"].astype(np.int64),
                part_names=tuple(str(n) for n in a["part_names"]),
                weights=skin_weights(verts, a["vertex_eye"], joints), keys=shape_keys(a),
                lip_vertices=(upper, lower))
