"""Where the shipped weights are, and the sampler settings they name, without importing torch
(the CLI's help texts read them while the parser is built, and argument errors stay instant)."""

from __future__ import annotations

import json
import os
from pathlib import Path


def default_weights_dir() -> Path:
    """``weights/`` beside the backend: the repository root, or the add-on folder in a build."""
    env = os.environ.get("ASYNFUSION_WEIGHTS")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2] / "weights"


def shipped_sampler() -> dict:
    """The shipped weights' "sampler" section (empty where they or it are missing)."""
    try:
        saved = json.loads((default_weights_dir() / "config.json").read_text())["sampler"]
    except (OSError, ValueError, KeyError, TypeError):
        return {}
    return saved if isinstance(saved, dict) else {}
