"""The take-disjoint ruler: train on one take, score on another, next to real motion and baselines.

For each fold (a held-out take and weights trained without it) every row is scored on the
whole held-out take, against its capture:

* **the capture** itself (its own values; distances 0);
* **the other take's capture**: real motion of the same speaker on other speech (the
  real-vs-real row; it is also the mismatched capture: right speaker, wrong words);
* **the model**, over seeds, with planted feet and without (core.feet), and without its
  amplitude gains (amplitude.py);
* **motion matching** over the fold's training take (baselines.py) and a **static pose**.

A metric earns a place in the headline only where real motion beats every baseline on every
fold: for body metrics the other take's capture (it is real but not this take), for the face's
speech-aligned metrics the capture itself against the other take's face. ``earns_place`` applies
that rule; the table says per metric whether it holds.
"""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass, replace

from ..generate import Generator
from .baselines import Baselines
from .evaluate import Evaluation, evaluate_generator, score

# (key, how to read it, who must win): "low" smaller is better; "gt" closest to the capture's
# value (ratio, read on a log scale); "high" larger is better. Judge "other": the other take's
# capture must beat the baselines; "capture": the capture must beat them and the other take.
RULED = (
    ("gesture_fd", "low", "other"),
    ("fgd", "low", "other"),
    ("amp_heading", "gt", "other"), ("amp_head", "gt", "other"), ("amp_spine", "gt", "other"),
    ("amp_legs", "gt", "other"), ("amp_arms", "gt", "other"), ("amp_hands", "gt", "other"),
    ("wrist_tremor", "gt", "other"), ("wrist_fast", "gt", "other"), ("wrist_wobble", "gt", "other"),
    ("bc", "high", "capture"),
    ("viseme", "high", "capture"), ("closure", "high", "capture"),
)
CONSTRAINTS = ("foot_speed", "foot_sliding", "foot_path", "stance_glide", "root_sway", "leg_jerk", "knee_snaps",
               "jaw_wide")
BASELINE_ROWS = ("matching", "static")
MODEL_ROWS = ("model", "model, feet not planted", "model, no amplitude gains")
ROWS = ("capture", "other take") + MODEL_ROWS + BASELINE_ROWS


@dataclass
class Fold:
    heldout: str
    weights: str
    motion_ae: str | None = None   # FGD features trained without the held-out take (None: the shipped ones)
    retrained: tuple[str, ...] = ()  # the same recipe trained again with other seeds: averaged with weights


def _badness(value, reference, how: str) -> float:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return math.inf
    if how == "low":
        return value
    if how == "high":
        return -value
    if not reference or value <= 0:
        return math.inf
    return abs(math.log(value / reference))


def earns_place(rows: dict[str, dict], key: str, how: str, judge: str) -> bool:
    """Real motion beats every baseline on ``key`` (rows: row name -> metrics, one fold)."""
    ref = rows["capture"].get(key)
    real = rows["capture" if judge == "capture" else "other take"]
    rivals = list(BASELINE_ROWS) + (["other take"] if judge == "capture" else [])
    mine = _badness(real.get(key), ref, how)
    return math.isfinite(mine) and all(mine < _badness(rows[r].get(key), ref, how) for r in rivals)


def fold_parser(doc: str, seeds: int) -> argparse.ArgumentParser:
    """The arguments every fold bench takes: the data, ``--fold HELDOUT=WEIGHTS[,...]`` (one
    per fold), seeds and the feature cache."""
    p = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("data")
    p.add_argument("--fold", action="append", required=True, metavar="HELDOUT=WEIGHTS[,MOTION_AE]")
    p.add_argument("--seeds", type=int, default=seeds)
    p.add_argument("--cache", default=None)
    return p


def capture_scores(ev: Evaluation) -> dict:
    """The held-out take's own capture scored like a model's motion: the reference row."""
    return score(ev, lambda seg, k: (seg.take.poses, seg.take.expressions, seg.take.trans), 1)


def score_fold(data: str, fold: Fold, seeds: int, log=None, cache: str | None = None,
               **sampler) -> dict[str, dict]:
    """Every row of one fold: row name -> aggregated metrics (evaluate.Evaluation.aggregate).
    ``sampler``: SamplerSettings fields to change from the weights' defaults (None: keep)."""
    ev = Evaluation(data, cache=cache, fid_model=fold.motion_ae, heldout_take=fold.heldout)
    base = Baselines(ev.train)
    trainings = [model_rows(ev, w, seeds, log, sampler) for w in (fold.weights, *fold.retrained)]
    rows = {
        "capture": capture_scores(ev),
        "other take": score(ev, base.mismatched, seeds),
        **{r: over_trainings([t[r] for t in trainings]) for r in MODEL_ROWS},
        "matching": score(ev, base.matching, seeds),
        "static": score(ev, base.static, 1),
    }
    if log is not None:
        log(f"fold {fold.heldout}: scored {', '.join(rows)}")
    return rows


def model_rows(ev: Evaluation, weights: str, seeds: int, log, sampler: dict) -> dict[str, dict]:
    """MODEL_ROWS for one set of weights."""
    gen = Generator(weights, "cpu")
    settings = replace(gen.settings(None, None, None), **{k: v for k, v in sampler.items() if v is not None})
    return {"model": evaluate_generator(ev, gen, settings, seeds, log=log),
            "model, feet not planted": evaluate_generator(ev, gen, settings, seeds, plant=False),
            "model, no amplitude gains": evaluate_generator(ev, gen, replace(settings, amplitude=()), seeds)}


def over_trainings(runs: list[dict]) -> dict:
    """One row's metrics from several trainings of the same recipe: each number the mean over
    them, with the trainings' own values beside it as KEY_trainings (one training: as it is)."""
    if len(runs) == 1:
        return runs[0]
    out = dict(runs[0])
    for key in runs[0]:
        vals = [r.get(key) for r in runs]
        if all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in vals):
            out[key] = sum(vals) / len(vals)
            out[key + "_trainings"] = vals
    return out
