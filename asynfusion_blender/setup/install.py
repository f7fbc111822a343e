"""Set up the backend environment: a virtual environment with torch and the bundled backend.

Blender's Python has no torch, so *Set up backend* (Preferences > Add-ons > AsynFusion)
creates a venv in the extension's user folder and pip-installs into it, step by step:

1. ``<python> -m venv <venv>``  (Blender's own Python, 3.11 in 4.2 LTS … 5.0)
2. torch: the CUDA build where an NVIDIA GPU is found (``nvidia-smi``), the CPU build
   otherwise (https://download.pytorch.org/whl/cpu), or from a local wheel folder
   (``--no-index --find-links DIR``) when the user gives one (offline)
3. the backend: a wheel made from the bundled ``backend/`` sources (``wheel.py``: pure Python,
   so no build tools and no writes into the installed extension), with its dependencies
4. a check that the new interpreter imports torch and the backend

Each step is a subprocess (never a shell); ``SetupJob.poll()`` reads their output without
blocking, turns pip's lines into a stage text and a fraction, and on failure gives one
sentence and removes the half-made venv (a venv that was there before is put back).
This module does not import bpy: its tests run without Blender.
"""

from __future__ import annotations

import collections
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from urllib.parse import unquote

from . import wheel
from ..backend_venv import READY_FILE, is_ready, venv_python  # noqa: F401  (is_ready: the mark's reader)

MIN_PYTHON = (3, 11)
CPU_INDEX = "https://download.pytorch.org/whl/cpu"
# PyPI's Linux torch wheels are the CUDA build already; on Windows PyPI has only the CPU build.
CUDA_INDEX_WINDOWS = "https://download.pytorch.org/whl/cu128"
PIP_OPTIONS = ("--disable-pip-version-check", "--no-input", "--no-color", "--progress-bar", "off")
# What an online setup downloads, in MB, so the preferences can say it before it starts. Measured for
# Linux x86-64 and Python 3.11 (November 2026): torch 2.13.0+cpu is 191 MB with 9 MB of its own
# dependencies; the backend's (numpy, scipy, librosa with numba and llvmlite, scikit-learn, soxr,
# soundfile, safetensors) 130 MB. PyPI's CUDA torch with its nvidia-* libraries is about 2.5 GB
# (not measured: no GPU index reachable here). Other platforms and versions differ a little.
DOWNLOAD_MB = {"cpu": 200 + 130, "cuda": 2500 + 130}
ESTIMATE_MBIT_S = 50            # the connection the time estimate assumes


class SetupError(Exception):
    """A setup problem, as the one sentence the preferences show."""


# ----------------------------------------------------------------------------- choices


def base_python(executable: str, version: Sequence[int]) -> str:
    """The interpreter that makes the venv (Blender's own); a sentence when it cannot."""
    name = os.path.basename(executable or "").lower()
    if not executable or not os.path.isfile(executable) or name.startswith("blender"):
        raise SetupError("Blender's Python interpreter was not found, so no environment can be made here; "
                         "point Backend Python to an interpreter that has torch instead.")
    if tuple(version[:2]) < MIN_PYTHON:
        raise SetupError(f"The backend needs Python {MIN_PYTHON[0]}.{MIN_PYTHON[1]} or newer, but Blender runs "
                         f"Python {version[0]}.{version[1]}; point Backend Python to a newer interpreter.")
    return executable


def find_nvidia_smi(which: Callable[[str], str | None] = shutil.which, platform: str = sys.platform) -> str | None:
    """nvidia-smi, which the NVIDIA driver installs: its presence means an NVIDIA GPU to use."""
    found = which("nvidia-smi")
    if found:
        return found
    if platform == "win32":
        for path in (os.path.join(os.environ.get("SystemRoot", r"C:\Windows"), "System32", "nvidia-smi.exe"),
                     r"C:\Program Files\NVIDIA Corporation\NVSMI\nvidia-smi.exe"):
            if os.path.isfile(path):
                return path
    return None


def torch_build(device: str, nvidia_smi: str | None, platform: str = sys.platform) -> str:
    """'cuda' or 'cpu' for the device preference (auto/cuda/cpu); macOS has no CUDA build."""
    if platform == "darwin":
        return "cpu"
    if device == "cuda":
        return "cuda"
    if device == "cpu":
        return "cpu"
    return "cuda" if nvidia_smi else "cpu"


def package_source(wheel_dir: str = "") -> list[str]:
    """pip options that keep it to the local wheel folder (offline), ignoring any other pip
    configuration; none means the package index (and the user's pip configuration)."""
    return ["--isolated", "--no-index", "--find-links", wheel_dir] if wheel_dir else []


def download_note(build: str, wheel_dir: str = "", dependencies: bool = True) -> str:
    """What Set Up Backend will download and roughly how long it takes; empty when it downloads nothing."""
    if wheel_dir or not dependencies:
        return ""
    megabytes = DOWNLOAD_MB[build]
    size = f"{megabytes / 1000:.1f} GB" if megabytes >= 1000 else f"{megabytes} MB"
    minutes = max(1, round(megabytes * 8 / ESTIMATE_MBIT_S / 60))
    label = "CUDA" if build == "cuda" else "CPU"
    return (f"Downloads about {size} (PyTorch {label} build and the backend's packages): about {minutes} "
            f"min at {ESTIMATE_MBIT_S} Mbit/s, then a minute or two to install.")


def torch_source(build: str, platform: str = sys.platform, wheel_dir: str = "") -> list[str]:
    """Where torch comes from: the wheel folder, else the index that has the wanted build."""
    if wheel_dir:
        return package_source(wheel_dir)
    if build == "cpu" and platform != "darwin":
        return ["--index-url", CPU_INDEX]
    if build == "cuda" and platform == "win32":
        return ["--index-url", CUDA_INDEX_WINDOWS]
    return []


# ----------------------------------------------------------------------------- the plan


@dataclass(frozen=True)
class Step:
    stage: str                  # what the user reads while it runs
    argv: tuple[str, ...]       # the subprocess, never through a shell
    weight: float               # share of the whole bar
    kind: str = "run"           # "venv" | "pip" | "check"


CHECK_WITH_TORCH = ("import torch, asynfusion.worker, asynfusion; print('ready: torch ' + torch.__version__ + "
                    "(', CUDA' if torch.cuda.is_available() else ', CPU'))")
CHECK_PACKAGE_ONLY = "import asynfusion; print('ready: asynfusion ' + asynfusion.__version__)"


def plan(venv_dir: str, python: str, backend_wheel: str, *, build: str = "cpu", wheel_dir: str = "",
         torch_req: str = "torch", dependencies: bool = True, platform: str = sys.platform) -> list[Step]:
    """The command lines, in order. ``dependencies=False`` installs only the backend package
    (``--no-deps``, no index), for an environment that gets torch some other way."""
    py = venv_python(venv_dir, platform)
    pip = (py, "-m", "pip", "install", *PIP_OPTIONS)
    steps = [Step("Creating the virtual environment", (python, "-m", "venv", venv_dir), 0.1, "venv")]
    if dependencies:
        label = "CUDA" if build == "cuda" else "CPU"
        steps.append(Step(f"Installing PyTorch ({label} build)",
                          (*pip, *torch_source(build, platform, wheel_dir), torch_req), 0.6, "pip"))
        steps.append(Step("Installing the AsynFusion backend",
                          (*pip, *package_source(wheel_dir), backend_wheel), 0.25, "pip"))
        steps.append(Step("Checking the backend", (py, "-c", CHECK_WITH_TORCH), 0.05, "check"))
    else:
        steps.append(Step("Installing the AsynFusion backend",
                          (*pip, "--no-index", "--no-deps", backend_wheel), 0.8, "pip"))
        steps.append(Step("Checking the backend", (py, "-c", CHECK_PACKAGE_ONLY), 0.1, "check"))
    return steps


def subprocess_env(environ: Mapping[str, str]) -> dict[str, str]:
    """Our environment without what would point the new interpreter at other packages."""
    env = {k: v for k, v in environ.items()
           if k not in ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "VIRTUAL_ENV", "__PYVENV_LAUNCHER__")}
    env.update(PYTHONNOUSERSITE="1", PYTHONUNBUFFERED="1", PIP_DISABLE_PIP_VERSION_CHECK="1")
    return env


# ----------------------------------------------------------------------------- pip's output


_SIZE = re.compile(r"\(([\d.]+\s*[kMG]?B)\)")
_PROGRESS_RAW = re.compile(r"^Progress (\d+) of (\d+)$")       # pip >= 24.1 with --progress-bar raw


def _package_of(token: str) -> str:
    """'https://…/torch-2.5.1%2Bcpu-cp311-…whl' or 'numpy>=1.24' -> 'torch' / 'numpy'."""
    name = unquote(token.rstrip("/").rsplit("/", 1)[-1])
    if name.endswith((".whl", ".tar.gz", ".zip")):
        return name.split("-", 1)[0]
    return re.split(r"[<>=!~\[; ]", name, maxsplit=1)[0]


@dataclass
class PipProgress:
    """pip's lines -> (fraction of this pip run, short text of what it does now)."""

    fraction: float = 0.0
    detail: str = ""
    seen: int = 0
    _download: str = field(default="", repr=False)

    def _advance(self, value: float) -> None:
        self.fraction = max(self.fraction, min(1.0, value))

    def feed(self, line: str) -> None:
        text = line.strip()
        if text.startswith(("Collecting ", "Requirement already satisfied: ", "Processing ")):
            self.seen += 1
            what = text.split(":", 1)[1].split()[0] if text.startswith("Requirement") else text.split()[1]
            self.detail = f"resolving {_package_of(what)}"
            self._advance(0.6 * (1.0 - 0.85 ** self.seen))
        elif text.startswith(("Downloading ", "Using cached ")):
            parts = text.split()
            token = parts[1] if text.startswith("Downloading") else parts[2]
            size = _SIZE.search(text)
            self._download = f"downloading {_package_of(token)}" + (f" ({size.group(1)})" if size else "")
            self.detail = self._download
        elif (match := _PROGRESS_RAW.match(text)) and int(match.group(2)) > 0:
            done = int(match.group(1)) / int(match.group(2))
            self.detail = f"{self._download or 'downloading'} {done:.0%}"
        elif text.startswith("Installing collected packages:"):
            count = len([p for p in text.split(":", 1)[1].split(",") if p.strip()])
            self.detail = f"installing {count} package{'s' if count != 1 else ''}"
            self._advance(0.75)
        elif text.startswith("Successfully installed"):
            self.detail = "installed"
            self._advance(1.0)


_NETWORK = ("NewConnectionError", "Temporary failure in name resolution", "Network is unreachable",
            "Max retries exceeded", "ConnectTimeoutError", "ProxyError", "SSLError")


def _sentence(text: str, limit: int = 240) -> str:
    text = " ".join(text.split()).rstrip(".:; ")
    if len(text) > limit:
        text = text[:limit - 1].rstrip() + "…"
    return text + "."


# Debian's and Ubuntu's Python without its venv package: "    apt install python3.13-venv" in the
# message its venv module prints; any other Python without ensurepip: upstream venv's
# "Error: Command '[…/bin/python3.13', '-m', 'ensurepip', …]' returned non-zero exit status 1."
_APT_INSTALL = re.compile(r"^\s*(?:sudo\s+)?apt(?:-get)?\s+install\s+(?:-y\s+)?([A-Za-z0-9.+-]+)\s*$")
_ENSUREPIP_FAILED = re.compile(r"python(\d+\.\d+)\b.*'-m', 'ensurepip'")


def venv_error_sentence(step: Step, lines: Sequence[str]) -> str:
    """The venv step's failure when the system's venv package is missing: which package to install
    (the line Debian's Python prints), else empty."""
    package = next((m.group(1) for ln in lines if (m := _APT_INSTALL.match(ln))), "")
    if package:
        return (f"{step.stage} failed because the system package {package} is missing: install it "
                f"(sudo apt install {package}) and press Set Up Backend again.")
    match = next((m for ln in lines if (m := _ENSUREPIP_FAILED.search(ln))), None)
    if match:
        package = f"python{match.group(1)}-venv"
        return (f"{step.stage} failed because this Python has no ensurepip: install its venv package "
                f"({package} on Debian and Ubuntu) and press Set Up Backend again, or point Backend Python "
                "to an interpreter that has torch.")
    return ""


def error_sentence(step: Step, lines: Sequence[str], returncode: int | None, wheel_dir: str = "") -> str:
    """One sentence for a failed step, from its output; never a traceback."""
    if step.kind == "venv" and (missing := venv_error_sentence(step, lines)):
        return missing
    errors = [ln.strip()[len("ERROR:"):].strip() for ln in lines if ln.strip().startswith("ERROR:")]
    offline_missing = next((e for e in errors if e.startswith("No matching distribution found for ")), None)
    if offline_missing and wheel_dir:
        wanted = offline_missing[len("No matching distribution found for "):].strip()
        return _sentence(f"{step.stage} failed: the wheel folder {wheel_dir} has no {wanted}")
    if offline_missing and any(marker in ln for ln in lines for marker in _NETWORK):
        return _sentence(f"{step.stage} failed: the package index could not be reached; connect to the "
                         "internet or give a wheel folder with the packages")
    if errors:
        reason = offline_missing or errors[-1]
    else:
        plain = [ln.strip() for ln in lines if ln.strip() and not ln.startswith((" ", "\t"))
                 and not ln.startswith("Traceback")]
        reason = plain[-1] if plain else f"it stopped with exit code {returncode}"
    first = reason.split()[0] if reason.split() else ""
    if first.isalpha() and first[1:].islower():          # "Could not …" -> "could not …"; names stay
        reason = reason[0].lower() + reason[1:]
    return _sentence(f"{step.stage} failed: {reason}")


# ----------------------------------------------------------------------------- running it


class SetupJob:
    """Runs the steps one after another; ``poll()`` never blocks (a timer calls it)."""

    def __init__(self, steps: Sequence[Step], venv_dir: str, *, env: Mapping[str, str] | None = None,
                 wheel_dir: str = "", temp_dirs: Sequence[str] = ()) -> None:
        self.steps = list(steps)
        self.venv_dir = os.path.normpath(venv_dir)
        self.previous = self.venv_dir + ".previous"
        self.env = subprocess_env(os.environ if env is None else env)
        self.wheel_dir = wheel_dir
        self.temp_dirs = list(temp_dirs)
        self.index = -1
        self.fraction = 0.0
        self.stage = "Waiting to start"
        self.error = ""
        self.message = ""
        self.done = False
        self._proc: subprocess.Popen[str] | None = None
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._tail: collections.deque[str] = collections.deque(maxlen=400)
        self._pip = PipProgress()

    @property
    def running(self) -> bool:
        return self.index >= 0 and not self.done

    def start(self) -> None:
        parent = os.path.dirname(self.venv_dir)
        try:
            os.makedirs(parent, exist_ok=True)
            if os.path.isdir(self.previous):
                # A run that never ended (Blender quit): its venv is half-made, the previous one is good.
                shutil.rmtree(self.venv_dir, ignore_errors=True)
                os.replace(self.previous, self.venv_dir)
            if os.path.isdir(self.venv_dir):
                os.replace(self.venv_dir, self.previous)
        except OSError as err:
            # Nothing of ours exists yet: leave whatever is there as it is.
            self.index, self.done = 0, True
            self.error = _sentence(f"Cannot prepare {parent}: {err.strerror or err}")
            self._remove_temp()
            return
        self._next()

    def _next(self) -> None:
        self.index += 1
        if self.index >= len(self.steps):
            self._finish()
            return
        step = self.steps[self.index]
        self.stage, self._pip, self._tail = step.stage, PipProgress(), collections.deque(maxlen=400)
        self._lines = queue.Queue()
        try:
            self._proc = subprocess.Popen(
                list(step.argv), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                env=self.env, cwd=os.path.dirname(self.venv_dir), text=True, encoding="utf-8", errors="replace",
                start_new_session=os.name == "posix",     # its own process group: cancel stops pip's children too
            )
        except OSError as err:
            self._finish(error=_sentence(f"{step.stage} failed: cannot run {step.argv[0]} "
                                         f"({err.strerror or err})"))
            return
        threading.Thread(target=self._read, args=(self._proc, self._lines), daemon=True).start()

    @staticmethod
    def _read(proc: subprocess.Popen[str], lines: queue.Queue[str | None]) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line.rstrip("\n"))
        lines.put(None)

    def poll(self) -> None:
        """Take the running step's new output; start the next step when it ends."""
        if not self.running or self._proc is None:
            return
        step = self.steps[self.index]
        ended = False
        while True:
            try:
                line = self._lines.get_nowait()
            except queue.Empty:
                break
            if line is None:
                ended = True
                break
            self._tail.append(line)
            if step.kind == "pip":
                self._pip.feed(line)
        done_before = sum(s.weight for s in self.steps[:self.index])
        total = sum(s.weight for s in self.steps) or 1.0
        self.fraction = max(self.fraction, (done_before + step.weight * self._pip.fraction) / total)
        self.stage = f"{step.stage}: {self._pip.detail}" if self._pip.detail else step.stage
        if not ended:
            return
        code = self._proc.wait()
        self._proc = None
        if code != 0:
            self._finish(error=error_sentence(step, list(self._tail), code, self.wheel_dir))
            return
        if step.kind == "check":
            ready = next((ln for ln in reversed(self._tail) if ln.startswith("ready:")), "ready:")
            what = ready[len("ready:"):].strip()
            self.message = f"Backend ready ({what}) in {self.venv_dir}." if what else f"Backend ready in {self.venv_dir}."
        self.fraction = (done_before + step.weight) / total
        self._next()

    def wait(self, timeout: float = 3600.0, interval: float = 0.1,
             on_poll: Callable[[SetupJob], None] | None = None) -> None:
        """Poll until done (background mode and tests); the same poll() a timer calls."""
        if self.index < 0:
            self.start()
        deadline = time.monotonic() + timeout
        while self.running:
            self.poll()
            if on_poll is not None:
                on_poll(self)
            if self.running:
                if time.monotonic() > deadline:
                    self.cancel(f"Setting up the backend took longer than {timeout:.0f} seconds and was stopped.")
                    return
                time.sleep(interval)

    def cancel(self, message: str = "Setting up the backend was cancelled.") -> None:
        if self._proc is not None and self._proc.poll() is None:
            if os.name == "posix":
                try:
                    os.killpg(self._proc.pid, signal.SIGTERM)
                except OSError:
                    self._proc.terminate()
            else:
                self._proc.terminate()
            try:
                self._proc.wait(10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        self._proc = None
        if not self.done:
            self._finish(error=message)

    def _finish(self, error: str = "") -> None:
        self.done = True
        if not error:
            try:
                with open(os.path.join(self.venv_dir, READY_FILE), "w", encoding="utf-8") as fh:
                    fh.write(self.message + "\n")
            except OSError as err:
                error = _sentence(f"Cannot finish {self.venv_dir}: {err.strerror or err}")
        self.error = error
        if error:
            shutil.rmtree(self.venv_dir, ignore_errors=True)       # no half-made venv
            if os.path.isdir(self.previous):
                os.replace(self.previous, self.venv_dir)
        else:
            self.fraction = 1.0
            self.stage = "Done"
            shutil.rmtree(self.previous, ignore_errors=True)
        self._remove_temp()

    def _remove_temp(self) -> None:
        for folder in self.temp_dirs:
            shutil.rmtree(folder, ignore_errors=True)


def prepare(venv_dir: str, backend_dir: str, *, python: str, device: str = "auto", wheel_dir: str = "",
            dependencies: bool = True, platform: str = sys.platform,
            nvidia_smi: str | None = None) -> SetupJob:
    """Check the inputs, make the backend wheel and return the job (not started).
    Raises SetupError (one sentence) before anything is created."""
    if wheel_dir and not os.path.isdir(wheel_dir):
        raise SetupError(f"The wheel folder {wheel_dir} does not exist; choose the folder with the "
                         "downloaded .whl files or leave it empty to download.")
    if not os.path.isfile(os.path.join(backend_dir, "pyproject.toml")):
        raise SetupError(f"The bundled backend was not found in {backend_dir}; reinstall the extension.")
    temp = tempfile.mkdtemp(prefix="asynfusion-wheel-")
    try:
        backend_wheel = wheel.build_backend_wheel(backend_dir, temp)
        torch_req = wheel.torch_requirement(wheel.read_pyproject(backend_dir)["project"])
    except (OSError, KeyError, tomllib.TOMLDecodeError) as err:
        shutil.rmtree(temp, ignore_errors=True)
        raise SetupError(f"The bundled backend in {backend_dir} cannot be packaged: {err}.") from None
    except wheel.WheelError as err:
        shutil.rmtree(temp, ignore_errors=True)
        raise SetupError(str(err)) from None
    build = torch_build(device, nvidia_smi, platform)
    steps = plan(venv_dir, python, backend_wheel, build=build, wheel_dir=wheel_dir, torch_req=torch_req,
                 dependencies=dependencies, platform=platform)
    return SetupJob(steps, venv_dir, wheel_dir=wheel_dir, temp_dirs=[temp])
