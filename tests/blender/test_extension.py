"""The installable extension: build_addon.py's zip is reproducible and complete, Blender's own
validator accepts it, and real Blender installs it, enables it, finds its panels and operators,
runs Set up backend in it, and uninstalls it without leftovers.

Installing happens in a child Blender (installed_extension.py) whose user folder is a temporary
one (BLENDER_USER_RESOURCES is read when bpy starts), so the real user folder is never touched.
"""

import hashlib
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile

import bpy
import pytest

from conftest import REPO, SPEECH

sys.path.insert(0, REPO)
import build_addon  # noqa: E402

CHILD = os.path.join(os.path.dirname(__file__), "installed_extension.py")
# Any Python 3.11 shows which asynfusion package the worker's environment imports (its __init__ needs no torch).
PROBE_PYTHON = sys.executable

# What weights/ holds after training; the student and its card are shipped, the rest are not
# (resume state, logs, and the evaluation-only teacher and motion autoencoder).
SHIPPED = {"model.safetensors": b"\x08\x00\x00\x00\x00\x00\x00\x00{}      ", "config.json": b'{"kind": "lcm"}\n',
           "MODEL_CARD.md": b"# Model card\n"}
TRAINING_ONLY = {"raw.safetensors": b"raw", "optimizer.safetensors": b"adam", "train_state.json": b"{}",
                 "train.log": b"step 1", "motion_ae/model.safetensors": b"ae weights",
                 "teacher/model.safetensors": b"teacher", "teacher/config.json": b"{}\n",
                 "__pycache__/x.pyc": b"\x00"}


def _write_weights(folder, files) -> None:
    for name, data in files.items():
        path = os.path.join(folder, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as fh:
            fh.write(data)


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    folder = str(tmp_path_factory.mktemp("weights"))
    _write_weights(folder, {**SHIPPED, **TRAINING_ONLY})
    return folder


@pytest.fixture(scope="module")
def built(tmp_path_factory, weights):
    return build_addon.build(str(tmp_path_factory.mktemp("dist")), weights_dir=weights)


def _sha(path: str) -> str:
    with open(path, "rb") as fh:
        return hashlib.sha256(fh.read()).hexdigest()


def test_the_same_sources_give_the_same_zip_byte_for_byte(built, weights, tmp_path):
    # Other timestamps and permissions on disk must not reach the zip.
    for name in SHIPPED:
        os.utime(os.path.join(weights, name), (1_700_000_000, 1_700_000_000))
        os.chmod(os.path.join(weights, name), 0o600)
    again = build_addon.build(str(tmp_path), weights_dir=weights)
    assert os.path.basename(again) == "asynfusion_blender-0.1.0.zip"
    with open(built, "rb") as a, open(again, "rb") as b:
        assert a.read() == b.read()
    # ... while a change of content does.
    with open(os.path.join(weights, "config.json"), "ab") as fh:
        fh.write(b" ")
    try:
        changed = build_addon.build(str(tmp_path / "changed"), weights_dir=weights)
        assert _sha(changed) != _sha(built)
    finally:
        _write_weights(weights, {"config.json": SHIPPED["config.json"]})


def test_zip_holds_addon_core_backend_and_shipped_weights_only(built):
    with zipfile.ZipFile(built) as zf:
        infos = zf.infolist()
        names = [i.filename for i in infos]
        assert names == sorted(names)
        assert all(i.date_time == (1980, 1, 1, 0, 0, 0) and (i.external_attr >> 16) == 0o100644 for i in infos)
        assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc") or n.endswith("/")]
        # The add-on at the zip root, the symlinked core as real files.
        for name in ("blender_manifest.toml", "__init__.py", "preferences.py", "setup/install.py",
                     "data/ict_facekit/ict_head.npz", "data/ict_facekit/LICENSE",
                     "data/ict_facekit/CREDITS.md", "core/protocol.py", "core/skeleton.py"):
            assert name in names, name         # the ICT-FaceKit head travels with its MIT notice
        assert zf.read("data/ict_facekit/LICENSE").startswith(b"MIT License")
        assert zf.read("LICENSE").startswith(b"MIT License")      # the code's licence, as the manifest says
        with open(os.path.join(REPO, "backend", "asynfusion", "core", "protocol.py"), "rb") as fh:
            assert zf.read("core/protocol.py") == fh.read()
        # The backend package the worker and Set up backend use.
        backend_sources = sorted(
            os.path.relpath(os.path.join(d, f), os.path.join(REPO, "backend")).replace(os.sep, "/")
            for d, dirs, files in os.walk(os.path.join(REPO, "backend", "asynfusion"))
            for f in files if "__pycache__" not in d and not f.endswith(".pyc"))
        assert sorted(n[len("backend/"):] for n in names if n.startswith("backend/asynfusion/")) == backend_sources
        assert "backend/pyproject.toml" in names
        # The weights a generator reads, not what training leaves beside them.
        assert sorted(n[len("weights/"):] for n in names if n.startswith("weights/")) == sorted(SHIPPED)
        assert all(zf.read("weights/" + k) == v for k, v in SHIPPED.items())


def test_builds_without_weights(tmp_path):
    path = build_addon.build(str(tmp_path), weights_dir=str(tmp_path / "no-weights-yet"))
    with zipfile.ZipFile(path) as zf:
        names = zf.namelist()
    assert "blender_manifest.toml" in names and "backend/asynfusion/worker.py" in names
    assert not [n for n in names if n.startswith("weights/")]


def _validate(path: str) -> int:
    """What `blender --command extension validate PATH` runs, called inside this Blender."""
    from bl_pkg import bl_extension_cli
    return bl_extension_cli.cli_extension_handler(["validate", path])


def test_blenders_validator_accepts_the_zip_and_rejects_a_bad_manifest(built, tmp_path, capsys):
    assert _validate(built) == 0
    assert "Success" in capsys.readouterr().out
    # The same check fails on a manifest Blender would refuse (a tagline ending in a period).
    addon = tmp_path / "addon"
    shutil.copytree(build_addon.ADDON, addon)   # core/ copied as real files
    manifest = (addon / "blender_manifest.toml").read_text()
    (addon / "blender_manifest.toml").write_text(manifest.replace('non-commercial"', 'non-commercial."'))
    bad = build_addon.build(str(tmp_path / "dist"), addon_dir=str(addon), weights_dir=None)
    assert _validate(bad) != 0
    assert "tagline" in capsys.readouterr().out


def test_manifest_has_what_blender_42_requires():
    info = build_addon.manifest()
    for key in ("schema_version", "id", "version", "name", "tagline", "maintainer", "type",
                "blender_version_min", "license"):
        assert info.get(key), key
    assert info["type"] == "add-on" and info["id"] == "asynfusion_blender"
    assert tuple(int(x) for x in info["blender_version_min"].split(".")) <= (4, 2, 0)
    # Files are read and written; Set up backend downloads packages.
    assert set(info["permissions"]) >= {"files", "network"}


def test_the_manifest_states_the_licences_of_what_it_ships():
    """The code's licence is LICENSE's (MIT); the BEAT2-trained weights' non-commercial licence is
    in the listing (licence, tagline, copyright) and in the add-on's preferences."""
    from asynfusion_blender import preferences
    info = build_addon.manifest()
    with open(os.path.join(REPO, "LICENSE"), encoding="utf-8") as fh:
        assert fh.readline().strip() == "MIT License"
    assert info["license"] == ["SPDX:MIT", "SPDX:CC-BY-NC-4.0"]
    assert "non-commercial" in info["tagline"]
    assert any("BEAT2" in line and "CC BY-NC 4.0" in line for line in info["copyright"])
    assert "CC BY-NC 4.0" in preferences.LICENCE_NOTE and "non-commercial" in preferences.LICENCE_NOTE


NO_NUMPY = """
import os, sys
import bpy
for name in [m for m in sys.modules if m == "numpy" or m.startswith("numpy.")]:
    del sys.modules[name]
sys.modules["numpy"] = None             # what a Blender built without numpy sees
sys.path.insert(0, {repo!r})
try:
    bpy.ops.preferences.addon_enable(module="asynfusion_blender")
    print("REPORT none")
except RuntimeError as err:
    print("REPORT " + str(err).strip())
print("ENABLED", "asynfusion_blender" in bpy.context.preferences.addons)
sys.stdout.flush()
os._exit(0)
"""


def test_a_blender_without_numpy_refuses_to_enable_with_one_sentence(tmp_path):
    proc = subprocess.run([sys.executable, "-c", NO_NUMPY.format(repo=REPO)], capture_output=True, text=True,
                          timeout=120, cwd=str(tmp_path), env={**os.environ, "BLENDER_USER_RESOURCES": str(tmp_path)})
    lines = dict(ln.split(" ", 1) for ln in proc.stdout.splitlines() if ln.startswith(("REPORT ", "ENABLED ")))
    assert lines["ENABLED"] == "False"
    assert lines["REPORT"] == (
        "Error: AsynFusion needs numpy, which the Python of this Blender build (Python 3.11) does not have: "
        "install it for that Python (e.g. your distribution's python3-numpy package) or use Blender from "
        "blender.org, which includes it.")


def _installed(zip_path: str, action: str, *args: str, tmp_path, timeout: float = 300,
               python: str = sys.executable) -> dict:
    env = {k: v for k, v in os.environ.items()
           if k not in ("ASYNFUSION_BACKEND_PYTHON", "PYTHONPATH", "PIP_FIND_LINKS", "PIP_INDEX_URL",
                        "PIP_EXTRA_INDEX_URL")}
    # A fresh user folder, and no pip configuration from this machine (offline means offline).
    env.update(BLENDER_USER_RESOURCES=str(tmp_path / "user"), PIP_CONFIG_FILE=os.devnull,
               PROBE_PYTHON=PROBE_PYTHON)
    proc = subprocess.run([python, CHILD, zip_path, action, *args], env=env, capture_output=True,
                          text=True, timeout=timeout, cwd=str(tmp_path))
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")), None)
    assert line is not None, proc.stdout[-2000:] + proc.stderr[-2000:]
    out = json.loads(line[len("RESULT "):])
    assert "exception" not in out, out["exception"]
    assert out["version"] == list(bpy.app.version)
    assert out["install"] == ["FINISHED"] and out["enabled"]
    assert str(tmp_path / "user") in out["extension_dir"]
    # Uninstalling leaves nothing: not enabled, classes and properties gone, files and user folder gone.
    assert out["uninstall"] == ["FINISHED"]
    assert out["after"] == {"enabled": False, "panel_registered": False, "operators": [],
                            "extension_dir_exists": False, "user_folder_exists": False, "scene_property": False}
    return out


def test_installs_enables_finds_panels_operators_bundled_backend_and_weights(built, tmp_path):
    out = _installed(built, "inspect", tmp_path=tmp_path)
    ext = out["extension_dir"]
    assert out["addon_dir"] == ext and out["addon_file"] == os.path.join(ext, "__init__.py")
    # one panel; Motion File and Rigs are sections of it (issue 23 item 7), no longer sub-panels
    assert out["panels"] == {"ASYNFUSION_PT_main": "AsynFusion"}
    assert set(out["operators"]) >= {"generate", "cancel", "bake_motion", "create_rig", "use_selection",
                                     "setup_backend", "setup_backend_cancel"}
    # The bundled backend and weights are inside the installed extension ...
    assert out["backend_dir"] == os.path.join(ext, "backend")
    assert out["bundled_weights"] == os.path.join(ext, "weights")
    with open(os.path.join(REPO, "backend", "asynfusion", "worker.py"), "rb") as fh:
        worker_source = fh.read()
    with zipfile.ZipFile(built) as zf:
        assert zf.read("backend/asynfusion/worker.py") == worker_source
    # ... and the worker runs them: the bundled weights unless the preference names others,
    # and the bundled backend package (PYTHONPATH from worker_env) in the backend interpreter.
    assert out["worker_command"][1:] == ["-m", "asynfusion.worker", "--weights", os.path.join(ext, "weights"),
                                         "--device", "auto"]
    assert out["worker_command_pref"][3:5] == ["--weights", "/elsewhere/weights"]
    assert out["worker_imports"] == os.path.join(ext, "backend", "asynfusion", "__init__.py")
    assert out["user_venv"].startswith(str(tmp_path / "user"))


def test_set_up_backend_makes_a_venv_that_imports_the_backend(built, tmp_path):
    """A real venv and a real pip run, offline: the bundled backend alone (--no-deps), so torch is
    not downloaded here; the new interpreter then imports asynfusion from its own site-packages."""
    out = _installed(built, "setup", tmp_path=tmp_path)
    venv = out["user_venv"]
    assert venv.startswith(os.path.join(str(tmp_path / "user"), "extensions", ".user"))
    assert out["result"] == ["FINISHED"], out["report"]
    assert out["error"] == "" and out["message"] == f"Backend ready (asynfusion 0.1.0) in {venv}."
    assert out["fraction"] == 1.0
    assert out["venv_exists"] and out["user_folder"] == ["venv"]
    module, prefix = out["venv_imports"]
    assert module.startswith(os.path.join(venv, "lib")) and module.endswith("site-packages/asynfusion/__init__.py")
    assert prefix == venv
    # With no preference and no environment variable, the add-on now finds this interpreter,
    # and only because the setup finished it: the same venv without its ready mark is passed over.
    assert out["found_python"] == os.path.join(venv, "bin", "python")
    assert out["found_half_made"] is None


def test_set_up_backend_says_the_download_first_and_respects_allow_online_access(built, tmp_path):
    out = _installed(built, "setup_offline", tmp_path=tmp_path)
    sentence = ("Set Up Backend downloads PyTorch, but Blender's online access is off: turn on Preferences > "
                "System > Network > Allow Online Access, or give an Offline Wheels folder.")
    assert out["note_off"] == [sentence, True]
    assert out["result"] == ["RUNTIME_ERROR"] and out["report"] == f"Error: {sentence}\n"
    assert out["error"] == sentence
    assert out["user_folder"] is None                      # nothing made, so nothing downloaded
    # A wheel folder downloads nothing, so it needs no online access; online, the size and time.
    assert out["note_wheels"] == ["Installs from the Offline Wheels folder; nothing is downloaded.", False]
    assert out["note_on"] == ["Downloads about 330 MB (PyTorch CPU build and the backend's packages): about "
                              "1 min at 50 Mbit/s, then a minute or two to install.", False]


def test_set_up_backend_failure_is_one_sentence_and_leaves_no_venv(built, tmp_path):
    empty = tmp_path / "wheels"
    empty.mkdir()
    out = _installed(built, "setup", str(empty), tmp_path=tmp_path)
    # The venv was made, then pip found no torch in the folder: one sentence, the venv removed.
    assert out["result"] == ["RUNTIME_ERROR"]
    assert out["error"] == f"Installing PyTorch (CPU build) failed: the wheel folder {empty} has no torch>=2.2."
    assert out["fraction"] is not None and 0.0 < out["fraction"] < 1.0
    assert not out["venv_exists"] and out["user_folder"] == []
    assert out["found_python"] is None

    missing = tmp_path / "no-such-folder"
    (tmp_path / "second").mkdir()
    out = _installed(built, "setup", str(missing), tmp_path=tmp_path / "second")
    assert out["error"] == (f"The wheel folder {missing} does not exist; choose the folder with the "
                            "downloaded .whl files or leave it empty to download.")
    assert "\n" not in out["error"] and "Traceback" not in out["report"]
    assert not out["venv_exists"] and out["user_folder"] is None


def _python_without_ensurepip(base: str, folder) -> str:
    """A copy of the Python installed at ``base`` (its interpreter copied, its standard library
    linked) without ensurepip, as a distribution's Python is without its venv package; then a
    venv of it (made --without-pip, as that Python can) that sees this bpy wheel's site-packages,
    for a child Blender to run on."""
    base = os.path.realpath(base)
    prefix = os.path.dirname(os.path.dirname(base))
    version = f"python{sys.version_info[0]}.{sys.version_info[1]}"
    fake = folder / "python"
    (fake / "bin").mkdir(parents=True)
    (fake / "lib" / version).mkdir(parents=True)
    shutil.copy2(base, fake / "bin" / os.path.basename(base))
    for name in os.listdir(os.path.join(prefix, "lib")):
        if name != version:
            os.symlink(os.path.join(prefix, "lib", name), fake / "lib" / name)
    for name in os.listdir(os.path.join(prefix, "lib", version)):
        if name != "ensurepip":
            os.symlink(os.path.join(prefix, "lib", version, name), fake / "lib" / version / name)
    venv = folder / "blender-python"
    subprocess.run([str(fake / "bin" / os.path.basename(base)), "-m", "venv", "--without-pip", str(venv)],
                   check=True, capture_output=True, env={"PATH": os.environ.get("PATH", "")})
    (venv / "lib" / version / "site-packages" / "bpy-wheel.pth").write_text(
        sysconfig.get_path("purelib") + "\n")
    return str(venv / "bin" / "python")


def _debian_python() -> str:
    """Debian's or Ubuntu's own Python of this version (its venv names the package to install), if here."""
    path = f"/usr/bin/python{sys.version_info[0]}.{sys.version_info[1]}"
    source = f"/usr/lib/python{sys.version_info[0]}.{sys.version_info[1]}/venv/__init__.py"
    if os.path.isfile(path) and os.path.isfile(source):
        with open(source, encoding="utf-8") as fh:
            if "apt install python" in fh.read():
                return path
    return ""


@pytest.mark.parametrize("kind", ["debian", "other"])
def test_set_up_backend_without_the_system_venv_package_names_it_and_a_working_python_clears_it(
        built, tmp_path, kind):
    """Issue 23 item 6: a Blender whose Python lacks the distribution's venv package (Debian 13's
    Blender on python3.13 without python3.13-venv). Set Up Backend's sentence names the package to
    install; Backend Python pointed at an interpreter that is found ("Using: ...") clears it, and one
    that is not found does not."""
    base = _debian_python() if kind == "debian" else getattr(sys, "_base_executable", sys.executable)
    if not base:
        pytest.skip("no Debian or Ubuntu Python of this version on this machine")
    python = _python_without_ensurepip(base, tmp_path / "pythons")
    out = _installed(built, "setup_without_venv", PROBE_PYTHON, tmp_path=tmp_path, python=python)
    assert out["executable"] == python
    package = f"python{sys.version_info[0]}.{sys.version_info[1]}-venv"
    stage = "Creating the virtual environment failed because"
    if kind == "debian":
        sentence = (f"{stage} the system package {package} is missing: install it (sudo apt install {package}) "
                    "and press Set Up Backend again.")
    else:
        sentence = (f"{stage} this Python has no ensurepip: install its venv package ({package} on Debian and "
                    "Ubuntu) and press Set Up Backend again, or point Backend Python to an interpreter that has "
                    "torch.")
    assert out["error"] == sentence
    assert out["result"] == ["RUNTIME_ERROR"] and out["report"] == f"Error: {sentence}\n"
    assert out["user_folder"] == []                                  # the half-made venv is gone
    assert out["error_after_missing"] == sentence
    assert out["status_after_missing"] == ["No backend Python found; set one above or set up the backend.", "ERROR"]
    assert out["error_after_working"] == ""
    assert out["status_after_working"] == [f"Using: {PROBE_PYTHON}", "CHECKMARK"]


def test_generate_while_the_backend_is_set_up_says_so_and_the_status_is_honest(built, tmp_path):
    out = _installed(built, "generate_during_setup", SPEECH, tmp_path=tmp_path)
    assert out["half_made_venv"]
    assert out["status"] == ["Installing the backend...; Generate can start once it is ready.", "TIME"]
    assert out["generate"] == [["RUNTIME_ERROR"], "Error: The backend is still being set up; press Generate "
                               "again once Set up backend has finished.\n"]
    assert out["status_after_cancel"] == ["No backend Python found; set one above or set up the backend.", "ERROR"]


def test_manifest_exclude_patterns_read_as_blenders_build_reads_them():
    assert build_addon._excluded("data/tool.py", False, ["/data/tool.py"])
    assert not build_addon._excluded("more/data/tool.py", False, ["/data/tool.py"])
    assert build_addon._excluded("x/__pycache__", True, ["__pycache__/"])
    assert not build_addon._excluded("x/__pycache__", False, ["__pycache__/"])


@pytest.mark.parametrize("width, scale", [(516, 1.0), (700, 1.0), (1032, 2.0)])
def test_setup_messages_wrap_to_the_preferences_width(width, scale):
    """The Preferences window Blender opens is about 516 px wide at scale 1: each line of a setup
    message, measured in Blender's own UI font (blf, 11 px at scale 1), fits beside the box's
    margins and icon (about 60 px), so Blender does not cut it in its middle ("failed b…m package").
    Before, lines were 100 characters: about 550 px."""
    import blf
    from asynfusion_blender.setup import session
    sentence = ("Creating the virtual environment failed because the system package python3.13-venv is "
                "missing: install it (sudo apt install python3.13-venv) and press Set Up Backend again.")
    lines = session.wrap_lines(sentence, width, scale)
    assert " ".join(lines) == sentence and len(lines) > 1
    blf.size(0, 11 * scale)
    assert all(blf.dimensions(0, line)[0] + 60 * scale <= width for line in lines), lines
