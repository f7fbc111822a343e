"""Baking real BEAT2 motion onto the built-in rig in real Blender (4.2 and 5.0)."""

import logging

import bpy
import numpy as np
import pytest
from mathutils import Matrix, Quaternion

from conftest import TAKE, TAKE_WAV, make_face, scene_state
from asynfusion_blender import generation, targets
from asynfusion_blender.bake import action_support, bake, cost_estimate, face_keys, rig_reader
from asynfusion_blender.rig import blueprint, smplx_names
from asynfusion_blender.core import motion_file, skeleton
from asynfusion_blender.errors import AddonError

C = Matrix(blueprint.Z_UP_FROM_Y_UP.tolist())


@pytest.fixture
def rig(addon):
    armature, body = targets.create_builtin_rig(bpy.context)
    return armature, body


def _bake(rig, take=None, **options):
    armature, body = rig
    motion = take if take is not None else motion_file.read_motion(TAKE)
    return bake.bake_motion(bpy.context.scene, motion, armature, body, bake.BakeOptions(**options))


def _curves(owner):
    return action_support.action_curves(owner.animation_data.action, owner)


@pytest.mark.parametrize("fps,fps_base,frames", [(24, 1.0, 1525), (60, 1.0, 3811), (30, 1.001, 1904)])
def test_keyframe_counts_and_frame_range(rig, take, fps, fps_base, frames):
    scene = bpy.context.scene
    scene.render.fps, scene.render.fps_base = fps, fps_base
    summary = _bake(rig, take, start_frame=101)
    armature, body = rig
    assert summary.frames == frames and summary.first_frame == 101 and summary.last_frame == 100 + frames
    assert abs(summary.seconds - frames * fps_base / fps) < 1e-4     # fps_base is a float32
    body_curves = _curves(armature)
    face_curves = _curves(body.data.shape_keys)
    assert len(body_curves) == 55 * 4 + 3 and len(face_curves) == len(rig_reader.expression_keys(body)) == 53
    for fc in body_curves + face_curves:
        assert len(fc.keyframe_points) == frames
        assert tuple(fc.range()) == (101.0, 100.0 + frames)
    assert scene.frame_end >= 100 + frames


def _expected_local(armature, joint, rotvec):
    """Blender-side expectation with mathutils only: B^-1 C R C^-1 B."""
    bone = armature.data.bones[skeleton.JOINT_NAMES[joint]]
    rest = bone.matrix_local.to_3x3().normalized()
    angle = float(np.linalg.norm(rotvec))
    r = Quaternion(rotvec / angle, angle).to_matrix() if angle > 0 else Matrix.Identity(3)
    return (rest.inverted() @ C @ r @ C.inverted() @ rest).to_quaternion()


def test_fcurves_reproduce_the_file_rotations(rig, take):
    scene = bpy.context.scene
    scene.render.fps = 30
    armature, body = rig
    _bake(rig, take, start_frame=10)
    aa = take.joint_rotations()
    arkit = face_keys.arkit_track(take, 0)
    rest_trans = np.array(armature[blueprint.REST_TRANS_PROP])
    pelvis_rest = np.array(armature.data.bones["pelvis"].head_local)
    for k in (0, 137, 999, take.num_frames - 1):
        scene.frame_set(10 + k)
        for j in range(skeleton.NUM_JOINTS):
            got = armature.pose.bones[skeleton.JOINT_NAMES[j]].rotation_quaternion
            want = _expected_local(armature, j, aa[k, j].astype(np.float64))
            assert abs(abs(got.dot(want)) - 1.0) < 1e-5, (k, skeleton.JOINT_NAMES[j])
        head = np.array(armature.pose.bones["pelvis"].head)
        want_head = pelvis_rest + blueprint.Z_UP_FROM_Y_UP @ (take.trans[k] - rest_trans)
        assert np.allclose(head, want_head, atol=1e-5)
        keys = body.data.shape_keys.key_blocks       # the built-in ICT head: ARKit-named keys
        for name in ("jawOpen", "mouthClose", "mouthPucker", "eyeBlink_L"):
            column = face_keys.detect([name]).columns[name]
            assert abs(keys[name].value - arkit[k, column]) < 1e-5, name


def test_flame_keys_take_the_file_expressions(rig, take):
    """A mesh with Exp000-Exp099 keys (an SMPL-X body) gets the motion's FLAME coefficients as they are."""
    scene = bpy.context.scene
    scene.render.fps = 30
    armature, _ = rig
    face = make_face("SMPL-X face", [f"Exp{i:03d}" for i in range(100)])
    summary = bake.bake_motion(scene, take, armature, face, bake.BakeOptions(start_frame=10))
    assert summary.face == "Face 'SMPL-X face': 100 FLAME expression keys (Exp###)."
    keys = face.data.shape_keys.key_blocks
    assert len(_curves(face.data.shape_keys)) == 100
    for k in (0, 137, take.num_frames - 1):
        scene.frame_set(10 + k)
        for i in (0, 7, 99):
            assert abs(keys[f"Exp{i:03d}"].value - take.expressions[k, i]) < 1e-5


def test_world_rotations_match_the_skeleton_chain(rig, take):
    """Evaluated pose: each bone's armature-space deformation is C G C^T, G the SMPL-X chain product."""
    scene = bpy.context.scene
    scene.render.fps = 30
    armature, _ = rig
    _bake(rig, take, start_frame=1)
    k = 500
    scene.frame_set(1 + k)
    from asynfusion_blender.core import quaternions
    local = quaternions.axis_angle_to_matrix(take.joint_rotations()[k])
    world = np.zeros_like(local)
    for j, p in enumerate(skeleton.PARENTS):
        world[j] = local[j] if p < 0 else world[p] @ local[j]
    conv = blueprint.Z_UP_FROM_Y_UP
    for j, name in enumerate(skeleton.JOINT_NAMES):
        pose = np.array(armature.pose.bones[name].matrix.to_3x3())
        rest = np.array(armature.data.bones[name].matrix_local.to_3x3())
        assert np.allclose(pose @ rest.T, conv @ world[j] @ conv.T, atol=1e-4), name


def test_existing_action_survives_and_each_bake_makes_a_new_action(rig, take):
    armature, body = rig
    armature.animation_data_create()
    mine = bpy.data.actions.new("MyAction")
    armature.animation_data.action = mine
    armature.pose.bones["head"].rotation_quaternion = (0.9, 0.1, 0.0, 0.0)
    armature.keyframe_insert('pose.bones["head"].rotation_quaternion', frame=5)
    first = _bake(rig, take, parts=frozenset({"body"}))
    second = _bake(rig, take, parts=frozenset({"body"}))
    assert "MyAction" in bpy.data.actions and bpy.data.actions["MyAction"].use_fake_user
    kept = action_support.action_curves(bpy.data.actions["MyAction"])
    assert len(kept) == 4 and all(len(fc.keyframe_points) == 1 for fc in kept)
    assert first.actions[0] != second.actions[0]
    assert armature.animation_data.action.name == second.actions[0]
    # The replaced take gets no fake user (takes.py: only the takes a person keeps stay in the .blend).
    assert not bpy.data.actions[first.actions[0]].use_fake_user and bpy.data.actions[first.actions[0]].users == 0


def test_parts_limit_what_is_baked(rig, take):
    armature, body = rig
    _bake(rig, take, parts=frozenset({"jaw", "face"}))
    paths = {fc.data_path for fc in _curves(armature)}
    assert paths == {f'pose.bones["{n}"].rotation_quaternion' for n in ("jaw", "left_eye_smplhf", "right_eye_smplhf")}
    assert len(_curves(body.data.shape_keys)) == 53


def test_sound_strip_starts_with_the_bake(rig, take):
    if not bpy.app.build_options.audaspace:
        summary = _bake(rig, take, start_frame=7, audio_path=TAKE_WAV)
        assert summary.sound_strip is None and summary.warnings        # this bpy build has no audio
        return
    assert bpy.context.scene.sync_mode != 'AUDIO_SYNC'
    summary = _bake(rig, take, start_frame=7, audio_path=TAKE_WAV)
    strip = next(s for s in action_support.all_strips(bpy.context.scene) if s.name == summary.sound_strip)
    assert strip.frame_start == 7 and strip.sound is not None
    # playback follows the sound, said once; a second take of the same recording moves its strip
    assert bpy.context.scene.sync_mode == 'AUDIO_SYNC'
    assert [w for w in summary.warnings if "Sync to Audio" in w]
    again = _bake(rig, take, start_frame=30, audio_path=TAKE_WAV)
    assert not [w for w in again.warnings if "Sync to Audio" in w]
    strips = [s for s in action_support.all_strips(bpy.context.scene) if s.sound is not None]
    assert len(strips) == 1 and strips[0].name == again.sound_strip and strips[0].frame_start == 30


def test_bad_motion_file_leaves_the_scene_unchanged(rig, tmp_path):
    armature, body = rig
    bad = tmp_path / "broken.npz"
    bad.write_bytes(b"not a zip at all")
    before = scene_state()
    with pytest.raises(motion_file.MotionFileError) as err:
        generation.bake_motion_file(bpy.context.scene, str(bad), armature, body, bake.BakeOptions())
    assert str(err.value).startswith("broken.npz is not a readable motion file")
    assert scene_state() == before


BLENDER_LAST_FRAME = 1048574


@pytest.mark.parametrize("start", [BLENDER_LAST_FRAME - 100, -BLENDER_LAST_FRAME - 1, 2**31 - 1])
def test_a_start_frame_past_blenders_range_is_refused_and_nothing_changes(rig, take, start):
    before = scene_state()
    words = (f"A bake of 1525 frames starting at frame {start} runs past Blender's frame range; "
             f"choose a start frame from -{BLENDER_LAST_FRAME} to {BLENDER_LAST_FRAME - 1524}.")
    with pytest.raises(AddonError, match=words):
        _bake(rig, take, start_frame=start)
    assert scene_state() == before


def test_a_bake_larger_than_free_memory_is_refused_and_nothing_changes(rig, take, monkeypatch):
    monkeypatch.setattr(cost_estimate, "free_memory", lambda: 1_000_000)      # as if 1 MB were left
    before = scene_state()
    with pytest.raises(AddonError, match=r"needs about \d+ MB of memory and only 1 MB is free; split the audio"):
        _bake(rig, take)
    assert scene_state() == before


def test_a_large_bake_says_what_it_costs(rig, take, monkeypatch):
    assert not any("keyframes: about" in w for w in _bake(rig, take).warnings)   # a minute is not large
    monkeypatch.setattr(cost_estimate, "LARGE_BYTES", 1)
    summary = _bake(rig, take)
    assert [w for w in summary.warnings if w.startswith(f"Baking {summary.seconds:.0f} s of motion writes about")]


def test_missing_bones_are_named_and_nothing_changes(rig, take):
    armature, body = rig
    bpy.context.view_layer.objects.active = armature
    bpy.ops.object.mode_set(mode='EDIT')
    for name in ("left_thumb3", "right_thumb3"):
        armature.data.edit_bones.remove(armature.data.edit_bones[name])
    bpy.ops.object.mode_set(mode='OBJECT')
    before = scene_state()
    with pytest.raises(smplx_names.RigMappingError, match="lacks 2 SMPL-X bones needed for this bake: left_thumb3, right_thumb3"):
        _bake(rig, take)
    assert scene_state() == before
    _bake(rig, take, parts=frozenset({"body", "face"}))           # without hands it bakes


def test_failure_halfway_through_the_writes_reverts_everything(rig, take, monkeypatch):
    """A write that fails after 150 curves (say, out of memory) must undo the 149 before it."""
    armature, body = rig
    armature.animation_data_create()
    armature.animation_data.action = bpy.data.actions.new("MyAction")
    armature.pose.bones["left_knee"].rotation_mode = 'XYZ'
    before = scene_state()
    real_add = action_support.CurveWriter.add
    calls = {"n": 0}

    def failing_add(self, *args):
        calls["n"] += 1
        if calls["n"] == 150:
            raise MemoryError("simulated")
        return real_add(self, *args)

    monkeypatch.setattr(action_support.CurveWriter, "add", failing_add)
    with pytest.raises(MemoryError):
        _bake(rig, take, audio_path=TAKE_WAV if bpy.app.build_options.audaspace else None)
    assert calls["n"] == 150
    assert scene_state() == before
    assert armature.pose.bones["left_knee"].rotation_mode == 'XYZ'


def test_failure_in_the_face_bake_reverts_the_body_bake(rig, take, monkeypatch):
    armature, body = rig
    before = scene_state()
    real_add = action_support.CurveWriter.add

    def fail_on_shape_keys(self, data_path, *args):
        if data_path.startswith("key_blocks"):
            raise RuntimeError("simulated")
        return real_add(self, data_path, *args)

    monkeypatch.setattr(action_support.CurveWriter, "add", fail_on_shape_keys)
    with pytest.raises(RuntimeError):
        _bake(rig, take)
    assert scene_state() == before
    assert armature.animation_data is None


@pytest.mark.shared_data("beat2")
def test_operators_are_single_undo_steps_and_report_one_sentence(rig, tmp_path):
    """Undo itself needs a window (none in background mode); the UNDO flag makes each call one step."""
    armature, body = rig
    for op in ("generate", "bake_motion", "create_rig"):
        cls = getattr(bpy.types, f"ASYNFUSION_OT_{op}")
        assert "UNDO" in cls.bl_options
    settings = bpy.context.scene.asynfusion
    settings.armature, settings.face_mesh = armature, body
    assert bpy.ops.asynfusion.bake_motion(filepath=TAKE) == {'FINISHED'}
    before = scene_state()
    missing = str(tmp_path / "nothing.npz")
    with pytest.raises(RuntimeError, match="Motion file nothing.npz does not exist; check the path."):
        bpy.ops.asynfusion.bake_motion(filepath=missing)
    assert scene_state() == before
    from asynfusion_blender import operators
    assert operators.JOB.error == "Motion file nothing.npz does not exist; check the path."


@pytest.mark.shared_data("beat2")
def test_operator_takes_targets_from_the_selection(rig):
    armature, body = rig
    bpy.context.view_layer.objects.active = body
    body.select_set(True)
    assert bpy.ops.asynfusion.bake_motion(filepath=TAKE) == {'FINISHED'}
    settings = bpy.context.scene.asynfusion
    assert settings.armature == armature and settings.face_mesh == body
    assert armature.animation_data.action.name == "2_scott_0_1_1 body"


def delete_objects(*objects):
    """What X in the viewport does: the objects leave the scene (the panel's fields still point at them)."""
    bpy.ops.object.select_all(action='DESELECT')
    for obj in objects:
        obj.select_set(True)
    bpy.context.view_layer.objects.active = objects[0]
    assert bpy.ops.object.delete() == {'FINISHED'}


@pytest.mark.shared_data("beat2")
def test_a_deleted_rig_is_not_baked_onto_and_the_panel_forgets_it(rig):
    armature, body = rig
    settings = bpy.context.scene.asynfusion
    settings.armature, settings.face_mesh = armature, body
    delete_objects(armature, body)
    before = scene_state()
    actions = len(bpy.data.actions)
    with pytest.raises(RuntimeError, match="Choose a target armature"):
        bpy.ops.asynfusion.bake_motion(filepath=TAKE)
    assert scene_state() == before and len(bpy.data.actions) == actions
    assert settings.armature is None and settings.face_mesh is None


def test_an_unexpected_failure_is_one_sentence_and_its_traceback_goes_to_the_log(rig, monkeypatch, caplog):
    """A fault injected where nothing fails on purpose: the user reads one sentence, the traceback
    is logged (Blender's system console), the scene is unchanged and a running generation is not
    declared over by another operator's failure."""
    from asynfusion_blender import operators

    def broken(*args):
        raise ZeroDivisionError("boom")
    monkeypatch.setattr(targets, "create_builtin_rig", broken)
    before = scene_state()
    operators.JOB.start()
    try:
        with caplog.at_level(logging.ERROR, logger="asynfusion_blender"), pytest.raises(
                RuntimeError, match=r"Unexpected error \(ZeroDivisionError: boom\); details are in the system console\."):
            bpy.ops.asynfusion.create_rig()
        assert operators.JOB.running
    finally:
        operators.JOB.end()
    assert scene_state() == before
    [logged] = [r for r in caplog.records if r.exc_info]
    assert logged.name.endswith("asynfusion_blender.operators") and logged.exc_info[0] is ZeroDivisionError


def test_while_generating_generate_and_bake_are_greyed_out_and_only_then_cancel_is_not(addon):
    from asynfusion_blender import operators

    assert bpy.ops.asynfusion.generate.poll() and bpy.ops.asynfusion.bake_motion.poll()
    assert not bpy.ops.asynfusion.cancel.poll()
    operators.JOB.start()                  # what GenerateRun does while the worker works
    try:
        assert not bpy.ops.asynfusion.generate.poll() and not bpy.ops.asynfusion.bake_motion.poll()
        assert bpy.ops.asynfusion.cancel.poll()
    finally:
        operators.JOB.end()
