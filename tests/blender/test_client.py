"""The worker client's start-up: which interpreter it finds, and a missing one. The protocol,
progress, cancel and a dying worker are tested with the real worker in test_generate_e2e.py."""

import os

import pytest

from conftest import REPO  # noqa: F401  (puts the repo on sys.path)
from asynfusion_blender import client
from asynfusion_blender.errors import AddonError


def test_a_missing_interpreter_is_one_sentence():
    with pytest.raises(AddonError, match=r"^Cannot start the AsynFusion worker with /nonexistent/python: "):
        client.WorkerClient(["/nonexistent/python", "-m", "asynfusion.worker"])


def test_interpreter_discovery_order(tmp_path, monkeypatch):
    def exe(name):
        path = tmp_path / name
        path.write_text("#!/bin/sh\n")
        path.chmod(0o755)
        return str(path)
    pref, env = exe("pref-python"), exe("env-python")
    monkeypatch.setenv(client.ENV_PYTHON, env)
    assert client.find_python(pref) == pref
    assert client.find_python("") == env
    assert client.find_python(str(tmp_path / "missing")) == env
    monkeypatch.delenv(client.ENV_PYTHON)
    repo_venv = os.path.normpath(os.path.join(client.ADDON_DIR, "..", ".venv", "bin", "python"))
    assert client.find_python("") == (repo_venv if os.path.isfile(repo_venv) else None)
    assert client.backend_dir() == os.path.normpath(os.path.join(client.ADDON_DIR, "..", "backend"))
