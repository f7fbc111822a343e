"""The one backend setup of this Blender session: its job, its timer and its box in the preferences."""

from __future__ import annotations

import logging
import textwrap
from dataclasses import dataclass
from typing import Literal

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


ONLINE_OFF = ("Set Up Backend downloads PyTorch, but Blender's online access is off: turn on Preferences > System > "
              "Network > Allow Online Access, or give an Offline Wheels folder.")
ONLINE_OFF_BY_LAUNCH = ("Set Up Backend downloads PyTorch, but Blender was started with --offline-mode: start it "
                        "without that option, or give an Offline Wheels folder.")


def offline_reason(wheel_dir: str, dependencies: bool = True) -> str:
    """Why Set Up Backend may not download now (Blender's Allow Online Access); empty when it may."""
    if wheel_dir or not dependencies or bpy.app.online_access:
        return ""
    return ONLINE_OFF_BY_LAUNCH if bpy.app.online_access_override else ONLINE_OFF


def setup_note(device: str, wheel_dir: str) -> tuple[str, bool]:
    """What pressing Set Up Backend will fetch, said before it starts: (text, is a problem)."""
    reason = offline_reason(wheel_dir)
    if reason:
        return reason, True
    build = install.torch_build(device, install.find_nvidia_smi())
    return install.download_note(build, wheel_dir) or "Installs from the Offline Wheels folder; nothing is downloaded.", False


CHAR_PX = 6.5           # an average character of the UI font at scale 1, in pixels (generous)
MARGIN_PX = 90          # the add-on's box in the Preferences, its margins and a label's icon


def wrap_lines(text: str, region_width: float, scale: float = 1.0) -> list[str]:
    """``text`` in lines that fit a Preferences region ``region_width`` pixels wide at UI ``scale``,
    broken between words: a label cuts a long sentence in its middle ("failed b…m package")."""
    scale = scale or 1.0
    chars = max(30, int((region_width - MARGIN_PX * scale) / (CHAR_PX * scale)))
    return textwrap.wrap(text, chars, break_long_words=True, break_on_hyphens=False) or [""]


def _wrapped(layout: bpy.types.UILayout, text: str, icon: Literal['INFO', 'ERROR', 'CHECKMARK'],
             alert: bool = False) -> None:
    """A long line as several labels (labels do not wrap) as wide as the region, the icon on the first."""
    region = bpy.context.region
    width = region.width if region is not None else 600
    col = layout.column(align=True)
    col.alert = alert
    for i, line in enumerate(wrap_lines(text, width, bpy.context.preferences.system.ui_scale)):
        col.label(text=line, icon=icon if i == 0 else 'BLANK1')


def draw_setup(layout: bpy.types.UILayout, prefs: bpy.types.AddonPreferences, note: tuple[str, bool]) -> None:
    """The setup's box: its button and what it will download (``note``: setup_note), or its progress."""
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
        text, problem = note
        _wrapped(box, text, 'ERROR' if problem else 'INFO', alert=problem)
    if SETUP.error or SETUP.message:
        _wrapped(box, SETUP.error or SETUP.message, 'ERROR' if SETUP.error else 'CHECKMARK', alert=bool(SETUP.error))


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
