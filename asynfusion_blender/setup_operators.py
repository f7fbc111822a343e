"""The Set Up Backend and Cancel buttons of the preferences (the setup itself: setup/)."""

from __future__ import annotations

import os
import sys
import time

import bpy
from bpy.props import BoolProperty

from . import client, preferences
from .operators import Status
from .setup import install
from .setup.session import SETUP, offline_reason, setup_note, setup_tick


class ASYNFUSION_OT_setup_backend(bpy.types.Operator):
    """Create a Python environment for the backend in the add-on's user folder and install PyTorch (CUDA where an NVIDIA GPU is found, else CPU) and the bundled backend into it; it says how much it downloads first"""
    bl_idname = "asynfusion.setup_backend"
    bl_label = "AsynFusion: Set Up Backend"

    dependencies: BoolProperty(  # type: ignore[valid-type]
        name="With Dependencies", default=True, options={'HIDDEN', 'SKIP_SAVE'},
        description="Install torch and the backend's dependencies (off: only the backend package, offline)",
    )

    def invoke(self, context: bpy.types.Context, event: bpy.types.Event) -> Status:
        """Say what will be downloaded, and roughly how long it takes, before anything starts."""
        if SETUP.running:
            return self.execute(context)
        prefs = preferences.get_preferences(context)
        note, problem = setup_note(prefs.device if prefs else "auto", prefs.wheel_dir if prefs else "")
        if problem:
            return self.execute(context)        # it refuses with the same sentence
        return context.window_manager.invoke_confirm(self, event, title="Set Up Backend", message=note,
                                                     confirm_text="Set Up")

    def execute(self, context: bpy.types.Context) -> Status:
        if SETUP.running:
            self.report({'WARNING'}, "The backend is already being set up.")
            return {'CANCELLED'}
        SETUP.error, SETUP.message = "", ""
        try:
            job = self._prepare(context)
        except (install.SetupError, client.AddonError) as err:
            SETUP.error = str(err)
            self.report({'ERROR'}, SETUP.error)
            return {'CANCELLED'}
        client.shutdown()                   # a warm worker may run from the venv that is replaced
        SETUP.job = job
        job.start()
        if bpy.app.background:              # no event loop: the same ticks, one after another
            while setup_tick() is not None:
                time.sleep(0.1)
            if SETUP.error:
                self.report({'ERROR'}, SETUP.error)
                return {'CANCELLED'}
            self.report({'INFO'}, SETUP.message)
            return {'FINISHED'}
        bpy.app.timers.register(setup_tick, first_interval=0.1)
        return {'FINISHED'}

    def _prepare(self, context: bpy.types.Context) -> install.SetupJob:
        venv = preferences.user_venv()
        backend = client.backend_dir()
        if venv is None or backend is None:
            raise client.AddonError("Set Up Backend works in the installed extension; in a source checkout "
                                    "run 'make setup-backend' and point Backend Python to .venv.")
        prefs = preferences.get_preferences(context)
        wheel_dir = os.path.normpath(bpy.path.abspath(prefs.wheel_dir)) if prefs and prefs.wheel_dir else ""
        reason = offline_reason(wheel_dir, self.dependencies)
        if reason:                          # before anything is made or downloaded
            raise install.SetupError(reason)
        python = install.base_python(sys.executable, sys.version_info[:2])
        return install.prepare(
            venv, backend, python=python, device=prefs.device if prefs else "auto", wheel_dir=wheel_dir,
            dependencies=self.dependencies, nvidia_smi=install.find_nvidia_smi(),
        )


class ASYNFUSION_OT_setup_backend_cancel(bpy.types.Operator):
    """Stop setting up the backend (the half-made environment is removed)"""
    bl_idname = "asynfusion.setup_backend_cancel"
    bl_label = "AsynFusion: Cancel Backend Setup"

    def execute(self, context: bpy.types.Context) -> Status:
        if not SETUP.running or SETUP.job is None:
            return {'CANCELLED'}
        SETUP.job.cancel()
        setup_tick()
        return {'FINISHED'}


CLASSES = (ASYNFUSION_OT_setup_backend, ASYNFUSION_OT_setup_backend_cancel)
