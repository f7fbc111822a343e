"""Does the root stay put? Five minutes of silence and an hour of speech through the CLI's path.

For each clip: generation time, where the pelvis goes (largest horizontal distance from the
origin the character is placed at, lowest and highest pelvis height) and where the feet are
(lowest foot joint against the rest pose's floor), next to the captured BEAT2 takes' own
values. The hour is real speech: the BEAT2 takes and the LibriSpeech clips repeated.

    .venv/bin/python bench/long_clips.py [--weights DIR] [--minutes 60]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile

from asynfusion.audio import MOTION_FPS, SAMPLE_RATE
from asynfusion.core.kinematics import floor_height, forward_kinematics, lowest_foot
from asynfusion.core.motion_file import read_motion
from asynfusion.generate import Generator

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


def speech(minutes: float) -> np.ndarray:
    import soxr

    parts = []
    for p in sorted((SHARED / "beat2").glob("*.wav")) + sorted((SHARED / "speech").glob("*.ogg")):
        wave, rate = soundfile.read(p, dtype="float32", always_2d=True)
        mono = wave.mean(1)
        parts.append(soxr.resample(mono, rate, SAMPLE_RATE).astype(np.float32) if rate != SAMPLE_RATE else mono)
    one = np.concatenate(parts)
    reps = int(np.ceil(minutes * 60 * SAMPLE_RATE / len(one)))
    return np.tile(one, reps)[: int(minutes * 60 * SAMPLE_RATE)]


def describe(poses: np.ndarray, trans: np.ndarray) -> dict:
    pelvis = np.concatenate([forward_kinematics(poses[a:a + 20000], trans[a:a + 20000])[:, 0]
                             for a in range(0, len(poses), 20000)])
    low = np.concatenate([lowest_foot(poses[a:a + 20000], trans[a:a + 20000]) for a in range(0, len(poses), 20000)])
    return {"excursion_m": float(np.linalg.norm(pelvis[:, [0, 2]], axis=1).max()),
            "start_drift_m": float(np.linalg.norm(pelvis[:, [0, 2]] - pelvis[:1, [0, 2]], axis=1).max()),
            "pelvis_low_m": float(pelvis[:, 1].min()), "pelvis_high_m": float(pelvis[:, 1].max()),
            "foot_low_m": float(low.min() - floor_height()), "foot_high_m": float(low.max() - floor_height())}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--weights", default=None)
    p.add_argument("--minutes", type=float, default=60.0)
    p.add_argument("--silence-minutes", type=float, default=5.0)
    args = p.parse_args()
    gen = Generator(args.weights, "cpu")
    rows = []
    for take in sorted((SHARED / "beat2").glob("*.npz")):
        m = read_motion(take)
        trans = np.asarray(m.trans, np.float64)
        trans[:, [0, 2]] -= np.median(trans[:, [0, 2]], 0)     # the capture, placed as generated motion is
        rows.append((f"capture {take.stem}", m.num_frames / MOTION_FPS, None, describe(np.asarray(m.poses), trans)))
    with tempfile.TemporaryDirectory() as tmp:
        silence = np.zeros(int(args.silence_minutes * 60 * SAMPLE_RATE), np.float32)
        clips = {f"silence {args.silence_minutes:g} min": silence,
                 f"speech {args.minutes:g} min": speech(args.minutes)}
        for name, wave in clips.items():
            wav, out = Path(tmp) / "clip.wav", Path(tmp) / "clip.npz"
            soundfile.write(wav, wave, SAMPLE_RATE, subtype="PCM_16")
            t0 = time.perf_counter()
            res = gen.generate(wav, out)
            seconds = time.perf_counter() - t0
            m = read_motion(out)
            rows.append((name, res.seconds, seconds, describe(np.asarray(m.poses), np.asarray(m.trans))))
    keys = list(rows[0][3])
    print(f"{'clip':<28} {'length s':>9} {'gen s':>7} " + " ".join(f"{k:>14}" for k in keys))
    for name, length, seconds, d in rows:
        gen_s = f"{seconds:7.1f}" if seconds is not None else f"{'-':>7}"
        print(f"{name:<28} {length:>9.0f} {gen_s} " + " ".join(f"{d[k]:>14.3f}" for k in keys))


if __name__ == "__main__":
    main()
