"""Augmentations of whole takes: the speaker mirrored, and speech and motion time-stretched.

Mirror: the speaker reflected across the body's YZ plane.

Reflecting across the YZ plane (x -> -x) swaps left and right joints
(core.skeleton.MIRROR, hands included) and maps an axis-angle rotation
(x, y, z) to (x, -y, -z): a rotation axis is a pseudovector, so under the
reflection M = diag(-1, 1, 1) it becomes det(M) * M a. Root translation maps
x -> -x. FLAME expression coefficients are left as they are: the expression
basis has no published left/right pairing, most of its energy is in symmetric
components (jaw, lips, brows), and a wrong swap would be worse than none.
"""

from __future__ import annotations

import numpy as np

from ..core.quaternions import axis_angle_to_quat, make_continuous, quat_to_axis_angle, slerp
from ..core.skeleton import MIRROR, NUM_JOINTS

_AA_SIGN = np.array([1.0, -1.0, -1.0], np.float32)


def mirror_poses(poses: np.ndarray) -> np.ndarray:
    """(..., N, 165) axis-angle -> the mirrored speaker's poses."""
    aa = poses.reshape(poses.shape[:-1] + (NUM_JOINTS, 3))
    return (aa[..., list(MIRROR), :] * _AA_SIGN).reshape(poses.shape).astype(poses.dtype)


def mirror_trans(trans: np.ndarray) -> np.ndarray:
    out = np.array(trans, copy=True)
    out[..., 0] = -out[..., 0]
    return out


def mirror_motion(poses: np.ndarray, expressions: np.ndarray, trans: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mirror a whole take; applying it twice gives the take back exactly."""
    return mirror_poses(poses), np.array(expressions, copy=True), mirror_trans(trans)


def stretch_positions(frames: int, rate: float) -> np.ndarray:
    """Where (fractional source frames) the frames of a take played ``rate`` times as fast fall."""
    if not 0.5 <= rate <= 2.0:
        raise ValueError(f"a time-stretch rate must be between 0.5 and 2, not {rate}")
    count = max(1, int(np.floor((frames - 1) / rate)) + 1)
    return np.minimum(np.arange(count) * rate, frames - 1)


def resample_linear(x: np.ndarray, pos: np.ndarray) -> np.ndarray:
    """(N, ...) sampled at fractional frames ``pos`` by linear interpolation."""
    i0 = np.floor(pos).astype(int)
    i1 = np.minimum(i0 + 1, len(x) - 1)
    w = (pos - i0).reshape((-1,) + (1,) * (x.ndim - 1))
    return ((1 - w) * x[i0] + w * x[i1]).astype(x.dtype)


def resample_poses(poses: np.ndarray, pos: np.ndarray) -> np.ndarray:
    """(N, 165) axis-angle sampled at fractional frames by slerp (joint rotations are not linear)."""
    q = make_continuous(axis_angle_to_quat(poses.reshape(len(poses), NUM_JOINTS, 3).astype(np.float64)))
    i0 = np.floor(pos).astype(int)
    i1 = np.minimum(i0 + 1, len(poses) - 1)
    t = np.broadcast_to((pos - i0)[:, None], (len(pos), NUM_JOINTS))
    return quat_to_axis_angle(slerp(q[i0], q[i1], t)).reshape(len(pos), -1).astype(poses.dtype)
