"""The worker client against a real subprocess speaking the protocol, and Generate end to end."""

import os
import sys
import time

import bpy
import pytest

from conftest import TAKE, TAKE_WAV, scene_state
from asynfusion_blender import client, jobs, operators, preferences
from asynfusion_blender.errors import AddonError

FAKE = os.path.join(os.path.dirname(__file__), "fake_worker.py")


def fake_command(mode="normal"):
    return [sys.executable, FAKE, "--mode", mode, "--motion", TAKE]


@pytest.fixture
def worker():
    made = []

    def start(mode="normal"):
        made.append(client.WorkerClient(fake_command(mode)))
        return made[-1]
    yield start
    for w in made:
        w.close()


def test_generate_reports_progress_then_result(worker, tmp_path):
    w = worker()
    seen = []
    req = jobs.generate_request(w, TAKE_WAV, str(tmp_path / "out.npz"), 3, 4, 2)
    reply = w.wait(req, 10, seen.append)
    assert reply["type"] == "result" and os.path.isfile(reply["path"])
    assert [r["type"] for r in seen if r["type"] == "progress"] == ["progress"] * 3
    assert w.ready is not None and w.ready["device"] == "fake-cpu"
    w.close()
    assert not w.alive


def test_cancel_stops_within_a_second(worker, tmp_path):
    w = worker("slow")
    req = w.generate(TAKE_WAV, str(tmp_path / "out.npz"))
    time.sleep(0.3)
    t0 = time.monotonic()
    w.cancel(req)
    reply = w.wait(req, 5)
    assert reply["type"] == "error" and reply["kind"] == "cancelled"
    assert time.monotonic() - t0 < 1.0
    assert not (tmp_path / "out.npz").exists()


def test_a_dead_worker_becomes_one_sentence(worker, tmp_path):
    w = worker("die")
    req = w.generate(TAKE_WAV, str(tmp_path / "out.npz"))
    reply = w.wait(req, 10)
    assert reply["type"] == "error"
    assert reply["message"] == "The AsynFusion worker stopped (exit code 3): RuntimeError: CUDA out of memory."
    assert w.poll() == []                         # reported once
    with pytest.raises(AddonError, match="worker stopped"):
        w.generate(TAKE_WAV, str(tmp_path / "again.npz"))


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


@pytest.fixture
def generate_scene(addon, monkeypatch):
    armature, body = jobs.create_builtin_rig(bpy.context)
    settings = bpy.context.scene.asynfusion
    settings.armature, settings.face_mesh = armature, body
    settings.audio_file, settings.start_frame, settings.seed = TAKE_WAV, 5, 7

    def use(mode):
        monkeypatch.setattr(preferences, "worker_command", lambda context: fake_command(mode))
    yield armature, body, use
    client.shutdown()


def test_generate_operator_bakes_synchronously_in_background(generate_scene):
    armature, body, use = generate_scene
    use("normal")
    assert bpy.app.background
    assert bpy.ops.asynfusion.generate() == {'FINISHED'}
    assert armature.animation_data.action.name == "2_scott_0_1_1 body"
    assert operators.JOB.summary.startswith("Baked 1525 frames (63.5 s), frames 5-1529 on fake-cpu")
    assert client.current_client() is not None and client.current_client().alive   # kept warm
    assert preferences.worker_status() == "Worker: ready on fake-cpu"


def test_killed_worker_leaves_the_scene_unchanged(generate_scene):
    armature, body, use = generate_scene
    use("die")
    before = scene_state()
    with pytest.raises(RuntimeError, match="The AsynFusion worker stopped"):
        bpy.ops.asynfusion.generate()
    assert scene_state() == before
    assert operators.JOB.error.startswith("The AsynFusion worker stopped (exit code 3)")


def test_generate_without_audio_says_so(generate_scene):
    armature, body, use = generate_scene
    use("normal")
    bpy.context.scene.asynfusion.audio_file = ""
    before = scene_state()
    with pytest.raises(RuntimeError, match="Choose a speech recording"):
        bpy.ops.asynfusion.generate()
    assert scene_state() == before
