"""The built-in rig: an SMPL-X skeleton, a simple skinned body and the ICT-FaceKit head.

Its skeleton is the shared rest-joint template in core/rest_pose.py (an adult of about
1.75 m in SMPL-X's T-pose, feet on the floor), the one the evaluation's FK uses too.
The body is one tapered tube per bone with a ball at every joint (so bent elbows and knees
show no gaps); the head is the ICT-FaceKit head (ict_head.py, MIT) with its 53 ARKit-named
shape keys, so a face bake goes through the fitted FLAME -> ARKit read-out and the mouth
closes and opens with the speech. The head comes first in the mesh, so its vertex indices
(the lip vertices) are the same in the Blender mesh as in the .npz.
"""

from __future__ import annotations

import numpy as np

from ..core import skeleton
from ..core.rest_pose import SMPLX_MEAN_PELVIS, rest_joints
from .ict_head import ict_head
from .blueprint import RigData, bone_tails

_RADII = {"pelvis": 0.13, "spine1": 0.13, "spine2": 0.14, "spine3": 0.15, "neck": 0.05,
          "collar": 0.05, "shoulder": 0.045, "elbow": 0.04, "wrist": 0.035, "hip": 0.075,
          "knee": 0.05, "ankle": 0.045, "foot": 0.035}
_FINGER_RADIUS = 0.009
_TORSO = ("pelvis", "spine1", "spine2", "spine3")
_SKIN_PARTS = ("neck", "wrist", "thumb", "index", "middle", "ring", "pinky")
_NO_BODY = ("head", "jaw", "left_eye_smplhf", "right_eye_smplhf")     # the ICT head covers them
SIDES = 8
# Flat colours (linear RGB) per part: the head's parts (make_ict_head.PARTS) and the clothes.
COLOURS = {"skin": (0.72, 0.45, 0.33), "clothes": (0.16, 0.22, 0.3), "eye white": (0.78, 0.78, 0.74),
           "iris": (0.1, 0.06, 0.03), "pupil": (0.005, 0.005, 0.005), "teeth": (0.75, 0.72, 0.62),
           "mouth": (0.22, 0.04, 0.04), "lashes": (0.02, 0.012, 0.008), "brows": (0.05, 0.03, 0.018)}


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


def _part(name: str) -> str:
    return "skin" if any(k in name for k in _SKIN_PARTS) else "clothes"


def _body(joints: np.ndarray, first_vertex: int
          ) -> tuple[np.ndarray, list[tuple[int, ...]], np.ndarray, np.ndarray, list[str]]:
    """Tubes and joint balls: vertices, faces, owning joint and parent share per vertex, part per face."""
    tails = bone_tails(joints)
    names = skeleton.JOINT_NAMES
    verts: list[np.ndarray] = []
    faces: list[tuple[int, ...]] = []
    owner: list[np.ndarray] = []
    shares: list[np.ndarray] = []
    parts: list[str] = []
    count = first_vertex
    for j, name in enumerate(names):
        if name in _NO_BODY:
            continue
        depth = 0.65 if name in _TORSO else 1.0
        ring = _tube(joints[j], tails[j], _radius(name), depth)
        ball, ball_faces = _ellipsoid(joints[j], 0.9 * _radius(name) * np.array([1.0, 1.0, depth]), 8, 5)
        tube_faces = _tube_faces(count)
        faces += tube_faces + [tuple(i + count + len(ring) for i in f) for f in ball_faces]
        parts += [_part(name)] * (len(tube_faces) + len(ball_faces))
        verts += [ring, ball]
        owner.append(np.full(len(ring) + len(ball), j))
        # The first ring shares its weight with the parent bone so joints bend softly.
        share = np.zeros(len(ring) + len(ball))
        if skeleton.PARENTS[j] >= 0:
            share[:SIDES] = 0.5
        shares.append(share)
        count += len(ring) + len(ball)
    return np.concatenate(verts), faces, np.concatenate(owner), np.concatenate(shares), parts


def builtin_rig() -> RigData:
    joints = joint_positions()
    head = ict_head(joints)
    body_v, body_f, owner, share, body_parts = _body(joints, len(head.verts))

    weights = np.zeros((len(body_v), skeleton.NUM_JOINTS))
    rows = np.arange(len(body_v))
    weights[rows, owner] = 1.0 - share
    parents = np.array(skeleton.PARENTS)[owner]
    has_parent = share > 0
    weights[rows[has_parent], parents[has_parent]] += share[has_parent]

    starts = np.concatenate([[0], np.cumsum(head.sizes)[:-1]])
    head_faces = [tuple(head.loops[a:a + n]) for a, n in zip(starts.tolist(), head.sizes.tolist())]
    materials = list(dict.fromkeys(list(head.part_names) + ["clothes"]))
    face_materials = np.concatenate([
        np.array([materials.index(head.part_names[p]) for p in range(len(head.part_names))])[head.parts],
        np.array([materials.index(p) for p in body_parts])])
    zeros = np.zeros((len(body_v), 3))
    return RigData(
        name="AsynFusion", joints=joints, verts=np.concatenate([head.verts, body_v]),
        faces=head_faces + body_f, weights=np.concatenate([head.weights, weights]),
        shape_keys=[(name, np.concatenate([delta, zeros])) for name, delta in head.keys],
        rest_trans=joints[0] - SMPLX_MEAN_PELVIS, source="builtin",
        materials=[(m, COLOURS[m]) for m in materials], face_materials=face_materials,
    )
