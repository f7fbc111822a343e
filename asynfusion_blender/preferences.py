"""Add-on preferences: where the backend Python is, which device, which weights; Set up backend."""

from __future__ import annotations

import os
import sys
import textwrap
import time
from dataclasses import dataclass
from typing import Literal

import bpy
from bpy.props import BoolProperty, EnumProperty, StringProperty

from . import backend_setup, client

Status = set[Literal['RUNNING_MODAL', 'CANCELLED', 'FINISHED', 'PASS_THROUGH', 'INTERFACE']]

DEVICES = [
    ("auto", "Auto", "CUDA when the backend sees a GPU, else CPU"),
    ("cuda", "CUDA", "NVIDIA GPU"),
    ("cpu", "CPU", "Processor only (slower, always available)"),
]


def user_venv() -> str | None:
    """The extension's own virtual environment folder, when Blender provides one (4.2+ extensions)."""
    package = __package__ or ""
    if not package.startswith("bl_ext."):
        return None
    try:
        return bpy.utils.extension_path_user(package, path="venv", create=False)
    except (ValueError, RuntimeError):
        return None


class AsynFusionPreferences(bpy.types.AddonPreferences):
    bl_idname = __package__ or "asynfusion_blender"

    backend_python: StringProperty(  # type: ignore[valid-type]
        name="Backend Python", subtype='FILE_PATH',
        description="Python interpreter with torch and the asynfusion backend; empty finds one automatically",
    )
    device: EnumProperty(name="Device", items=DEVICES, default="auto")  # type: ignore[valid-type]
    weights_dir: StringProperty(  # type: ignore[valid-type]
        name="Weights Folder", subtype='DIR_PATH',
        description="Folder with the trained AsynFusion weights; empty uses the weights shipped with the add-on",
    )
    wheel_dir: StringProperty(  # type: ignore[valid-type]
        name="Offline Wheels", subtype='DIR_PATH',
        description="For Set Up Backend without internet: a folder with the .whl files of torch and the "
                    "backend's dependencies ('pip download'); empty downloads them",
    )

    def draw(self, context: bpy.types.Context) -> None:
        layout = self.layout
        layout.prop(self, "backend_python")
        text, icon = python_status(self)
        layout.label(text=text, icon=icon)
        draw_setup(layout, self)
        layout.prop(self, "device")
        layout.prop(self, "weights_dir")
        layout.label(text=worker_status())


def get_preferences(context: bpy.types.Context) -> AsynFusionPreferences | None:
    """The preferences when the add-on is enabled through Blender, else None (defaults apply)."""
    addon: bpy.types.Addon | None = context.preferences.addons.get(AsynFusionPreferences.bl_idname)
    return addon.preferences if addon is not None else None  # type: ignore[return-value]


def worker_status() -> str:
    """The status line: is a worker warm, and on which device."""
    warm = client.current_client()
    if warm is None or not warm.alive:
        return "Worker: not running (starts on Generate)"
    if warm.ready is None:
        return "Worker: starting..."
    return f"Worker: ready on {warm.ready.get('device', '?')}"


def backend_python(prefs: AsynFusionPreferences | None) -> str | None:
    """The interpreter the worker would run with now; never the venv Set up backend is still making."""
    preferred = bpy.path.abspath(prefs.backend_python) if prefs else ""
    return client.find_python(preferred, None if SETUP.running else user_venv())


def python_status(prefs: AsynFusionPreferences | None) -> tuple[str, Literal['CHECKMARK', 'TIME', 'ERROR']]:
    """The preferences' line about the backend interpreter: (text, icon)."""
    found = backend_python(prefs)
    if found:
        return f"Using: {found}", 'CHECKMARK'
    if SETUP.running:
        return "The backend is being set up; Generate can start once it is ready.", 'TIME'
    return "No backend Python found; set one above or set up the backend.", 'ERROR'


def worker_command(context: bpy.types.Context) -> list[str]:
    """The worker command line from the preferences; raises AddonError when no Python is found."""
    prefs = get_preferences(context)
    python = backend_python(prefs)
    if python is None and SETUP.running:
        raise client.AddonError("The backend is still being set up; press Generate again once "
                                "Set up backend has finished.")
    if python is None:
        raise client.AddonError(
            "No backend Python found; set one in Preferences > Add-ons > AsynFusion "
            f"or the {client.ENV_PYTHON} environment variable."
        )
    device = prefs.device if prefs else "auto"
    weights = bpy.path.abspath(prefs.weights_dir) if prefs and prefs.weights_dir else ""
    return client.worker_command(python, device, weights)


# ----------------------------------------------------------------------------- Set up backend


@dataclass
class SetupState:
    """The one backend setup of this session: the running job, or how the last one ended."""

    job: backend_setup.SetupJob | None = None
    error: str = ""
    message: str = ""

    @property
    def running(self) -> bool:
        return self.job is not None and not self.job.done


SETUP = SetupState()


def draw_setup(layout: bpy.types.UILayout, prefs: AsynFusionPreferences) -> None:
    box = layout.box()
    job = SETUP.job
    if SETUP.running and job is not None:
        row = box.row(align=True)
        row.progress(factor=job.fraction, type='BAR', text=f"{job.stage} {job.fraction:.0%}")
        row.operator("asynfusion.setup_backend_cancel", text="", icon='CANCEL')
    else:
        row = box.row()
        row.operator("asynfusion.setup_backend", text="Set Up Backend", icon='CONSOLE')
        row.prop(prefs, "wheel_dir", text="Offline Wheels")
    col = box.column(align=True)
    col.alert = bool(SETUP.error)
    for i, line in enumerate(textwrap.wrap(SETUP.error or SETUP.message, 100)):   # labels do not wrap
        if i > 0:
            col.label(text=line, icon='BLANK1')
        elif SETUP.error:
            col.label(text=line, icon='ERROR')
        else:
            col.label(text=line, icon='CHECKMARK')


def _redraw_preferences() -> None:
    wm = bpy.context.window_manager
    for window in (wm.windows if wm is not None else ()):
        for area in window.screen.areas:
            if area.type == 'PREFERENCES':
                area.tag_redraw()


def setup_tick() -> float | None:
    """What the timer calls: take the setup's new output; None (stop the timer) once it ended."""
    job = SETUP.job
    if job is None:
        return None
    job.poll()
    if job.done:
        SETUP.error, SETUP.message = job.error, job.message
        print(f"AsynFusion: {job.error or job.message}")
    _redraw_preferences()
    return None if job.done else 0.25


def stop_setup() -> None:
    """Unregister: end a running setup (it removes its half-made venv) and its timer."""
    if bpy.app.timers.is_registered(setup_tick):
        bpy.app.timers.unregister(setup_tick)
    if SETUP.job is not None and not SETUP.job.done:
        SETUP.job.cancel()
    SETUP.job = None


class ASYNFUSION_OT_setup_backend(bpy.types.Operator):
    """Create a Python environment for the backend in the add-on's user folder and install PyTorch (CUDA where an NVIDIA GPU is found, else CPU) and the bundled backend into it"""
    bl_idname = "asynfusion.setup_backend"
    bl_label = "AsynFusion: Set Up Backend"

    dependencies: BoolProperty(  # type: ignore[valid-type]
        name="With Dependencies", default=True, options={'HIDDEN', 'SKIP_SAVE'},
        description="Install torch and the backend's dependencies (off: only the backend package, offline)",
    )

    def execute(self, context: bpy.types.Context) -> Status:
        if SETUP.running:
            self.report({'WARNING'}, "The backend is already being set up.")
            return {'CANCELLED'}
        SETUP.error, SETUP.message = "", ""
        try:
            job = self._prepare(context)
        except (backend_setup.SetupError, client.AddonError) as err:
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

    def _prepare(self, context: bpy.types.Context) -> backend_setup.SetupJob:
        venv = user_venv()
        backend = client.backend_dir()
        if venv is None or backend is None:
            raise client.AddonError("Set Up Backend works in the installed extension; in a source checkout "
                                    "run 'make setup-backend' and point Backend Python to .venv.")
        prefs = get_preferences(context)
        wheel_dir = os.path.normpath(bpy.path.abspath(prefs.wheel_dir)) if prefs and prefs.wheel_dir else ""
        python = backend_setup.base_python(sys.executable, sys.version_info[:2])
        return backend_setup.prepare(
            venv, backend, python=python, device=prefs.device if prefs else "auto", wheel_dir=wheel_dir,
            dependencies=self.dependencies, nvidia_smi=backend_setup.find_nvidia_smi(),
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


CLASSES = (AsynFusionPreferences, ASYNFUSION_OT_setup_backend, ASYNFUSION_OT_setup_backend_cancel)
