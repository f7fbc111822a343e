"""Generate end to end in real Blender: the real backend worker (its own Python with torch,
the shipped weights, the CPU) -> motion file -> bake. The modal operator's timer calls
``GenerateRun.step``; these tests call it the same way."""

import os
import signal
import tempfile
import time
import wave

import bpy
import pytest

from conftest import SPEECH, scene_state
from asynfusion_blender import client, operators, targets
from asynfusion_blender.bake import cost_estimate


class Reports:
    """Stands in for the operator's ``report`` (the only part of the operator a run uses)."""

    def __init__(self):
        self.lines = []

    def report(self, kinds, message):
        self.lines.append((sorted(kinds)[0], message))


def drive(run, timeout=300.0, on_tick=None):
    """What the modal timer does: poll every 0.1 s until the final reply; returns it and the progress seen."""
    seen = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        reply = run.step()
        if reply is not None:
            return reply, seen
        if operators.JOB.stage:
            seen.append((operators.JOB.stage, operators.JOB.progress))
        if on_tick is not None:
            on_tick(seen)
        time.sleep(0.1)
    raise AssertionError("the worker gave no final reply")


def test_generate_through_the_timer_path_then_a_warm_second_run(scene, long_speech, monkeypatch):
    armature, body = scene
    bpy.context.scene.asynfusion.audio_file = long_speech
    run = operators.GenerateRun(bpy.context)
    assert operators.JOB.running
    reply, seen = drive(run)
    assert reply["type"] == "result", reply
    # progress arrived while the worker was still running, and only went forward
    fractions = [f for _, f in seen]
    assert any(0.0 < f < 1.0 for f in fractions)
    assert fractions == sorted(fractions)
    reports = Reports()
    assert run.finish(bpy.context, reply, reports) == {'FINISHED'}
    assert not operators.JOB.running
    with wave.open(long_speech) as w:
        seconds = w.getnframes() / w.getframerate()
    scene_fps = bpy.context.scene.render.fps / bpy.context.scene.render.fps_base
    action = armature.animation_data.action
    assert action.name == f"three_minutes-seed{run.options[0].seed} body"
    assert abs(bpy.context.scene.frame_end - seconds * scene_fps) <= 2
    assert body.data.shape_keys.animation_data.action is not None
    assert operators.JOB.summary.startswith("Baked ") and "cpu" in operators.JOB.summary.lower()
    assert ("INFO", operators.JOB.summary) in reports.lines
    strips = bpy.context.scene.sequence_editor
    assert strips is not None                     # the speech sits in the sequencer for playback

    warm = client.current_client()
    assert warm is not None and warm.alive
    pid = warm.pid
    assert operators.JOB.cost == []                  # three minutes is not a large bake
    monkeypatch.setattr(cost_estimate, "LARGE_BYTES", 1)
    second = operators.GenerateRun(bpy.context)
    reply2, _ = drive(second)
    assert reply2["type"] == "result"
    assert client.current_client().pid == pid       # the same warm process served it
    # the cost of a large bake is on the panel while it is generated, from the clip's length
    assert operators.JOB.cost[0].startswith(f"Large bake: {seconds / 60:.0f} min, ")


def test_killing_the_worker_mid_run_leaves_the_scene_unchanged_and_the_next_run_restarts(scene, long_speech):
    bpy.context.scene.asynfusion.audio_file = long_speech
    before = scene_state()
    run = operators.GenerateRun(bpy.context)
    killed = []

    def kill_on_first_progress(seen):
        if seen and not killed:
            os.kill(run.worker.pid, signal.SIGKILL)
            killed.append(run.worker.pid)
    reply, _ = drive(run, on_tick=kill_on_first_progress)
    assert killed and reply["type"] == "error"
    reports = Reports()
    assert run.finish(bpy.context, reply, reports) == {'CANCELLED'}
    assert operators.JOB.error == reports.lines[-1][1]
    assert operators.JOB.error.startswith("The AsynFusion worker stopped (exit code -9)")
    assert "\n" not in operators.JOB.error and "Traceback" not in operators.JOB.error
    assert scene_state() == before

    bpy.context.scene.asynfusion.audio_file = SPEECH
    again = operators.GenerateRun(bpy.context)
    assert again.worker.pid != killed[0]
    reply, _ = drive(again)
    assert reply["type"] == "result"


def test_a_frozen_worker_is_detected_killed_and_replaced(scene, long_speech):
    bpy.context.scene.asynfusion.audio_file = long_speech
    before = scene_state()
    run = operators.GenerateRun(bpy.context)
    run.worker.stall_seconds = 15.0         # not the 30 s a user waits: the heartbeat comes every second
    frozen = []

    def stop_on_first_progress(seen):
        if operators.JOB.stage not in ("", "starting") and not frozen:     # ready, and generating
            os.kill(run.worker.pid, signal.SIGSTOP)
            frozen.append(run.worker.pid)
    try:
        reply, _ = drive(run, on_tick=stop_on_first_progress)
    finally:
        for pid in frozen:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    assert frozen and reply["type"] == "error"
    assert not run.worker.alive                        # killed, not left stopped
    assert run.finish(bpy.context, reply, Reports()) == {'CANCELLED'}
    assert operators.JOB.error.startswith("The AsynFusion worker stopped responding for 15 seconds")
    assert scene_state() == before
    bpy.context.scene.asynfusion.audio_file = SPEECH
    again = operators.GenerateRun(bpy.context)
    assert again.worker.pid != frozen[0]
    assert drive(again)[0]["type"] == "result"


def test_cancel_keeps_the_scene_and_the_warm_worker(scene, long_speech):
    bpy.context.scene.asynfusion.audio_file = long_speech
    before = scene_state()
    run = operators.GenerateRun(bpy.context)
    # wait until the worker is sampling, then cancel as ESC does
    deadline = time.monotonic() + 120
    while operators.JOB.stage != "sampling" and time.monotonic() < deadline:
        assert run.step() is None
        time.sleep(0.05)
    assert run.finish(bpy.context, run.cancel(), Reports()) == {'CANCELLED'}
    assert operators.JOB.summary == "Cancelled; the scene is unchanged."
    # the worker acknowledges the cancel and stays warm (how fast is measured in bench/, not here)
    reply = run.worker.wait(run.request, timeout=300)
    assert reply["type"] == "error" and reply["kind"] == "cancelled", reply
    assert run.worker.alive
    assert scene_state() == before


def test_generate_operator_in_background_mode_uses_the_real_worker(scene, tmp_path, monkeypatch):
    armature, _ = scene
    assert bpy.app.background and not bpy.data.filepath
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))   # where an unsaved file's motion goes
    assert bpy.ops.asynfusion.generate() == {'FINISHED'}
    assert armature.animation_data.action.name == "5703-47212-0000-seed3 body"
    assert os.listdir(tmp_path / "asynfusion") == []             # baked, so the temporary motion is gone


def test_a_wrong_audio_file_is_one_sentence_and_changes_nothing(scene, tmp_path):
    bad = tmp_path / "notes.wav"
    bad.write_text("this is not audio")
    bpy.context.scene.asynfusion.audio_file = str(bad)
    before = scene_state()
    run = operators.GenerateRun(bpy.context)
    reply, _ = drive(run)
    assert reply["type"] == "error"
    reports = Reports()
    assert run.finish(bpy.context, reply, reports) == {'CANCELLED'}
    assert "notes.wav" in operators.JOB.error and "\n" not in operators.JOB.error
    assert scene_state() == before
    assert run.worker.alive                            # a bad request does not cost the warm worker


def test_generate_without_audio_says_so_before_starting_a_worker(scene):
    bpy.context.scene.asynfusion.audio_file = ""
    before = scene_state()
    with pytest.raises(RuntimeError, match="Choose a speech recording"):
        bpy.ops.asynfusion.generate()
    assert scene_state() == before
    assert client.current_client() is None


def test_a_rig_deleted_during_generation_is_not_baked_onto(scene, tmp_path, monkeypatch):
    armature, body = scene
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    run = operators.GenerateRun(bpy.context)
    reply, _ = drive(run)
    assert reply["type"] == "result"
    bpy.ops.object.select_all(action='DESELECT')
    for obj in (armature, body):
        obj.select_set(True)
    bpy.context.view_layer.objects.active = armature
    assert bpy.ops.object.delete() == {'FINISHED'}           # deleted before the bake lands
    before = scene_state()
    reports = Reports()
    assert run.finish(bpy.context, reply, reports) == {'CANCELLED'}
    assert reports.lines == [("ERROR", "The target rig was deleted during generation, so nothing was baked; "
                                       "choose or create a rig and press Generate again.")]
    assert scene_state() == before and armature.animation_data is None
    settings = bpy.context.scene.asynfusion
    assert settings.armature is None and settings.face_mesh is None
    assert os.listdir(tmp_path / "asynfusion") == []


def test_no_gpu_names_the_device_preference_not_a_command_line_flag():
    bpy.ops.wm.read_factory_settings(use_empty=True)
    assert bpy.ops.preferences.addon_enable(module="asynfusion_blender") == {'FINISHED'}
    client.shutdown()
    try:
        bpy.context.preferences.addons["asynfusion_blender"].preferences.device = "cuda"
        armature, body = targets.create_builtin_rig(bpy.context)
        settings = bpy.context.scene.asynfusion
        settings.armature, settings.face_mesh, settings.audio_file = armature, body, SPEECH
        before = scene_state()
        run = operators.GenerateRun(bpy.context)
        reply, _ = drive(run)
        if reply["type"] == "result":
            pytest.xfail("this machine has a GPU; the sentence is for machines without one")
        assert run.finish(bpy.context, reply, Reports()) == {'CANCELLED'}
        assert operators.JOB.error == ("CUDA was requested but no NVIDIA GPU is usable here; set Device to Auto "
                                       "or CPU in Preferences > Add-ons > AsynFusion.")
        assert scene_state() == before
    finally:
        client.shutdown()
        bpy.ops.preferences.addon_disable(module="asynfusion_blender")
