"""The modal path of Generate and of a take's Regenerate (the ⟳ button) in real Blender: its start,
the timer's ticks, ESC, the Cancel button, the timer's removal and the bake, with the real worker,
the shipped weights and real speech.

The bpy module runs no event loop, so Blender itself never calls ``invoke`` (an INVOKE call without
an event runs ``execute``) nor ``modal``. Two stand-ins, and only these: an operator registered for
these tests, made of the real operators' steps (the ``GenerateSteps`` mixin) and the real operator's
``new_run``, that enters ``start_modal`` from ``execute``, as the desktop's ``invoke`` does (a real
timer on the real window, a real modal handler, a real worker); and the events, objects with the one
field ``modal`` reads (``type``), passed to the running instance's ``modal`` as the event loop would pass them.

The window manager's undo push at the end of a modal operator belongs to that event loop too; the
one undo step is tested on the same operator run through ``execute``, where Blender pushes it.
"""

import json
import os
import signal
import time
from types import SimpleNamespace

import bpy
import pytest
from bpy.props import StringProperty

from conftest import REPO, assert_range_regenerated, scene_state
from asynfusion_blender import client, operators, takes
from asynfusion_blender.core.motion_file import read_motion


def _enter_modal(self, context):
    type(self).started.append(self)
    return self.start_modal(context)


def modal_stand_in(real: type) -> type:
    """An operator of ``real``'s steps and run (a subclass of a registered operator would unhook
    it) whose ``execute`` enters ``start_modal``, as the desktop's ``invoke`` does."""
    assert issubclass(real, operators.GenerateSteps)
    return type(f"{real.__name__}_modal", (operators.GenerateSteps, bpy.types.Operator), {
        "bl_idname": f"{real.bl_idname}_modal_test", "bl_label": real.bl_label, "bl_options": real.bl_options,
        "__annotations__": {"take": StringProperty(name="Take", options={'HIDDEN'})},     # Regenerate's
        "execute": _enter_modal, "new_run": real.new_run, "started": []})


GENERATE = modal_stand_in(operators.ASYNFUSION_OT_generate)
REGENERATE = modal_stand_in(operators.ASYNFUSION_OT_take_regenerate)


def event(kind):
    return SimpleNamespace(type=kind)


def _esc(op):
    return op.modal(bpy.context, event('ESC'))


def _cancel_button(op):
    assert bpy.ops.asynfusion.cancel() == {'FINISHED'}
    return op.modal(bpy.context, event('TIMER'))


@pytest.fixture
def modal(scene):
    for cls in (GENERATE, REGENERATE):
        bpy.utils.register_class(cls)
        cls.started.clear()
    yield scene
    for cls in (GENERATE, REGENERATE):
        cls.started.clear()
        bpy.utils.unregister_class(cls)     # also ends its modal handler


def start(cls=GENERATE, **properties):
    """Press the button: the operator goes modal and its timer runs."""
    assert getattr(bpy.ops.asynfusion, cls.bl_idname.split(".")[1])(**properties) == {'RUNNING_MODAL'}
    op = cls.started[-1]
    assert op._timer is not None and operators.JOB.running
    return op


def tick_until(op, done, timeout=300.0):
    """Timer events every 0.1 s until ``done()`` or the operator ends; returns its last result."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = op.modal(bpy.context, event('TIMER'))
        if result != {'RUNNING_MODAL'} or done():
            return result
        time.sleep(0.1)
    raise AssertionError("the operator did not end")


def run_to_the_end(op) -> None:
    """Other events pass through; timer ticks show rising progress until the bake, then the timer goes."""
    assert op.modal(bpy.context, event('MOUSEMOVE')) == {'PASS_THROUGH'}      # the rest of the UI still works
    progress = []

    def record():
        progress.append(operators.JOB.progress)
        return False
    assert tick_until(op, record) == {'FINISHED'}
    assert any(0.0 < p < 1.0 for p in progress) and progress == sorted(progress)
    assert op._timer is None and not operators.JOB.running


def test_timer_ticks_generate_and_bake_then_the_timer_is_removed(modal):
    armature, body = modal
    op = start()
    assert not bpy.ops.asynfusion.generate.poll()           # greyed out while it runs
    assert bpy.ops.asynfusion.cancel.poll()
    run_to_the_end(op)
    assert armature.animation_data.action.name == "5703-47212-0000-seed3 body"     # named as variations are
    assert body.data.shape_keys.animation_data.action.name == "5703-47212-0000-seed3 face"
    assert operators.JOB.summary.startswith("Baked ") and operators.JOB.error == ""
    assert bpy.ops.asynfusion.generate.poll() and not bpy.ops.asynfusion.cancel.poll()
    take = takes.all_takes()[0]            # the take remembers the seed it was generated with
    assert (take.name, take.seed, take.start) == ("5703-47212-0000-seed3", 3, 1) and not take.kept
    assert bpy.context.scene.asynfusion.seed == 4          # the next Generate is a new take


def test_the_panels_default_steps_are_the_weights_own(modal, tmp_path):
    """Face and Body steps at 0 (the default) send none: the worker takes its weights' sampler
    section, the one source of generation defaults (a saved .blend keeps the take's motion file)."""
    bpy.ops.wm.save_as_mainfile(filepath=str(tmp_path / "scene.blend"))
    settings = bpy.context.scene.asynfusion
    assert settings.steps_face == settings.steps_body == 0
    run_to_the_end(start())
    meta = read_motion(takes.all_takes()[0].motion).meta
    with open(os.path.join(REPO, "weights", "config.json")) as f:      # the worker's: the repository's weights
        sampler = json.load(f)["sampler"]
    assert (meta["steps_face"], meta["steps_body"]) == (sampler["steps_face"], sampler["steps_body"])


def _cancel_while_sampling(cancel, cls=GENERATE, **properties):
    before = scene_state()
    op = start(cls, **properties)
    assert tick_until(op, lambda: operators.JOB.stage == "sampling") == {'RUNNING_MODAL'}
    worker, request = op._run.worker, op._run.request
    assert cancel(op) == {'CANCELLED'}
    assert op._timer is None and not operators.JOB.running
    assert operators.JOB.summary == "Cancelled; the scene is unchanged." and operators.JOB.error == ""
    assert scene_state() == before
    reply = worker.wait(request, timeout=300)           # the worker acknowledges and stays warm
    assert reply["kind"] == "cancelled", reply
    assert client.current_client() is worker and worker.alive


def test_esc_cancels_and_leaves_the_scene_and_the_warm_worker(modal, long_speech):
    bpy.context.scene.asynfusion.audio_file = long_speech
    _cancel_while_sampling(_esc)


def test_the_cancel_button_ends_the_run_on_the_next_tick(modal, long_speech):
    bpy.context.scene.asynfusion.audio_file = long_speech
    _cancel_while_sampling(_cancel_button)


@pytest.mark.parametrize("cancel", [_esc, _cancel_button], ids=["esc", "cancel-button"])
def test_a_worker_that_dies_as_the_cancel_goes_out_ends_the_run_its_timer_and_the_job(modal, monkeypatch, cancel):
    """The worker is killed between the Esc (or Cancel) and the cancel reaching it: the run ends
    with the worker's death as its one sentence, the timer goes with it, the job is over (nothing
    stays greyed out) and the scene is as it was."""
    before = scene_state()
    op = start()
    worker = op._run.worker
    send = client.WorkerClient.send
    killed = []

    def die_first(self, message):
        if message.get("op") == "cancel":
            os.kill(self.pid, signal.SIGKILL)
            os.waitid(os.P_PID, self.pid, os.WEXITED | os.WNOWAIT)     # dead (not yet reaped)
            killed.append(self.pid)
        return send(self, message)
    monkeypatch.setattr(client.WorkerClient, "send", die_first)
    assert cancel(op) == {'CANCELLED'}
    assert killed == [worker.pid] and not worker.alive
    assert op._timer is None and not operators.JOB.running
    assert bpy.ops.asynfusion.generate.poll() and bpy.ops.asynfusion.bake_motion.poll()
    assert not bpy.ops.asynfusion.cancel.poll()
    assert operators.JOB.error.startswith("The AsynFusion worker stopped (exit code -9)")
    assert "\n" not in operators.JOB.error and operators.JOB.summary == ""
    assert scene_state() == before


def _generated_take(folder, audio: str) -> takes.Take:
    """A take generated (seed 0) in a .blend saved in ``folder``, so its motion file is kept."""
    bpy.ops.wm.save_as_mainfile(filepath=str(folder / "scene.blend"))
    settings = bpy.context.scene.asynfusion
    settings.audio_file, settings.seed = audio, 0
    assert bpy.ops.asynfusion.generate() == {'FINISHED'}
    settings.seed = 7
    scene = bpy.context.scene
    scene.use_preview_range, scene.frame_preview_start, scene.frame_preview_end = True, 101, 180
    return takes.all_takes()[0]


def test_regenerate_ticks_to_a_new_take_that_keeps_the_take_outside_the_range(modal, tmp_path):
    armature, _ = modal
    old = _generated_take(tmp_path, bpy.context.scene.asynfusion.audio_file)
    op = start(REGENERATE, take=old.id)
    assert not bpy.ops.asynfusion.take_regenerate.poll() and not bpy.ops.asynfusion.generate.poll()
    run_to_the_end(op)
    assert operators.JOB.summary.startswith("Baked ")
    new = takes.all_takes()[0]
    # scene frames 101-180 at 24 fps from frame 1 are motion frames 125-225 at 30 fps; the name
    # speaks the timeline's frames
    assert (new.name, new.seed, new.start) == ("5703-47212-0000-seed7-frames101-180", 7, old.start)
    assert_range_regenerated(old.motion, new.motion, 125, 225)
    assert armature.animation_data.action.name == f"{new.name} body"
    assert {t.id for t in takes.all_takes()} == {old.id, new.id}


def test_esc_mid_regenerate_leaves_the_scene_and_writes_no_motion(modal, long_speech, tmp_path):
    old = _generated_take(tmp_path, long_speech)
    _cancel_while_sampling(_esc, REGENERATE, take=old.id)
    assert os.listdir(tmp_path / "asynfusion") == [os.path.basename(old.motion)]
    assert [t.id for t in takes.all_takes()] == [old.id]


def test_a_generate_is_one_undo_step(scene):
    assert 'UNDO' in operators.ASYNFUSION_OT_generate.bl_options
    bpy.ops.ed.undo_push(message="before Generate")
    before = scene_state()
    assert bpy.ops.asynfusion.generate('EXEC_DEFAULT', True) == {'FINISHED'}     # True: with undo, as a button
    assert scene_state() != before
    assert bpy.ops.ed.undo() == {'FINISHED'}
    assert scene_state() == before          # actions, keys, sound strip, frame range, sync mode: all of it


def test_ticks_redraw_the_panel_only_when_what_it_shows_changed(modal, monkeypatch):
    """Generate's timer ticks ten times a second; a redraw is a whole window's draw (about 50 ms of
    CPU in the desktop app's software OpenGL, taken from the worker: bench/RESULTS.md), so a tick
    redraws the panels only when the bar, stage, summary or error it shows changed."""
    redraws = []
    real = operators.redraw_panels
    monkeypatch.setattr(operators, "redraw_panels", lambda: redraws.append(1) or real())
    job = operators.JOB
    shown = []

    def panel():
        return (job.running, job.stage, round(job.progress * 100), tuple(job.cost), job.summary, job.error)
    op = start()
    for _ in range(2):          # two ticks before the worker can have answered: the panel reads the same
        assert op.modal(bpy.context, event('TIMER')) == {'RUNNING_MODAL'}
        shown.append(panel())
    assert shown[0] == shown[1] and len(redraws) == 1

    def record():
        shown.append(panel())
        return False
    assert tick_until(op, record) == {'FINISHED'}
    shown.append(panel())                                   # the tick that baked and ended the run
    changes = 1 + sum(a != b for a, b in zip(shown, shown[1:]))
    assert len(redraws) == changes < len(shown)
    assert not job.running and job.summary.startswith("Baked ")       # the last state was drawn
