"""Forward kinematics on the shared template skeleton, and keeping the feet on the floor.

Pure numpy, so the add-on (which bundles core/) and the backend ground motion the same way.
"""

from __future__ import annotations

import numpy as np

from . import rest_pose
from .quaternions import axis_angle_to_matrix
from .skeleton import JOINT_NAMES, NUM_JOINTS, PARENTS

FOOT_JOINTS = tuple(JOINT_NAMES.index(n) for n in ("left_ankle", "right_ankle", "left_foot", "right_foot"))
# How far above the floor the lowest foot joint may float before the body is pulled down.
# Captured BEAT2 standing speech under template FK: the lowest foot joint sits 1.5-7.8 cm above
# the rest pose's floor (1st-99th percentile), so a 6 cm band keeps captured motion untouched.
FLOAT_TOLERANCE = 0.06
GROUNDING_SIGMA = 3.0          # frames: the height correction is low-passed so it never pops


def forward_kinematics(poses: np.ndarray, trans: np.ndarray, rest: np.ndarray | None = None) -> np.ndarray:
    """(N, 165) axis-angle + (N, 3) translation -> (N, 55, 3) joint positions, metres.

    The SMPL-X convention: each joint rotates its subtree about its rest position; the root
    rotates about the pelvis; ``trans`` is added last. ``rest`` (55, 3) defaults to the shared
    template placed as an SMPL-X model places its joints (core.rest_pose.smplx_rest_joints),
    so FK of a zero pose with zero translation gives exactly that template.
    """
    return posed_joints(poses, trans, rest)[0]


def posed_joints(poses: np.ndarray, trans: np.ndarray, rest: np.ndarray | None = None,
                 count: int = NUM_JOINTS) -> tuple[np.ndarray, np.ndarray]:
    """forward_kinematics' positions (N, count, 3) and each joint's world rotation (N, count, 3, 3)
    for the first ``count`` joints (every parent comes before its child: 12 is pelvis to feet)."""
    poses = np.asarray(poses, np.float64)
    n = poses.shape[0]
    rest = rest_pose.smplx_rest_joints() if rest is None else np.asarray(rest, np.float64)
    local = axis_angle_to_matrix(poses.reshape(n, NUM_JOINTS, 3)[:, :count])
    rot = np.empty_like(local)
    pos = np.empty((n, count, 3))
    rot[:, 0] = local[:, 0]
    pos[:, 0] = rest[0]
    for j in range(1, count):
        p = PARENTS[j]
        rot[:, j] = rot[:, p] @ local[:, j]
        pos[:, j] = pos[:, p] + rot[:, p] @ (rest[j] - rest[p])
    return pos + np.asarray(trans, np.float64)[:, None, :], rot


def floor_height() -> float:
    """Height of the lowest foot joint of the template standing in its rest pose."""
    return float(rest_pose.rest_joints()[list(FOOT_JOINTS), 1].min())


def lowest_foot(poses: np.ndarray, trans: np.ndarray, chunk: int = 8192) -> np.ndarray:
    """(N,) height of the lowest foot joint per frame (template FK, in chunks: an hour is 108k frames)."""
    out = [forward_kinematics(poses[a:a + chunk], trans[a:a + chunk])[:, list(FOOT_JOINTS), 1].min(1)
           for a in range(0, len(poses), chunk)]
    return np.concatenate(out) if out else np.zeros(0)


def gaussian(x: np.ndarray, sigma: float) -> np.ndarray:
    """(N,) or (N, D) low-passed along N by a Gaussian of ``sigma`` frames, ends held."""
    if sigma <= 0 or len(x) < 2:
        return x
    if x.ndim > 1:
        return np.stack([gaussian(x[:, k], sigma) for k in range(x.shape[1])], 1)
    r = int(np.ceil(3 * sigma))
    k = np.exp(-0.5 * (np.arange(-r, r + 1) / sigma) ** 2)
    k /= k.sum()
    padded = np.pad(x, r, mode="edge")
    return np.convolve(padded, k, mode="valid")


def ground(poses: np.ndarray, trans: np.ndarray, tolerance: float = FLOAT_TOLERANCE,
           sigma: float = GROUNDING_SIGMA) -> np.ndarray:
    """Translation moved vertically so the lowest foot joint stays on the floor.

    A foot below the floor lifts the body; a body whose lowest foot floats more than
    ``tolerance`` above it is lowered; in between nothing moves (standing speakers shift
    their weight and the capture's feet do the same). The correction is smoothed over
    ``sigma`` frames and then re-checked so no frame ends below the floor.
    """
    trans = np.array(trans, np.float64, copy=True)
    if len(trans) == 0:
        return trans
    low = lowest_foot(poses, trans)
    floor = floor_height()
    wanted = np.clip(low, floor, floor + tolerance) - low
    fix = gaussian(wanted, sigma)
    fix += np.maximum(0.0, floor - (low + fix))      # smoothing must not push a foot into the floor
    trans[:, 1] += fix
    return trans
