"""Run in a child process by test_extension.py: a Blender (the bpy wheel) whose user folder is
a temporary one (BLENDER_USER_RESOURCES), so installing never touches the real one.

    python installed_extension.py ZIP ACTION [ARG]     prints one JSON line: RESULT {...}

Installs ZIP into the 'user_default' repository and enables it, does ACTION, uninstalls it,
and reports what it saw before and after.
"""

import json
import os
import signal
import subprocess
import sys
import time
import traceback

import bpy

PKG = "bl_ext.user_default.asynfusion_blender"


def _repo_index(module: str) -> int:
    return next(i for i, repo in enumerate(bpy.context.preferences.extensions.repos) if repo.module == module)


def _prefs():
    return bpy.context.preferences.addons[PKG].preferences


def _operator(op, **kwargs):
    """(result, message): background operators that report an error raise RuntimeError."""
    try:
        return sorted(op(**kwargs)), ""
    except RuntimeError as err:
        return ["RUNTIME_ERROR"], str(err)


def inspect(out: dict) -> None:
    client = sys.modules[PKG + ".client"]
    preferences = sys.modules[PKG + ".preferences"]
    out["addon_file"] = sys.modules[PKG].__file__
    out["addon_dir"] = client.ADDON_DIR
    out["panels"] = {name: getattr(bpy.types, name).bl_category
                     for name in ("ASYNFUSION_PT_main", "ASYNFUSION_PT_motion", "ASYNFUSION_PT_rig")
                     if hasattr(bpy.types, name)}
    out["operators"] = sorted(dir(bpy.ops.asynfusion))
    out["backend_dir"] = client.backend_dir()
    out["bundled_weights"] = client.bundled_weights_dir()
    prefs = _prefs()
    prefs.backend_python = sys.executable
    out["worker_command"] = preferences.worker_command(bpy.context)
    prefs.weights_dir = "/elsewhere/weights"
    out["worker_command_pref"] = preferences.worker_command(bpy.context)
    prefs.backend_python, prefs.weights_dir = "", ""
    env = client.worker_env()
    probe = subprocess.run([os.environ["PROBE_PYTHON"], "-c", "import asynfusion; print(asynfusion.__file__)"],
                           env=env, capture_output=True, text=True, cwd="/")
    out["worker_imports"] = probe.stdout.strip() or probe.stderr.strip()[-300:]
    out["user_venv"] = preferences.user_venv()


def setup(out: dict, wheel_dir: str | None) -> None:
    preferences = sys.modules[PKG + ".preferences"]
    client = sys.modules[PKG + ".client"]
    venv = preferences.user_venv()
    out["user_venv"] = venv
    if wheel_dir is None:   # the backend package alone, offline: torch is not downloaded
        out["result"], out["report"] = _operator(bpy.ops.asynfusion.setup_backend, dependencies=False)
    else:
        _prefs().wheel_dir = wheel_dir
        _prefs().device = "cpu"     # the CPU build whether or not this machine has an NVIDIA GPU
        out["result"], out["report"] = _operator(bpy.ops.asynfusion.setup_backend)
    session = sys.modules[PKG + ".setup.session"]
    out["error"], out["message"] = session.SETUP.error, session.SETUP.message
    job = session.SETUP.job
    out["fraction"] = job.fraction if job is not None else None
    out["venv_exists"] = os.path.exists(venv)
    out["user_folder"] = sorted(os.listdir(os.path.dirname(venv))) if os.path.isdir(os.path.dirname(venv)) else None
    out["found_python"] = client.find_python("", venv)
    install = sys.modules[PKG + ".setup.install"]
    if out["venv_exists"]:      # the same venv without its ready mark, as a quit Blender leaves it
        os.rename(os.path.join(venv, install.READY_FILE), os.path.join(venv, "unmarked"))
        out["found_half_made"] = client.find_python("", venv)
        os.rename(os.path.join(venv, "unmarked"), os.path.join(venv, install.READY_FILE))
    if out["venv_exists"]:
        probe = subprocess.run(
            [os.path.join(venv, "bin", "python"), "-c",
             "import sys, asynfusion; print(asynfusion.__file__); print(sys.prefix)"],
            capture_output=True, text=True, cwd="/", env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"})
        out["venv_imports"] = probe.stdout.split() if probe.returncode == 0 else probe.stderr[-300:]


def setup_without_venv(out: dict, working_python: str) -> None:
    """Set Up Backend in a Blender whose Python lacks the system's venv package (this child runs
    on such a Python): what it says; then Backend Python pointed at a missing file, and at a
    working interpreter: which of them clears the failure."""
    preferences = sys.modules[PKG + ".preferences"]
    session = sys.modules[PKG + ".setup.session"]
    out["executable"] = sys.executable
    out["result"], out["report"] = _operator(bpy.ops.asynfusion.setup_backend, dependencies=False)
    out["error"] = session.SETUP.error
    venv = preferences.user_venv()
    out["user_folder"] = sorted(os.listdir(os.path.dirname(venv))) if os.path.isdir(os.path.dirname(venv)) else None
    _prefs().backend_python = os.path.join(os.path.dirname(working_python), "no-such-python")
    out["error_after_missing"] = session.SETUP.error
    out["status_after_missing"] = list(preferences.python_status(_prefs()))
    _prefs().backend_python = working_python
    out["error_after_working"] = session.SETUP.error
    out["status_after_working"] = list(preferences.python_status(_prefs()))


def setup_offline(out: dict) -> None:
    """Set Up Backend with Blender's Allow Online Access off, then on: what it says first, and
    that with it off nothing is made or downloaded."""
    session = sys.modules[PKG + ".setup.session"]
    system = bpy.context.preferences.system
    _prefs().device = "cpu"
    system.use_online_access = False
    out["note_off"] = list(session.setup_note("cpu", ""))
    out["result"], out["report"] = _operator(bpy.ops.asynfusion.setup_backend)
    out["error"] = session.SETUP.error
    venv = sys.modules[PKG + ".preferences"].user_venv()
    out["user_folder"] = sorted(os.listdir(os.path.dirname(venv))) if os.path.isdir(os.path.dirname(venv)) else None
    out["note_wheels"] = list(session.setup_note("cpu", "/some/wheels"))
    system.use_online_access = True
    out["note_on"] = list(session.setup_note("cpu", ""))


def generate_during_setup(out: dict, audio: str) -> None:
    """Press Generate while Set up backend is still installing (its step held with SIGSTOP, so
    that it is mid-way however fast the machine is)."""
    bpy.ops.asynfusion.create_rig()
    bpy.context.scene.asynfusion.audio_file = audio
    preferences = sys.modules[PKG + ".preferences"]
    client = sys.modules[PKG + ".client"]
    install = sys.modules[PKG + ".setup.install"]
    session = sys.modules[PKG + ".setup.session"]
    venv = preferences.user_venv()
    job = install.prepare(venv, client.backend_dir(), python=sys.executable, dependencies=False)
    session.SETUP.job = job
    job.start()
    python = os.path.join(venv, "bin", "python")
    deadline = time.monotonic() + 240
    while not os.path.exists(python) and job.running and time.monotonic() < deadline:
        job.poll()
        time.sleep(0.02)
    os.kill(job._proc.pid, signal.SIGSTOP)
    try:
        out["half_made_venv"] = os.path.exists(python) and job.running
        out["status"] = list(preferences.python_status(_prefs()))
        out["generate"] = _operator(bpy.ops.asynfusion.generate)
    finally:
        os.kill(job._proc.pid, signal.SIGCONT)
        job.cancel()
    out["status_after_cancel"] = list(preferences.python_status(_prefs()))


def main() -> None:
    zip_path, action = sys.argv[1], sys.argv[2]
    arg = sys.argv[3] if len(sys.argv) > 3 else None
    out: dict = {"version": list(bpy.app.version)}
    try:
        out["install"] = sorted(bpy.ops.extensions.package_install_files(
            filepath=zip_path, repo="user_default", enable_on_install=True))
        out["enabled"] = PKG in bpy.context.preferences.addons
        repo = bpy.context.preferences.extensions.repos[_repo_index("user_default")]
        out["extension_dir"] = os.path.join(repo.directory, "asynfusion_blender")
        if action == "inspect":
            inspect(out)
        elif action == "setup":
            setup(out, arg)
        elif action == "setup_without_venv":
            setup_without_venv(out, arg)
        elif action == "setup_offline":
            setup_offline(out)
        elif action == "generate_during_setup":
            generate_during_setup(out, arg)
        user_folder = os.path.dirname(sys.modules[PKG + ".preferences"].user_venv())
        out["uninstall"] = sorted(bpy.ops.extensions.package_uninstall(
            repo_index=_repo_index("user_default"), pkg_id="asynfusion_blender"))
        out["after"] = {
            "enabled": PKG in bpy.context.preferences.addons,
            "panel_registered": hasattr(bpy.types, "ASYNFUSION_PT_main"),
            "operators": sorted(dir(bpy.ops.asynfusion)),
            "extension_dir_exists": os.path.exists(out["extension_dir"]),
            "user_folder_exists": os.path.exists(user_folder),
            "scene_property": hasattr(bpy.types.Scene, "asynfusion"),
        }
    except Exception:   # the test shows it
        out["exception"] = traceback.format_exc()
    print("RESULT " + json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)     # Blender 4.2's bpy module segfaults at interpreter exit (see conftest.py)
