"""Planted feet: which foot is on the floor, and motion corrected so a planted foot stays put.

The network predicts the root's position and every joint's rotation separately, so nothing
ties a foot on the floor to one spot: the pelvis sways and the feet slide with it (v5.1 on a
take it never heard: 28 cm/s median, the capture 1.3 cm/s). ``plant_feet`` fixes that after
decoding, for every rig alike (the add-on retargets the result):

1. **Contacts** from the motion itself: a foot is planted while its ball (SMPL-X ``*_foot``)
   is within ``CONTACT_MARGIN`` of its own lowest height in the clip, with a little hysteresis
   so a foot does not flicker on and off the floor.
2. **Root from the planted feet**: while a foot stays planted, the root moves opposite to the
   foot's motion relative to the root, so the foot stands still and the body moves over it;
   with no planted foot the root keeps the model's own motion. What that changes is band-passed:
   slower than ``ANCHOR_SIGMA`` it returns to where the model put the root, so it cannot drift
   however long the clip; faster than ``ROOT_SIGMA`` (the legs' frame-to-frame texture) it is left
   to step 3, or the whole body would shake with the feet's jitter.
3. **Leg IK**: each planted foot's ball is held at one spot per contact (two-bone IK on hip and
   knee, the ankle keeping its world orientation), taken there and let go over ``AIR_EASE``
   frames while the foot is in the air, so it stands still from touch-down to lift-off and the
   knee does not snap; a contact longer than the leg can follow is split where its spot
   would move more than ``MAX_REACH``, so the foot takes a small shuffle instead of the leg
   stretching.

Pure numpy (core/): the backend plants generated motion with it, and the add-on's retargeting
holds the same contacts again on a character whose legs, hips and feet are proportioned
differently from SMPL-X's (bake/retarget.py).
"""

from __future__ import annotations

import numpy as np

from .kinematics import gaussian, ground, posed_joints
from .quaternions import matrix_to_quat, quat_to_axis_angle

HIPS, KNEES, ANKLES, BALLS = (1, 2), (4, 5), (7, 8), (10, 11)   # left, right (SMPL-X joint indices)
PELVIS = 0
LEG_COUNT = 12            # joints 0-11: the pelvis, legs and feet with every parent (SMPL-X order)
CONTACT_MARGIN = 0.05     # m above the foot's own lowest height that still counts as on the floor
RELEASE_MARGIN = 0.06     # m: a planted foot is lifted only above this (hysteresis)
FLOOR_PERCENTILE = 2.0    # the foot's "lowest height": robust to a few frames of noise
ANCHOR_SIGMA = 60.0       # frames: slower root changes than this return to the model's own root
ROOT_SIGMA = 3.0          # frames: faster root changes than this are left to the legs' IK (else the body shakes)
EASE = 4                  # frames over which a long stance's spot shuffles on
AIR_EASE = 6              # frames in the air over which a foot is taken to its spot or let go of it
MAX_REACH = 0.15          # m a held spot may lie from where the leg puts the foot before it moves on
MIN_CONTACT = 3           # frames: a shorter touch is not a contact
# ANCHOR_SIGMA and ROOT_SIGMA were chosen looking at the shipped student's motion for 2_scott_0_2_2's
# audio (fold A's held-out take in bench/FOLDS.md); MAX_REACH on the two bundled LibriSpeech clips
# (2 seeds each: planted feet sliding on 6-11 % of frames, the capture's 7-10 %); EASE on the three
# non-BEAT2 clips AIR_EASE names (3 seeds each, v5.6 weights): a shuffle over 2 frames (a Gaussian of sigma 1)
# snapped a knee (jerk > 0.1) on 0.35 % of frames, over 4 on 0.11 %, over 6 on 0.11 % with more
# sliding (planted frames sliding: at most 8 / 12 / 16 %); on the folds, once the legs took their
# posture from the match, 2 frames snapped at nearly every shuffle (0.3 %, the capture 0-0.08 %); AIR_EASE on
# three non-BEAT2 clips (5703-47212-0000, 3436-172162-0000, arctic_a0007; 2 seeds each): leg
# rotation jerk p99 0.080 at 2 frames, 0.057 at 4, 0.055 at 6, 0.055 at 9.


def contacts(joints: np.ndarray) -> np.ndarray:
    """(N, 2) bool: left and right foot planted per frame, from (N, 55, 3) joints (Y up)."""
    return contacts_from_heights(joints[:, list(BALLS), 1])


def contacts_from_heights(heights: np.ndarray, margin: float = CONTACT_MARGIN,
                          release: float = RELEASE_MARGIN) -> np.ndarray:
    """(N, 2) bool from the (N, 2) heights of the balls of the feet. Each foot is measured from
    its own lowest height (a speaker's feet rest at slightly different heights), but a foot whose
    lowest height is above the other foot's floor by more than ``margin`` never touches it."""
    out = np.zeros(heights.shape, bool)
    floor = np.percentile(heights.min(1), FLOOR_PERCENTILE)
    for f in range(2):
        own = np.percentile(heights[:, f], FLOOR_PERCENTILE)
        if own - floor > margin:
            continue
        h = heights[:, f] - own
        on = False
        for t, v in enumerate(h):
            on = v <= (release if on else margin)
            out[t, f] = on
        out[:, f] = _drop_short(out[:, f], MIN_CONTACT)
    return out


def runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """[start, end) of every run of True in a 1-D bool array."""
    edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)))


def _drop_short(mask: np.ndarray, shortest: int) -> np.ndarray:
    mask = mask.copy()
    for a, b in runs(mask):
        if b - a < shortest:
            mask[a:b] = False
    return mask


def root_over_planted_feet(joints: np.ndarray, trans: np.ndarray, planted: np.ndarray,
                           anchor_sigma: float = ANCHOR_SIGMA, root_sigma: float = ROOT_SIGMA) -> np.ndarray:
    """(N, 3) translation whose horizontal motion keeps planted feet still (step 2 above)."""
    trans = np.asarray(trans, np.float64)
    balls = joints[:, list(BALLS)][:, :, [0, 2]] - trans[:, None, [0, 2]]     # feet relative to the root
    held = (planted[1:] & planted[:-1]).astype(np.float64)[..., None]          # (N-1, 2, 1)
    count = held.sum(1)
    foot_step = -(np.diff(balls, axis=0) * held).sum(1) / np.maximum(count, 1.0)
    step = np.where(count > 0, foot_step, np.diff(trans[:, [0, 2]], axis=0))
    path = trans[:1, [0, 2]] + np.concatenate([np.zeros((1, 2)), np.cumsum(step, 0)])
    change = path - trans[:, [0, 2]]
    out = trans.copy()
    out[:, [0, 2]] += gaussian(change, root_sigma) - gaussian(change, anchor_sigma)
    return out


def _axis_rotation(axis: np.ndarray, angle: np.ndarray) -> np.ndarray:
    """(F, 3, 3) rotations by ``angle`` about ``axis`` (Rodrigues)."""
    k = _unit(axis)
    kx = np.zeros(k.shape[:1] + (3, 3))
    kx[:, 0, 1], kx[:, 0, 2], kx[:, 1, 2] = -k[:, 2], k[:, 1], -k[:, 0]
    kx = kx - kx.transpose(0, 2, 1)
    eye = np.broadcast_to(np.eye(3), kx.shape)
    return eye + np.sin(angle)[:, None, None] * kx + (1 - np.cos(angle))[:, None, None] * (kx @ kx)


def _rotation_between(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(F, 3, 3) smallest rotations taking unit vectors a to unit vectors b."""
    return _axis_rotation(np.cross(a, b), np.arccos(np.clip((a * b).sum(-1), -1.0, 1.0)))


def two_bone_ik(hip: np.ndarray, knee: np.ndarray, ankle: np.ndarray, hinge: np.ndarray,
                target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """World-space (swing, bend) rotations (F, 3, 3) that put the ankle on ``target`` (F, 3):
    ``bend`` turns the shin about the knee in the leg's own plane to the right hip-ankle
    distance, then ``swing`` turns the whole leg about the hip onto the target (new hip world
    rotation: swing @ hip's, new knee's: swing @ bend @ knee's). ``hinge`` (F, 3): the knee's
    own x axis in world space, about which it flexes. Out of reach, the leg stretches as far as
    it can towards it."""
    upper, lower = knee - hip, ankle - knee
    a, b = np.linalg.norm(upper, axis=-1), np.linalg.norm(lower, axis=-1)
    d = np.clip(np.linalg.norm(target - hip, axis=-1), np.abs(a - b) + 1e-4, (a + b) * 0.9995)
    interior = np.arccos(np.clip(((-upper) * lower).sum(-1) / (a * b), -1.0, 1.0))   # angle at the knee
    wanted = np.arccos(np.clip((a * a + b * b - d * d) / (2 * a * b), -1.0, 1.0))
    # The bend stays in the leg's own plane, on the side the knee is already bent to: forcing a
    # knee that is a little past straight over to the other side made it jump between frames.
    normal = np.cross(-upper, lower)
    flat = np.linalg.norm(normal, axis=-1) < 1e-6 * a * b
    normal[flat] = -hinge[flat]                     # a straight knee bends forward (it flexes about +x)
    bend = _axis_rotation(normal, wanted - interior)
    new_ankle = knee + np.einsum("fij,fj->fi", bend, lower)
    return _rotation_between(_unit(new_ankle - hip), _unit(target - hip)), bend


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-12)


def _held_spots(ball: np.ndarray, a: int, b: int, reach: float) -> np.ndarray:
    """(b - a, D) where the ball (N, D) is held over contact [a, b): one spot, moved on (a
    shuffle of EASE frames) wherever the foot's own path leaves it by more than ``reach``."""
    spots = np.empty((b - a, ball.shape[1]))
    start = a
    while start < b:
        end = start + 1
        total = ball[start].copy()          # a running sum: an hour-long stance stays linear
        while end < b and np.linalg.norm(ball[end] - total / (end - start)) <= reach:
            total += ball[end]
            end += 1
        spots[start - a:end - a] = total / (end - start)
        start = end
    # a quick shuffle, not a jump; a contact of 2 * EASE frames or fewer is too short to ease in
    # (a shuffle there needs the foot to move more than ``reach`` within a quarter of a second)
    return gaussian(spots, EASE / 2.0) if b - a > 2 * EASE else spots


def _ramp(n: int) -> np.ndarray:
    """n weights rising smoothly from near 0 to near 1 (a half cosine, ends excluded)."""
    return 0.5 - 0.5 * np.cos(np.pi * np.arange(1, n + 1) / (n + 1))


def _fill_gap(shift: np.ndarray, touched: np.ndarray, a: int, b: int, before: np.ndarray | None,
              after: np.ndarray | None, ease: int) -> None:
    """Ease the hold's shift over the airborne frames [a, b) between two contacts (None: no
    contact on that side): a short gap carries the foot from one contact's spot to the next's,
    a long one lets go of the first over ``ease`` frames and takes up the next over ``ease``."""
    n = b - a
    if before is not None and after is not None and n <= 2 * ease:
        w = _ramp(n)[:, None]
        shift[a:b] = (1 - w) * before + w * after
        touched[a:b] = True
        return
    k = min(ease, n)
    if before is not None:
        shift[a:a + k] += (1 - _ramp(ease)[:k, None]) * before
        touched[a:a + k] = True
    if after is not None:
        shift[b - k:b] += _ramp(ease)[ease - k:, None] * after
        touched[b - k:b] = True


def hold_shift(ball: np.ndarray, planted: np.ndarray, up: np.ndarray, reach: float = MAX_REACH
               ) -> tuple[np.ndarray, np.ndarray]:
    """(frames, (F, 3) shifts): how far the ball (N, 3) must move along the floor (``up``
    removed) to stay on its contact's spot while planted; ``reach``: MAX_REACH in the ball's
    units (a rig in centimetres: 15, not 0.15). The shift is eased in and out while the foot is
    in the air (AIR_EASE frames before touch-down and after lift-off): easing inside the contact
    made the planted foot slide, and easing over two frames made the knee snap at touch-down."""
    flat = ball - np.outer(ball @ up, up)
    shift = np.zeros_like(flat)
    touched = np.asarray(planted, bool).copy()
    contacts_ = runs(planted)
    for a, b in contacts_:
        shift[a:b] = _held_spots(flat, a, b, reach) - flat[a:b]
    edges = [0] + [e for ab in contacts_ for e in ab] + [len(ball)]
    for i in range(len(contacts_) + 1):
        a, b = edges[2 * i], edges[2 * i + 1]
        if b > a:
            _fill_gap(shift, touched, a, b, shift[a - 1].copy() if i > 0 else None,
                      shift[b].copy() if i < len(contacts_) else None, AIR_EASE)
    frames = np.flatnonzero(touched)
    return frames, shift[frames]


def plant_feet(poses: np.ndarray, trans: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(poses, trans) with planted feet standing still (steps 1-3 above); float32 like the input."""
    poses64 = np.array(poses, np.float64)
    if len(poses64) < 2:
        return np.asarray(poses, np.float32), np.asarray(trans, np.float32)
    joints, _ = posed_joints(poses64, trans, count=LEG_COUNT)   # an hour of motion: 0.1 GB, not 1 GB
    planted = contacts(joints)
    trans64 = root_over_planted_feet(joints, trans, planted)
    joints, rot = posed_joints(poses64, trans64, count=LEG_COUNT)
    local = poses64.reshape(len(poses64), -1, 3)
    for f in range(2):
        hip, knee, ankle, ball = HIPS[f], KNEES[f], ANKLES[f], BALLS[f]
        frames, shift = hold_shift(joints[:, ball], planted[:, f], np.array([0.0, 1.0, 0.0]))
        if not len(frames):
            continue
        target = joints[frames, ankle] + shift        # the ankle moves as the ball must; heights kept
        swing, bend = two_bone_ik(joints[frames, hip], joints[frames, knee], joints[frames, ankle],
                                  rot[frames, knee][:, :, 0], target)   # a straight knee bends about its x axis
        r_hip, r_knee = swing @ rot[frames, hip], swing @ bend @ rot[frames, knee]
        parent = rot[frames, PELVIS]
        local[frames, hip] = _axis_angle(parent.transpose(0, 2, 1) @ r_hip)
        local[frames, knee] = _axis_angle(r_hip.transpose(0, 2, 1) @ r_knee)
        local[frames, ankle] = _axis_angle(r_knee.transpose(0, 2, 1) @ rot[frames, ankle])
    out = local.reshape(poses64.shape)
    # a leg that cannot reach its spot lifts its foot a little: keep the body on the floor as
    # decoding does (ground() leaves frames with a foot on the floor as they are)
    return out.astype(np.float32), ground(out, trans64).astype(np.float32)


def _axis_angle(m: np.ndarray) -> np.ndarray:
    return quat_to_axis_angle(matrix_to_quat(m))
