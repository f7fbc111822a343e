"""batch.py on the scene a test has built: saved to a .blend, then run as a user runs it."""

import os
import subprocess
import sys

import bpy

from conftest import REPO

SCRIPT = os.path.join(REPO, "asynfusion_blender", "batch.py")


def batch_runner(tmp_path, motion, rig, name="scene.blend"):
    """Save the open scene to ``tmp_path/name``; returns run(*args): batch.py --blend it --motion
    ``motion`` --rig ``rig`` and ``args``, as a finished subprocess (stdout, stderr as text)."""
    scene_file = tmp_path / name
    bpy.ops.wm.save_as_mainfile(filepath=str(scene_file))

    def run(*args):
        return subprocess.run([sys.executable, SCRIPT, "--blend", str(scene_file), "--motion", motion,
                               "--rig", rig, *args], capture_output=True, text=True, cwd=tmp_path, timeout=600)
    return run
