"""A .blend with a take is saved at most half the size it was (issue 23 item 9): Blender writes it,
then the add-on writes it once more compressed. Real Blender, the built-in character (its head's
53 shape keys), a real 60 s BEAT2 take baked, real saves and opens; sizes are measured against the
same scene saved uncompressed in the same run, never against a stored number."""

import os

import bpy
import pytest

from conftest import TAKE
from asynfusion_blender import save_size, takes
from asynfusion_blender.bake import action_support

if not os.path.isfile(TAKE):
    pytest.skip(f"needs the BEAT2 take {TAKE}", allow_module_level=True)


@pytest.fixture
def one_take(tmp_path):
    """The desktop app's start (the startup file), the built-in character and one 60 s take."""
    import asynfusion_blender
    from asynfusion_blender.core import motion_file
    bpy.ops.wm.read_factory_settings(use_empty=False)
    assert bpy.ops.preferences.addon_enable(module="asynfusion_blender") == {'FINISHED'}
    full = motion_file.read_motion(TAKE)
    motion = str(tmp_path / "speech.npz")
    motion_file.write_motion(motion, motion_file.Motion(full.poses[:1800], full.expressions[:1800],
                                                        full.trans[:1800]))
    assert bpy.ops.asynfusion.create_rig() == {'FINISHED'}
    assert bpy.ops.asynfusion.bake_motion('EXEC_DEFAULT', True, filepath=motion) == {'FINISHED'}
    yield motion
    bpy.ops.preferences.addon_disable(module="asynfusion_blender")
    assert "asynfusion_blender" not in bpy.context.preferences.addons and asynfusion_blender


def _uncompressed_copy(path):
    bpy.ops.wm.save_as_mainfile(filepath=path, copy=True, compress=False)
    assert not save_size.is_compressed(path)            # Save Copy is left as written
    return os.path.getsize(path)


def _scene():
    take = takes.all_takes()
    body = bpy.data.objects["AsynFusion body"]
    return ([t.name for t in take],
            sorted((a.name, len(action_support.action_curves(a)), sum(len(c.keyframe_points)
                                                                   for c in action_support.action_curves(a)))
                   for a in bpy.data.actions),
            len(body.data.vertices), len(body.data.shape_keys.key_blocks))


def test_a_file_with_a_take_is_saved_at_most_half_the_size_and_opens_whole(one_take, tmp_path):
    baseline = _uncompressed_copy(str(tmp_path / "uncompressed.blend"))
    assert baseline > 40e6                      # a minute's keys and the head's keys: tens of MB
    before = _scene()
    path = str(tmp_path / "take.blend")
    # compress=False: as Blender 4.2-4.5 write a new file, and 4.2 any file a script saves
    assert bpy.ops.wm.save_as_mainfile(filepath=path, compress=False) == {'FINISHED'}
    assert save_size.is_compressed(path) and os.path.getsize(path) <= 0.5 * baseline
    assert not os.path.exists(path + "1") and bpy.data.filepath == path
    bpy.ops.wm.open_mainfile(filepath=path)
    assert _scene() == before
    # Saved again: still compressed, and the backup (.blend1) is the version before, not the
    # uncompressed write of this save.
    with open(path, "rb") as fh:
        first = fh.read()
    assert bpy.ops.asynfusion.take_keep(take=takes.all_takes()[0].id, keep=True) == {'FINISHED'}
    assert bpy.ops.wm.save_mainfile(compress=False) == {'FINISHED'}
    assert save_size.is_compressed(path) and os.path.getsize(path) <= 0.5 * baseline
    with open(path + "1", "rb") as fh:
        assert fh.read() == first


def test_files_without_takes_and_the_preference_off_are_left_as_written(one_take, tmp_path):
    prefs = bpy.context.preferences.addons["asynfusion_blender"].preferences
    prefs.compress_saves = False
    try:
        path = str(tmp_path / "off.blend")
        assert bpy.ops.wm.save_as_mainfile(filepath=path, compress=False) == {'FINISHED'}
        assert not save_size.is_compressed(path)
    finally:
        prefs.compress_saves = True
    for take in takes.all_takes():
        assert bpy.ops.asynfusion.take_delete(take=take.id) == {'FINISHED'}
    assert takes.all_takes() == []
    path = str(tmp_path / "no_takes.blend")
    assert bpy.ops.wm.save_as_mainfile(filepath=path, compress=False) == {'FINISHED'}
    assert not save_size.is_compressed(path)


def test_batch_writes_its_blend_compressed(one_take, tmp_path):
    """batch.py saves a copy of its scene (atomically), which save_size leaves alone: it asks for
    compression itself."""
    from asynfusion_blender import batch
    baseline = _uncompressed_copy(str(tmp_path / "uncompressed.blend"))
    out = str(tmp_path / "batch.blend")
    batch.save(out)
    assert save_size.is_compressed(out) and os.path.getsize(out) <= 0.5 * baseline
