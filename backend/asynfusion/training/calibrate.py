"""``asynfusion calibrate``: fit the amplitude gains a student samples with (amplitude.py), and
the range its mouth opens in.

The gains make the model move, on speech it never heard, as far per body part as the capture
it trained on. They are fitted on recordings with no capture that the weights never trained on,
against the training split the weights' own config.json names, so a take-disjoint fold's
held-out take plays no part. What is matched is the spread of each part's joint rotations in the
6D form the gains scale (the root's rotation for the heading), so a gain moves its own part only
(in positions an arm's swing would count as the hand's), in windows of ``--window`` seconds, the
same on both sides, since clips and takes differ in length. Short clips of other voices can only
be read in short windows (4 s, the default, what the shipped gains are fitted in); a minute of
speech reads the slow wandering of the posture too, which a model trained on a minute
under-plays more than its strokes (on three takes of the speaker that no fold trains on,
0.8-0.9x the training capture over whole takes against 0.9-1.0x in 4 s windows). Gains fitted
that way were measured on the folds and not shipped (weights/MODEL_CARD.md). Each round samples
every clip with every seed at the current gains and multiplies each gain by capture / model;
the response is close to linear, so two rounds settle it. Beside the gains, the range of the
training capture's mouth openings (core/mouth.py opening_range): generation bends the model's
wider openings into it. The result, with what it was fitted on, goes into the sampler section of
the config.json of a new weights folder (``--out``): the weights calibrated are an input and
stay as they were.
"""

from __future__ import annotations

import json
import math
import shutil
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from ..amplitude import PARTS, SIGMA, part_columns
from ..audio import MOTION_FPS
from ..core import mouth
from ..core.motion_file import NUM_EXPRESSIONS
from ..core.skeleton import JAW
from ..errors import UserError
from ..evaluation.evaluate import voice_features
from ..generate import Generator
from ..representation import motion_to_branches
from ..retrieval import DB_FILE
from ..sampling import SamplerSettings
from ..weights import CONFIG_FILE, WEIGHTS_FILE
from .data import load_split

GAIN_RANGE = (0.5, 3.0)
WINDOW = 4.0               # seconds, the default: what a few seconds of another voice can be read in
# The parts given gains. Not the legs: a standing speaker's legs follow the planted feet (the leg
# IK of core/feet.py), and scaled leg rotations fight it; on a take-disjoint fold a legs gain of
# 1.3 tripled the frames where a knee snaps (0.08 % -> 0.23 %, real knees 0-0.08 %).
CALIBRATED = ("heading", "spine", "head", "arms", "hands")


def part_amplitudes(poses: np.ndarray, trans: np.ndarray, window: float = WINDOW) -> dict[str, float]:
    """Each of amplitude.PARTS' rotation spread: RMS over its 6D columns of their standard
    deviation in a window of ``window`` seconds, averaged over windows half a window apart (a
    clip shorter than one: itself)."""
    p = torch.as_tensor(np.asarray(poses, np.float32))
    _, body = motion_to_branches(p, torch.zeros(len(p), NUM_EXPRESSIONS), torch.as_tensor(np.asarray(trans, np.float32)))
    size = max(round(window * MOTION_FPS), 2)
    starts = range(0, max(len(body) - size, 0) + 1, size // 2)
    out = {}
    for part in PARTS:
        cols = body[:, part_columns(part)]
        out[part] = float(np.mean([cols[s:s + size].std(0).square().mean().sqrt() for s in starts]))
    return out


def training_takes(config: dict) -> list:
    """The training split's takes, as the weights' config.json describes it (data folder, tail
    holdout, held-out take)."""
    run = config.get("training", {}).get("config", {})
    if "data" not in run:
        raise UserError("These weights' config.json does not say what they were trained on (training.config.data); "
                        "calibrate weights saved by asynfusion train and distill.")
    return load_split(run["data"], holdout=run.get("holdout", 0.15), heldout_take=run.get("heldout_take")).train


def capture_amplitudes(takes: list, window: float = WINDOW) -> dict[str, float]:
    """The takes' amplitudes, each take's weighted by its length."""
    each = [(part_amplitudes(t.poses, t.trans, window), t.frames) for t in takes]
    total = sum(n for _, n in each)
    return {p: sum(a[p] * n for a, n in each) / total for p in PARTS}


def capture_mouth_range(takes: list) -> dict:
    """The knee and ceiling of the takes' mouth openings (core/mouth.py opening_range), with what
    they were fitted on."""
    jaw = slice(3 * JAW, 3 * JAW + 3)
    openings = np.concatenate([mouth.opening(t.expressions, t.poses[:, jaw]) for t in takes])
    return {**mouth.opening_range(openings),
            "fit": {"frames": int(len(openings)), "percentile": mouth.OPENING_KNEE,
                    "about": "core/mouth.py limit_opening; the training split's capture, every frame"}}


def model_amplitudes(gen: Generator, settings: SamplerSettings, feats: list[torch.Tensor], seeds: int,
                     window: float = WINDOW) -> dict[str, float]:
    """The model's amplitudes over every clip and seed, planted feet and all (as generated)."""
    sums = dict.fromkeys(PARTS, 0.0)
    count = 0
    for f in feats:
        for seed in range(seeds):
            poses, _, trans = gen.decode(gen.sample(f, torch.zeros_like(f[0]), settings, seed))
            for p, v in part_amplitudes(poses, trans, window).items():
                sums[p] += v * len(poses)
            count += len(poses)
    return {p: v / count for p, v in sums.items()}


def fit_gains(gen: Generator, takes: list, clips: list[Path], seeds: int, rounds: int, window: float = WINDOW,
              log=print) -> dict:
    """Gains per part and the record of how they were fitted."""
    target = capture_amplitudes(takes, window)
    feats = [torch.from_numpy(voice_features(c)).to(gen.device) for c in clips]
    base = replace(gen.settings(None, None, None), amplitude=())
    gains = dict.fromkeys(CALIBRATED, 1.0)
    history = []
    for r in range(rounds + 1):
        got = model_amplitudes(gen, replace(base, amplitude=tuple(gains.items()), amplitude_sigma=SIGMA), feats, seeds, window)
        history.append({p: round(got[p] / target[p], 4) for p in PARTS})
        log(f"round {r}: model / capture " + ", ".join(f"{p} {history[-1][p]:.3f}" for p in PARTS))
        if r == rounds:
            break
        gains = {p: float(np.clip(gains[p] * target[p] / got[p], *GAIN_RANGE)) for p in CALIBRATED}
        log("  gains " + ", ".join(f"{p} {g:.3f}" for p, g in gains.items()))
    return {"gains": {p: round(g, 4) for p, g in gains.items()}, "sigma": SIGMA,
            "fit": {"clips": [c.name for c in clips], "seeds": seeds, "rounds": rounds, "window_s": window,
                    "model_over_capture": history,
                    "about": "amplitude.py; fitted by asynfusion calibrate on speech with no capture against "
                             "the training split's capture, window by window"}}


WEIGHTS_FILES = (WEIGHTS_FILE, DB_FILE)      # what a weights folder holds besides config.json


def write_calibrated(source: Path, out: Path, fitted: dict) -> None:
    """``source``'s weights with the gains in config.json's sampler section, as the new folder
    ``out``: assembled beside it and renamed into place, so it appears whole or not at all."""
    config = json.loads((source / CONFIG_FILE).read_text())
    config["sampler"]["amplitude"] = fitted["gains"]
    config["sampler"]["amplitude_sigma"] = fitted["sigma"]
    config["sampler"]["amplitude_fit"] = fitted["fit"]
    config["sampler"]["mouth_range"] = fitted["mouth_range"]
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    try:
        for name in WEIGHTS_FILES:
            if (source / name).is_file():
                shutil.copy2(source / name, tmp / name)
        (tmp / CONFIG_FILE).write_text(json.dumps(config, indent=1, sort_keys=True) + "\n")
        tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def check_out(source: Path, out: Path) -> None:
    """``out`` must be a new folder in an existing one: calibration never writes over weights."""
    if out.exists() or out.is_symlink():
        raise UserError(f"{out} already exists; give --out a new folder name (the weights calibrated, "
                        f"{source}, stay as they are).")
    if not out.parent.is_dir():
        raise UserError(f"The folder {out.parent} does not exist; create it first or choose another --out.")


def run(args) -> int:
    if args.threads:
        torch.set_num_threads(args.threads)
    if not (math.isfinite(args.window) and args.window > 0):
        raise UserError(f"--window {args.window} is not a length; give the seconds a part's spread is read over, e.g. 4.")
    clips = [Path(c) for c in args.speech]
    missing = [str(c) for c in clips if not c.is_file()]
    if missing:
        raise UserError(f"No recording at {', '.join(missing)}; name speech files without motion capture.")
    source, out = Path(args.weights), Path(args.out)
    check_out(source, out)
    gen = Generator(source, args.device)
    log = lambda msg: print(msg, file=sys.stderr, flush=True)  # noqa: E731
    takes = training_takes(gen.config)
    fitted = {**fit_gains(gen, takes, clips, args.seeds, args.rounds, args.window, log), "mouth_range": capture_mouth_range(takes)}
    if not all(math.isfinite(g) for g in fitted["gains"].values()):
        raise UserError("The fitted gains are not finite numbers; nothing was written.")
    check_out(source, out)
    write_calibrated(source, out, fitted)
    r = fitted["mouth_range"]
    log(f"wrote {out}: {source}'s weights with amplitude gains {fitted['gains']} and the mouth's opening "
        f"bent from {r['knee']} to at most {r['ceiling']} (the capture's)")
    return 0
