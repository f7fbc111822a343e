"""How long a cancel takes: from the add-on's cancel message to the worker's "cancelled" reply.

The add-on's own client (``asynfusion_blender.client``) drives the real worker on a long clip
(real speech repeated to 10 minutes, so sampling is still running when the cancel arrives).
Cancels are sent at two moments: once the audio is decoded (while its features are computed,
the one stage that does not look at the cancel flag inside), and in the middle of sampling. The baseline of the same run is the interval between
the worker's progress messages while it samples: the granularity at which a cancel can be seen.
Run with Blender's Python (the add-on imports bpy), the worker in the backend's:

    ASYNFUSION_BACKEND_PYTHON=$PWD/.venv/bin/python .venv-blender-50/bin/python bench/cancel_latency.py [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import wave
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from asynfusion_blender import client  # noqa: E402
from asynfusion_blender.core.request import GenerateRequest  # noqa: E402

SPEECH = REPO.parent / "shared" / "data" / "beat2" / "2_scott_0_2_2.wav"


def long_clip(folder: Path, minutes: float) -> Path:
    """The take repeated to ``minutes`` (PCM copied as it is; the stdlib reads it)."""
    with wave.open(str(SPEECH)) as src:
        params, frames = src.getparams(), src.readframes(src.getnframes())
    need = int(minutes * 60 * params.framerate) * params.sampwidth * params.nchannels
    path = folder / f"speech_{minutes:g}min.wav"
    with wave.open(str(path), "wb") as dst:
        dst.setparams(params)
        dst.writeframes((frames * (need // len(frames) + 1))[:need])
    return path


def one_cancel(worker: client.WorkerClient, clip: Path, out: Path, when: str) -> tuple[float, list[float]]:
    """(seconds from cancel to the cancelled reply, intervals between sampling progress replies)."""
    req = worker.generate(GenerateRequest(str(clip), str(out)))
    stamps: list[float] = []
    sent = None
    while True:
        for reply in worker.poll():
            now = time.perf_counter()
            if reply.get("id") != req:
                continue
            if when == "audio" and sent is None and "audio_seconds" in reply:   # decoded; features next
                sent = time.perf_counter()
                worker.cancel(req)
            elif reply["type"] == "progress" and reply["stage"] == "sampling":
                stamps.append(now)
                if sent is None and reply["fraction"] > 0.3:
                    sent = time.perf_counter()
                    worker.cancel(req)
            elif reply["type"] == "error":
                if reply["kind"] != "cancelled":
                    raise SystemExit(f"unexpected reply: {reply}")
                assert sent is not None
                return now - sent, [b - a for a, b in zip(stamps, stamps[1:])]
            elif reply["type"] == "result":
                raise SystemExit("the clip finished before the cancel; use a longer --minutes")
        time.sleep(0.002)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--minutes", type=float, default=10.0)
    args = p.parse_args()
    python = client.find_python()
    if python is None:
        raise SystemExit(f"set {client.ENV_PYTHON} to the backend's Python")
    with tempfile.TemporaryDirectory(dir=REPO / "out" if (REPO / "out").is_dir() else None) as tmp:
        clip = long_clip(Path(tmp), args.minutes)
        worker = client.WorkerClient(client.worker_command(python, "cpu"), client.worker_env())
        try:
            ready = worker.wait(None, 300)
            if ready["type"] != "ready":
                raise SystemExit(ready["message"])
            rows = []
            for when in ("audio", "sampling"):
                latencies, intervals = [], []
                for i in range(args.runs):
                    lat, iv = one_cancel(worker, clip, Path(tmp) / f"m{i}.npz", when)
                    latencies.append(lat)
                    intervals += iv
                rows.append((when, latencies, intervals))
            assert worker.alive, "the worker died on a cancel"
        finally:
            worker.close()
    print(f"{os.cpu_count()} CPUs, CPU worker, {args.minutes:g} min clip, {args.runs} cancels per moment\n")
    print("| cancel during | median s | max s | progress interval while sampling, median s |")
    print("|---|---|---|---|")
    for when, lat, iv in rows:
        gap = f"{statistics.median(iv):.3f}" if iv else "–"
        print(f"| {when} | {statistics.median(lat):.3f} | {max(lat):.3f} | {gap} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
