"""The job the panel shows: the current or last Generate, bake or save (not saved with the file).

One object, ``JOB``, changed only through its own methods: a Generate ``start``s it, its worker's
progress ``advance``s it, and ``end`` is the one way it stops running, whichever way the run ends
(a result, an error, a cancel, a worker that died meanwhile). While it runs every other operator
is greyed out, so nothing else sets or clears ``running``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import bpy


@dataclass
class JobState:
    """What the panel shows about the current or last job."""
    progress: float = 0.0
    stage: str = ""
    summary: str = ""
    error: str = ""
    cost: list[str] = field(default_factory=list)   # what a large bake will cost, shown while generating
    baked: list[str] = field(default_factory=list)  # the actions the summary is about
    note: str = ""                                  # what the last save left out (takes not kept)
    _running: bool = False
    _cancel_requested: bool = False
    _shown: tuple = ()                              # what panel_changed() last saw

    @property
    def running(self) -> bool:
        return self._running

    @property
    def cancel_requested(self) -> bool:
        return self._cancel_requested

    def start(self) -> None:
        """A Generate begins: running, no progress yet, nothing said about the last job."""
        self._running, self._cancel_requested = True, False
        self.progress, self.stage, self.cost = 0.0, "starting", []
        self.done("")

    def advance(self, fraction: float, stage: str) -> None:
        self.progress, self.stage = fraction, stage

    def show_cost(self, lines: list[str]) -> None:
        self.cost = list(lines)

    def request_cancel(self) -> None:
        """The Cancel button: the running Generate cancels on its next timer tick."""
        self._cancel_requested = True

    def end(self) -> None:
        """The Generate is over, however it ended; the other operators work again."""
        self._running = self._cancel_requested = False

    def done(self, summary: str, baked: list[str] | None = None) -> None:
        self.summary, self.error, self.baked = summary, "", list(baked or ())

    def fail(self, message: str) -> None:
        self.error, self.summary, self.baked = message, "", []

    def set_note(self, note: str) -> None:
        self.note = note

    def panel_changed(self) -> bool:
        """Whether what the panel shows of the job (its bar to the percent, stage, cost, summary,
        error, note) changed since the last call. Generate's timer ticks ten times a second but
        redraws only then: a redraw is a whole window's draw (about 50 ms of CPU in software
        OpenGL, taken from the worker on a 2-core machine; bench/RESULTS.md)."""
        shown = (self._running, self.stage, round(self.progress * 100), tuple(self.cost), self.summary,
                 self.error, self.note)
        changed, self._shown = shown != self._shown, shown
        return changed

    def current_summary(self) -> str:
        """The summary while it is still true: once its bake is undone (its actions gone) it says nothing."""
        if any(bpy.data.actions.get(name) is None for name in self.baked):
            return ""
        return self.summary

    def forget(self) -> None:
        """The scene changed under the panel's messages (undo, redo, another file): the error and a
        summary that is not about a bake still there are no longer true."""
        if self.running:
            return
        self.error = ""
        if not self.baked:
            self.summary = ""

    def targets_changed(self) -> None:
        """The rig or face changed: an error about the previous ones is stale."""
        if not self.running:
            self.error = ""


JOB = JobState()
