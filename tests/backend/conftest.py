"""Shared fixtures: real audio files, randomly initialised weights, paths."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "tests" / "data"
SHARED = REPO.parent / "shared" / "data"
SPEECH_WAV = DATA / "arctic_a0007.wav"
SPEECH_OGG = DATA / "5703-47212-0000.ogg"
BEAT2 = SHARED / "beat2"


@pytest.fixture(scope="session")
def random_weights(tmp_path_factory) -> Path:
    """A small randomly initialised LCM student with a retrieval body branch and a random
    motion database (random weights, not trained)."""
    from asynfusion.random_model import save_random_weights

    folder = tmp_path_factory.mktemp("random_weights")
    save_random_weights(folder, kind="lcm", seed=0, width=64, depth=2, heads=2, retrieval=True)
    return folder


@pytest.fixture(scope="session")
def random_teacher_weights(tmp_path_factory) -> Path:
    from asynfusion.random_model import save_random_weights

    folder = tmp_path_factory.mktemp("random_teacher")
    save_random_weights(folder, kind="teacher", seed=1, width=64, depth=2, heads=2)
    return folder


@pytest.fixture(scope="session")
def speech() -> tuple[np.ndarray, int]:
    data, rate = soundfile.read(SPEECH_WAV, dtype="float32")
    return data, rate


@pytest.fixture(scope="session")
def long_speech(tmp_path_factory) -> Path:
    """About ten minutes of real speech: the BEAT2 takes repeated end to end."""
    parts = [soundfile.read(BEAT2 / f"2_scott_0_{k}.wav", dtype="float32")[0] for k in ("1_1", "2_2")]
    wave = np.concatenate(parts * 5)[: 600 * 16000]
    path = tmp_path_factory.mktemp("long") / "ten_minutes.wav"
    soundfile.write(path, wave, 16000, subtype="PCM_16")
    return path


def cli_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO / "backend")
    return env


PYTHON = sys.executable
