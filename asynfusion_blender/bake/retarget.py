"""Numpy half of baking onto a rig that is not SMPL-X: world-space, rest-pose-aware transfer.

Why world space: a Rigify, Mixamo or VRoid rig rests in another pose (A-pose, other rolls,
bones SMPL-X does not have, a spine in fewer pieces), so copying SMPL-X's parent-relative
rotations would bend it wrongly. Instead each mapped bone is given the world rotation that
makes it point where its SMPL-X joint points: ``M_j = C G_j C^T A_j``, with ``G_j`` the
SMPL-X world rotation, ``C`` the SMPL-X -> armature axes and ``A_j`` the rest alignment that
turns the rig's rest bone onto SMPL-X's rest bone. A bone hangs (through unposed helper bones
or copy-transforms) under its nearest mapped "anchor" ``a``, so its pose-bone rotation is
``B_j^T M_a^T M_j B_j`` (``B`` the bone's rest orientation). The root moves by SMPL-X's
translation scaled by leg length, from where the character stands as shown (``stand``: the
shown pose's root and feet against the rest pose's, so a file whose rest pose lies metres away
from the pose it shows keeps standing where it is shown); its height is then set so that the
feet rise off that floor exactly as much as SMPL-X's feet do (scaled), which keeps them on it.

Conventions as in curve_math: quaternions (w, x, y, z), armature data space, no bpy here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..rig import blueprint
from . import curve_math
from ..core import feet, rest_pose, quaternions, skeleton

LEGS = ((1, 4, 7), (2, 5, 8))            # hip, knee, ankle of each side
FEET = (7, 8, 10, 11)                    # ankles and balls of the feet: what touches the floor
UP_JOINTS = (12, 15, 9, 6)               # neck, else head, spine3, spine2: the rig's "up"
LEFT_PAIRS = ((1, 2), (16, 17), (13, 14))  # left/right hips, else shoulders, else collars
WRISTS = {20: (25, 31), 21: (40, 46)}    # wrist -> (index1, pinky1): the palm's cross axis
SNAP_DEG = 30.0                          # a rest pose turned less than this off the armature's axes stands on them
_TEMPLATE = rest_pose.rest_joints()


def _children() -> list[list[int]]:
    kids: list[list[int]] = [[] for _ in range(skeleton.NUM_JOINTS)]
    for j, p in enumerate(skeleton.PARENTS):
        if p >= 0:
            kids[p].append(j)
    return kids


_CHILDREN = _children()
_TAILS = blueprint.bone_tails(_TEMPLATE)


def preferred_child(j: int) -> int | None:
    """The SMPL-X child a joint's bone points at (the blueprint's choice); None when the bone has a
    fixed direction instead (leaves, the head)."""
    return next((k for k in _CHILDREN[j] if np.allclose(_TAILS[j], _TEMPLATE[k])), None)


@dataclass
class TargetRig:
    """A non-SMPL-X armature as the transfer needs it, read from Blender once."""
    bone_names: dict[int, str]       # joint -> bone that takes the keys
    rest_rot: np.ndarray             # (55, 3, 3) bone rest orientations (identity where unmapped)
    heads: np.ndarray                # (55, 3) bone rest heads, armature data space (nan where unmapped)
    anchors: np.ndarray              # (55,) joint whose bone this bone rides on, -1 for none
    conv: np.ndarray                 # (3, 3) SMPL-X axes -> armature data axes
    scale: float                     # rig units per SMPL-X metre (leg length ratio, units included)
    align: np.ndarray                # (55, 3, 3) rest alignment A_j in armature space
    stand: np.ndarray = field(default_factory=lambda: np.zeros(3))        # shown pose - rest pose (stand_offset)
    root_parent: np.ndarray = field(default_factory=lambda: np.eye(4))    # the root's parent bone, posed x rest^-1
    shown_size: float = 1.0          # the size the character is shown at against its rest pose (heads are scaled by it)
    tilt: float = 0.0                # degrees its rest pose is turned off the armature's axes, where conv follows it (body_frame)


def _unit(v: np.ndarray) -> np.ndarray:
    n = np.linalg.norm(v)
    if not np.isfinite(n) or n < 1e-9:
        raise ValueError("zero-length direction")
    return v / n


def rotation_between(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """The smallest rotation taking unit vector u onto unit vector v (keeps the bone's twist)."""
    u, v = _unit(np.asarray(u, np.float64)), _unit(np.asarray(v, np.float64))
    axis = np.cross(u, v)
    s, c = np.linalg.norm(axis), float(u @ v)
    if s < 1e-9:
        if c > 0:
            return np.eye(3)
        # Half turn about any axis perpendicular to u.
        ref = np.array([1.0, 0.0, 0.0]) if abs(u[0]) < 0.9 else np.array([0.0, 1.0, 0.0])
        k = _unit(np.cross(u, ref))
        return 2.0 * np.outer(k, k) - np.eye(3)
    k = axis / s
    kx = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
    return np.eye(3) + s * kx + (1 - c) * (kx @ kx)


def rotation_between_frames(u: np.ndarray, u2: np.ndarray, v: np.ndarray, v2: np.ndarray) -> np.ndarray:
    """Rotation taking u onto v exactly and the u2 side onto the v2 side (the palm's roll)."""
    def frame(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        x = _unit(a)
        z = _unit(np.cross(x, b))
        return np.stack([x, np.cross(z, x), z], axis=1)
    return frame(v, v2) @ frame(u, u2).T


def leg_length(heads: np.ndarray) -> float | None:
    """Mean hip->knee->ankle length over the legs a skeleton has, in its own units."""
    lengths = [np.linalg.norm(heads[k] - heads[h]) + np.linalg.norm(heads[a] - heads[k])
               for h, k, a in LEGS if np.all(np.isfinite(heads[[h, k, a]]))]
    return float(np.mean(lengths)) if lengths else None


def body_axes(heads: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(up, left) of a rest skeleton: pelvis -> neck (or head, chest) and right -> left hip
    (or shoulders, collars). Raises ValueError when the rig lacks them."""
    up = next((heads[j] - heads[0] for j in UP_JOINTS if np.all(np.isfinite(heads[j]))), None)
    left = next((heads[a] - heads[b] for a, b in LEFT_PAIRS if np.all(np.isfinite(heads[[a, b]]))), None)
    if up is None or left is None or not np.all(np.isfinite(heads[0])):
        raise ValueError("the rig lacks the bones that tell up and left")
    return up, left


def _axis_frames() -> np.ndarray:
    """(24, 3, 3) every rotation that takes axes onto axes."""
    out = []
    for perm in ((0, 1, 2), (0, 2, 1), (1, 0, 2), (1, 2, 0), (2, 0, 1), (2, 1, 0)):
        for signs in np.ndindex(2, 2, 2):
            m = np.zeros((3, 3))
            m[list(perm), [0, 1, 2]] = [1.0 - 2.0 * s for s in signs]
            if np.linalg.det(m) > 0:
                out.append(m)
    return np.array(out)


_AXIS_FRAMES = _axis_frames()


def body_frame(up: np.ndarray, left: np.ndarray) -> tuple[np.ndarray, float]:
    """(conv, tilt): the SMPL-X -> armature axes of a rest pose whose up is ``up`` and whose left
    is ``left``. A rest pose standing within SNAP_DEG of the armature's axes (a character made
    upright) takes the axes themselves (curve_math.detect_conversion: a slightly asymmetric body
    still gives an exact frame), tilt 0. One turned further, as a rig whose object rotation was
    applied to its bones (the VRM Add-on's armature_transform test file: 59 deg, its up and left
    nearest the same axis), takes its own frame, up exact and left square to it, and tilt says by
    how many degrees it is turned: the character then moves as it stands. ValueError when up and
    left are not there or point the same way."""
    y = _unit(np.asarray(up, np.float64))
    x = _unit(np.asarray(left, np.float64) - (np.asarray(left, np.float64) @ y) * y)
    exact = np.stack([x, y, np.cross(x, y)], axis=1)
    cosines = (np.einsum("kij,ij->k", _AXIS_FRAMES, exact) - 1.0) / 2.0
    turned = float(np.degrees(np.arccos(np.clip(cosines.max(), -1.0, 1.0))))
    if turned <= SNAP_DEG:
        try:
            return curve_math.detect_conversion(up, left), 0.0
        except ValueError:      # hips far apart in height: the left nearest the up's axis
            pass
    return exact, turned


def rest_alignment(heads: np.ndarray, rest_rot: np.ndarray, conv: np.ndarray,
                   mapped: set[int]) -> np.ndarray:
    """(55, 3, 3) A_j: turns each mapped bone's rest direction onto SMPL-X's, in armature space.

    A bone's direction is towards the next mapped joint down SMPL-X's chain, compared with the
    same pair of joints in SMPL-X's T-pose, so a spine in fewer pieces still lines up. The root
    keeps the rig's own stance (conv already stands on it: body_frame); the head, and a bone
    with nothing mapped below it, use the bone's own axis against SMPL-X's bone; true leaves
    (toes, finger tips, jaw, eyes) keep their rest pose relative to their parent. Wrists also
    match the palm's cross axis (index -> pinky), so a palm-forward rest pose still turns.
    """
    align = np.tile(np.eye(3), (skeleton.NUM_JOINTS, 1, 1))
    for j in range(1, skeleton.NUM_JOINTS):     # parents come first in SMPL-X order
        if j not in mapped:
            align[j] = align[skeleton.PARENTS[j]]
            continue
        below = preferred_child(j)
        while below is not None and below not in mapped:
            below = preferred_child(below)
        if below is not None and np.linalg.norm(heads[below] - heads[j]) > 1e-6 * np.linalg.norm(heads[0] - heads[below]):
            u = heads[below] - heads[j]
            v = conv @ (_TEMPLATE[below] - _TEMPLATE[j])
        elif _CHILDREN[j]:      # the head, a wrist/ankle without fingers/toes, or two joints on one spot
            u = rest_rot[j][:, 1]
            v = conv @ (_TAILS[j] - _TEMPLATE[j])
        else:
            align[j] = align[skeleton.PARENTS[j]]
            continue
        if j in WRISTS and below is not None and all(k in mapped for k in WRISTS[j]):
            i, p = WRISTS[j]
            align[j] = rotation_between_frames(u, heads[p] - heads[i], v, conv @ (_TEMPLATE[p] - _TEMPLATE[i]))
        else:
            align[j] = rotation_between(u, v)
    return align


def world_quats(q_local: np.ndarray) -> np.ndarray:
    """(F, 55, 4) SMPL-X parent-relative quaternions -> world quaternions (chain products)."""
    world = np.empty_like(np.asarray(q_local, np.float64))
    for j, p in enumerate(skeleton.PARENTS):
        world[:, j] = q_local[:, j] if p < 0 else quaternions.quat_multiply(world[:, p], q_local[:, j])
    return world


def _ancestors(joints: tuple[int, ...]) -> list[int]:
    """The joints and every SMPL-X ancestor of them, parents first."""
    keep: set[int] = set()
    for j in joints:
        while j >= 0 and j not in keep:
            keep.add(j)
            j = skeleton.PARENTS[j]
    return sorted(keep)


def _smplx_feet(world: np.ndarray, trans: np.ndarray) -> dict[int, np.ndarray]:
    """(F, 3) SMPL-X positions of the FEET joints: FK on the shared template (the legs only),
    placed where the built-in rig stands."""
    rest_trans = _TEMPLATE[0] - rest_pose.SMPLX_MEAN_PELVIS
    pos = {0: _TEMPLATE[0] + (np.asarray(trans, np.float64) - rest_trans)}
    mats = {}
    for j in _ancestors(FEET)[1:]:
        p = skeleton.PARENTS[j]
        if p not in mats:
            mats[p] = quaternions.quat_to_matrix(world[:, p])
        pos[j] = pos[p] + mats[p] @ (_TEMPLATE[j] - _TEMPLATE[p])
    return pos


def smplx_foot_rise(world: np.ndarray, trans: np.ndarray) -> np.ndarray:
    """(F,) how far SMPL-X's lowest foot point is above its rest height, metres."""
    pos = _smplx_feet(world, trans)
    return np.min(np.stack([pos[j][:, 1] - _TEMPLATE[j, 1] for j in FEET], axis=1), axis=1)


def plant_rig_feet(world: np.ndarray, trans: np.ndarray, rig: TargetRig, root: np.ndarray) -> np.ndarray:
    """``world`` with the rig's hips and knees turned so that its balls of the feet stand still
    wherever SMPL-X's feet are planted (core.feet: the same contacts, spots, easing and
    two-bone IK). Directions alone do not keep a planted foot planted on other proportions:
    wider hips or another thigh/shin ratio move the rig's foot where SMPL-X's stays."""
    sides = [(h, k, a, b) for (h, k, a), b in zip(LEGS, feet.BALLS)
             if all(j in rig.bone_names for j in (h, k, a, b))
             and (rig.anchors[k], rig.anchors[a], rig.anchors[b]) == (h, k, a)]
    if not sides:
        return world
    smplx = _smplx_feet(world, trans)
    planted = feet.contacts_from_heights(np.stack([smplx[b][:, 1] for b in feet.BALLS], axis=1))
    heads = _posed_heads(world, rig, root, tuple(b for *_, b in sides))
    world = world.copy()
    up, conv = rig.conv[:, 1], rig.conv
    for f, (h, k, a, b) in enumerate(sides):
        side = feet.BALLS.index(b)
        frames, shift = feet.hold_shift(heads[b], planted[:, side], up, feet.MAX_REACH * rig.scale)
        if not len(frames):
            continue
        g_knee = quaternions.quat_to_matrix(world[frames, k])
        hinge = (conv @ g_knee[:, :, 0].T).T           # a straight knee bends about its x axis
        swing, bend = feet.two_bone_ik(heads[h][frames], heads[k][frames], heads[a][frames], hinge,
                                       heads[a][frames] + shift)
        to_smplx = lambda r: conv.T @ r @ conv        # noqa: E731  armature-space rotation -> SMPL-X world
        world[frames, h] = quaternions.matrix_to_quat(to_smplx(swing) @ quaternions.quat_to_matrix(world[frames, h]))
        world[frames, k] = quaternions.matrix_to_quat(to_smplx(swing @ bend) @ g_knee)
    return world


def bone_quats(world: np.ndarray, rig: TargetRig, joints: list[int]) -> np.ndarray:
    """(F, len(joints), 4) pose-bone quaternions B^T M_a^T M_j B, continuous in time.

    With M = C G C^T A this is P^T (G_a^T G_j) Q for the constants P = C^T A_a B and
    Q = C^T A_j B, so per frame only quaternion products remain.
    """
    out = np.empty((world.shape[0], len(joints), 4))
    ct = rig.conv.T
    for k, j in enumerate(joints):
        a = int(rig.anchors[j])
        b = rig.rest_rot[j]
        q = quaternions.matrix_to_quat(ct @ rig.align[j] @ b)
        if a < 0:
            p, rel = quaternions.matrix_to_quat(ct @ b), world[:, j]
        else:
            p, rel = quaternions.matrix_to_quat(ct @ rig.align[a] @ b), quaternions.quat_multiply(quaternions.quat_conjugate(world[:, a]), world[:, j])
        out[:, k] = quaternions.quat_multiply(quaternions.quat_multiply(quaternions.quat_conjugate(p), rel), q)
    return quaternions.make_continuous(out, axis=0)


def _delta_apply(world: np.ndarray, rig: TargetRig, a: int, v: np.ndarray) -> np.ndarray:
    """(F, 3) M_a v for a constant armature-space vector v."""
    return quaternions.quat_to_matrix(world[:, a]) @ (rig.conv.T @ rig.align[a] @ v) @ rig.conv.T


def _posed_heads(world: np.ndarray, rig: TargetRig, root_head: np.ndarray, joints: tuple[int, ...]) -> dict[int, np.ndarray]:
    """(F, 3) posed heads of ``joints`` (and every anchor above them), riding rigidly on anchors."""
    out: dict[int, np.ndarray] = {0: root_head}

    def head(j: int) -> np.ndarray:
        if j not in out:
            a = int(rig.anchors[j])
            if a < 0:
                raise KeyError(j)
            out[j] = head(a) + _delta_apply(world, rig, a, rig.heads[j] - rig.heads[a])
        return out[j]
    for j in joints:
        head(j)
    return out


def stand_offset(rig: TargetRig, shown: np.ndarray) -> np.ndarray:
    """(3,) where the character stands as shown, against its rest pose (armature space): the shown
    root's offset across the floor, and up by how far its lowest foot (as root_heads measures a
    foot's rise) is above the rest pose's feet; ``shown`` (55, 3) heads, nan where not known."""
    up = rig.conv[:, 1]
    if not np.all(np.isfinite(shown[0])):
        return np.zeros(3)
    d = shown[0] - rig.heads[0]
    feet = [j for j in FEET if j in rig.bone_names and np.all(np.isfinite(shown[j]))]
    rise = min(float((shown[j] - rig.heads[j]) @ up) for j in feet) if feet else float(d @ up)
    return d - (d @ up) * up + rise * up


def root_heads(world: np.ndarray, trans: np.ndarray, rig: TargetRig) -> np.ndarray:
    """(F, 3) where the root bone's head goes: SMPL-X's pelvis travel, scaled by leg length, from
    where the character stands as shown, then lifted so that the rig's lowest foot point rises off
    that floor as SMPL-X's does."""
    rest_trans = _TEMPLATE[0] - rest_pose.SMPLX_MEAN_PELVIS
    disp = (np.asarray(trans, np.float64) - rest_trans) @ rig.conv.T * rig.scale
    root = rig.heads[0] + rig.stand + disp
    feet = tuple(j for j in FEET if j in rig.bone_names)
    if not feet:
        return root
    try:
        heads = _posed_heads(world, rig, root, feet)
    except KeyError:        # a foot that does not ride on the root: travel only
        return root
    up = rig.conv[:, 1]
    rise = np.min(np.stack([(heads[j] - rig.heads[j] - rig.stand) @ up for j in feet], axis=1), axis=1)
    want = rig.scale * smplx_foot_rise(world, trans)
    return root + (want - rise)[:, None] * up


def retarget_curves(q_src: np.ndarray, trans: np.ndarray, rig: TargetRig, joints: list[int],
                    with_root: bool, i0: np.ndarray, t: np.ndarray) -> list[curve_math.Curve]:
    """Pose-bone curves for a retargeted rig, like curve_math.body_curves for SMPL-X rigs.

    ``q_src`` is (N, 55, 4) SMPL-X local quaternions at the source rate; ``joints`` are the
    mapped joints to key (the root's rotation among them when the body is baked).
    """
    world = world_quats(curve_math.resample_quats(q_src, i0, t))
    curves: list[curve_math.Curve] = []
    heads = None
    if with_root:
        trans_t = curve_math.resample_linear(trans, i0, t)
        heads = root_heads(world, trans_t, rig)
        world = plant_rig_feet(world, trans_t, rig, heads)
    if joints:
        q = bone_quats(world, rig, joints)
        for k, j in enumerate(joints):
            name = rig.bone_names[j]
            path = f'pose.bones["{name}"].rotation_quaternion'
            curves.extend(curve_math.Curve(path, c, name, q[:, k, c]) for c in range(4))
    if heads is not None:
        name = rig.bone_names[skeleton.ROOT]
        inv = np.linalg.inv(rig.root_parent)        # the head as its (possibly posed) parent carries it
        loc = (heads @ inv[:3, :3].T + inv[:3, 3] - rig.heads[0]) @ rig.rest_rot[skeleton.ROOT]
        path = f'pose.bones["{name}"].location'
        curves.extend(curve_math.Curve(path, c, name, loc[:, c]) for c in range(3))
    return curves


def target_rig(bone_names: dict[int, str], rest_rot: np.ndarray, heads: np.ndarray,
               anchors: np.ndarray) -> TargetRig:
    """Everything else the transfer needs, derived from the rig's rest pose.

    Raises ValueError (the bpy layer words it for a person) if the rest pose has no up/left.
    """
    up, left = body_axes(heads)
    conv, tilt = body_frame(up, left)
    mine, theirs = leg_length(heads), leg_length(_TEMPLATE)
    if mine is None or theirs is None:     # no legs mapped: compare the torsos instead
        j = next(j for j in UP_JOINTS if np.all(np.isfinite(heads[j])))
        mine, theirs = float(np.linalg.norm(up)), float(np.linalg.norm(_TEMPLATE[j] - _TEMPLATE[0]))
    scale = mine / theirs
    if not np.isfinite(scale) or scale <= 0:
        raise ValueError("the rig's legs have no length")
    align = rest_alignment(heads, rest_rot, conv, set(bone_names))
    return TargetRig(bone_names, rest_rot, heads, anchors, conv, scale, align, tilt=tilt)
