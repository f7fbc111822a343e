"""Fit the FLAME -> ARKit read-out shipped as asynfusion/core/flame_arkit.npz.

Why a fit and not a formula: BEAT2's FLAME faces were made linearly from the actors' ARKit
weights (the 100 coefficients span exactly 51 dimensions), but that map was not published
and no FLAME model is available here. What the takes do have is a phone alignment, and
phones name mouth shapes an animator agrees on. So each ARPAbet phone gets an ARKit target
(``TARGETS``: bilabials close and press the lips, rounded vowels funnel and pucker, open
vowels drop the jaw, /f v/ roll the lower lip in ...; silence is the neutral face), and a
ridge regression from the standardised face (100 coefficients + jaw axis-angle) to those
targets is the read-out. Choices:

* At /p b m/ the jaw stays a little open and ``mouthClose`` seals the lips against it, as
  ARKit captures do; jawOpen is raised to at least mouthClose when applied (mouthClose
  closes what the jaw opened), so a read-out never pushes the lips through each other.
* Ridge regression shrinks every output towards the mean, so a closure would read as a half
  closure. Each output is then rescaled (gain and offset) so that its mean over each phone's
  frames matches that phone's target as closely as possible (least squares over phones,
  weighted by frame count).
* Left and right of a symmetric shape get the same target, so the same weights.
* Shapes phones cannot name (brows, blinks, gaze, cheeks, nose) get zero columns; the
  add-on animates blinks, saccades and brow raises procedurally (core/face_motion.py).
* The ridge strength is picked by the cross-take error (fit on one take, test on the other).

Measured on the take held out from the fit (both ways round): mouthClose higher at /p b m/
than at /aa ae ah/ over all such frame pairs, per-phone means against targets, and the ICT
FaceKit head's lip gap (mm) when driven by the read-out. Writes the .npz, docs/flame_to_arkit.md's
numbers (as JSON printed and stored in the .npz) and the per-phone curves picture.

    .venv/bin/python -m asynfusion.tools.fit_flame_arkit [--data ../shared/data] [--plot docs/flame_arkit_phones.png]

The fitted map derives from BEAT2 (CC BY-NC 4.0); it ships under that licence.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

import numpy as np

from asynfusion.core import arkit
from asynfusion.core.motion_file import read_motion
from asynfusion.core.npz import write_npz
from asynfusion.training.phones import read_phones

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
TAKES = ("2_scott_0_1_1", "2_scott_0_2_2")
FPS = 30.0
RIDGES = (10.0, 100.0, 1000.0, 10000.0, 30000.0, 100000.0)

# ARPAbet phone -> ARKit mouth shape targets; symmetric shapes named without a side.
_OPEN = {"jawOpen": 0.65, "mouthLowerDown": 0.3}
TARGETS: dict[str, dict[str, float]] = {
    "": {},                                   # pause: anchors the neutral face
    "P": {"jawOpen": 0.15, "mouthClose": 0.13, "mouthPress": 0.5, "mouthRollLower": 0.15, "mouthRollUpper": 0.1},
    "F": {"jawOpen": 0.1, "mouthClose": 0.05, "mouthRollLower": 0.6, "mouthUpperUp": 0.15},
    "W": {"jawOpen": 0.08, "mouthPucker": 0.8, "mouthFunnel": 0.3},
    "UW": {"jawOpen": 0.12, "mouthPucker": 0.7, "mouthFunnel": 0.4},
    "UH": {"jawOpen": 0.2, "mouthPucker": 0.3, "mouthFunnel": 0.4},
    "OW": {"jawOpen": 0.3, "mouthPucker": 0.3, "mouthFunnel": 0.6},
    "OY": {"jawOpen": 0.3, "mouthFunnel": 0.5},
    "AA": {**_OPEN, "jawOpen": 0.7},
    "AO": {**_OPEN, "mouthFunnel": 0.3},
    "AE": {**_OPEN, "mouthStretch": 0.3, "mouthUpperUp": 0.2},
    "AH": {"jawOpen": 0.5, "mouthLowerDown": 0.25},
    "AW": {**_OPEN, "mouthFunnel": 0.2},
    "AY": {**_OPEN, "mouthStretch": 0.2},
    "EH": {"jawOpen": 0.3, "mouthLowerDown": 0.2, "mouthStretch": 0.3},
    "EY": {"jawOpen": 0.25, "mouthStretch": 0.3, "mouthSmile": 0.2},
    "IH": {"jawOpen": 0.2, "mouthStretch": 0.3, "mouthSmile": 0.2},
    "IY": {"jawOpen": 0.12, "mouthStretch": 0.4, "mouthSmile": 0.3},
    "Y": {"jawOpen": 0.12, "mouthStretch": 0.3, "mouthSmile": 0.2},
    "ER": {"jawOpen": 0.15, "mouthFunnel": 0.3, "mouthPucker": 0.2},
    "R": {"jawOpen": 0.12, "mouthFunnel": 0.3, "mouthPucker": 0.3},
    "SH": {"jawOpen": 0.1, "mouthFunnel": 0.5, "mouthUpperUp": 0.2, "mouthLowerDown": 0.2},
    "S": {"jawOpen": 0.06, "mouthStretch": 0.3, "mouthUpperUp": 0.15, "mouthLowerDown": 0.15},
    "T": {"jawOpen": 0.15, "mouthLowerDown": 0.1},
    "TH": {"jawOpen": 0.12, "mouthLowerDown": 0.15},
    "K": {"jawOpen": 0.18},
    "HH": {"jawOpen": 0.25},
}
for _same, _as in {"B": "P", "M": "P", "V": "F", "ZH": "SH", "CH": "SH", "JH": "SH", "Z": "S",
                   "D": "T", "N": "T", "L": "T", "DH": "TH", "G": "K", "NG": "K"}.items():
    TARGETS[_same] = TARGETS[_as]
FITTED = ("jawOpen", "mouthClose", "mouthFunnel", "mouthPucker", "mouthPress", "mouthRollLower",
          "mouthRollUpper", "mouthStretch", "mouthSmile", "mouthLowerDown", "mouthUpperUp")
BILABIAL, OPEN_VOWELS = ("P", "B", "M"), ("AA", "AE", "AH")
# ICT-FaceKit midline lip vertices (upper lip's lowest, lower lip's highest at the front): their
# vertical distance is the lip gap; found once by hand in the neutral mesh (cm, Y up).
UPPER_LIP, LOWER_LIP = 5532, 5519


def shape_columns(shape: str) -> list[int]:
    """ARKit indices of a (possibly symmetric) shape name: mouthSmile -> Left and Right."""
    if shape in arkit.INDEX:
        return [arkit.INDEX[shape]]
    return [arkit.INDEX[shape + "Left"], arkit.INDEX[shape + "Right"]]


def frame_phones(path: str, frames: int) -> np.ndarray:
    """(frames,) phone label per frame centre ('?' outside the alignment or unknown)."""
    out = np.full(frames, "?", dtype=object)
    centres = (np.arange(frames) + 0.5) / FPS
    for start, end, phone in read_phones(path):
        out[(centres >= start) & (centres < end)] = phone if phone in TARGETS else "?"
    return out


def targets_of(phones: np.ndarray) -> np.ndarray:
    """(N, 52) ARKit targets per frame (NaN rows where the phone has no target)."""
    t = np.full((len(phones), arkit.NUM_ARKIT), np.nan)
    for i, p in enumerate(phones):
        if p in TARGETS:
            t[i] = 0.0
            for shape, value in TARGETS[p].items():
                t[i, shape_columns(shape)] = value
    return t


def load_take(data: str, take: str) -> tuple[np.ndarray, np.ndarray]:
    m = read_motion(os.path.join(data, "beat2", take + ".npz"))
    x = arkit.face_inputs(m.expressions, m.joint_rotations()[:, 22])
    return x, frame_phones(os.path.join(data, "beat2", take + ".TextGrid"), m.num_frames)


def fit(xs: list[np.ndarray], phones: list[np.ndarray], ridge: float) -> arkit.ArkitFit:
    x, p = np.concatenate(xs), np.concatenate(phones)
    mean, std = x.mean(0), x.std(0) + 1e-8
    t = targets_of(p)
    rows = ~np.isnan(t[:, 0])
    z = np.c_[(x[rows] - mean) / std, np.ones(rows.sum())]
    cols = sorted({c for s in FITTED for c in shape_columns(s)})
    reg = ridge * np.eye(z.shape[1])
    reg[-1, -1] = 0.0                                       # the bias is not shrunk
    w = np.linalg.solve(z.T @ z + reg, z.T @ t[rows][:, cols])
    matrix, bias = np.zeros((arkit.FACE_INPUTS, arkit.NUM_ARKIT)), np.zeros(arkit.NUM_ARKIT)
    matrix[:, cols], bias[cols] = w[:-1], w[-1]
    fitted = tuple(arkit.ARKIT_NAMES[c] for c in cols)
    calibrate(matrix, bias, np.c_[(x - mean) / std][rows], p[rows], t[rows], cols)
    return arkit.ArkitFit(mean, std, matrix, bias, fitted, {})


def calibrate(matrix: np.ndarray, bias: np.ndarray, z: np.ndarray, phones: np.ndarray,
              targets: np.ndarray, cols: list[int]) -> None:
    """Rescale each fitted output in place so its per-phone means meet the per-phone targets."""
    labels = [q for q in TARGETS if (phones == q).any()]
    first = {q: int(np.flatnonzero(phones == q)[0]) for q in labels}
    count = np.sqrt([(phones == q).sum() for q in labels])
    y = z @ matrix + bias
    for c in cols:
        means = np.array([y[phones == q, c].mean() for q in labels])
        wanted = np.array([targets[first[q], c] for q in labels])
        gain, offset = np.linalg.lstsq(np.c_[means, np.ones(len(labels))] * count[:, None],
                                       wanted * count, rcond=None)[0]
        matrix[:, c] *= gain
        bias[c] = bias[c] * gain + offset


def readout(f: arkit.ArkitFit, x: np.ndarray) -> np.ndarray:
    return arkit.flame_to_arkit(x[:, :100], x[:, 100:], f)


def pair_fraction(higher: np.ndarray, lower: np.ndarray) -> float:
    """Fraction of (a, b) pairs with a > b strictly (ties count as failures)."""
    return float((higher[:, None] > lower[None, :]).mean())


def lip_gap_mm(weights: np.ndarray, deltas: np.ndarray) -> np.ndarray:
    """(N,) ICT head's midline lip gap in mm for ARKit weights (N, 52); ``deltas`` (52, 2) holds
    each shape's vertical move of the two lip vertices (cm)."""
    return 10.0 * (NEUTRAL_GAP_CM + weights @ (deltas[:, 0] - deltas[:, 1]))


NEUTRAL_GAP_CM = 0.0


def ict_lip_deltas(data: str) -> np.ndarray:
    """(52, 2) vertical lip-vertex moves per ARKit shape on the ICT head (split ICT shapes halved)."""
    global NEUTRAL_GAP_CM
    with np.load(os.path.join(data, "ict_facekit", "ict_facekit_expressions.npz"), allow_pickle=False) as d:
        names = [str(n) for n in d["expression_names"]]
        neutral, deltas = d["neutral_vertices"], d["expression_deltas"]
    NEUTRAL_GAP_CM = float(neutral[UPPER_LIP, 1] - neutral[LOWER_LIP, 1])
    out = np.zeros((arkit.NUM_ARKIT, 2))
    for k, key in enumerate(names):
        name = arkit.canonical_name(key)
        if name is None:
            continue
        share = 0.5 if key.endswith(("_L", "_R")) and not name.endswith(("Left", "Right")) else 1.0
        out[arkit.INDEX[name]] += share * deltas[k, [UPPER_LIP, LOWER_LIP], 1]
    return out


def evaluate(f: arkit.ArkitFit, x: np.ndarray, phones: np.ndarray, lips: np.ndarray) -> dict:
    w = readout(f, x)
    mc = w[:, arkit.INDEX["mouthClose"]]
    bil, opn = np.isin(phones, BILABIAL), np.isin(phones, OPEN_VOWELS)
    gap = lip_gap_mm(w, lips)
    t = targets_of(phones)
    rows = ~np.isnan(t[:, 0])
    per_shape = {}
    for s in FITTED:
        c = shape_columns(s)[0]
        r = np.corrcoef(w[rows, c], t[rows, c])[0, 1] if w[rows, c].std() > 0 else 0.0
        per_shape[s] = round(float(r), 3)
    # per closure: the lowest gap inside each /p b m/ interval; per open vowel: the widest
    edges = np.flatnonzero(np.diff(np.r_[0, bil.astype(int), 0]))
    closure_min = [gap[a:b].min() for a, b in zip(edges[::2], edges[1::2])]
    edges = np.flatnonzero(np.diff(np.r_[0, opn.astype(int), 0]))
    open_max = [gap[a:b].max() for a, b in zip(edges[::2], edges[1::2])]
    return {
        "mouthClose_pbm_over_open_pairs": round(pair_fraction(mc[bil], mc[opn]), 4),
        "target_correlation": per_shape,
        "lip_gap_mm_pbm_frames_median": round(float(np.median(gap[bil])), 2),
        "lip_gap_mm_per_closure_min_median": round(float(np.median(closure_min)), 2),
        "closures_at_most_2mm": round(float(np.mean(np.asarray(closure_min) <= 2.0)), 3),
        "lip_gap_mm_open_vowel_frames_median": round(float(np.median(gap[opn])), 2),
        "lip_gap_mm_per_open_vowel_max_median": round(float(np.median(open_max)), 2),
        "open_vowels_at_least_8mm": round(float(np.mean(np.asarray(open_max) >= 8.0)), 3),
        "bilabial_frames": int(bil.sum()), "open_vowel_frames": int(opn.sum()),
    }


def cross_take(takes: dict, lips: np.ndarray, ridge: float) -> dict:
    out = {}
    for held in takes:
        train = [t for t in takes if t != held]
        f = fit([takes[t][0] for t in train], [takes[t][1] for t in train], ridge)
        out[held] = evaluate(f, *takes[held], lips)
    return out


def held_out_error(takes: dict, ridge: float) -> float:
    err = []
    for held in takes:
        train = [t for t in takes if t != held]
        f = fit([takes[t][0] for t in train], [takes[t][1] for t in train], ridge)
        x, p = takes[held]
        t = targets_of(p)
        rows = ~np.isnan(t[:, 0])
        w = arkit.raw_readout(f, x)
        err.append(np.mean((w[rows] - t[rows]) ** 2))
    return float(np.mean(err))


def save_fit(path: str, f: arkit.ArkitFit) -> None:
    """An .npz of plain arrays (no pickle) with fixed zip timestamps: same fit, same bytes."""
    arrays = {"names": np.array(arkit.ARKIT_NAMES), "mean": f.mean.astype(np.float32),
              "std": f.std.astype(np.float32), "matrix": f.matrix.astype(np.float32),
              "bias": f.bias.astype(np.float32), "fitted": np.array(f.fitted),
              "about": np.array(json.dumps(f.about, sort_keys=True))}
    write_npz(path, arrays, compress=True)


def plot_phone_curves(path: str, f: arkit.ArkitFit, takes: dict) -> None:
    """Mean read-out around the centre of each phone group (held-out take), one panel per group."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    groups = {"/p b m/": BILABIAL, "/f v/": ("F", "V"), "/uw w ow/": ("UW", "W", "OW"),
              "/aa ae ah/": OPEN_VOWELS, "/iy ih/": ("IY", "IH"), "/t d n l/": ("T", "D", "N", "L"), "pause": ("",)}
    shapes = ("jawOpen", "mouthClose", "mouthPress", "mouthFunnel", "mouthPucker", "mouthRollLower",
              "mouthStretch")
    lead = 9
    fig, axes = plt.subplots(1, len(groups), figsize=(3.0 * len(groups), 3.2), sharey=True)
    for ax, (title, members) in zip(axes, groups.items()):
        curves = []
        for x, phones in takes.values():
            w = readout(f, x)
            mask = np.isin(phones, members).astype(int)
            edges = np.flatnonzero(np.diff(np.r_[0, mask, 0]))
            for a, b in zip(edges[::2], edges[1::2]):
                c = (a + b) // 2
                if lead <= c < len(w) - lead:
                    curves.append(w[c - lead: c + lead + 1])
        mean = np.mean(curves, 0)
        t = np.arange(-lead, lead + 1) / FPS
        for s in shapes:
            ax.plot(t, mean[:, shape_columns(s)[0]], label=s)
        ax.set_title(f"{title} (n={len(curves)})")
        ax.axvline(0, color="k", lw=0.5)
        ax.set_xlabel("s from phone centre")
    axes[0].set_ylabel("ARKit weight (held-out take)")
    axes[-1].legend(fontsize=7, loc="upper right")
    fig.tight_layout()
    fig.savefig(path, dpi=90)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", default=os.path.join(REPO, "..", "shared", "data"))
    parser.add_argument("--out", default=arkit.FIT_PATH)
    parser.add_argument("--plot", default=os.path.join(REPO, "docs", "flame_arkit_phones.png"))
    args = parser.parse_args(argv)
    takes = {t: load_take(args.data, t) for t in TAKES}
    lips = ict_lip_deltas(args.data)
    errors = {r: held_out_error(takes, r) for r in RIDGES}
    ridge = min(errors, key=lambda r: errors[r])
    held = cross_take(takes, lips, ridge)
    final = fit([v[0] for v in takes.values()], [v[1] for v in takes.values()], ridge)
    final.about = {
        "what": "FLAME (BEAT2 expressions + jaw) -> ARKit read-out; see asynfusion/tools/fit_flame_arkit.py",
        "licence": "CC BY-NC 4.0 (fitted on BEAT2 speaker 2 takes, which are CC BY-NC 4.0)",
        "takes": list(TAKES), "ridge": ridge,
        "held_out_mse_by_ridge": {str(k): round(v, 5) for k, v in errors.items()},
        "held_out": held,
    }
    save_fit(args.out, final)
    # the held-out take's curves come from the fit without it
    other = {held_take: takes[held_take] for held_take in TAKES[1:]}
    plot_phone_curves(args.plot, fit([takes[TAKES[0]][0]], [takes[TAKES[0]][1]], ridge), other)
    print(json.dumps(final.about, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
