"""The backend's virtual environment as the add-on finds it: its interpreter and the mark that
says Set Up Backend finished it. The client reads these to pick the worker's Python; the setup
(setup/install.py) makes the environment and writes the mark. Neither imports the other."""

from __future__ import annotations

import os
import sys

# Written into the venv once its check passed: a venv without it is half-made and never used.
READY_FILE = "asynfusion-ready"


def venv_python(venv_dir: str, platform: str = sys.platform) -> str:
    if platform == "win32":
        return os.path.join(venv_dir, "Scripts", "python.exe")
    return os.path.join(venv_dir, "bin", "python")


def is_ready(venv_dir: str) -> bool:
    """Whether a setup finished this venv (its check passed), so the add-on may use it."""
    return os.path.isfile(os.path.join(venv_dir, READY_FILE))
