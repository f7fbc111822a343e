"""A motion's face as a Live Link Face CSV, the take format Epic's iPhone app exports.

Why this layout: Unreal's Live Link Face importer, MetaHuman tools and many Blender/Unity
importers read these files, so an ARKit track written this way plays on their characters.
Columns, as the app writes them: ``Timecode`` (HH:MM:SS:FF.mmm, FF the frame within the
second), ``BlendShapeCount`` (61), the 52 ARKit shapes in Apple's order spelled with a
capital first letter (``EyeBlinkLeft`` ...), then ``HeadYaw, HeadPitch, HeadRoll`` and
``LeftEyeYaw/Pitch/Roll``, ``RightEyeYaw/Pitch/Roll``.

Angles are radians. The head's is its turn relative to the chest (spine, neck and head
rotations of the motion composed, so a body turning in place does not turn the face's
camera); the eyes' are their own joints' rotations. Yaw is about the up axis (+ towards
the character's left), pitch about the left axis (+ looking down), roll about the forward
axis, each from the yaw-pitch-roll decomposition of the SMPL-X (Y up, Z forward) rotation.
"""

from __future__ import annotations

import os

import numpy as np

from . import arkit, skeleton
from .output import replacing
from .quaternions import axis_angle_to_matrix

ANGLE_COLUMNS = ("HeadYaw", "HeadPitch", "HeadRoll", "LeftEyeYaw", "LeftEyePitch", "LeftEyeRoll",
                 "RightEyeYaw", "RightEyePitch", "RightEyeRoll")
SHAPE_COLUMNS = tuple(name[0].upper() + name[1:] for name in arkit.ARKIT_NAMES)
HEADER = ("Timecode", "BlendShapeCount") + SHAPE_COLUMNS + ANGLE_COLUMNS
COUNT = len(SHAPE_COLUMNS) + len(ANGLE_COLUMNS)         # 61, as the app writes
_HEAD_CHAIN = ("spine1", "spine2", "spine3", "neck", "head")


def yaw_pitch_roll(matrices: np.ndarray) -> np.ndarray:
    """(..., 3, 3) rotations -> (..., 3) yaw (about Y), pitch (about X), roll (about Z): R = Ry Rx Rz."""
    m = np.asarray(matrices, np.float64)
    pitch = np.arcsin(np.clip(-m[..., 1, 2], -1.0, 1.0))
    yaw = np.arctan2(m[..., 0, 2], m[..., 2, 2])
    roll = np.arctan2(m[..., 1, 0], m[..., 1, 1])
    return np.stack([yaw, pitch, roll], -1)


def head_and_eye_angles(joint_rotations: np.ndarray) -> np.ndarray:
    """(N, 55, 3) axis-angle poses -> (N, 9) head, left eye, right eye yaw/pitch/roll (radians)."""
    local = axis_angle_to_matrix(np.asarray(joint_rotations, np.float64))
    names = skeleton.JOINT_NAMES
    head = np.broadcast_to(np.eye(3), local.shape[:1] + (3, 3))
    for name in _HEAD_CHAIN:
        head = head @ local[:, names.index(name)]
    eyes = [local[:, names.index(n)] for n in ("left_eye_smplhf", "right_eye_smplhf")]
    return np.concatenate([yaw_pitch_roll(head)] + [yaw_pitch_roll(e) for e in eyes], 1)


def timecodes(frames: int, fps: float) -> list[str]:
    """HH:MM:SS:FF.mmm for each frame from zero, FF counted at the rounded frame rate."""
    per_second = max(1, int(round(fps)))
    out = []
    for k in range(frames):
        seconds, frame = divmod(k, per_second)
        hours, rest = divmod(seconds, 3600)
        out.append(f"{hours:02d}:{rest // 60:02d}:{rest % 60:02d}:{frame:02d}.000")
    return out


def livelink_text(weights: np.ndarray, angles: np.ndarray, fps: float) -> str:
    """The CSV text: header, then one row per frame."""
    w = np.asarray(weights, np.float64)
    a = np.asarray(angles, np.float64)
    if w.shape[1:] != (arkit.NUM_ARKIT,) or a.shape != (len(w), len(ANGLE_COLUMNS)):
        raise ValueError(f"need (N, {arkit.NUM_ARKIT}) weights and (N, {len(ANGLE_COLUMNS)}) angles")
    if not (np.all(np.isfinite(w)) and np.all(np.isfinite(a))):
        raise ValueError("the face track holds NaN or infinite values; no CSV was written")
    lines = [",".join(HEADER)]
    values = np.concatenate([w, a], 1)
    for code, row in zip(timecodes(len(w), fps), values):
        lines.append(f"{code},{COUNT}," + ",".join(f"{v:.6f}" for v in row))
    return "\n".join(lines) + "\n"


def write_livelink(path: str | os.PathLike, weights: np.ndarray, joint_rotations: np.ndarray, fps: float) -> None:
    """Write the CSV atomically (core/output.py): the old file or the whole new one, never half."""
    text = livelink_text(weights, head_and_eye_angles(joint_rotations), fps)
    with replacing(path) as tmp, open(tmp, "w", encoding="utf-8", newline="") as f:
        f.write(text)
