"""Drives the backend worker process: start it, keep it warm, read its replies, cancel.

The add-on never imports torch; the worker runs in its own Python and speaks
core/protocol.py over stdin/stdout. A reader thread turns stdout lines into a queue so
the modal operator's timer can ``poll()`` without ever blocking Blender's UI, and a
second thread keeps the tail of stderr so a crash becomes one sentence, not silence.
"""

from __future__ import annotations

import collections
import os
import queue
import subprocess
import threading
import time
import uuid
from collections.abc import Sequence

from .core import protocol
from .core.request import GenerateRequest
from .errors import AddonError
from .backend_venv import is_ready, venv_python

ADDON_DIR = os.path.dirname(os.path.abspath(__file__))
ENV_PYTHON = "ASYNFUSION_BACKEND_PYTHON"
# A worker sends a heartbeat every protocol.HEARTBEAT_SECONDS, busy or idle; one that says nothing
# for this long is frozen (stopped, hung, swapped to death) and is killed. Before it is ready the
# allowance is longer: importing torch can hold the interpreter for a while on a busy machine.
STALL_SECONDS = 30.0
START_STALL_SECONDS = 300.0


def backend_dir() -> str | None:
    """The folder holding the ``asynfusion`` package: beside the add-on in a checkout, inside it in a zip."""
    for candidate in (os.path.join(ADDON_DIR, "backend"), os.path.join(ADDON_DIR, "..", "backend")):
        if os.path.isfile(os.path.join(candidate, "asynfusion", "__init__.py")):
            return os.path.normpath(candidate)
    return None


def bundled_weights_dir() -> str | None:
    """The default weights shipped inside the installed extension (``<extension>/weights``).
    None in a checkout, where the backend's own default (the repository's ``weights/``) applies."""
    folder = os.path.join(ADDON_DIR, "weights")
    return folder if os.path.isfile(os.path.join(folder, "model.safetensors")) else None


def find_python(preference: str = "", user_venv: str | None = None) -> str | None:
    """The backend interpreter: preference > $ASYNFUSION_BACKEND_PYTHON > <repo>/.venv > extension venv
    (only once Set Up Backend finished it: a venv left half-made by a quit Blender is never used)."""
    candidates = [preference, os.environ.get(ENV_PYTHON, ""), venv_python(os.path.join(ADDON_DIR, "..", ".venv"))]
    if user_venv and is_ready(user_venv):
        candidates.append(venv_python(user_venv))
    for path in candidates:
        if path and os.path.isfile(path) and os.access(path, os.X_OK):
            return os.path.normpath(path)
    return None


def worker_command(python: str, device: str = "auto", weights: str = "") -> list[str]:
    """The worker's command line; no weights given means the extension's bundled weights."""
    command = [python, "-m", "asynfusion.worker"]
    weights = weights or bundled_weights_dir() or ""
    if weights:
        command += ["--weights", weights]
    return command + ["--device", device]


def worker_env() -> dict[str, str]:
    """The environment for the worker: ours, plus the backend folder on PYTHONPATH."""
    env = dict(os.environ)
    folder = backend_dir()
    if folder:
        env["PYTHONPATH"] = os.pathsep.join(p for p in (folder, env.get("PYTHONPATH", "")) if p)
    env["PYTHONUNBUFFERED"] = "1"
    return env


class WorkerClient:
    """One worker process; replies arrive on ``poll()`` as protocol dicts."""

    def __init__(self, command: Sequence[str], env: dict[str, str] | None = None) -> None:
        self.command = list(command)
        self.ready: dict | None = None
        self._replies: queue.Queue[dict] = queue.Queue()
        self._stderr: collections.deque[str] = collections.deque(maxlen=20)
        try:
            self._proc = subprocess.Popen(
                self.command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                env=env, text=True, encoding="utf-8", bufsize=1,
            )
        except OSError as err:
            raise AddonError(f"Cannot start the AsynFusion worker with {self.command[0]}: {err.strerror}.") from None
        self._stdout_reader = threading.Thread(target=self._read_stdout, daemon=True)
        self._stdout_reader.start()
        self._stderr_reader = threading.Thread(target=self._read_stderr, daemon=True)
        self._stderr_reader.start()
        self._dead_reported = False
        self.stall_seconds = STALL_SECONDS
        self._last_heard = time.monotonic()

    def _read_stdout(self) -> None:
        assert self._proc.stdout is not None
        for line in self._proc.stdout:
            if not line.strip():
                continue
            self._last_heard = time.monotonic()
            try:
                reply = protocol.parse_reply(line)
            except protocol.ProtocolError as err:
                self._stderr.append(f"unreadable worker line ({err}): {line.strip()[:200]}")
                continue
            if reply["type"] != "heartbeat":
                self._replies.put(reply)

    def _read_stderr(self) -> None:
        assert self._proc.stderr is not None
        for line in self._proc.stderr:
            if line.strip():
                self._stderr.append(line.rstrip())

    @property
    def alive(self) -> bool:
        return self._proc.poll() is None

    @property
    def frozen(self) -> bool:
        """Running, but silent for longer than it may be (no heartbeat, no reply)."""
        return self.alive and time.monotonic() - self._last_heard > self._stall_limit()

    def _stall_limit(self) -> float:
        return self.stall_seconds if self.ready is not None else max(self.stall_seconds, START_STALL_SECONDS)

    @property
    def pid(self) -> int:
        return self._proc.pid

    def send(self, message: dict) -> None:
        if not self.alive or self._proc.stdin is None:
            raise AddonError(self._death_sentence())
        try:
            self._proc.stdin.write(protocol.encode(message))
            self._proc.stdin.flush()
        except (BrokenPipeError, OSError):
            raise AddonError(self._death_sentence()) from None

    def generate(self, request: GenerateRequest) -> str:
        """Send a generate request; returns its id."""
        req_id = uuid.uuid4().hex[:12]
        self.send(request.to_message(req_id))
        return req_id

    def cancel(self, req_id: str) -> None:
        if self.alive:
            self.send({"op": "cancel", "id": req_id})

    def poll(self) -> list[dict]:
        """Replies received so far; a dead worker adds one error reply, once, after its last line."""
        out = []
        while True:
            try:
                reply = self._replies.get_nowait()
            except queue.Empty:
                break
            if reply["type"] == "ready":
                self.ready = reply
            out.append(reply)
        if not out and self.frozen and not self._dead_reported:
            self._dead_reported = True
            self._proc.kill()
            self._proc.wait()
            out.append(protocol.error(None, "internal", (
                f"The AsynFusion worker stopped responding for {self._stall_limit():.0f} seconds and was "
                "stopped; press Generate again to start a fresh one.")))
        finished = not self.alive and not self._stdout_reader.is_alive()
        if not out and finished and not self._dead_reported:
            self._dead_reported = True
            out.append(protocol.error(None, "internal", self._death_sentence()))
        return out

    def wait(self, req_id: str | None, timeout: float, on_reply=None) -> dict:
        """Block until the result or error for ``req_id`` (background mode); calls on_reply for each reply."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for reply in self.poll():
                if on_reply is not None:
                    on_reply(reply)
                if reply["type"] in ("result", "error") and reply.get("id") in (req_id, None):
                    return reply
                if req_id is None and reply["type"] == "ready":
                    return reply
            time.sleep(0.02)
        return protocol.error(req_id, "internal", f"The AsynFusion worker gave no answer within {timeout:.0f} seconds.")

    def _death_sentence(self) -> str:
        code = self._proc.poll()
        if code is not None:
            self._stderr_reader.join(0.5)
        last = next((line for line in reversed(self._stderr) if line.strip()), "")
        detail = f": {last.strip()[:300]}" if last else ""
        return f"The AsynFusion worker stopped (exit code {code}){detail}."

    def close(self, timeout: float = 3.0) -> None:
        """End of input asks the worker to exit; it is killed if it does not (at once if frozen)."""
        if self.frozen:
            self._proc.kill()
        if self._proc.stdin is not None:
            try:
                self._proc.stdin.close()
            except OSError:
                pass
        try:
            self._proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()


_warm: WorkerClient | None = None


def shared_client(command: Sequence[str], env: dict[str, str] | None = None) -> WorkerClient:
    """The warm worker for this command, started on first use and restarted if it died or the command changed."""
    global _warm
    if _warm is not None and (not _warm.alive or _warm.frozen or _warm.command != list(command)):
        _warm.close()
        _warm = None
    if _warm is None:
        _warm = WorkerClient(command, env)
    return _warm


def current_client() -> WorkerClient | None:
    return _warm


def shutdown() -> None:
    global _warm
    if _warm is not None:
        _warm.close()
        _warm = None
