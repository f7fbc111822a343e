"""Where in frequency the body's amplitude comes from: head and spine against the capture, per band.

For each held-out BEAT2 segment, the spread of the head and spine joints (in the pelvis's
frame) in four bands (motion_stats.SPREAD_BANDS: posture below 0.3 Hz, sway, gestures, the
fast rest), generated over captured, mean over seeds. Rows: the shipped student with and
without the posture step (posture.py), the teacher, plain motion matching, another take's
capture. Last, the student on its *training* speech in pieces as long as a segment: what it
does with posture on audio it has heard.

    .venv/bin/python bench/posture_bands.py ../shared/data/beat2 [--seeds 3]
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from asynfusion.evaluation.baselines import Baselines
from asynfusion.evaluation.evaluate import Evaluation
from asynfusion.evaluation.motion_stats import GROUPS, SPREAD_BANDS, band_spread, in_pelvis_frame
from asynfusion.generate import Generator
from asynfusion.weights import default_weights_dir

PARTS = ("head", "spine")


def spreads(ev: Evaluation, betas, poses, expressions, trans) -> dict[str, np.ndarray]:
    """Per part: the band spreads (in SPREAD_BANDS order) of one motion."""
    rel = in_pelvis_frame(ev.joints.joints(poses, trans, betas, expressions), poses)
    return {p: np.array(list(band_spread(rel[:, list(GROUPS[p])]).values())) for p in PARTS}


def model_motion(gen: Generator, settings):
    """motion(features, seed) -> (poses, expressions, trans), as the baselines' runners are."""
    def motion(feats: np.ndarray, seed: int):
        t = torch.from_numpy(feats)
        return gen.decode(gen.sample(t, torch.zeros_like(t[0]), settings, seed))
    return motion


def row(name: str, part: str, segment: str, ratio: np.ndarray) -> str:
    return f"| {name} | {part} | {segment} | " + " | ".join(f"{v:.2f}" for v in ratio) + " |"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("data", help="BEAT2 folder")
    ap.add_argument("--weights", default=str(default_weights_dir()))
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--cache", default=None, help="audio feature cache folder")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    ev = Evaluation(args.data, cache=args.cache)
    student, teacher = Generator(args.weights, "cpu"), Generator(Path(args.weights) / "teacher", "cpu")
    shipped = student.settings(None, None, None)
    base = Baselines(ev.train)
    own = model_motion(student, replace(shipped, posture_sigma=0.0))
    sources = {
        f"student, posture from the match (σ {shipped.posture_sigma:g}, default)": model_motion(student, shipped),
        "student, its own posture": own,
        "teacher DDIM 50": model_motion(teacher, teacher.settings(None, None, None)),
        "motion matching": base.match_features,
    }
    bands = " | ".join(f"{lo:g}–{hi:g} Hz" for lo, hi in SPREAD_BANDS.values())
    print(f"# Head and spine spread per band, generated / captured (mean of {args.seeds} seeds)\n")
    print(f"| motion | part | segment | {bands} |\n|---|---|---|" + "---|" * len(SPREAD_BANDS))
    for seg in ev.segments:
        truth = spreads(ev, seg.betas, seg.take.poses, seg.take.expressions, seg.take.trans)
        for p in PARTS:
            cm = " | ".join(f"{v * 100:.2f} cm" for v in truth[p])
            print(f"| capture | {p} | {seg.take.name} | {cm} |")
        rows = {name: [spreads(ev, seg.betas, *motion(seg.take.feats, s)) for s in range(args.seeds)]
                for name, motion in sources.items()}
        rows["another take's capture"] = [spreads(ev, seg.betas, *base.mismatched(seg, s)) for s in range(args.seeds)]
        for name, runs in rows.items():
            for p in PARTS:
                ratio = np.mean([r[p] for r in runs], 0) / truth[p]
                print(row(name, p, seg.take.name, ratio))
    piece = min(seg.frames for seg in ev.segments)
    betas_of = {seg.take.name: seg.betas for seg in ev.segments}
    for take in ev.train:
        betas = betas_of.get(take.name, ev.segments[0].betas)
        truth_parts, gen_parts = [], []
        for a in range(0, take.frames - piece + 1, piece):
            cut = take.crop(a, a + piece)
            truth_parts.append(spreads(ev, betas, cut.poses, cut.expressions, cut.trans))
            gen_parts += [spreads(ev, betas, *own(cut.feats, s)) for s in range(args.seeds)]
        for p in PARTS:
            ratio = np.mean([g[p] for g in gen_parts], 0) / np.mean([t[p] for t in truth_parts], 0)
            print(row(f"student, its own posture, on its training speech ({piece}-frame pieces)", p, take.name, ratio))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
