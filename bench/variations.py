"""N variations: N separate generates against one batched call, for the bundled 14.8 s speech
clip with the shipped weights, twice: the sampling alone (sampling.sample_many against N sample
calls on the same features) and the whole generate as the worker runs it (audio, features,
retrieval, sampling, N motion files written: Generator.generate with ``more`` against N calls).
Each figure is the median of several runs after one warm-up, the best run beside it (on a
shared machine the best is what the work itself costs; the median includes others' load), and
the median CPU time of the process (all its threads: the work done, which others' load
disturbs far less than the wall clock).

    .venv/bin/python bench/variations.py [--counts 2 4 8] [--runs 3] [--device cpu]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import tempfile
import time
from pathlib import Path

import torch

from asynfusion import audio
from asynfusion.generate import Generator

CLIP = Path(__file__).resolve().parents[1] / "tests" / "data" / "5703-47212-0000.ogg"


def timed(run, runs: int) -> tuple[float, float, float]:
    """(median, best, median CPU) seconds of ``runs`` runs after a warm-up."""
    run()
    times, cpu = [], []
    for _ in range(runs):
        start, start_cpu = time.perf_counter(), time.process_time()
        run()
        times.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return statistics.median(times), min(times), statistics.median(cpu)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--counts", type=int, nargs="+", default=[2, 4, 8])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--device", default="cpu", choices=("auto", "cpu", "cuda"))
    args = parser.parse_args()
    gen = Generator(None, args.device)
    wave = audio.normalise_loudness(audio.load_audio(CLIP))
    feats, offset = audio.speaker_normalise(audio.audio_features(wave, gen.device))
    settings = gen.settings(None, None, None)
    print(f"{CLIP.name} ({len(wave) / audio.SAMPLE_RATE:.1f} s), shipped weights, {gen.device_name}, "
          f"torch {torch.__version__}, {platform.processor() or platform.machine()}; median of {args.runs} runs")
    folder = Path(tempfile.mkdtemp())
    print("| N | what | N separate: median (best) | one batched call: median (best) | ratio of medians (bests) "
          "| CPU time: N separate | CPU time: batched | ratio |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for n in args.counts:
        seeds = list(range(n))
        _row(n, "sampling", timed(lambda: [gen.sample(feats, offset, settings, s) for s in seeds], args.runs),
             timed(lambda: gen.sample_many(feats, offset, settings, seeds), args.runs))
        _row(n, "generate", timed(lambda: [gen.generate(CLIP, folder / f"{s}.npz", seed=s) for s in seeds], args.runs),
             timed(lambda: gen.generate(CLIP, folder / "0.npz", seed=0,
                                        more=[(s, folder / f"{s}.npz") for s in seeds[1:]]), args.runs))


def _row(n: int, what: str, separate: tuple[float, float, float], batched: tuple[float, float, float]) -> None:
    print(f"| {n} | {what} | {separate[0]:.2f} s ({separate[1]:.2f} s) | {batched[0]:.2f} s ({batched[1]:.2f} s) | "
          f"{separate[0] / batched[0]:.2f}× ({separate[1] / batched[1]:.2f}×) | {separate[2]:.2f} s | "
          f"{batched[2]:.2f} s | {separate[2] / batched[2]:.2f}× |", flush=True)

if __name__ == "__main__":
    main()
