"""Fit the built-in head's mouth-open direction in FLAME expression space.

The built-in rig has no FLAME head, so its Exp000..Exp099 shape keys all move the same
"open mouth" deformation, key i scaled by w[i]; a take's expressions e then open the mouth
by e . w. This script finds w: ridge least squares of the speech loudness envelope (RMS in
1/30 s windows, aligned with the motion frames, scaled so the 95th percentile is 1) on the
100 expression coefficients of the real BEAT2 takes in ../shared/data/beat2. The fit has no
intercept: the neutral face (all coefficients 0) must keep the mouth closed, and the
speaker's average expression then opens it in proportion to speech. It reports the
correlation on a take held out from the fit, then ships the fit on all takes, scaled so
that a loud frame (95th percentile) opens the mouth fully (1.0).

Run from the repository root with the backend environment (needs soundfile):
    .venv/bin/python asynfusion_blender/data/fit_mouth_open.py
It writes asynfusion_blender/data/mouth_open.json.
"""

import json
import os
import sys

import numpy as np
import soundfile

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "..", "..", "..", "shared", "data", "beat2")
TAKES = ("2_scott_0_1_1", "2_scott_0_2_2")
FPS = 30
RIDGE = 1.0


def take_arrays(take: str) -> tuple[np.ndarray, np.ndarray]:
    """(expressions (N,100), loudness (N,)) for one take, cut to the shorter of the two."""
    with np.load(os.path.join(DATA, take + ".npz"), allow_pickle=False) as d:
        expr = np.asarray(d["expressions"], np.float64)
    audio, sr = soundfile.read(os.path.join(DATA, take + ".wav"), dtype="float64", always_2d=True)
    audio = audio.mean(axis=1)
    hop = sr / FPS
    n = min(len(expr), int(len(audio) // hop))
    rms = np.array([np.sqrt(np.mean(audio[int(k * hop): int((k + 1) * hop)] ** 2)) for k in range(n)])
    loud = np.clip(rms / np.percentile(rms, 95), 0.0, 1.0)
    return expr[:n], loud


def fit(expr: np.ndarray, loud: np.ndarray) -> np.ndarray:
    """Ridge weights w with expr @ w ~ loudness (no intercept, see above)."""
    return np.linalg.solve(expr.T @ expr + RIDGE * np.eye(expr.shape[1]), expr.T @ loud)


def correlation(expr: np.ndarray, loud: np.ndarray, w: np.ndarray) -> float:
    return float(np.corrcoef(expr @ w, loud)[0, 1])


def main() -> int:
    arrays = {t: take_arrays(t) for t in TAKES}
    held_out = {}
    for test in TAKES:
        train = [arrays[t] for t in TAKES if t != test]
        w = fit(np.concatenate([a[0] for a in train]), np.concatenate([a[1] for a in train]))
        held_out[test] = correlation(*arrays[test], w)
    expr = np.concatenate([a[0] for a in arrays.values()])
    loud = np.concatenate([a[1] for a in arrays.values()])
    w = fit(expr, loud)
    scale = 1.0 / float(np.percentile(expr @ w, 95))
    out = {
        "about": "Mouth-open direction in FLAME expression space, fitted by fit_mouth_open.py "
                 "on BEAT2 (CC BY-NC 4.0) speaker 2 takes; key ExpNNN of the built-in head moves "
                 "the mouth-open deformation by weights[NNN] per unit coefficient.",
        "takes": list(TAKES),
        "fps": FPS,
        "ridge": RIDGE,
        "fit_correlation": correlation(expr, loud, w),
        "held_out_correlation": held_out,
        "weights": [round(float(v), 6) for v in w * scale],
    }
    with open(os.path.join(HERE, "mouth_open.json"), "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")
    print(json.dumps({k: v for k, v in out.items() if k != "weights"}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
