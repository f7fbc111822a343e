"""Numpy half of the bake: motion arrays -> per-F-curve key arrays, no bpy.

Why a separate module: every number that ends up on an F-curve is computed here, so the
maths (rest-frame conversion, Y-up -> Z-up, resampling, sign continuity) is unit-tested
without Blender, and the bpy layer only copies finished arrays into curves.

Conventions: quaternions are (w, x, y, z) like Blender. ``conv`` is the 3x3 rotation that
takes SMPL-X's Y-up frame into the armature's data space (Rx(+90 deg) for a Z-up rig built
by this add-on: ``rig.blueprint.Z_UP_FROM_Y_UP``; identity for rigs that keep Y-up data under a rotated object).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..core import quaternions, skeleton

# What a user can choose to bake, and the joints each choice drives.
PART_JOINTS: dict[str, tuple[int, ...]] = {
    "body": (skeleton.ROOT,) + skeleton.BODY_JOINTS,
    "jaw": (skeleton.JAW,),
    "face": skeleton.EYES,          # plus the expression shape keys
    "hands": skeleton.HANDS,
}
PARTS = ("face", "jaw", "body", "hands", "root")


def baked_joints(parts: set[str] | frozenset[str]) -> list[int]:
    """Joint indices whose rotations a bake of ``parts`` writes, in skeleton order."""
    joints = {j for part in parts for j in PART_JOINTS.get(part, ())}
    return sorted(joints)


def detect_conversion(up: np.ndarray, left: np.ndarray) -> np.ndarray:
    """The axis-aligned rotation taking SMPL-X axes to a rig's data axes.

    ``up`` is the rig's pelvis->neck direction (SMPL-X +Y) and ``left`` its
    right_hip->left_hip direction (SMPL-X +X), both in armature data space. Each is
    snapped to the nearest signed axis, so a slightly asymmetric rest pose still
    gives an exact frame.
    """
    def snap(v: np.ndarray) -> np.ndarray:
        v = np.asarray(v, dtype=np.float64)
        out = np.zeros(3)
        k = int(np.argmax(np.abs(v)))
        out[k] = np.sign(v[k])
        return out

    x, y = snap(left), snap(up)
    if abs(float(x @ y)) > 0.5:
        raise ValueError("the rig's hips and spine point the same way")
    return np.stack([x, y, np.cross(x, y)], axis=1)


def resample_positions(num_src: int, src_fps: float, dst_fps: float) -> tuple[np.ndarray, np.ndarray]:
    """Source sample index and blend weight for every destination frame.

    Destination frame k sits at time k/dst_fps; it blends source samples i0 and i0+1
    with weight t. The clip keeps its length: the last destination frame is the last
    one that does not run past the final source sample.
    """
    if num_src < 1:
        raise ValueError("a motion needs at least one frame")
    if num_src == 1:
        return np.zeros(1, np.int64), np.zeros(1)
    ratio = src_fps / dst_fps
    n_out = int(np.floor((num_src - 1) / ratio + 1e-6)) + 1
    pos = np.arange(n_out) * ratio
    i0 = np.minimum(np.floor(pos + 1e-9).astype(np.int64), num_src - 2)
    return i0, np.clip(pos - i0, 0.0, 1.0)


def resample_linear(x: np.ndarray, i0: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Linear blend along axis 0 (translation, expression coefficients)."""
    x = np.asarray(x, dtype=np.float64)
    if len(x) == 1:
        return x[np.zeros(len(i0), np.int64)]
    w = t.reshape((-1,) + (1,) * (x.ndim - 1))
    return x[i0] * (1.0 - w) + x[i0 + 1] * w


def resample_quats(q: np.ndarray, i0: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Slerp (F, ..., 4) quaternions along axis 0."""
    if len(q) == 1:
        return np.asarray(q, np.float64)[np.zeros(len(i0), np.int64)]
    tt = np.broadcast_to(t.reshape((-1,) + (1,) * (q.ndim - 2)), (len(t),) + q.shape[1:-1])
    return quaternions.slerp(q[i0], q[i0 + 1], tt)


def bone_local_quats(q_smplx: np.ndarray, rest_rot: np.ndarray, conv: np.ndarray) -> np.ndarray:
    """SMPL-X parent-relative rotations -> Blender pose-bone quaternions.

    A pose bone's rotation acts in its rest frame B (bone.matrix_local), so the
    SMPL-X rotation r, expressed in the armature's space as C r C^T, becomes
    B^T C r C^T B. q_smplx is (F, J, 4), rest_rot (J, 3, 3).
    """
    q_c = quaternions.matrix_to_quat(conv)
    q_b = quaternions.matrix_to_quat(rest_rot)[None]                 # (1, J, 4)
    inner = quaternions.quat_multiply(quaternions.quat_multiply(q_c, q_smplx), quaternions.quat_conjugate(q_c))
    out = quaternions.quat_multiply(quaternions.quat_multiply(quaternions.quat_conjugate(q_b), inner), q_b)
    return out


def root_locations(trans: np.ndarray, rest_trans: np.ndarray, conv: np.ndarray,
                   scale: float, pelvis_rest_rot: np.ndarray) -> np.ndarray:
    """SMPL-X root translation -> pelvis pose-bone location (bone-local, rig units).

    The rig's rest pose stands where SMPL-X would with translation ``rest_trans``;
    the displacement from there, taken into armature space and rig units, is
    expressed in the pelvis bone's rest frame.
    """
    disp = (np.asarray(trans, np.float64) - rest_trans) @ conv.T * scale
    return disp @ np.asarray(pelvis_rest_rot, np.float64)


@dataclass
class Curve:
    """One F-curve to write: where it goes and one value per baked frame."""
    data_path: str
    index: int
    group: str
    values: np.ndarray


def keyframe_coords(frames: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Interleaved (frame, value) pairs, the flat layout keyframe_points 'co' takes."""
    co = np.empty(2 * len(frames), dtype=np.float32)
    co[0::2] = frames
    co[1::2] = values
    return co


@dataclass
class RigFrame:
    """What the bake needs to know about a rig, read from it once."""
    bone_names: dict[int, str]       # joint index -> bone name (baked joints only)
    rest_rot: np.ndarray             # (55, 3, 3) bone rest orientations; identity where unmapped
    conv: np.ndarray                 # (3, 3) SMPL-X -> armature data space
    scale: float                     # rig units per metre
    rest_trans: np.ndarray           # (3,) SMPL-X translation of the rest pose
    tilt: float = 0.0                # degrees the rest pose is turned off the armature's axes (retarget.body_frame)


def body_curves(q_src: np.ndarray, trans: np.ndarray, rig: RigFrame,
                joints: list[int], with_root: bool, i0: np.ndarray, t: np.ndarray) -> list[Curve]:
    """Pose-bone curves (rotation_quaternion per joint, pelvis location) at scene frames.

    ``q_src`` is (N, 55, 4) SMPL-X local quaternions at the source rate.
    """
    curves: list[Curve] = []
    if joints:
        q = resample_quats(q_src[:, joints], i0, t)
        q = bone_local_quats(q, rig.rest_rot[joints], rig.conv)
        q = quaternions.make_continuous(q, axis=0)
        for k, j in enumerate(joints):
            name = rig.bone_names[j]
            path = f'pose.bones["{name}"].rotation_quaternion'
            curves.extend(Curve(path, c, name, q[:, k, c]) for c in range(4))
    if with_root:
        name = rig.bone_names[skeleton.ROOT]
        loc = root_locations(resample_linear(trans, i0, t), rig.rest_trans, rig.conv,
                             rig.scale, rig.rest_rot[skeleton.ROOT])
        path = f'pose.bones["{name}"].location'
        curves.extend(Curve(path, c, name, loc[:, c]) for c in range(3))
    return curves


def expression_curves(expressions: np.ndarray, key_names: list[str],
                      i0: np.ndarray, t: np.ndarray) -> list[Curve]:
    """Shape-key value curves for the Exp### keys a mesh has."""
    e = resample_linear(expressions, i0, t)
    curves = []
    for name in key_names:
        k = int(name[3:])
        curves.append(Curve(f'key_blocks["{name}"].value', 0, "Expressions", e[:, k]))
    return curves
