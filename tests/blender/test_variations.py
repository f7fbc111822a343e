"""N variations from the panel (issue 13, point 3): one Generate with Variations = 3 asks the real
worker once (shipped weights, the bundled speech) and bakes three takes, one per seed, in one
undo step."""

import os

import bpy
import numpy as np

from asynfusion_blender import operators, takes
from asynfusion_blender.core import motion_file


def test_three_variations_are_three_takes_from_one_request(scene, tmp_path, monkeypatch):
    armature, _ = scene
    bpy.ops.wm.save_as_mainfile(filepath=str(tmp_path / "scene.blend"))
    settings = bpy.context.scene.asynfusion
    settings.seed, settings.variations = 2, 3
    sent = []
    original = operators.generation.generate_request
    monkeypatch.setattr(operators.generation, "generate_request", lambda *a, **k: sent.append(a) or original(*a, **k))
    bpy.ops.ed.undo_push(message="before")
    assert bpy.ops.asynfusion.generate('EXEC_DEFAULT', True) == {'FINISHED'}
    assert len(sent) == 1                                            # one worker request for all three
    found = sorted(takes.all_takes(), key=lambda t: t.seed)
    names = [f"5703-47212-0000-seed{k}" for k in (2, 3, 4)]
    assert [(t.name, t.seed) for t in found] == list(zip(names, (2, 3, 4)))
    assert all(os.path.isfile(t.motion) for t in found)
    poses = [motion_file.read_motion(t.motion).poses for t in found]
    assert not np.array_equal(poses[0], poses[1]) and not np.array_equal(poses[1], poses[2])
    assert armature.animation_data.action.name == f"{names[-1]} body"
    assert operators.JOB.current_summary().startswith("3 takes; Baked 356 frames")
    assert bpy.ops.ed.undo() == {'FINISHED'}                         # one undo step takes all three away
    assert takes.all_takes() == []
