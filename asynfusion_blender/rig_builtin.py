"""The built-in rig: an SMPL-X skeleton and a simple skinned body with no licensed data.

Its skeleton is the shared rest-joint template in core/rest_pose.py (an adult of about
1.75 m in SMPL-X's T-pose, feet on the floor), the one the evaluation's FK uses too.
The body is one tapered tube per bone plus an ellipsoid head; the head's
Exp000..Exp099 shape keys all move one mouth-open deformation, key i scaled by the
fitted weight w[i] from data/mouth_open.json (see data/fit_mouth_open.py), so any FLAME
expression track opens the mouth by e . w, in time with the speech it came from.
"""

from __future__ import annotations

import json
import os

import numpy as np

from .core import skeleton
from .core.rest_pose import SMPLX_MEAN_PELVIS, rest_joints
from .rig_data import RigData, bone_tails

_RADII = {"pelvis": 0.13, "spine1": 0.13, "spine2": 0.14, "spine3": 0.15, "neck": 0.05,
          "collar": 0.05, "shoulder": 0.045, "elbow": 0.04, "wrist": 0.035, "hip": 0.075,
          "knee": 0.05, "ankle": 0.045, "foot": 0.035}
_FINGER_RADIUS = 0.009
_TORSO = ("pelvis", "spine1", "spine2", "spine3")
_HEAD_CENTRE = np.array([0.0, 1.66, 0.02])
_HEAD_RADII = np.array([0.08, 0.115, 0.10])
_MOUTH_DROP = 0.04           # metres the chin drops at full opening
SIDES = 8


def joint_positions() -> np.ndarray:
    """(55, 3) rest joints of the built-in body (the shared template in core.rest_pose)."""
    return rest_joints()


def _radius(name: str) -> float:
    if name in _RADII:
        return _RADII[name]
    part = name.split("_", 1)[-1]
    return _RADII.get(part, _FINGER_RADIUS)


def _tube(head: np.ndarray, tail: np.ndarray, radius: float, depth: float) -> np.ndarray:
    """Two rings of SIDES vertices around the segment head->tail; depth flattens front-back."""
    axis = tail - head
    axis = axis / np.linalg.norm(axis)
    ref = np.array([0.0, 0.0, 1.0]) if abs(axis[2]) < 0.9 else np.array([1.0, 0.0, 0.0])
    u = np.cross(axis, ref)
    u /= np.linalg.norm(u)
    v = np.cross(axis, u)
    ang = np.arange(SIDES) * 2 * np.pi / SIDES
    ring = np.cos(ang)[:, None] * u + np.sin(ang)[:, None] * v
    ring = ring * np.array([1.0, 1.0, depth]) * radius
    return np.concatenate([head + ring * 0.9, tail + ring * 0.8])


def _tube_faces(base: int) -> list[tuple[int, ...]]:
    faces: list[tuple[int, ...]] = []
    for k in range(SIDES):
        k1 = (k + 1) % SIDES
        faces.append((base + k, base + k1, base + SIDES + k1, base + SIDES + k))
    faces.append(tuple(base + k for k in reversed(range(SIDES))))
    faces.append(tuple(base + SIDES + k for k in range(SIDES)))
    return faces


def _ellipsoid(centre: np.ndarray, radii: np.ndarray, segments: int = 16, rings: int = 12
               ) -> tuple[np.ndarray, list[tuple[int, ...]]]:
    verts = [centre + radii * np.array([0.0, 1.0, 0.0])]
    for r in range(1, rings):
        theta = np.pi * r / rings
        for s in range(segments):
            phi = 2 * np.pi * s / segments
            verts.append(centre + radii * np.array(
                [np.sin(theta) * np.sin(phi), np.cos(theta), np.sin(theta) * np.cos(phi)]))
    verts.append(centre - radii * np.array([0.0, 1.0, 0.0]))
    faces: list[tuple[int, ...]] = []
    last = len(verts) - 1
    for s in range(segments):
        s1 = (s + 1) % segments
        faces.append((0, 1 + s1, 1 + s))
        faces.append((last, 1 + (rings - 2) * segments + s, 1 + (rings - 2) * segments + s1))
    for r in range(rings - 2):
        a, b = 1 + r * segments, 1 + (r + 1) * segments
        for s in range(segments):
            s1 = (s + 1) % segments
            faces.append((a + s, a + s1, b + s1, b + s))
    return np.array(verts), faces


def mouth_open_delta(verts: np.ndarray) -> np.ndarray:
    """Full mouth opening: the front of the face below the mouth line drops, smoothly."""
    rel = (verts - _HEAD_CENTRE) / _HEAD_RADII
    below = np.clip((-0.2 - rel[:, 1]) / 0.25, 0.0, 1.0)      # 0 above the mouth line, 1 at the chin
    front = np.clip(rel[:, 2] * 2.0, 0.0, 1.0)
    on_head = np.linalg.norm(rel, axis=1) < 1.05
    weight = below * below * (3 - 2 * below) * front * on_head
    delta = np.zeros_like(verts)
    delta[:, 1] = -_MOUTH_DROP * weight
    delta[:, 2] = 0.01 * weight
    return delta


def mouth_open_weights() -> np.ndarray:
    """The fitted (100,) mouth-open direction shipped in data/mouth_open.json."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "mouth_open.json")
    with open(path, encoding="utf-8") as f:
        return np.asarray(json.load(f)["weights"], np.float64)


def builtin_rig() -> RigData:
    joints = joint_positions()
    tails = bone_tails(joints)
    names = skeleton.JOINT_NAMES
    verts: list[np.ndarray] = []
    faces: list[tuple[int, ...]] = []
    bone_of_vertex: list[np.ndarray] = []
    parent_share: list[np.ndarray] = []
    skip = {"head", "jaw", "left_eye_smplhf", "right_eye_smplhf"}
    count = 0
    for j, name in enumerate(names):
        if name in skip:
            continue
        depth = 0.65 if name in _TORSO else 1.0
        ring = _tube(joints[j], tails[j], _radius(name), depth)
        verts.append(ring)
        faces.extend(_tube_faces(count))
        bone_of_vertex.append(np.full(len(ring), j))
        # The first ring shares its weight with the parent bone so joints bend softly.
        share = np.zeros(len(ring))
        if skeleton.PARENTS[j] >= 0:
            share[:SIDES] = 0.5
        parent_share.append(share)
        count += len(ring)
    head_v, head_f = _ellipsoid(_HEAD_CENTRE, _HEAD_RADII)
    verts.append(head_v)
    faces.extend(tuple(i + count for i in f) for f in head_f)
    bone_of_vertex.append(np.full(len(head_v), names.index("head")))
    parent_share.append(np.zeros(len(head_v)))

    all_v = np.concatenate(verts)
    owner = np.concatenate(bone_of_vertex)
    share = np.concatenate(parent_share)
    weights = np.zeros((len(all_v), skeleton.NUM_JOINTS))
    rows = np.arange(len(all_v))
    weights[rows, owner] = 1.0 - share
    parents = np.array(skeleton.PARENTS)[owner]
    has_parent = share > 0
    weights[rows[has_parent], parents[has_parent]] += share[has_parent]

    delta = mouth_open_delta(all_v)
    w = mouth_open_weights()
    keys = [(f"Exp{i:03d}", w[i] * delta) for i in range(len(w))]
    return RigData(
        name="AsynFusion", joints=joints, verts=all_v, faces=faces, weights=weights,
        shape_keys=keys, rest_trans=joints[0] - SMPLX_MEAN_PELVIS, source="builtin",
    )
