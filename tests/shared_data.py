"""The real data beside the repository (``../shared/data``: the BEAT2 takes, the ICT-FaceKit
source), for the backend's and the Blender tests' conftest alike (stdlib and pytest only).

A test that reads it says so with ``@pytest.mark.shared_data("beat2")``; one using a fixture that
reads it is marked by itself (``mark_fixture_users``). Where that folder is missing such a test is
skipped with a reason naming it, except where ``ASYNFUSION_REQUIRE_SHARED_DATA`` is set (CI): there
a missing folder fails it, so CI can never pass by skipping.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"     # beside the repository
REQUIRE_SHARED_DATA = "ASYNFUSION_REQUIRE_SHARED_DATA"


def register_marker(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "shared_data(*folders): reads ../shared/data/<folder> beside the repository")


def mark_fixture_users(items: Iterable[pytest.Item], fixtures: Mapping[str, str]) -> None:
    """Mark every test that uses one of ``fixtures`` (fixture name -> the folder it reads)."""
    for item in items:
        used = set(getattr(item, "fixturenames", ()))
        for name, folder in fixtures.items():
            if name in used:
                item.add_marker(pytest.mark.shared_data(folder))


def skip_without_shared_data(item: pytest.Item) -> None:
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
