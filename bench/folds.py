"""The take-disjoint table: each fold's held-out take scored for real motion, the model and the
baselines (evaluation/folds.py), written as markdown with both folds and their mean.

    .venv/bin/python bench/folds.py ../shared/data/beat2 \\
        --fold 2_scott_0_2_2=runs/fold-2_scott_0_2_2/calibrated,runs/fold-2_scott_0_2_2/motion_ae \\
        --fold 2_scott_0_1_1=runs/fold-2_scott_0_1_1/calibrated,runs/fold-2_scott_0_1_1/motion_ae \\
        --seeds 3 -o bench/FOLDS.md

The fold weights, with the shipped recipe (weights/MODEL_CARD.md; the recipe file supplies what
the flags below leave out, since v5.8 ``--dropout 0.2 --dropout-face-only 1``), per held-out TAKE:

    asynfusion train ../shared/data/beat2 -o runs/fold-TAKE/teacher --steps 1000 --batch 24 \\
        --lr 4e-4 --width 128 --depth 4 --no-mirror --heldout-take TAKE
    asynfusion distill ../shared/data/beat2 --teacher runs/fold-TAKE/teacher -o runs/fold-TAKE/student \\
        --steps 400 --batch 24 --lr 1e-4 --no-mirror --w-min 3 --w-max 3 --heldout-take TAKE
    asynfusion calibrate runs/fold-TAKE/student ../shared/data/speech/*.ogg ../shared/data/speech/*.wav \\
        -o runs/fold-TAKE/calibrated
    asynfusion train-ae ../shared/data/beat2 -o runs/fold-TAKE/motion_ae --heldout-take TAKE

(calibrate fits the amplitude gains on the three non-BEAT2 recordings, against the fold's
training take: the held-out take plays no part.)

Each ``--fold TAKE=WEIGHTS[,MOTION_AE]`` names a held-out take, weights trained without it
(``asynfusion train/distill ... --heldout-take TAKE``) and, for the FGD, a motion autoencoder
trained without it too (``asynfusion train-ae ... --heldout-take TAKE``; default: the shipped one,
which has seen 85 % of every take). Name a take again (``--fold TAKE=WEIGHTS_SEED1``) to add the
same recipe trained with another seed: the model rows become the mean over the trainings, each
training's value beside it, so a difference can be read against what a retraining moves.
"""

from __future__ import annotations

import json
import math
import sys
from dataclasses import replace
from pathlib import Path

from asynfusion.evaluation.evaluate import _LABELS, finite, json_ready
from asynfusion.evaluation.folds import CONSTRAINTS, ROWS, RULED, Fold, earns_place, fold_parser, score_fold


def _fmt(v) -> str:
    if finite(v) is None:
        return "n/a"
    return f"{v:.3g}" if abs(v) < 100 else f"{v:.0f}"


def _cell(folds: list[dict], row: str, key: str) -> str:
    vals = [f[row].get(key) for f in folds]
    text = " / ".join(_fmt(v) for v in vals)
    spread = [f[row].get(key + "_std") for f in folds]
    if any(finite(s) is not None for s in spread):
        text += " (± " + " / ".join(_fmt(s) for s in spread) + ")"
    trainings = [f[row].get(key + "_trainings") for f in folds]
    if all(trainings):
        text += " [" + " / ".join(", ".join(_fmt(v) for v in t) for t in trainings) + "]"
    good = [v for v in vals if finite(v) is not None]
    if len(vals) > 1 and len(good) == len(vals):
        text += f"; {_fmt(sum(good) / len(good))}"
    return text


def table(folds: list[dict], names: list[str], seeds: int, trainings: int = 1) -> str:
    head = "| metric | " + " | ".join(ROWS) + " | real beats every baseline |"
    lines = ["# Take-disjoint folds", "",
             "Written by `bench/folds.py` (its docstring has the command). Each fold trains on one BEAT2 take "
             "and scores the other, whole; the rows are real motion, the model and the baselines "
             "(backend/asynfusion/evaluation/folds.py). The last column applies the ruler's rule: a metric "
             "counts in the headline only where real motion beats every baseline on every fold. Amplitudes and "
             "wrist bands are raw values here; the model card reads them over the capture's.", "",
             f"Folds (held-out take): {', '.join(names)}; each cell: fold by fold, then their mean; "
             f"model, other take and matching over {seeds} seeds (± their spread where a distance)"
             + (f"; the model rows are the mean of {trainings} trainings of the recipe (other training seeds), "
                "[each training's value] after it" if trainings > 1 else "") + ".", "",
             head, "|" + "---|" * (len(ROWS) + 2)]
    for key, how, judge in RULED:
        ok = all(earns_place(f, key, how, judge) for f in folds)
        who = "the capture" if judge == "capture" else "the other take"
        lines.append(f"| {_LABELS[key]} | " + " | ".join(_cell(folds, r, key) for r in ROWS)
                     + f" | {'yes' if ok else '**no**'} ({who}) |")
    lines += ["", "Constraints (a static pose meets them trivially; real motion meets them too):", "",
              "| metric | " + " | ".join(ROWS) + " |", "|" + "---|" * (len(ROWS) + 1)]
    for key in CONSTRAINTS + ("jaw_p50", "jaw_p90"):
        lines.append(f"| {_LABELS[key]} | " + " | ".join(_cell(folds, r, key) for r in ROWS) + " |")
    return "\n".join(lines) + "\n"


def grouped(specs: list[str]) -> list[Fold]:
    """``--fold`` specs as folds: a held-out take named again brings the same recipe trained
    with another seed (its weights; the first spec's motion autoencoder serves them all)."""
    folds: dict[str, Fold] = {}
    for spec in specs:
        held, paths = spec.split("=", 1)
        weights, *ae = paths.split(",", 1)
        if held in folds:
            folds[held] = replace(folds[held], retrained=folds[held].retrained + (weights,))
        else:
            folds[held] = Fold(held, weights, *ae)
    if len({len(f.retrained) for f in folds.values()}) > 1:
        raise SystemExit("error: name every held-out take as many times (one --fold per training of the recipe).")
    return list(folds.values())


def main(argv=None) -> int:
    p = fold_parser(__doc__, seeds=3)
    p.add_argument("-o", "--out", default=None, help="markdown file (default: print)")
    p.add_argument("--json", default=None)
    p.add_argument("--steps-face", type=int, default=None, help="sampler settings to try (default: the weights')")
    p.add_argument("--steps-body", type=int, default=None)
    p.add_argument("--body-start", type=int, default=None)
    p.add_argument("--posture-sigma", type=float, default=None)
    args = p.parse_args(argv)
    sampler = {k: getattr(args, k) for k in ("steps_face", "steps_body", "body_start", "posture_sigma")}
    folds = grouped(args.fold)
    log = lambda m: print(m, file=sys.stderr, flush=True)  # noqa: E731
    results = [score_fold(args.data, f, args.seeds, log=log, cache=args.cache, **sampler) for f in folds]
    text = table(results, [f.heldout for f in folds], args.seeds, 1 + min(len(f.retrained) for f in folds))
    if args.out:
        Path(args.out).write_text(text)
    print(text)
    if args.json:
        Path(args.json).write_text(json.dumps([{r: json_ready(v) for r, v in f.items()} for f in results],
                                              indent=1, default=lambda x: None if not math.isfinite(x) else x))
    return 0


if __name__ == "__main__":
    sys.exit(main())
