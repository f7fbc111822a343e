"""Mirror augmentation: the speaker reflected across the body's YZ plane.

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
