"""Generation speed: frames/s and real-time factor per sampler and clip length.

Each (clip, sampler) cell runs in a fresh process (so its peak memory is its own)
and reports the median of several runs after one warm-up. Audio decoding +
features are timed apart from the model. Clips are real speech (the BEAT2 takes
in ../shared/data, repeated to length). Uses the shipped weights when present,
else a randomly initialised model of the default architecture (same cost).

    .venv/bin/python bench/generate_speed.py [--lengths 10 60 600] [--runs 3] [--device cpu]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BEAT2 = REPO.parent / "shared" / "data" / "beat2"
# name: (mode, steps_face, steps_body, body SDEdit start or None, face guided at its last step);
# the rest as sampling.RECIPE[mode] has it (the LCM rows take the posture step, as generating does)
SAMPLERS = {
    "teacher DDIM 50": ("ddim", 50, 50, None, False),
    "LCM 6+6, body from the match, face guided last (default)": ("lcm", 6, 6, 759, True),
    "LCM 6+6, body from the match": ("lcm", 6, 6, 759, False),
    "LCM 6+4, body from the match": ("lcm", 6, 4, 759, False),
    "LCM async 4+2": ("lcm", 4, 2, None, False),
    "LCM 1+1": ("lcm", 1, 1, None, False),
}


def make_clip(seconds: int, folder: Path) -> Path:
    import numpy as np
    import soundfile

    from asynfusion.audio import SAMPLE_RATE

    parts = [soundfile.read(BEAT2 / f"2_scott_0_{k}.wav", dtype="float32")[0] for k in ("1_1", "2_2")]
    reps = seconds // 120 + 1
    wave = np.concatenate(parts * reps)[: seconds * SAMPLE_RATE]
    path = folder / f"speech_{seconds}s.wav"
    soundfile.write(path, wave, SAMPLE_RATE)
    return path


def weights_folder(folder: Path) -> tuple[Path, str]:
    from asynfusion.weights import default_weights_dir

    shipped = default_weights_dir()
    if (shipped / "model.safetensors").is_file():
        return shipped, "shipped"
    from asynfusion.random_model import save_random_weights

    save_random_weights(folder / "random", kind="lcm")
    return folder / "random", "random (default architecture)"


def one_cell(clip: str, weights: str, sampler: str, runs: int, device: str) -> dict:
    """Runs in a child process: warm up once, then time ``runs`` generations."""
    import statistics

    import torch

    from asynfusion import audio
    from asynfusion.generate import Generator
    from asynfusion.posture import DEFAULT_PARTS
    from asynfusion.sampling import RECIPE, SamplerSettings

    gen = Generator(weights, device)
    mode, sf, sb, start, face_guided = SAMPLERS[sampler]
    settings = SamplerSettings(mode=mode, steps_face=sf, steps_body=sb, guidance=RECIPE[mode]["guidance"],
                               body_start=start, posture_sigma=RECIPE[mode]["posture_sigma"],
                               posture_parts=tuple(RECIPE[mode].get("posture_parts", DEFAULT_PARTS)),
                               face_guidance=float(RECIPE[mode].get("face_guidance", 1.0)) if face_guided else 1.0,
                               closing_guidance=float(RECIPE[mode].get("closing_guidance", 1.0)) if face_guided else 1.0)
    times_audio, times_model = [], []
    for i in range(runs + 1):
        t0 = time.perf_counter()
        wave = audio.normalise_loudness(audio.load_audio(clip))
        feats, offset = audio.speaker_normalise(audio.audio_features(wave, gen.device))
        t1 = time.perf_counter()
        gen.sample(feats, offset, settings, seed=i)   # motion matching + sampling
        if gen.device.type == "cuda":
            torch.cuda.synchronize()
        t2 = time.perf_counter()
        if i:  # the first run warms caches and kernels
            times_audio.append(t1 - t0)
            times_model.append(t2 - t1)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if gen.device.type == "cuda":
        peak = torch.cuda.max_memory_allocated() / 2**20
    return {"frames": int(feats.shape[0]), "audio_s": statistics.median(times_audio),
            "model_s": statistics.median(times_model), "peak_mib": peak, "device": gen.device_name}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lengths", type=int, nargs="+", default=[10, 60, 600])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--teacher-max", type=int, default=60, help="longest clip the slow teacher runs on")
    parser.add_argument("--cell", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.cell:
        print(json.dumps(one_cell(*args.cell, runs=args.runs, device=args.device)))
        return

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        weights, kind = weights_folder(tmp)
        print(f"# generate_speed — {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
              f"device {args.device}, weights: {kind}")
        print(f"{'clip':>6} {'sampler':<16} {'frames':>7} {'audio s':>8} {'model s':>8} {'total s':>8} "
              f"{'frames/s':>9} {'x real time':>11} {'peak MiB':>9} {'vs teacher':>10}")
        for seconds in args.lengths:
            clip = make_clip(seconds, tmp)
            teacher_total = None
            for sampler in SAMPLERS:
                if sampler.startswith("teacher") and seconds > args.teacher_max:
                    continue
                out = subprocess.run([sys.executable, __file__, "--runs", str(args.runs), "--device", args.device,
                                      "--cell", str(clip), str(weights), sampler],
                                     capture_output=True, text=True, check=True)
                r = json.loads(out.stdout.strip().splitlines()[-1])
                total = r["audio_s"] + r["model_s"]
                if sampler.startswith("teacher"):
                    teacher_total = total
                ratio = f"{teacher_total / total:.1f}x" if teacher_total else "-"
                print(f"{seconds:>5}s {sampler:<16} {r['frames']:>7} {r['audio_s']:>8.3f} {r['model_s']:>8.3f} "
                      f"{total:>8.3f} {r['frames'] / total:>9.0f} {seconds / total:>11.1f} "
                      f"{r['peak_mib']:>9.0f} {ratio:>10}", flush=True)


if __name__ == "__main__":
    main()
