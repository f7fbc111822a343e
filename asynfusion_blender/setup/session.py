"""The one backend setup of this Blender session: its job, its timer and its box in the preferences."""

from __future__ import annotations

import logging
import textwrap
from dataclasses import dataclass

import bpy

from . import install

log = logging.getLogger(__name__)


@dataclass
class SetupState:
    """The running job, or how the last one ended."""

    job: install.SetupJob | None = None
    error: str = ""
    message: str = ""

    @property
    def running(self) -> bool:
        return self.job is not None and not self.job.done


SETUP = SetupState()


def draw_setup(layout: bpy.types.UILayout, prefs: bpy.types.AddonPreferences) -> None:
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
        if job.error:
            log.error("%s", job.error)
        else:
            log.info("%s", job.message)
    _redraw_preferences()
    return None if job.done else 0.25


def stop_setup() -> None:
    """Unregister: end a running setup (it removes its half-made venv) and its timer."""
    if bpy.app.timers.is_registered(setup_tick):
        bpy.app.timers.unregister(setup_tick)
    if SETUP.job is not None and not SETUP.job.done:
        SETUP.job.cancel()
    SETUP.job = None
