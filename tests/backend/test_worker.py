"""The warm worker as the add-on drives it: a real process speaking JSON lines."""

import json
import queue
import subprocess
import shutil
import threading
import time

import pytest

from asynfusion.core import protocol

from .conftest import PYTHON, SPEECH_OGG, SPEECH_WAV, cli_env


class WorkerProcess:
    def __init__(self, weights):
        self.proc = subprocess.Popen([PYTHON, "-m", "asynfusion.worker", "--weights", str(weights),
                                      "--device", "cpu"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, env=cli_env())
        self.lines: queue.Queue = queue.Queue()
        self.heartbeats = threading.Semaphore(0)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            reply = protocol.parse_reply(line)          # every stdout line must be protocol
            if reply["type"] == "heartbeat":
                self.heartbeats.release()
            else:
                self.lines.put(reply)

    def send(self, text: str):
        self.proc.stdin.write(text if text.endswith("\n") else text + "\n")
        self.proc.stdin.flush()

    def request(self, **req):
        self.send(json.dumps(req))

    def next(self, timeout=60.0) -> dict:
        return self.lines.get(timeout=timeout)

    def until(self, kind: str, timeout=120.0) -> tuple[dict, list[dict]]:
        seen = []
        deadline = time.monotonic() + timeout
        while True:
            msg = self.next(max(deadline - time.monotonic(), 0.01))
            if msg["type"] == kind:
                return msg, seen
            seen.append(msg)

    def close(self) -> int:
        self.proc.stdin.close()
        return self.proc.wait(timeout=60)


@pytest.fixture
def worker(random_weights):
    w = WorkerProcess(random_weights)
    assert w.next()["type"] == "ready"
    yield w
    if w.proc.poll() is None:
        w.proc.kill()


def test_random_weights_worker_serves_many_requests_warm_and_exits_0_on_eof(worker, tmp_path):
    for i, audio in enumerate([SPEECH_WAV, SPEECH_OGG]):
        worker.request(op="generate", id=f"r{i}", audio=str(audio), out=str(tmp_path / f"{i}.npz"), seed=i)
        result, before = worker.until("result")
        assert result["id"] == f"r{i}" and (tmp_path / f"{i}.npz").exists()
        fractions = [m["fraction"] for m in before if m["type"] == "progress"]
        assert fractions == sorted(fractions) and len(fractions) >= 3
        # the clip's length is told once, as soon as the audio is read (before any sampling)
        told = [i for i, m in enumerate(before) if "audio_seconds" in m]
        sampling = [i for i, m in enumerate(before) if m.get("stage") == "sampling"]
        assert len(told) == 1 and told[0] < sampling[0]
        assert before[told[0]]["audio_seconds"] == pytest.approx(result["seconds"], abs=0.05)
    assert result["frames"] == 445 and result["seconds"] == pytest.approx(14.83, abs=0.01)
    assert worker.close() == 0


def test_random_weights_worker_survives_garbage(worker, tmp_path):
    for garbage in ["not json", "[1, 2]", '{"op": "dance"}', '{"op": "generate", "id": "x"}',
                    '{"op": "generate", "id": "x", "audio": "a", "out": "b", "seed": "one"}', "\x00\x01"]:
        worker.send(garbage)
        reply = worker.next()
        assert reply["type"] == "error" and reply["kind"] == "bad_request"
    worker.request(op="generate", id="bad-audio", audio=str(tmp_path / "none.wav"), out=str(tmp_path / "o.npz"))
    err, _ = worker.until("error")
    assert err["id"] == "bad-audio" and err["kind"] == "audio" and "does not exist" in err["message"]
    worker.request(op="ping")
    assert worker.until("ready")[0]["device"].startswith("cpu")
    assert worker.close() == 0


def test_random_weights_worker_cancels_and_writes_nothing(worker, long_speech, tmp_path):
    out = tmp_path / "long.npz"
    worker.request(op="generate", id="long", audio=str(long_speech), out=str(out), steps_face=8, steps_body=8)
    while True:
        msg = worker.next()
        if msg["type"] == "progress" and msg["stage"] == "sampling" and msg["fraction"] > 0.1:
            break
    worker.request(op="cancel", id="long")
    err, _ = worker.until("error", timeout=120)      # how fast is bench/'s business, not a test's
    assert err["kind"] == "cancelled" and err["id"] == "long"
    assert list(tmp_path.iterdir()) == []
    worker.request(op="generate", id="after", audio=str(SPEECH_WAV), out=str(tmp_path / "a.npz"))
    assert worker.until("result")[0]["id"] == "after"
    assert worker.close() == 0


def test_worker_without_weights_says_so_and_exits(tmp_path):
    w = WorkerProcess(tmp_path)
    msg = w.next()
    assert msg["type"] == "error" and msg["kind"] == "weights" and "No model weights" in msg["message"]
    assert w.proc.wait(timeout=30) == 2


def test_random_weights_worker_refuses_nan_guidance_zero_steps_and_the_input_as_output(worker, tmp_path):
    for field, value in (("guidance", "NaN"), ("guidance", "Infinity"), ("steps_face", "0")):
        worker.send(f'{{"op": "generate", "id": "x", "audio": "{SPEECH_WAV}", "out": "{tmp_path / "o.npz"}", '
                    f'"{field}": {value}}}')
        err = worker.next()
        assert err["type"] == "error" and err["kind"] == "bad_request" and field in err["message"]
    audio = tmp_path / "speech.wav"
    shutil.copyfile(SPEECH_WAV, audio)
    worker.request(op="generate", id="same", audio=str(audio), out=str(audio))
    err, _ = worker.until("error")
    assert err["id"] == "same" and err["kind"] == "output" and "Refusing to write" in err["message"]
    assert audio.read_bytes() == SPEECH_WAV.read_bytes() and sorted(p.name for p in tmp_path.iterdir()) == [
        "speech.wav"]
    worker.request(op="generate", id="ok", audio=str(audio), out=str(tmp_path / "ok.npz"))
    assert worker.until("result")[0]["id"] == "ok"
    assert worker.close() == 0


def test_random_weights_worker_heartbeats_while_idle_and_while_generating(worker, long_speech, tmp_path):
    for _ in range(3):                                  # idle: nothing asked, still heard
        assert worker.heartbeats.acquire(timeout=120)
    worker.request(op="generate", id="long", audio=str(long_speech), out=str(tmp_path / "long.npz"))
    assert worker.next()["type"] == "progress"
    while worker.heartbeats.acquire(blocking=False):   # forget the idle ones
        pass
    assert worker.heartbeats.acquire(timeout=120)       # and busy
    worker.request(op="cancel", id="long")
    assert worker.until("error", timeout=300)[0]["kind"] == "cancelled"
    assert worker.close() == 0


def test_random_weights_worker_refuses_more_variations_than_max_variations(worker, tmp_path):
    many = [[k, str(tmp_path / f"v{k}.npz")] for k in range(1, protocol.MAX_VARIATIONS + 1)]   # one seed too many
    worker.request(op="generate", id="many", audio=str(SPEECH_WAV), out=str(tmp_path / "v0.npz"), variations=many)
    err = worker.next()
    assert err["type"] == "error" and err["kind"] == "bad_request", err
    assert f"a request has at most {protocol.MAX_VARIATIONS} seeds in all" in err["message"]
    worker.request(op="ping")
    assert worker.next()["type"] == "ready"             # nothing was started in the meantime
    assert list(tmp_path.iterdir()) == []
    assert worker.close() == 0
