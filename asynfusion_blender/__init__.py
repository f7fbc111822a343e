"""AsynFusion for Blender: speech in, face + body SMPL-X animation out.

The add-on never imports torch. It drives the backend worker as a separate process
(client.py), bakes the motion file the worker writes (bake/: numpy computes the keys, bpy
only writes them) onto a rig (rig/: built or recognised) and can bake motion files users
already have (EMAGE, BEAT2, AMASS). setup/ makes the backend's venv from the preferences.
Inside the add-on every import is relative, so it works both as this package and as
the extension ``bl_ext.<repo>.asynfusion_blender``.
"""

from __future__ import annotations

import bpy

from . import client, operators, preferences, properties, ui
from .setup import operators as setup_operators
from .setup.session import stop_setup

_CLASSES = (preferences.CLASSES + setup_operators.CLASSES + properties.CLASSES + operators.CLASSES
            + ui.CLASSES)


def register() -> None:
    for cls in _CLASSES:
        bpy.utils.register_class(cls)
    properties.register()
    ui.register()


def unregister() -> None:
    stop_setup()
    client.shutdown()
    ui.unregister()
    properties.unregister()
    for cls in reversed(_CLASSES):
        bpy.utils.unregister_class(cls)
