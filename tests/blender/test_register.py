"""Register/unregister in real Blender leaves nothing behind."""

import addon_utils
import bpy

from conftest import REPO  # noqa: F401  (puts the repo on sys.path)


def _snapshot():
    from asynfusion_blender import ui
    return {
        "types": {name for name in dir(bpy.types) if "ASYNFUSION" in name.upper()},
        "worker_watch": bpy.app.timers.is_registered(ui.watch_worker),
        "ops": set(dir(bpy.ops.asynfusion)),
        "scene_prop": hasattr(bpy.types.Scene, "asynfusion"),
        "menu": [f.__module__ for f in bpy.types.VIEW3D_MT_object_animation._dyn_ui_initialize()],
    }


def test_register_then_unregister_leaves_no_trace():
    import asynfusion_blender
    bpy.ops.wm.read_factory_settings(use_empty=True)
    before = _snapshot()
    assert not before["types"] and not before["scene_prop"]
    asynfusion_blender.register()
    during = _snapshot()
    assert {"generate", "bake_motion", "create_rig", "cancel", "use_selection"} <= during["ops"]
    assert "ASYNFUSION_PT_main" in during["types"] and during["scene_prop"]
    # Object > Animation holds the add-on's menu, which is where F3's menu search finds Generate
    assert "ASYNFUSION_MT_animation" in during["types"]
    assert during["menu"].count("asynfusion_blender.ui") == 1 and "asynfusion_blender.ui" not in before["menu"]
    assert bpy.context.scene.asynfusion.steps_face == 0 and during["worker_watch"]   # 0: the weights' own
    asynfusion_blender.unregister()
    assert _snapshot() == before
    # and again: a second cycle works (no stale state in the modules)
    asynfusion_blender.register()
    asynfusion_blender.unregister()
    assert _snapshot() == before


def test_enabled_through_blender_has_preferences():
    bpy.ops.wm.read_factory_settings(use_empty=True)
    module = addon_utils.enable("asynfusion_blender", default_set=True)
    try:
        assert module is not None
        prefs = bpy.context.preferences.addons["asynfusion_blender"].preferences
        assert prefs.device == "auto"
        from asynfusion_blender import preferences
        command = preferences.worker_command(bpy.context)
        assert command[1:3] == ["-m", "asynfusion.worker"]
        prefs.device = "cpu"
        assert preferences.worker_command(bpy.context)[-1] == "cpu"
    finally:
        addon_utils.disable("asynfusion_blender", default_set=True)
    assert "asynfusion_blender" not in bpy.context.preferences.addons
    assert not hasattr(bpy.types.Scene, "asynfusion")
