"""Shared fixtures: real audio files, randomly initialised weights, paths.

Tests that read the shared data beside the repository (``../shared/data``: the BEAT2 takes,
the ICT-FaceKit source) say so with ``@pytest.mark.shared_data("beat2")``; a test using the
``long_speech`` or ``split`` fixture is marked by itself. Where that folder is missing they are skipped with
a reason naming it, except where ``ASYNFUSION_REQUIRE_SHARED_DATA`` is set (CI): there a
missing folder fails them, so CI can never pass by skipping.
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
SHARED = REPO.parent / "shared" / "data"
SPEECH_WAV = DATA / "arctic_a0007.wav"
SPEECH_OGG = DATA / "5703-47212-0000.ogg"
BEAT2 = SHARED / "beat2"
REQUIRE_SHARED_DATA = "ASYNFUSION_REQUIRE_SHARED_DATA"


def pytest_configure(config) -> None:
    config.addinivalue_line("markers", "shared_data(*folders): reads ../shared/data/<folder> beside the repository")


def pytest_collection_modifyitems(items) -> None:
    for item in items:
        if {"long_speech", "split"} & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.shared_data("beat2"))


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item) -> None:
    """Before any fixture reads it: skip (or, on CI, fail) a test whose shared data is absent."""
    for mark in item.iter_markers("shared_data"):
        for folder in mark.args:
            path = SHARED / folder
            if not path.is_dir():
                reason = (f"needs ../shared/data/{folder} beside the repository (expected at {path}); the "
                          "BEAT2 takes and the ICT-FaceKit source are read from there, not copied into the repository")
                if os.environ.get(REQUIRE_SHARED_DATA):
                    pytest.fail(f"{reason}; {REQUIRE_SHARED_DATA} is set, so a missing folder fails", pytrace=False)
                pytest.skip(reason)


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
