"""AsynFusion for Blender: speech in, face + body SMPL-X animation out.

The add-on never imports torch. It drives the backend worker as a separate process
(client.py), bakes the motion file the worker writes (bake/: numpy computes the keys, bpy
only writes them) onto a rig (rig/: built or recognised) and can bake motion files users
already have (EMAGE, BEAT2, AMASS). setup/ makes the backend's venv from the preferences.
Inside the add-on every import is relative, so it works both as this package and as
the extension ``bl_ext.<repo>.asynfusion_blender``.
"""

from __future__ import annotations

import sys

import bpy

try:
    import numpy  # noqa: F401  (every bake computes in numpy; some Linux distribution builds of Blender lack it)
except ImportError:
    raise ImportError(
        "AsynFusion needs numpy, which the Python of this Blender build (Python "
        f"{sys.version_info[0]}.{sys.version_info[1]}) does not have: install it for that Python (e.g. your "
        "distribution's python3-numpy package) or use Blender from blender.org, which includes it."
    ) from None

from . import client, operators, preferences, properties, save_size, setup_operators, ui  # noqa: E402
from .setup.session import stop_setup

_CLASSES = (preferences.CLASSES + setup_operators.CLASSES + properties.CLASSES + operators.CLASSES
            + ui.CLASSES)


def register() -> None:
    for cls in _CLASSES:
        bpy.utils.register_class(cls)
    properties.register()
    operators.register()
    ui.register()
    save_size.register()            # after the take handlers: it may save the file once more


def unregister() -> None:
    stop_setup()
    client.shutdown()
    save_size.unregister()
    ui.unregister()
    operators.unregister()
    properties.unregister()
    for cls in reversed(_CLASSES):
        bpy.utils.unregister_class(cls)
