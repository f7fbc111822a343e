"""Takes (issue 13, point 2): each bake is a take whose facts live on its actions, only kept
takes have a fake user (saving keeps the others too: issue 23), switching plays a
take's actions on the rig and face, deleting removes them and undo brings them back. Real
operators on the built-in rig, real save and open."""

import re

import bpy
import pytest

from asynfusion_blender import takes
from asynfusion_blender.bake import action_support


@pytest.fixture
def rig(addon):
    assert bpy.ops.asynfusion.create_rig() == {'FINISHED'}
    settings = bpy.context.scene.asynfusion
    return settings.armature, settings.face_mesh


def _bake(path: str) -> takes.Take:
    assert bpy.ops.asynfusion.bake_motion('EXEC_DEFAULT', True, filepath=path) == {'FINISHED'}
    return takes.all_takes()[0]


def _playing() -> tuple[str, str]:
    """The names of the actions the rig and its face play now."""
    settings = bpy.context.scene.asynfusion
    return (settings.armature.animation_data.action.name,
            settings.face_mesh.data.shape_keys.animation_data.action.name)


def test_each_bake_is_a_take_with_its_facts_on_its_actions(rig, short_take):
    first = _bake(short_take)
    second = _bake(short_take)
    assert [t.id for t in takes.all_takes()] == [second.id, first.id]       # newest first
    assert first.id != second.id and first.name == second.name == "speech"
    assert first.seed == -1 and first.details().startswith("file · 2.0 s · ")   # a motion file: no seed
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", first.date)
    assert first.seconds == pytest.approx(2.0) and first.start == 1
    assert len(first.actions) == 2 and len(second.actions) == 2      # body and face
    facts = bpy.data.actions[second.actions[0]]["asynfusion_take"].to_dict()
    assert facts["id"] == second.id and facts["part"] in ("body", "face")
    # Neither is kept: the one replaced has no users and no fake user; the new one plays.
    assert not first.kept and not second.kept
    assert all(bpy.data.actions[name].users == 0 and not bpy.data.actions[name].use_fake_user
               for name in first.actions)
    assert set(_playing()) == set(second.actions)


def test_every_take_stays_in_the_saved_file_and_only_kept_ones_are_kept(rig, short_take, tmp_path):
    """Saving keeps every take by default (issue 23); Save Takes: Kept Only is in test_first_use.py."""
    kept, unkept, playing = _bake(short_take), _bake(short_take), _bake(short_take)
    assert bpy.ops.asynfusion.take_keep(take=kept.id, keep=True) == {'FINISHED'}
    assert all(bpy.data.actions[name].use_fake_user for name in kept.actions)
    assert [t.kept for t in takes.all_takes() if t.id == kept.id] == [True]
    path = str(tmp_path / "takes.blend")
    bpy.ops.wm.save_as_mainfile(filepath=path)
    bpy.ops.wm.open_mainfile(filepath=path)
    assert {t.id: t.kept for t in takes.all_takes()} == {kept.id: True, unkept.id: False, playing.id: False}
    # Unkeeping lets it go the same way.
    assert bpy.ops.asynfusion.take_keep(take=kept.id, keep=False) == {'FINISHED'}
    assert not any(bpy.data.actions[name].use_fake_user for name in kept.actions)


def test_switching_plays_the_takes_actions_on_the_rig_and_face(rig, short_take):
    armature, face = rig
    first = _bake(short_take)
    second = _bake(short_take)
    assert set(_playing()) == set(second.actions)
    assert bpy.ops.asynfusion.take_use('EXEC_DEFAULT', True, take=first.id) == {'FINISHED'}
    assert set(_playing()) == set(first.actions)
    assert takes.playing([armature, face.data.shape_keys]) == {first.id}
    # The rig moves with the take's curves: the pose at a frame is the take's key there.
    body = next(name for name in first.actions if name.endswith("body"))
    curve = next(fc for fc in action_support.action_curves(bpy.data.actions[body], armature)
                 if fc.data_path.endswith('"left_elbow"].rotation_quaternion') and fc.array_index == 1)
    bpy.context.scene.frame_set(20)
    assert armature.pose.bones["left_elbow"].rotation_quaternion[1] == pytest.approx(curve.evaluate(20), abs=1e-5)


def test_deleting_a_take_removes_its_actions_and_undo_brings_them_back(rig, short_take):
    first = _bake(short_take)
    second = _bake(short_take)
    bpy.ops.ed.undo_push(message="two takes")
    assert bpy.ops.asynfusion.take_delete('EXEC_DEFAULT', True, take=second.id) == {'FINISHED'}
    assert not any(name in bpy.data.actions for name in second.actions)
    assert [t.id for t in takes.all_takes()] == [first.id]
    assert bpy.ops.ed.undo() == {'FINISHED'}
    assert {t.id for t in takes.all_takes()} == {first.id, second.id}
    assert set(_playing()) == set(second.actions)


def test_a_take_that_is_gone_is_one_sentence(rig, short_take):
    with pytest.raises(RuntimeError, match="That take is no longer in the file; pick another one."):
        bpy.ops.asynfusion.take_use(take="no-such-take")


def test_a_copied_take_action_is_the_users_own_and_the_take_leaves_it_alone(rig, short_take):
    """A copy (action.copy(), Shift+D of the rig) carries the take's facts under another name: the
    list still shows the take once, with its own actions, and keeping or deleting the take, or a
    bake replacing a copy, treats the copies as the user's own actions."""
    armature, face = rig
    take = _bake(short_take)
    body = next(name for name in take.actions if name.endswith("body"))
    copy = bpy.data.actions[body].copy()
    for obj in bpy.context.view_layer.objects:
        obj.select_set(obj == armature)
    bpy.context.view_layer.objects.active = armature
    assert bpy.ops.object.duplicate() == {'FINISHED'}           # Shift+D: the rig with a copy of its action
    twin = bpy.context.view_layer.objects.active
    shifted = twin.animation_data.action
    assert twin != armature and shifted.name not in (body, copy.name)
    assert copy["asynfusion_take"]["id"] == shifted["asynfusion_take"]["id"] == take.id
    assert [(t.id, t.actions) for t in takes.all_takes()] == [(take.id, take.actions)]
    assert takes.playing([twin]) == set() and takes.playing([armature]) == {take.id}

    assert bpy.ops.asynfusion.take_keep(take=take.id, keep=True) == {'FINISHED'}
    assert bpy.data.actions[body].use_fake_user and not copy.use_fake_user and not shifted.use_fake_user
    keys = [tuple(fc.keyframe_points[5].co) for fc in action_support.action_curves(shifted, twin)]
    assert bpy.ops.asynfusion.take_delete('EXEC_DEFAULT', True, take=take.id) == {'FINISHED'}
    assert not any(name in bpy.data.actions for name in take.actions) and takes.all_takes() == []
    assert bpy.data.actions[copy.name] == copy and twin.animation_data.action == shifted
    assert [tuple(fc.keyframe_points[5].co) for fc in action_support.action_curves(shifted, twin)] == keys

    bpy.context.scene.asynfusion.armature = twin       # a bake replacing a copy keeps it, as any action of yours
    second = _bake(short_take)
    assert twin.animation_data.action.name in second.actions and shifted.use_fake_user
    assert [t.id for t in takes.all_takes()] == [second.id]
