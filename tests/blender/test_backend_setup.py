"""Set up backend without Blender: the command line for each case, pip's output as progress,
failures as one sentence, the backend wheel, and real venv + pip runs of SetupJob (offline).
setup/install.py and setup/wheel.py import no bpy; these tests call nothing of Blender."""

import base64
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
import zipfile

import pytest

from conftest import REPO
from asynfusion_blender.setup import install as bs
from asynfusion_blender.setup import wheel

BACKEND = os.path.join(REPO, "backend")


# ----------------------------------------------------------------------------- choices


def test_venv_python_per_platform():
    assert bs.venv_python("/u/venv", "linux") == "/u/venv/bin/python"
    assert bs.venv_python("/u/venv", "darwin") == "/u/venv/bin/python"
    assert bs.venv_python("C:/u/venv", "win32") == os.path.join("C:/u/venv", "Scripts", "python.exe")


def test_base_python_is_blenders_own_if_new_enough(tmp_path):
    assert bs.base_python(sys.executable, (3, 11)) == sys.executable
    with pytest.raises(bs.SetupError, match=r"needs Python 3\.11 or newer, but Blender runs Python 3\.10"):
        bs.base_python(sys.executable, (3, 10))
    blender = tmp_path / "blender"
    blender.write_text("")
    for bad in (str(blender), str(tmp_path / "missing"), ""):
        with pytest.raises(bs.SetupError, match="Python interpreter was not found"):
            bs.base_python(bad, (3, 11))


def test_torch_build_follows_the_gpu_and_the_device_preference():
    assert bs.torch_build("auto", "/usr/bin/nvidia-smi", "linux") == "cuda"
    assert bs.torch_build("auto", None, "linux") == "cpu"
    assert bs.torch_build("cpu", "/usr/bin/nvidia-smi", "linux") == "cpu"
    assert bs.torch_build("cuda", None, "win32") == "cuda"
    assert bs.torch_build("auto", "/x/nvidia-smi", "darwin") == "cpu"       # no CUDA build for macOS
    assert bs.find_nvidia_smi(lambda name: "/usr/bin/" + name, "linux") == "/usr/bin/nvidia-smi"
    assert bs.find_nvidia_smi(lambda name: None, "linux") is None


def test_the_download_is_said_before_it_starts():
    """Set Up Backend states size and time before it downloads; offline it downloads nothing."""
    assert bs.download_note("cpu") == ("Downloads about 330 MB (PyTorch CPU build and the backend's packages): "
                                       "about 1 min at 50 Mbit/s, then a minute or two to install.")
    assert bs.download_note("cuda") == ("Downloads about 2.6 GB (PyTorch CUDA build and the backend's packages): "
                                        "about 7 min at 50 Mbit/s, then a minute or two to install.")
    assert bs.download_note("cuda", wheel_dir="/w") == ""
    assert bs.download_note("cpu", dependencies=False) == ""


def test_where_torch_comes_from():
    assert bs.torch_source("cpu", "linux") == ["--index-url", "https://download.pytorch.org/whl/cpu"]
    assert bs.torch_source("cpu", "win32") == ["--index-url", "https://download.pytorch.org/whl/cpu"]
    assert bs.torch_source("cpu", "darwin") == []                             # PyPI's macOS wheels
    assert bs.torch_source("cuda", "linux") == []                             # PyPI's Linux wheels are CUDA
    assert bs.torch_source("cuda", "win32") == ["--index-url", bs.CUDA_INDEX_WINDOWS]
    offline = ["--isolated", "--no-index", "--find-links", "/w"]
    assert bs.torch_source("cuda", "linux", "/w") == offline
    assert bs.torch_source("cpu", "win32", "/w") == offline


def test_plan_cuda_windows_and_offline():
    steps = bs.plan("C:/u/venv", "C:/b/python.exe", "C:/t/a.whl", build="cuda", torch_req="torch>=2.2",
                    platform="win32")
    assert steps[1].stage == "Installing PyTorch (CUDA build)"
    assert steps[1].argv[-3:] == ("--index-url", bs.CUDA_INDEX_WINDOWS, "torch>=2.2")
    assert steps[1].argv[0] == os.path.join("C:/u/venv", "Scripts", "python.exe")

    offline = bs.plan("/u/venv", "/b/python", "/t/a.whl", build="cuda", wheel_dir="/w", torch_req="torch>=2.2",
                      platform="linux")
    assert offline[1].argv[-5:] == ("--isolated", "--no-index", "--find-links", "/w", "torch>=2.2")
    assert offline[2].argv[-5:] == ("--isolated", "--no-index", "--find-links", "/w", "/t/a.whl")


def test_plan_backend_only_is_offline_and_without_dependencies():
    steps = bs.plan("/u/venv", "/b/python", "/t/a.whl", dependencies=False, platform="linux")
    assert [s.kind for s in steps] == ["venv", "pip", "check"]
    assert steps[1].argv[-3:] == ("--no-index", "--no-deps", "/t/a.whl")
    assert "torch" not in steps[2].argv[-1]


def test_torch_requirement_comes_from_the_backend():
    project = wheel.read_pyproject(BACKEND)["project"]
    assert wheel.torch_requirement(project) == next(d for d in project["dependencies"] if d.startswith("torch"))
    assert wheel.torch_requirement({"dependencies": ["torchaudio>=2", "torch >=2.1"]}) == "torch >=2.1"
    assert wheel.torch_requirement({"dependencies": []}) == "torch"


def test_subprocess_env_drops_what_points_elsewhere():
    env = bs.subprocess_env({"PATH": "/bin", "PYTHONPATH": "/x", "PYTHONHOME": "/y", "VIRTUAL_ENV": "/v",
                             "PIP_INDEX_URL": "https://mirror"})
    assert env["PATH"] == "/bin" and env["PIP_INDEX_URL"] == "https://mirror"     # proxies, mirrors kept
    assert not {"PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV"} & set(env)
    assert env["PYTHONNOUSERSITE"] == "1"


# ----------------------------------------------------------------------------- pip's output

TORCH_INSTALL = """\
Looking in indexes: https://download.pytorch.org/whl/cpu
Collecting torch>=2.2
  Downloading https://download.pytorch.org/whl/cpu/torch-2.5.1%2Bcpu-cp311-cp311-linux_x86_64.whl (174.7 MB)
Progress 91578368 of 183156736
Collecting filelock (from torch>=2.2)
  Downloading https://download.pytorch.org/whl/filelock-3.13.1-py3-none-any.whl (11 kB)
Collecting typing-extensions>=4.8.0 (from torch>=2.2)
  Using cached https://download.pytorch.org/whl/typing_extensions-4.12.2-py3-none-any.whl (37 kB)
Requirement already satisfied: setuptools in ./venv/lib/python3.11/site-packages (from torch>=2.2) (65.5.0)
Installing collected packages: typing-extensions, filelock, torch
Successfully installed filelock-3.13.1 torch-2.5.1+cpu typing-extensions-4.12.2
"""


def test_pip_lines_become_a_rising_fraction_and_a_short_text():
    progress = bs.PipProgress()
    seen = []
    for line in TORCH_INSTALL.splitlines():
        progress.feed(line)
        seen.append((progress.fraction, progress.detail))
    fractions = [f for f, _ in seen]
    assert fractions == sorted(fractions) and fractions[0] == 0.0 and fractions[-1] == 1.0
    details = [d for _, d in seen]
    assert details[1] == "resolving torch"
    assert details[2] == "downloading torch (174.7 MB)"
    assert details[3] == "downloading torch (174.7 MB) 50%"
    assert details[7] == "downloading typing_extensions (37 kB)"
    assert details[8] == "resolving setuptools"
    assert details[9] == "installing 3 packages"
    assert 0.0 < fractions[8] < 0.6 < fractions[9] < 1.0


# ----------------------------------------------------------------------------- one sentence

STEP = bs.Step("Installing PyTorch (CPU build)", ("pip",), 0.6, "pip")


def _one_sentence(text):
    return "\n" not in text and text.endswith(".") and "Traceback" not in text and len(text) <= 300


def test_failures_become_one_sentence():
    missing = ["Looking in links: /w",
               "ERROR: Could not find a version that satisfies the requirement torch>=2.2 (from versions: none)",
               "ERROR: No matching distribution found for torch>=2.2"]
    assert bs.error_sentence(STEP, missing, 1, "/w") == (
        "Installing PyTorch (CPU build) failed: the wheel folder /w has no torch>=2.2.")
    offline = ["WARNING: Retrying (Retry(total=4, connect=None, read=None, redirect=None, status=None)) after "
               "connection broken by 'NewConnectionError('<pip._vendor.urllib3.connection.HTTPSConnection>: "
               "Failed to establish a new connection: [Errno -3] Temporary failure in name resolution')'",
               *missing]
    assert bs.error_sentence(STEP, offline, 1) == (
        "Installing PyTorch (CPU build) failed: the package index could not be reached; connect to the "
        "internet or give a wheel folder with the packages.")
    disk = ["Collecting torch", "ERROR: Could not install packages due to an OSError: [Errno 28] No space left "
            "on device", ""]
    assert bs.error_sentence(STEP, disk, 1) == (
        "Installing PyTorch (CPU build) failed: could not install packages due to an OSError: [Errno 28] No "
        "space left on device.")
    crash = ["Traceback (most recent call last):", '  File "x.py", line 1, in <module>',
             "ModuleNotFoundError: No module named 'torch'"]
    check = bs.Step("Checking the backend", ("python",), 0.05, "check")
    assert bs.error_sentence(check, crash, 1) == (
        "Checking the backend failed: ModuleNotFoundError: No module named 'torch'.")
    assert bs.error_sentence(check, [], -9) == "Checking the backend failed: it stopped with exit code -9."
    long = bs.error_sentence(STEP, ["ERROR: " + "x" * 1000], 1)
    for text in (long, bs.error_sentence(STEP, disk, 1), bs.error_sentence(check, crash, 1)):
        assert _one_sentence(text), text


DEBIAN_13_VENV = """The virtual environment was not created successfully because ensurepip is not
available.  On Debian/Ubuntu systems, you need to install the python3-venv
package using the following command.

    apt install python3.13-venv

You may need to use sudo with that command.  After installing the python3-venv
package, recreate your virtual environment.

Failing command: /home/u/.config/blender/4.3/extensions/.user/user_default/asynfusion_blender/venv/bin/python3
"""


def test_a_missing_venv_package_is_named_with_what_to_install():
    """Debian 13's python3.13 without python3.13-venv (what its `python3 -m venv` prints, verbatim):
    the sentence keeps the package to install, not the 'Failing command' line after it."""
    venv = bs.Step("Creating the virtual environment", ("python3.13", "-m", "venv", "/v"), 0.1, "venv")
    text = bs.error_sentence(venv, DEBIAN_13_VENV.splitlines(), 1)
    assert text == ("Creating the virtual environment failed because the system package python3.13-venv is "
                    "missing: install it (sudo apt install python3.13-venv) and press Set Up Backend again.")
    assert _one_sentence(text)
    # A pip step whose output happens to say "apt install" is not taken for the venv package.
    assert "python3.13-venv" not in bs.error_sentence(STEP, DEBIAN_13_VENV.splitlines(), 1)


# ----------------------------------------------------------------------------- the backend wheel


def test_backend_wheel_is_complete_reproducible_and_recorded(tmp_path):
    first = wheel.build_backend_wheel(BACKEND, str(tmp_path / "a"))
    second = wheel.build_backend_wheel(BACKEND, str(tmp_path / "b"))
    assert os.path.basename(first) == "asynfusion-0.1.0-py3-none-any.whl"
    with open(first, "rb") as a, open(second, "rb") as b:
        assert a.read() == b.read()
    with zipfile.ZipFile(first) as zf:
        names = zf.namelist()
        sources = sorted(os.path.relpath(os.path.join(d, f), BACKEND).replace(os.sep, "/")
                         for d, _, files in os.walk(os.path.join(BACKEND, "asynfusion"))
                         for f in files if "__pycache__" not in d and not f.endswith(".pyc"))
        assert sorted(n for n in names if n.startswith("asynfusion/")) == sources
        info = "asynfusion-0.1.0.dist-info/"
        assert names[-4:] == [info + "METADATA", info + "WHEEL", info + "entry_points.txt", info + "RECORD"]
        metadata = zf.read(info + "METADATA").decode()
        assert "Name: asynfusion\nVersion: 0.1.0\n" in metadata
        assert "Requires-Dist: torch>=2.2\n" in metadata and 'Requires-Dist: smplx>=0.1.28; extra == "eval"' in metadata
        assert "Tag: py3-none-any" in zf.read(info + "WHEEL").decode()
        assert zf.read(info + "entry_points.txt").decode() == "[console_scripts]\nasynfusion = asynfusion.cli:main\n"
        record = [line.split(",") for line in zf.read(info + "RECORD").decode().splitlines()]
        assert sorted(r[0] for r in record) == sorted(names)
        for name, digest, size in record:
            if name.endswith("RECORD"):
                assert digest == size == ""
                continue
            data = zf.read(name)
            expected = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            assert (digest, int(size)) == (f"sha256={expected}", len(data)), name


# ----------------------------------------------------------------------------- real runs


def test_prepare_refuses_a_missing_wheel_folder_before_making_anything(tmp_path):
    with pytest.raises(bs.SetupError) as err:
        bs.prepare(str(tmp_path / "user" / "venv"), BACKEND, python=sys.executable,
                   wheel_dir=str(tmp_path / "nowhere"))
    assert str(err.value) == (f"The wheel folder {tmp_path / 'nowhere'} does not exist; choose the folder "
                              "with the downloaded .whl files or leave it empty to download.")
    assert not (tmp_path / "user").exists()
    with pytest.raises(bs.SetupError, match="bundled backend was not found"):
        bs.prepare(str(tmp_path / "user" / "venv"), str(tmp_path), python=sys.executable)


AWKWARD = "Blender's \"user\" folder"          # spaces and both quotes: a shell would split or choke


def test_setup_job_offline_backend_only(tmp_path):
    """A real venv from this interpreter and a real pip install of the backend wheel (no index,
    no dependencies), polled the way the timer polls it, in a folder a shell would mangle."""
    venv = str(tmp_path / AWKWARD / "venv")
    job = bs.prepare(venv, BACKEND, python=sys.executable, dependencies=False)
    temp = job.temp_dirs[0]
    seen = []
    job.wait(timeout=240, interval=0.05, on_poll=lambda j: seen.append((j.fraction, j.stage)))
    assert job.error == ""
    assert job.message == f"Backend ready (asynfusion 0.1.0) in {venv}."
    fractions = [f for f, _ in seen]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    stages = {s.split(":")[0] for _, s in seen}
    assert {"Creating the virtual environment", "Installing the AsynFusion backend", "Checking the backend"} <= stages
    assert not os.path.exists(temp)                               # the wheel's temporary folder
    assert bs.is_ready(venv)                                      # finished: the add-on may use it
    probe = subprocess.run([bs.venv_python(venv), "-c", "import asynfusion, sys; print(asynfusion.__file__)"],
                           capture_output=True, text=True, cwd=str(tmp_path), env=bs.subprocess_env(os.environ))
    assert probe.returncode == 0, probe.stderr
    assert probe.stdout.strip() == os.path.join(venv, "lib", "python%d.%d" % sys.version_info[:2],
                                                "site-packages", "asynfusion", "__init__.py")


STAND_IN = """#!{python}
# Stands in for Python and pip where the package index cannot be reached: records what it was
# asked to run, one JSON line per call, and answers as they would.
import json, os, shutil, sys
args = sys.argv[1:]
with open({log!r}, "a") as log:
    log.write(json.dumps({{"args": args, "files": [os.path.isfile(a) for a in args]}}) + "\\n")
if args[:2] == ["-m", "venv"]:
    os.makedirs(os.path.join(args[2], "bin"))
    shutil.copy(sys.argv[0], os.path.join(args[2], "bin", "python"))
elif args[:3] == ["-m", "pip", "install"]:
    print("Collecting " + args[-1])
    print("Successfully installed " + os.path.basename(args[-1]))
else:
    print("ready: torch 2.2.0, CPU")
"""


def test_the_online_setup_runs_argument_lists_that_arrive_intact(tmp_path):
    """The whole online plan (CPU torch from its index, then the backend wheel, then the check) run
    by the job against a stand-in interpreter that records its arguments: each path, quotes and
    spaces included, arrives as one argument, as it does only when nothing goes through a shell."""
    log = tmp_path / "calls.jsonl"
    python = tmp_path / AWKWARD / "python3.11"
    python.parent.mkdir()
    python.write_text(STAND_IN.format(python=sys.executable, log=str(log)))
    python.chmod(0o755)
    venv = str(tmp_path / AWKWARD / "venv")
    job = bs.prepare(venv, BACKEND, python=str(python), device="cpu", platform="linux")
    job.wait(timeout=120)
    assert job.error == "" and job.fraction == 1.0
    assert job.message == f"Backend ready (torch 2.2.0, CPU) in {venv}."
    assert bs.is_ready(venv)
    calls = [json.loads(line) for line in log.read_text().splitlines()]
    assert [c["args"][:3] for c in calls] == [["-m", "venv", venv], ["-m", "pip", "install"],
                                              ["-m", "pip", "install"], ["-c", bs.CHECK_WITH_TORCH]]
    torch, backend = calls[1]["args"], calls[2]["args"]
    assert torch[-3:] == ["--index-url", "https://download.pytorch.org/whl/cpu", "torch>=2.2"]
    assert backend[-1].endswith("asynfusion-0.1.0-py3-none-any.whl") and backend[-1] not in torch
    assert calls[2]["files"][-1]                          # the wheel prepare made, there while pip ran
    assert not os.path.exists(backend[-1])                # and removed with its folder afterwards


def test_a_failed_setup_removes_its_venv_and_puts_the_previous_one_back(tmp_path, monkeypatch):
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    monkeypatch.delenv("PIP_FIND_LINKS", raising=False)
    venv = tmp_path / "user" / "venv"
    venv.mkdir(parents=True)
    (venv / "previous.txt").write_text("the environment that worked")
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    job = bs.prepare(str(venv), BACKEND, python=sys.executable, device="cpu", wheel_dir=str(wheels))
    job.start()
    assert not (venv / "previous.txt").exists()                   # moved aside while the new one is made
    job.wait(timeout=240)
    assert job.error == f"Installing PyTorch (CPU build) failed: the wheel folder {wheels} has no torch>=2.2."
    assert 0.1 <= job.fraction < 1.0
    assert sorted(os.listdir(tmp_path / "user")) == ["venv"]
    assert os.listdir(venv) == ["previous.txt"]


def test_a_run_that_never_ended_gives_back_the_previous_venv(tmp_path):
    """Blender quit mid-setup: venv/ is half-made and venv.previous/ is the one that worked."""
    user = tmp_path / "user"
    (user / "venv").mkdir(parents=True)
    (user / "venv" / "half.txt").write_text("")
    (user / "venv.previous").mkdir()
    (user / "venv.previous" / "good.txt").write_text("")
    job = bs.prepare(str(user / "venv"), BACKEND, python=str(tmp_path / "no-python"), dependencies=False)
    job.wait(timeout=30)
    assert job.error.startswith("Creating the virtual environment failed")
    assert os.listdir(user) == ["venv"] and os.listdir(user / "venv") == ["good.txt"]


def test_cancel_stops_the_step_and_leaves_no_venv(tmp_path):
    venv = tmp_path / "user" / "venv"
    job = bs.prepare(str(venv), BACKEND, python=sys.executable, dependencies=False)
    job.start()
    deadline = time.monotonic() + 240              # waits for the step to begin; it measures nothing
    while not venv.exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    os.kill(job._proc.pid, signal.SIGSTOP)          # held mid-step, however fast this machine is
    job.poll()
    assert job.running and job.index == 0 and venv.exists()    # python -m venv (and ensurepip) running
    os.kill(job._proc.pid, signal.SIGCONT)
    job.cancel()
    assert job.done and job.error == "Setting up the backend was cancelled."
    assert not venv.exists() and os.listdir(tmp_path / "user") == []


def test_a_step_that_cannot_start_is_one_sentence(tmp_path):
    venv = tmp_path / "user" / "venv"
    job = bs.prepare(str(venv), BACKEND, python=str(tmp_path / "no-python"), dependencies=False)
    job.wait(timeout=30)
    assert job.error.startswith(f"Creating the virtual environment failed: cannot run {tmp_path / 'no-python'} (")
    assert _one_sentence(job.error) and not venv.exists()
