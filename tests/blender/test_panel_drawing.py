"""How the panel is laid out where Blender 4.2/4.3 would draw it wrongly (issue 23 item 7).

The bpy module draws no UI, so the panel's draw() runs here on a layout that records what is put
in it, in order; the real add-on, scene and job state feed it. What the records must show follows
from how Blender redraws a panel: each new button takes over the state of the first old button it
"equals", and 4.2/4.3 compare a label and the progress bar alike (no type check). Screenshots of
the desktop app (docs/take_list_picture.sh) show the same two things drawn."""

from types import SimpleNamespace

import bpy
import pytest

from asynfusion_blender import operators, ui


class Recorder:
    """A UILayout that records labels, progress bars, RNA and operator buttons, and sections, each
    with the height scale it is drawn at (its own times its parents')."""

    def __init__(self, log, parent_scale=1.0):
        self.log, self.parent_scale, self.scale_y = log, parent_scale, 1.0
        self.alert = self.enabled = self.active = True
        self.scale_x, self.ui_units_x, self.alignment = 1.0, 0.0, 'EXPAND'

    def _scale(self):
        return self.parent_scale * self.scale_y

    def _child(self, *args, **kwargs):
        return Recorder(self.log, self._scale())
    row = column = box = split = _child

    def label(self, text="", icon='NONE', **kwargs):
        self.log.append(("label", text, icon, self._scale()))

    def progress(self, text="", **kwargs):
        self.log.append(("progress", text, None, self._scale()))

    def prop(self, data, name, **kwargs):
        self.log.append(("prop", name, None, self._scale()))

    def prop_search(self, data, name, *args, **kwargs):
        self.log.append(("prop", name, None, self._scale()))

    def operator(self, idname, text="", **kwargs):
        self.log.append(("operator", idname, text, self._scale()))
        return type("OperatorProperties", (), {})()

    def separator(self, **kwargs):
        self.log.append(("separator", "", None, self._scale()))

    def panel(self, idname, default_closed=False):
        self.log.append(("section", idname, default_closed, self._scale()))
        return self._child(), None


def draw_main(context):
    """The main panel's draw() in a 300 px wide sidebar at UI scale 1 (the bpy module has no region)."""
    log = []
    sidebar = SimpleNamespace(scene=context.scene, region=SimpleNamespace(width=300),
                              preferences=SimpleNamespace(system=SimpleNamespace(ui_scale=1.0),
                                                          addons=context.preferences.addons))
    ui.ASYNFUSION_PT_main.draw(SimpleNamespace(layout=Recorder(log)), sidebar)
    return log


def plain(log):
    """The buttons Blender 4.2/4.3 cannot tell apart when it matches old to new: labels and bars."""
    return [item for item in log if item[0] in ("label", "progress")]


@pytest.fixture
def generating(scene):
    job = operators.JOB
    job.start()
    job.advance(0.8, "sampling")
    yield job
    job.end()
    job.done("")


def test_the_progress_bar_hands_its_state_to_an_empty_label_of_no_height_not_to_the_summary(generating):
    """While generating, the bar sits where Generate was (the mouse is still there after the click);
    when the run ends, the button that takes over the bar's state (hover included) is an empty label
    under a pixel high, so the summary's first line is not drawn as a blue bar with its ✓ over the
    text (the desktop app's glitch)."""
    running = plain(draw_main(bpy.context))
    bar = next(i for i, item in enumerate(running) if item[0] == "progress")
    assert running[bar][1] == "sampling 80%"
    generating.end()
    generating.done("Baked 356 frames (14.8 s), frames 1-356 on cpu (2 threads).", [])
    finished = plain(draw_main(bpy.context))
    assert finished[:bar] == running[:bar]                  # the same labels above it, so matched in order
    kind, text, icon, scale_y = finished[bar]
    assert (kind, text) == ("label", "") and scale_y * 20 < 1          # a row is 20 px at scale 1
    assert finished[bar + 1][1].startswith("Baked 356 frames") and finished[bar + 1][2] == 'CHECKMARK'


def test_an_error_after_the_run_is_not_the_label_that_takes_over_the_bar(generating):
    running = plain(draw_main(bpy.context))
    bar = next(i for i, item in enumerate(running) if item[0] == "progress")
    generating.end()
    generating.fail("The worker stopped; press Generate again.")
    finished = plain(draw_main(bpy.context))
    assert finished[bar][1] == "" and finished[bar][3] * 20 < 1
    assert finished[bar + 1][1].startswith("The worker stopped;") and finished[bar + 1][2] == 'ERROR'


def test_motion_file_and_rigs_are_sections_of_the_one_panel(scene):
    """Sub-panels' places are worked out after the main panel's new height is drawn: right after a
    bake grew the take list, Blender 4.3 drew Motion File and Rigs over the take rows for a frame.
    As sections of the main panel's own layout they move with it; the tab has one panel."""
    tab = [name for name in dir(bpy.types) if getattr(getattr(bpy.types, name), "bl_category", "") == "AsynFusion"]
    assert tab == ["ASYNFUSION_PT_main"]
    log = draw_main(bpy.context)
    sections = [item[1:3] for item in log if item[0] == "section"]
    assert sections == [("ASYNFUSION_motion_file", True), ("ASYNFUSION_rigs", True)]     # closed until opened
    assert log[-1][0] == "label" and log[-1][1] == "Rigs"          # after everything else, as before
