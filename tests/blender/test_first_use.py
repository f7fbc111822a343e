"""What a first-time user meets (issue 23): Generate again is a new take with the next seed (a
lock keeps the seed) named as variations are, saving keeps every take (or names the ones it
leaves out) and removes the motion of takes that are gone, a missing audio path is named as
missing, messages wrap to the sidebar's width, and the built-in character is not hidden inside
the startup cube. Real Blender, real worker and shipped weights, real save and open."""

import hashlib
import os

import bpy
import pytest

from conftest import SPEECH, scene_state
from asynfusion_blender import operators, takes, ui

STEM = "5703-47212-0000"


def _digest(path: str) -> str:
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def test_generate_again_is_a_new_take_with_the_next_seed_and_save_removes_the_motion_of_deleted_takes(
        scene, tmp_path):
    blend = str(tmp_path / "scene.blend")
    bpy.ops.wm.save_as_mainfile(filepath=blend)
    settings = bpy.context.scene.asynfusion
    assert settings.seed == 3
    assert bpy.ops.asynfusion.generate() == {'FINISHED'}
    assert bpy.ops.asynfusion.generate() == {'FINISHED'}
    second, first = takes.all_takes()
    assert (first.name, first.seed, second.name, second.seed) == (f"{STEM}-seed3", 3, f"{STEM}-seed4", 4)
    assert settings.seed == 5
    first_motion = _digest(first.motion)
    # Locked, the seed stays; the same seed again is still a take of its own, with its own motion file.
    settings.lock_seed, settings.seed = True, 3
    assert bpy.ops.asynfusion.generate() == {'FINISHED'}
    again = takes.all_takes()[0]
    assert (again.name, again.seed, settings.seed) == (f"{STEM}-seed3-2", 3, 3)
    assert again.motion != first.motion and _digest(first.motion) == first_motion
    assert len({t.id for t in takes.all_takes()}) == 3
    # Saving keeps every take (none kept, one playing); the deleted one's motion file goes.
    assert bpy.ops.asynfusion.take_delete(take=second.id) == {'FINISHED'}
    assert os.path.isfile(second.motion)
    bpy.ops.wm.save_mainfile()
    assert not os.path.exists(second.motion) and os.path.isfile(first.motion) and os.path.isfile(again.motion)
    bpy.ops.wm.open_mainfile(filepath=blend)
    reopened = takes.all_takes()
    assert [t.name for t in reopened] == [again.name, first.name] and not any(t.kept for t in reopened)
    assert not any(bpy.data.actions[name].use_fake_user for t in reopened for name in t.actions)


def test_saving_keeps_every_take_by_default(rig_and_motion, tmp_path):
    ids = _three_takes(rig_and_motion)
    path = str(tmp_path / "every.blend")
    bpy.ops.wm.save_as_mainfile(filepath=path)
    assert not any(bpy.data.actions[a].use_fake_user for t in takes.all_takes() for a in t.actions)  # given back
    assert operators.JOB.note == ""
    bpy.ops.wm.open_mainfile(filepath=path)
    assert {t.id for t in takes.all_takes()} == set(ids) and not any(t.kept for t in takes.all_takes())
    bpy.ops.wm.save_mainfile()                  # and again: not kept, still saved
    bpy.ops.wm.open_mainfile(filepath=path)
    assert {t.id for t in takes.all_takes()} == set(ids)


@pytest.fixture
def rig_and_motion(addon, short_take):
    assert bpy.ops.asynfusion.create_rig() == {'FINISHED'}
    return short_take


def _three_takes(motion: str) -> list[str]:
    for _ in range(3):
        assert bpy.ops.asynfusion.bake_motion('EXEC_DEFAULT', True, filepath=motion) == {'FINISHED'}
    return [t.id for t in takes.all_takes()]


def test_saving_only_kept_takes_says_which_it_leaves_out(short_take, tmp_path):
    bpy.ops.wm.read_factory_settings(use_empty=True)
    assert bpy.ops.preferences.addon_enable(module="asynfusion_blender") == {'FINISHED'}
    try:
        bpy.context.preferences.addons["asynfusion_blender"].preferences.save_takes = "KEPT"
        assert bpy.ops.asynfusion.create_rig() == {'FINISHED'}
        playing, kept, dropped = _three_takes(short_take)      # newest first: the newest plays
        assert bpy.ops.asynfusion.take_keep(take=kept, keep=True) == {'FINISHED'}
        name = takes.find(dropped).name
        assert [t.id for t in takes.dropped_on_save()] == [dropped]      # the panel says so before saving
        assert ui.save_warning(1) == ("1 take is neither kept nor playing: saving leaves it out "
                                      "(the shield keeps a take).")
        path = str(tmp_path / "kept.blend")
        bpy.ops.wm.save_as_mainfile(filepath=path)
        assert operators.JOB.note == f"Saved without 1 take not kept: {name}."
        bpy.ops.wm.open_mainfile(filepath=path)
        assert {t.id for t in takes.all_takes()} == {playing, kept}
        assert operators.JOB.note == ""
    finally:
        bpy.ops.preferences.addon_disable(module="asynfusion_blender")


def test_a_typed_audio_path_that_does_not_exist_is_named_as_missing(scene, tmp_path):
    settings = bpy.context.scene.asynfusion
    missing = str(tmp_path / "speach.wav")
    settings.audio_file = missing
    before = scene_state()
    with pytest.raises(RuntimeError, match=f"Audio file {missing} does not exist; check the path.$"):
        bpy.ops.asynfusion.generate()
    settings.audio_file = ""
    with pytest.raises(RuntimeError, match=r"Choose a speech recording \(WAV, FLAC, MP3 or OGG\) to generate from"):
        bpy.ops.asynfusion.generate()
    assert scene_state() == before and settings.seed == 3


@pytest.mark.parametrize("text", [
    "Set a preview range first (Ctrl+Alt+P over the timeline).",
    f"Frames 300-900 are not inside take {STEM}-seed0 (frames 1-356); choose frames within it, the first "
    "before the last.",
    "Choose a speech recording (WAV, FLAC, MP3 or OGG) to generate from.",
])
def test_messages_wrap_to_the_sidebars_width_and_lose_nothing(text):
    for width, scale in ((272, 1.0), (544, 2.0), (400, 1.0)):
        lines = ui.wrap(text, width, scale)
        chars = int((width - ui.MARGIN_PX * scale) / (ui.CHAR_PX * scale))
        assert all(len(line) <= chars for line in lines)
        assert " ".join(lines) == text                 # every word shown, the Ctrl+Alt+P hint included
    assert len(ui.wrap(text, 272)) > 1 and ui.wrap(text, 272) == ui.wrap(text, 544, 2.0)
    assert ui.wrap("", 272) == [""]


def test_the_built_in_character_hides_the_untouched_startup_cube_only(addon):
    bpy.ops.wm.read_homefile(use_factory_startup=True)          # the startup file: cube, camera, light
    cube = bpy.data.objects["Cube"]
    assert not cube.hide_get() and not cube.hide_render
    assert bpy.ops.asynfusion.create_rig() == {'FINISHED'}
    assert cube.hide_get() and cube.hide_render                  # the character is seen whole
    bpy.ops.wm.read_homefile(use_factory_startup=True)
    cube = bpy.data.objects["Cube"]
    cube.location.x = 3.0                                         # a cube the user moved is theirs
    assert bpy.ops.asynfusion.create_rig() == {'FINISHED'}
    assert not cube.hide_get() and not cube.hide_render
