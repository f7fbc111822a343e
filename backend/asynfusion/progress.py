"""One progress line on stderr, for generation (the CLI) and for training runs.

On a terminal the line is redrawn in place; in a log file or a pipe a carriage return would
pile up, so there it prints a plain line every ``log_every`` updates, or nothing at all.
"""

from __future__ import annotations

import sys
import time


class ProgressLine:
    """``[####......] text``: the bar shows the fraction done, the text whatever the caller says."""

    def __init__(self, stream=None, width: int = 30, interval: float = 0.0, log_every: int = 0,
                 keep: bool = True) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.width, self.interval, self.log_every, self.keep = width, interval, log_every, keep
        self.tty = self.stream.isatty()
        self.last = 0.0
        self.length = 0

    def update(self, fraction: float, text: str, count: int = 0) -> None:
        """Redraw (a terminal: at most every ``interval`` s, and at the end) or log (every
        ``log_every``-th ``count``, and at the end)."""
        end = fraction >= 1
        if self.tty:
            now = time.monotonic()
            if now - self.last < self.interval and not end:
                return
            self.last = now
        elif not (self.log_every and (count % self.log_every == 0 or end)):
            return
        filled = int(self.width * min(max(fraction, 0.0), 1.0))
        line = f"[{'#' * filled}{'.' * (self.width - filled)}] {text}"
        if self.tty:
            self.stream.write("\r" + line.ljust(self.length))
            self.length = len(line)
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def close(self) -> None:
        """On a terminal: end the line (``keep``) or wipe it, so what is printed next starts clean."""
        if self.tty and self.length:
            self.stream.write("\n" if self.keep else "\r" + " " * self.length + "\r")
            self.stream.flush()
