"""A motion's ARKit face track, in one place for the add-on's bake and the CLI's outputs.

Why shared: a face baked in Blender, the ``arkit`` arrays written into a motion file and a
Live Link Face CSV must be the same numbers for the same motion, so all of them come from
``arkit_track`` (the fitted FLAME -> ARKit read-out plus the procedural blinks, gaze and
brows, seeded by the motion's own seed).
"""

from __future__ import annotations

import numpy as np

from . import arkit, face_motion, skeleton
from .motion_file import Motion


def motion_seed(motion: Motion) -> int:
    """The generation seed stored in the motion's metadata (0 for captures and odd values)."""
    seed = motion.meta.get("seed", 0)
    return seed if isinstance(seed, int) and not isinstance(seed, bool) and seed >= 0 else 0


def arkit_track(motion: Motion, seed: int | None = None) -> np.ndarray:
    """(N, 52) ARKit weights in [0, 1], Apple's order (arkit.ARKIT_NAMES)."""
    jaw = motion.joint_rotations()[:, skeleton.JAW]
    weights = arkit.flame_to_arkit(motion.expressions, jaw)
    return face_motion.procedural_face(weights, float(motion.fps), motion_seed(motion) if seed is None else seed)


def with_arkit(motion: Motion) -> Motion:
    """The motion with its ARKit track attached (``arkit``, ``arkit_names``), float32."""
    motion.arkit = arkit_track(motion).astype(np.float32)
    motion.arkit_names = arkit.ARKIT_NAMES
    return motion


def write_face_outputs(motion_path: str, arkit_arrays: bool, livelink_path: str | None) -> list[str]:
    """After generation: add the ARKit track to the motion file and/or write a Live Link Face CSV.
    Returns one line per file written."""
    from .livelink import write_livelink
    from .motion_file import read_motion, write_motion

    motion = with_arkit(read_motion(motion_path))
    lines = []
    if arkit_arrays:
        write_motion(motion_path, motion)
        lines.append(f"{motion_path}: ARKit weights added (arkit, arkit_names; {motion.num_frames} x 52)")
    if livelink_path:
        assert motion.arkit is not None     # with_arkit attached it
        write_livelink(livelink_path, motion.arkit, motion.joint_rotations(), float(motion.fps))
        lines.append(f"{livelink_path}: Live Link Face CSV, {motion.num_frames} rows at {motion.fps:g} fps")
    return lines
