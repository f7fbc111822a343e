"""Shared fixtures: real audio files, randomly initialised weights, paths.

Tests that read the shared data beside the repository (``../shared/data``: the BEAT2 takes,
the ICT-FaceKit source) say so with ``@pytest.mark.shared_data("beat2")``; a test using the
``long_speech`` or ``split`` fixture is marked by itself. Where that folder is missing they are skipped with
a reason naming it, except where ``ASYNFUSION_REQUIRE_SHARED_DATA`` is set (CI): there a
missing folder fails them, so CI can never pass by skipping (tests/shared_data.py, as for the
Blender tests).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "tests" / "data"
SPEECH_WAV = DATA / "arctic_a0007.wav"
SPEECH_OGG = DATA / "5703-47212-0000.ogg"
sys.path.insert(0, str(REPO / "tests"))     # the helpers shared with the Blender tests
import shared_data  # noqa: E402
from shared_data import SHARED  # noqa: E402

BEAT2 = SHARED / "beat2"


def pytest_configure(config) -> None:
    shared_data.register_marker(config)


def pytest_collection_modifyitems(items) -> None:
    shared_data.mark_fixture_users(items, {"long_speech": "beat2", "split": "beat2"})


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item) -> None:
    shared_data.skip_without_shared_data(item)


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
def split(tmp_path_factory):
    """The BEAT2 takes, split into training and held-out parts (audio features computed once)."""
    from asynfusion.training.args import DEFAULT_HOLDOUT
    from asynfusion.training.data import load_split

    return load_split(BEAT2, DEFAULT_HOLDOUT, cache=tmp_path_factory.mktemp("beat2_cache"))


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
