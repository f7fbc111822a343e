"""Regenerate a take's frame range from the panel (issue 13, point 3): the real operator, the real
worker and shipped weights, the bundled speech. The new take keeps every motion frame outside the
timeline's preview range bit for bit, and bad input is one sentence with nothing changed."""

import os

import bpy
import numpy as np
import pytest

from conftest import assert_range_regenerated, scene_state
from asynfusion_blender import takes
from asynfusion_blender.bake import action_support


@pytest.fixture
def generated(scene, tmp_path):
    """A saved .blend (so the take's motion file is kept beside it) with one generated take."""
    bpy.ops.wm.save_as_mainfile(filepath=str(tmp_path / "scene.blend"))
    bpy.context.scene.asynfusion.seed = 0
    assert bpy.ops.asynfusion.generate() == {'FINISHED'}
    return scene, takes.all_takes()[0]


def _keys(action: bpy.types.Action, owner) -> dict:
    return {(c.data_path, c.array_index): np.array([tuple(k.co) for k in c.keyframe_points])
            for c in action_support.action_curves(action, owner)}


def test_the_preview_range_of_a_take_is_regenerated_into_a_new_take(generated):
    (armature, _body), old = generated
    scene = bpy.context.scene
    assert old.recording.endswith("5703-47212-0000.ogg") and os.path.isfile(old.motion)
    old_keys = _keys(armature.animation_data.action, armature)
    scene.use_preview_range, scene.frame_preview_start, scene.frame_preview_end = True, 101, 180
    scene.asynfusion.seed = 7
    assert bpy.ops.asynfusion.take_regenerate(take=old.id) == {'FINISHED'}
    new = takes.all_takes()[0]
    # scene frames 101-180 at 24 fps from frame 1 are motion frames 125-225 at 30 fps; the name
    # speaks the timeline's frames, as the preview range shows them
    assert new.name == "5703-47212-0000-seed7-frames101-180" and new.seed == 7 and new.start == old.start
    assert new.label() == "seed7-frames101-180"       # the list shows what tells it from the other takes
    assert scene.asynfusion.seed == 8                 # pressing it again resamples with the next seed
    assert old.name.endswith(old.label())
    assert_range_regenerated(old.motion, new.motion, 125, 225)
    # the rig plays the new take; its keys match the old take's away from the range
    assert armature.animation_data.action.name == f"{new.name} body"
    new_keys = _keys(armature.animation_data.action, armature)
    for curve, keys in old_keys.items():
        outside = (keys[:, 0] < 99) | (keys[:, 0] > 182)
        assert np.allclose(keys[outside], new_keys[curve][outside], atol=1e-6), curve
    assert {old.id, new.id} <= {t.id for t in takes.all_takes()}


@pytest.mark.parametrize("preview,words", [
    (None, r"Set a preview range first \(Ctrl\+Alt\+P over the timeline\)\.$"),
    ((300, 900), "are not inside take 5703-47212-0000-seed0"),
    ((0, 10), "frames 1-356"),        # begins before the take (Blender keeps a preview end >= its start)
])
def test_a_range_that_is_not_in_the_take_is_one_sentence_and_changes_nothing(generated, preview, words):
    _, old = generated
    scene = bpy.context.scene
    scene.use_preview_range = preview is not None
    if preview is not None:
        scene.frame_preview_start, scene.frame_preview_end = preview
    before = scene_state()
    with pytest.raises(RuntimeError, match=words):
        bpy.ops.asynfusion.take_regenerate(take=old.id)
    assert scene_state() == before and len(takes.all_takes()) == 1


def test_a_take_baked_from_a_file_or_whose_motion_is_gone_is_one_sentence(generated, short_take):
    _, old = generated
    scene = bpy.context.scene
    scene.use_preview_range, scene.frame_preview_start, scene.frame_preview_end = True, 10, 20
    assert bpy.ops.asynfusion.bake_motion('EXEC_DEFAULT', True, filepath=short_take) == {'FINISHED'}
    baked = takes.all_takes()[0]
    with pytest.raises(RuntimeError, match="was baked from a motion file"):
        bpy.ops.asynfusion.take_regenerate(take=baked.id)
    os.unlink(old.motion)
    with pytest.raises(RuntimeError, match="save the .blend and generate the take again"):
        bpy.ops.asynfusion.take_regenerate(take=old.id)
    assert len(takes.all_takes()) == 2


def test_regenerate_is_greyed_out_with_its_reason_while_a_generation_runs(addon):
    from asynfusion_blender import operators
    operators.JOB.start()
    try:
        assert not bpy.ops.asynfusion.take_regenerate.poll()
    finally:
        operators.JOB.end()
    assert bpy.ops.asynfusion.take_regenerate.poll()
