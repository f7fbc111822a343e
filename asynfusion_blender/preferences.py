"""Add-on preferences: where the backend Python is, which device, which weights (Set up backend: setup/)."""

from __future__ import annotations

import os
from typing import Literal

import bpy
from bpy.props import BoolProperty, EnumProperty, StringProperty

from . import client
from .setup.session import SETUP, draw_setup, setup_note

DEVICES = [
    ("auto", "Auto", "CUDA when the backend sees a GPU, else CPU"),
    ("cuda", "CUDA", "NVIDIA GPU"),
    ("cpu", "CPU", "Processor only (slower, always available)"),
]


# The listing says the same (blender_manifest.toml: license, copyright); README.md, Licences.
LICENCE_NOTE = ("The shipped weights are trained on BEAT2: CC BY-NC 4.0, non-commercial use only. "
                "The add-on's code is MIT.")


def user_venv() -> str | None:
    """The extension's own virtual environment folder, when Blender provides one (4.2+ extensions)."""
    package = __package__ or ""
    if not package.startswith("bl_ext."):
        return None
    try:
        return bpy.utils.extension_path_user(package, path="venv", create=False)
    except (ValueError, RuntimeError):
        return None


def _backend_python_changed(prefs: AsynFusionPreferences, context: bpy.types.Context) -> None:
    """A Backend Python that is found ("Using: ...") replaces a failed Set Up Backend: its red
    sentence goes, since Generate no longer needs the environment that setup could not make."""
    if SETUP.error and not SETUP.running and prefs.backend_python:
        chosen = os.path.normpath(bpy.path.abspath(prefs.backend_python))
        if backend_python(prefs) == chosen:
            SETUP.error = ""


class AsynFusionPreferences(bpy.types.AddonPreferences):
    bl_idname = __package__ or "asynfusion_blender"

    backend_python: StringProperty(  # type: ignore[valid-type]
        name="Backend Python", subtype='FILE_PATH', update=_backend_python_changed,
        description="Python interpreter with torch and the asynfusion backend; empty finds one automatically",
    )
    device: EnumProperty(name="Device", items=DEVICES, default="auto")  # type: ignore[valid-type]
    weights_dir: StringProperty(  # type: ignore[valid-type]
        name="Weights Folder", subtype='DIR_PATH',
        description="Folder with the trained AsynFusion weights; empty uses the weights shipped with the add-on",
    )
    save_takes: EnumProperty(  # type: ignore[valid-type]
        name="Save Takes", default="ALL",
        items=[("ALL", "Every Take", "Saving the .blend keeps every take in the take list"),
               ("KEPT", "Kept Only", "Saving the .blend keeps only the takes kept (shield) or playing; "
                "the panel names the others before and when they are left out")])
    compress_saves: BoolProperty(  # type: ignore[valid-type]
        name="Compress Files With Takes", default=True,
        description="Save a .blend that holds takes compressed (Blender's own compression, about a fifth of "
                    "the size: a take's keyframes and the built-in head's shape keys are large); off leaves "
                    "it as Blender writes it",
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
        draw_setup(layout, self, setup_note(self.device, self.wheel_dir))
        layout.prop(self, "device")
        layout.prop(self, "weights_dir")
        layout.prop(self, "save_takes")
        layout.prop(self, "compress_saves")
        layout.label(text=worker_status())
        layout.label(text=LICENCE_NOTE, icon='INFO')


def get_preferences(context: bpy.types.Context) -> AsynFusionPreferences | None:
    """The preferences when the add-on is enabled through Blender, else None (defaults apply)."""
    addon: bpy.types.Addon | None = context.preferences.addons.get(AsynFusionPreferences.bl_idname)
    return addon.preferences if addon is not None else None  # type: ignore[return-value]


def saves_every_take(context: bpy.types.Context) -> bool:
    """Whether saving keeps every take (the default) or only kept and playing ones."""
    prefs = get_preferences(context)
    return prefs is None or prefs.save_takes == "ALL"


def worker_status() -> str:
    """The status line: is a worker warm, and on which device (short: a sidebar at its default
    width shows about 36 characters)."""
    warm = client.current_client()
    if warm is None or not warm.alive:
        return "Worker: starts on Generate"
    if warm.frozen:
        return "Worker: not responding; Generate restarts it"
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
        return "Installing the backend...; Generate can start once it is ready.", 'TIME'
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


CLASSES = (AsynFusionPreferences,)
