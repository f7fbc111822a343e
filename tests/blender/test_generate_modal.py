"""The Generate operator's modal path in real Blender: its start, the timer's ticks, ESC, the Cancel
button, the timer's removal and the bake, with the real worker, the shipped weights and real speech.

The bpy module runs no event loop, so Blender itself never calls ``invoke`` (an INVOKE call without
an event runs ``execute``) nor ``modal``. Two stand-ins, and only these: an operator registered for
these tests that carries the real operator's ``start_modal``, ``modal`` and ``_end`` and enters
``start_modal`` from ``execute``, as the desktop's ``invoke`` does (a real timer on the real window,
a real modal handler, a real worker); and the events, objects with the one field ``modal`` reads
(``type``), passed to the running instance's ``modal`` as the event loop would pass them.

The window manager's undo push at the end of a modal operator belongs to that event loop too; the
one undo step is tested on the same operator run through ``execute``, where Blender pushes it.
"""

import time
from types import SimpleNamespace

import bpy
import pytest

from conftest import scene_state
from asynfusion_blender import client, operators, takes


GENERATE = operators.ASYNFUSION_OT_generate


class ASYNFUSION_OT_generate_modal(bpy.types.Operator):
    """Generate, entered through its modal start"""
    bl_idname = "asynfusion.generate_modal_test"
    bl_label = GENERATE.bl_label
    bl_options = GENERATE.bl_options
    # The real operator's own functions (a subclass of a registered operator would unhook it).
    start_modal, modal, _end, new_run, _timer, _run = (GENERATE.start_modal, GENERATE.modal, GENERATE._end,
                                                       GENERATE.new_run, GENERATE._timer, GENERATE._run)
    started: list = []

    def execute(self, context):
        type(self).started.append(self)
        return self.start_modal(context)


def event(kind):
    return SimpleNamespace(type=kind)


@pytest.fixture
def modal(scene):
    bpy.utils.register_class(ASYNFUSION_OT_generate_modal)
    ASYNFUSION_OT_generate_modal.started.clear()
    yield scene
    ASYNFUSION_OT_generate_modal.started.clear()
    bpy.utils.unregister_class(ASYNFUSION_OT_generate_modal)     # also ends its modal handler


def start():
    """Press Generate: the operator goes modal and its timer runs."""
    assert bpy.ops.asynfusion.generate_modal_test() == {'RUNNING_MODAL'}
    op = ASYNFUSION_OT_generate_modal.started[-1]
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


def test_timer_ticks_generate_and_bake_then_the_timer_is_removed(modal):
    armature, body = modal
    op = start()
    assert not bpy.ops.asynfusion.generate.poll()           # greyed out while it runs
    assert bpy.ops.asynfusion.cancel.poll()
    assert op.modal(bpy.context, event('MOUSEMOVE')) == {'PASS_THROUGH'}      # the rest of the UI still works
    progress = []

    def record():
        progress.append(operators.JOB.progress)
        return False
    assert tick_until(op, record) == {'FINISHED'}
    assert any(0.0 < p < 1.0 for p in progress) and progress == sorted(progress)
    assert op._timer is None and not operators.JOB.running
    assert armature.animation_data.action.name == "5703-47212-0000 body"
    assert body.data.shape_keys.animation_data.action.name == "5703-47212-0000 face"
    assert operators.JOB.summary.startswith("Baked ") and operators.JOB.error == ""
    assert bpy.ops.asynfusion.generate.poll() and not bpy.ops.asynfusion.cancel.poll()
    take = takes.all_takes()[0]            # the take remembers the seed it was generated with
    assert (take.name, take.seed, take.start) == ("5703-47212-0000", 3, 1) and not take.kept


def _cancel_while_sampling(long_speech, cancel):
    bpy.context.scene.asynfusion.audio_file = long_speech
    before = scene_state()
    op = start()
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
    _cancel_while_sampling(long_speech, lambda op: op.modal(bpy.context, event('ESC')))


def test_the_cancel_button_ends_the_run_on_the_next_tick(modal, long_speech):
    def press_cancel(op):
        assert bpy.ops.asynfusion.cancel() == {'FINISHED'}
        return op.modal(bpy.context, event('TIMER'))
    _cancel_while_sampling(long_speech, press_cancel)


def test_a_generate_is_one_undo_step(scene):
    assert 'UNDO' in operators.ASYNFUSION_OT_generate.bl_options
    bpy.ops.ed.undo_push(message="before Generate")
    before = scene_state()
    assert bpy.ops.asynfusion.generate('EXEC_DEFAULT', True) == {'FINISHED'}     # True: with undo, as a button
    assert scene_state() != before
    assert bpy.ops.ed.undo() == {'FINISHED'}
    assert scene_state() == before          # actions, keys, sound strip, frame range, sync mode: all of it
