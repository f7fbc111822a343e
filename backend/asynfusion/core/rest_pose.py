"""Rest joint positions of a plausible adult SMPL-X skeleton, with no licensed data.

The one template both sides use: the Blender add-on builds its built-in rig on it, and
the evaluation's forward kinematics uses it when no SMPL-X model file is given.
Proportions are our own (an adult of about 1.75 m in SMPL-X's T-pose). Positions are in
the SMPL-X frame, metres: x to the body's left, y up, z forward.
"""

from __future__ import annotations

import numpy as np

from . import skeleton

# Rest joints standing on the floor (feet at y = 0); the right side mirrors the left.
_LEFT_JOINTS = {
    "pelvis": (0.0, 0.94, 0.0), "left_hip": (0.09, 0.86, 0.0), "spine1": (0.0, 1.05, -0.01),
    "left_knee": (0.10, 0.48, 0.01), "spine2": (0.0, 1.18, -0.01),
    "left_ankle": (0.11, 0.08, -0.03), "spine3": (0.0, 1.25, 0.0), "left_foot": (0.12, 0.02, 0.10),
    "neck": (0.0, 1.47, -0.02), "left_collar": (0.07, 1.41, -0.01), "head": (0.0, 1.56, 0.0),
    "left_shoulder": (0.18, 1.42, -0.02), "left_elbow": (0.44, 1.42, -0.03),
    "left_wrist": (0.69, 1.42, -0.02), "jaw": (0.0, 1.60, 0.02),
    "left_eye_smplhf": (0.032, 1.665, 0.085),
    "left_index1": (0.785, 1.425, 0.025), "left_index2": (0.825, 1.425, 0.025),
    "left_index3": (0.85, 1.425, 0.025),
    "left_middle1": (0.79, 1.425, 0.0), "left_middle2": (0.835, 1.425, 0.0),
    "left_middle3": (0.862, 1.425, 0.0),
    "left_pinky1": (0.77, 1.425, -0.04), "left_pinky2": (0.80, 1.425, -0.04),
    "left_pinky3": (0.818, 1.425, -0.04),
    "left_ring1": (0.782, 1.425, -0.02), "left_ring2": (0.822, 1.425, -0.02),
    "left_ring3": (0.846, 1.425, -0.02),
    "left_thumb1": (0.72, 1.41, 0.03), "left_thumb2": (0.75, 1.40, 0.05),
    "left_thumb3": (0.772, 1.40, 0.065),
}

# Where SMPL-X's own mean body has its pelvis at zero translation: a motion's ``trans``
# is relative to this, so the standing template stands where a motion with translation
# (pelvis - SMPLX_MEAN_PELVIS) stands.
SMPLX_MEAN_PELVIS = np.array([0.003, -0.351, 0.012])


def rest_joints() -> np.ndarray:
    """(55, 3) rest joints standing on the floor, in full-pose joint order."""
    out = np.zeros((skeleton.NUM_JOINTS, 3))
    for j, name in enumerate(skeleton.JOINT_NAMES):
        if name in _LEFT_JOINTS:
            out[j] = _LEFT_JOINTS[name]
        else:
            mirror = _LEFT_JOINTS[name.replace("right_", "left_", 1)]
            out[j] = (-mirror[0], mirror[1], mirror[2])
    return out


def smplx_rest_joints() -> np.ndarray:
    """(55, 3) the same template placed as an SMPL-X model places its joints at zero
    translation (pelvis at SMPLX_MEAN_PELVIS), so FK plus a motion's ``trans`` lands
    where the smplx package would put the joints."""
    joints = rest_joints()
    return joints - (joints[0] - SMPLX_MEAN_PELVIS)
