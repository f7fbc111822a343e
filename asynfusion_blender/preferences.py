"""Add-on preferences: where the backend Python is, which device, which weights."""

from __future__ import annotations

import bpy
from bpy.props import EnumProperty, StringProperty

from . import client

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
        description="Folder with the trained AsynFusion weights; empty uses the backend's default",
    )

    def draw(self, context: bpy.types.Context) -> None:
        layout = self.layout
        layout.prop(self, "backend_python")
        found = client.find_python(bpy.path.abspath(self.backend_python), user_venv())
        layout.label(text=f"Using: {found}" if found else "No backend Python found; set one above.",
                     icon='CHECKMARK' if found else 'ERROR')
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


def worker_command(context: bpy.types.Context) -> list[str]:
    """The worker command line from the preferences; raises AddonError when no Python is found."""
    prefs = get_preferences(context)
    preferred = bpy.path.abspath(prefs.backend_python) if prefs else ""
    python = client.find_python(preferred, user_venv())
    if python is None:
        raise client.AddonError(
            "No backend Python found; set one in Preferences > Add-ons > AsynFusion "
            f"or the {client.ENV_PYTHON} environment variable."
        )
    device = prefs.device if prefs else "auto"
    weights = bpy.path.abspath(prefs.weights_dir) if prefs and prefs.weights_dir else ""
    return client.worker_command(python, device, weights)


CLASSES = (AsynFusionPreferences,)
