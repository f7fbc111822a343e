"""The panel's messages follow the scene (issue 13, point 6): an error about the rig goes once
there is one, "Baked ..." goes with an undone bake (and comes back with redo), a file loaded or
an undo clears what was said about the scene before, and the worker line says what the worker
does now. Real operators, real undo, real files."""

import sys

import bpy
import pytest

from asynfusion_blender import client, operators, preferences, ui

NO_RIG = "Choose a target armature (or select one), or create a rig first."


def _no_rig_error(short_take: str) -> None:
    with pytest.raises(RuntimeError, match="Choose a target armature"):
        bpy.ops.asynfusion.bake_motion(filepath=short_take)
    assert operators.JOB.error == NO_RIG


def test_an_error_about_the_rig_goes_once_there_is_a_rig(addon, short_take):
    _no_rig_error(short_take)
    assert bpy.ops.asynfusion.create_rig() == {'FINISHED'}
    assert operators.JOB.error == ""
    # Another rig chosen in the panel's field clears an error, too.
    with pytest.raises(RuntimeError, match="does not exist"):
        bpy.ops.asynfusion.bake_motion(filepath=short_take + ".missing.npz")
    assert operators.JOB.error.startswith("Motion file ")
    rig = bpy.context.scene.asynfusion.armature
    bpy.context.scene.asynfusion.armature = None
    bpy.context.scene.asynfusion.armature = rig
    assert operators.JOB.error == ""


def test_baked_goes_with_an_undone_bake_and_comes_back_with_redo(addon, short_take):
    assert bpy.ops.asynfusion.create_rig() == {'FINISHED'}
    bpy.ops.ed.undo_push(message="rig")
    assert bpy.ops.asynfusion.bake_motion('EXEC_DEFAULT', True, filepath=short_take) == {'FINISHED'}
    baked = operators.JOB.current_summary()
    assert baked.startswith("Baked ")
    assert bpy.ops.ed.undo() == {'FINISHED'}
    assert operators.JOB.current_summary() == ""
    assert bpy.ops.ed.redo() == {'FINISHED'}
    assert operators.JOB.current_summary() == baked


def test_an_undo_clears_an_error_and_a_loaded_file_clears_everything(addon, short_take, tmp_path):
    bpy.ops.ed.undo_push(message="empty")
    _no_rig_error(short_take)
    bpy.ops.ed.undo_push(message="after the error")
    assert bpy.ops.ed.undo() == {'FINISHED'}
    assert operators.JOB.error == ""

    # A saved file holds actions of the same names; the summary was about this session's bake.
    assert bpy.ops.asynfusion.create_rig() == {'FINISHED'}
    assert bpy.ops.asynfusion.bake_motion(filepath=short_take) == {'FINISHED'}
    saved = str(tmp_path / "baked.blend")
    bpy.ops.wm.save_as_mainfile(filepath=saved)
    assert operators.JOB.current_summary().startswith("Baked ")
    bpy.ops.wm.open_mainfile(filepath=saved)
    assert operators.JOB.current_summary() == "" and operators.JOB.error == ""


def test_the_worker_line_says_when_a_worker_stopped_answering(addon):
    assert preferences.worker_status() == "Worker: starts on Generate"
    silent = client.shared_client([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        assert preferences.worker_status() == "Worker: starting..."
        silent.ready, silent.stall_seconds = {"device": "cpu"}, -1.0    # ready once, silent since
        assert preferences.worker_status() == "Worker: not responding; Generate restarts it"
    finally:
        client.shutdown()
    assert preferences.worker_status() == "Worker: starts on Generate"


def test_a_worker_state_change_redraws_the_sidebar_wherever_the_mouse_is(addon, monkeypatch):
    """The watch timer tags the 3D view's sidebar when the worker line would read differently (a real
    worker starting, ready, stopped), and only then. The bpy module draws nothing, so what is seen
    is the regions tagged for redraw, not pixels."""
    screen = bpy.context.window_manager.windows[0].screen
    sidebar = next(r for a in screen.areas if a.type == 'VIEW_3D' for r in a.regions if r.type == 'UI')
    redraw, redrawn = operators.redraw_panels, []

    def seen() -> list:
        redrawn.append((preferences.worker_status(), redraw()))
        return redrawn[-1][1]
    monkeypatch.setattr(operators, "redraw_panels", seen)
    ui.watch_worker()
    redrawn.clear()
    assert ui.watch_worker() == ui.WATCH_SECONDS and redrawn == []         # nothing changed: no redraw
    worker = client.shared_client(preferences.worker_command(bpy.context), client.worker_env())
    try:
        ui.watch_worker()
        assert worker.wait(None, 300)["type"] == "ready"
        ui.watch_worker()
        ui.watch_worker()
        worker.close()
        ui.watch_worker()
    finally:
        client.shutdown()
    assert [line for line, _ in redrawn] == ["Worker: starting...", redrawn[1][0],
                                             "Worker: starts on Generate"]
    assert redrawn[1][0].startswith("Worker: ready on ")
    assert all(regions == [sidebar] for _, regions in redrawn)
