"""A rig as plain arrays, before it becomes Blender data.

Both rig sources (the built-in body and the user's SMPL-X model file) produce a
``RigData``; ``rig.build`` turns any RigData into an armature and a skinned mesh. All
positions are in SMPL-X's Y-up frame, metres: x to the body's left, y up, z forward.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..core import skeleton

# Rigs this add-on builds: Z-up data (SMPL-X's Y-up turned +90 deg about X), and the SMPL-X
# translation their rest pose stands at, stored on the armature for the bake to read.
Z_UP_FROM_Y_UP = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])
REST_TRANS_PROP = "asynfusion_rest_trans"

# When a joint has several children, the bone points at this one.
_PREFERRED_CHILD = {"pelvis": "spine1", "spine3": "neck", "neck": "head",
                    "left_wrist": "left_middle1", "right_wrist": "right_middle1"}
# Leaves whose direction is fixed rather than continuing their parent: (direction, length).
_LEAF_DIRECTIONS = {
    "head": ((0.0, 1.0, 0.0), 0.12),
    "jaw": ((0.0, -0.6, 0.8), 0.08),
    "left_eye_smplhf": ((0.0, 0.0, 1.0), 0.02),
    "right_eye_smplhf": ((0.0, 0.0, 1.0), 0.02),
}
MIN_BONE = 0.005


@dataclass
class RigData:
    name: str
    joints: np.ndarray                  # (55, 3) rest joint positions
    verts: np.ndarray                   # (V, 3)
    faces: list[tuple[int, ...]]        # triangles or quads
    weights: np.ndarray                 # (V, 55) skin weights, rows sum to 1
    shape_keys: list[tuple[str, np.ndarray]] = field(default_factory=list)  # (name, (V,3) deltas)
    rest_trans: np.ndarray = field(default_factory=lambda: np.zeros(3))
    source: str = "builtin"
    materials: list[tuple[str, tuple[float, float, float]]] = field(default_factory=list)  # (name, linear RGB)
    face_materials: np.ndarray | None = None    # (F,) index into materials per face


def bone_tails(joints: np.ndarray) -> np.ndarray:
    """A tail for every joint's bone: towards its (preferred) child, else a sensible leaf.

    Blender deletes zero-length bones, so every bone gets at least MIN_BONE of length.
    """
    joints = np.asarray(joints, np.float64)
    names = skeleton.JOINT_NAMES
    children: dict[int, list[int]] = {j: [] for j in range(len(names))}
    for j, p in enumerate(skeleton.PARENTS):
        if p >= 0:
            children[p].append(j)
    tails = np.empty_like(joints)
    for j, name in enumerate(names):
        kids = children[j]
        if name in _PREFERRED_CHILD:
            kids = [names.index(_PREFERRED_CHILD[name])]
        if name in _LEAF_DIRECTIONS:
            direction, length = _LEAF_DIRECTIONS[name]
            tails[j] = joints[j] + np.asarray(direction) / np.linalg.norm(direction) * length
            continue
        if kids:
            target = joints[kids[0]]
        else:   # finger tips and feet continue their parent's direction
            p = skeleton.PARENTS[j]
            target = joints[j] + 0.7 * (joints[j] - joints[p])
        if np.linalg.norm(target - joints[j]) < MIN_BONE:
            target = joints[j] + np.array([0.0, MIN_BONE, 0.0])
        tails[j] = target
    return tails
