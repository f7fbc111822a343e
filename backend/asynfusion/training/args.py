"""Command-line arguments and run configurations (no torch import: the CLI starts fast)."""

from __future__ import annotations

import argparse
import json
from dataclasses import MISSING, dataclass, fields
from pathlib import Path

from ..errors import UserError

DEFAULT_HOLDOUT = 0.15


@dataclass(kw_only=True)
class RunOptions:
    """What every training run takes alike: the split, checkpoints, seed, device, cache, threads.
    Keyword-only, so the runs' own required fields (data, out) still come first."""

    holdout: float = DEFAULT_HOLDOUT
    heldout_take: str | None = None   # a take-disjoint fold: this take held out whole
    save_every: int = 500
    seed: int = 0
    device: str = "auto"
    resume: bool = False
    cache: str | None = None
    threads: int = 0
    recipe: str = "shipped"         # the recipe file whose values were this run's defaults


@dataclass
class TrainConfig(RunOptions):
    data: str
    out: str
    steps: int = 3000
    batch: int = 32
    lr: float = 4e-4
    width: int = 128
    depth: int = 4
    heads: int = 4
    window: int = 120
    stride: int = 5
    decoupled: float = 0.5
    audio_drop: float = 0.1
    vel_weight: float = 1.0
    acc_weight: float = 1.0         # acceleration term: tremor is punished where it starts
    retrieval_drop: float = 0.15    # windows trained without the retrieved track (so "off" is defined)
    body_lowpass: float = 3.0       # sigma (frames) of the body output's fixed low-pass (0: none)
    root_lowpass: float = 6.0       # sigma (frames) added on the root position
    body_audio_lowpass: float = 6.0  # sigma (frames) of the audio the body hears: syllable-rate detail made it tremble
    body_noise_lowpass: float = 2.0  # sigma (frames) of the body's temporally correlated diffusion noise
    vtlp: float = 0.12              # vocal-tract-length warp of the mel axis, factor in [1-v, 1+v]
    stretch: float = 0.0            # time-stretched copies of every take at rates 1 ± s, 1 ± s/2
    viseme_weight: float = 0.1      # auxiliary viseme loss (viseme_loss.py) on the predicted face; 0: off
    foot_weight: float = 0.0        # foot-skate loss (foot_contact.py) on the predicted body; 0: off
    foot_pelvis: int = 1            # 0: the foot-skate loss moves the legs and the root's position, not the pelvis's turn
    dropout: float = 0.0            # residual and audio dropout in every block (a minute of speech is easily learnt by heart)
    dropout_face_only: int = 0      # 1: that dropout in the face branch only
    phonetic: int = 0               # 1: the model also hears a mouth-shape probe's scores (phonetic.py); 0: off
    voices: int = 0                 # copies of every take with noisy, reverberant or telephone speech
    subframes: int = 4              # 100-fps analysis frames the model hears beside each frame (0-4)
    frication: int = 0              # 1: the model also hears the sub-frames' frication cues (audio.frication_features)
    ema: float = 0.999
    mirror: bool = True
    retrieval: bool = True          # the body branch reads the motion-matched track
    cosync: bool = True             # False: CoSync gates held shut (the trained-without ablation)


@dataclass
class DistillConfig(RunOptions):
    data: str
    teacher: str
    out: str
    steps: int = 1500
    batch: int = 32
    lr: float = 2e-4
    ema: float = 0.95               # the target network's EMA (MotionLCM uses 0.95)
    skip: int = 20                  # DDIM solver skip interval on the 1000-step schedule
    w_min: float = 2.0              # guidance scales drawn uniformly in [w_min, w_max];
    w_max: float = 2.0              # equal: guidance baked in, no guidance input (see distill.py)
    w_face: float = 0.0             # the face branch's own baked-in guidance (0: the body's w)
    huber_c: float = 0.001
    decoupled: float = 0.5
    vtlp: float = 0.12              # as in training: the student sees the voices the teacher saw
    stretch: float = 0.0            # as in training
    voices: int = 0                 # as in training
    retrieval_drop: float = 0.15
    mirror: bool = True
    stride: int = 5


_SKIP = ("data", "out", "teacher", "device", "resume", "cache", "heldout_take", "mirror", "retrieval", "cosync",
         "recipe")
RECIPES = Path(__file__).with_name("recipes")
SECTIONS = {"TrainConfig": "train", "DistillConfig": "distill"}


class RecipeError(UserError):
    pass


def load_recipe(name: str, section: str, cls) -> dict:
    """A recipe's values for one run (``section``: train or distill). ``name``: a file in
    training/recipes/ without its .json, or a path to a .json file of the same shape."""
    path = Path(name) if name.endswith(".json") else RECIPES / f"{name}.json"
    try:
        values = json.loads(path.read_text())[section]
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise RecipeError(f"Recipe {name} cannot be read as a recipe with a {section!r} section ({err}); "
                          f"name one in {RECIPES} or a .json file of the same shape.") from None
    if not isinstance(values, dict):
        raise RecipeError(f"Recipe {name}'s {section!r} section is not a set of named values.")
    unknown = sorted(set(values) - {f.name for f in fields(cls)})
    if unknown:
        raise RecipeError(f"Recipe {name} names settings {section} does not have: {', '.join(unknown)}.")
    return values


def _numbers(p: argparse.ArgumentParser, cls) -> None:
    recipe = load_recipe("shipped", SECTIONS[cls.__name__], cls)
    for f in sorted(fields(cls), key=lambda f: f.kw_only):   # the run's own options first, RunOptions' last
        if f.name in _SKIP:
            continue
        typ = {"int": int, "float": float}[f.type if isinstance(f.type, str) else f.type.__name__]
        shown = recipe.get(f.name, f.default)
        p.add_argument("--" + f.name.replace("_", "-"), type=typ, default=None,
                       help=f"(default {shown}{', the shipped recipe' if f.name in recipe else ''})")


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--recipe", default="shipped", metavar="NAME|FILE.json",
                   help="the recipe whose values are the defaults (training/recipes/; default: shipped, what the "
                        "shipped weights were trained with); flags still win")
    p.add_argument("--mirror", action=argparse.BooleanOptionalAction, default=None,
                   help="mirror augmentation (default: the recipe's)")
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    p.add_argument("--resume", action="store_true", help="continue from the checkpoint in --out")
    p.add_argument("--cache", default=None, help="audio feature cache folder (default OUT/feature_cache)")
    p.add_argument("--heldout-take", default=None, metavar="NAME",
                   help="hold this take out whole and train on the others (a take-disjoint fold)")


def train_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("data", help="BEAT2 folder (beat_english_v2.0.0 layout, or name.npz + name.wav pairs)")
    p.add_argument("-o", "--out", required=True, help="checkpoint folder (model.safetensors + config.json)")
    _numbers(p, TrainConfig)
    _common(p)
    p.add_argument("--no-retrieval", dest="retrieval", action="store_false",
                   help="no motion-matched track for the body branch (ablation)")
    p.add_argument("--no-cosync", dest="cosync", action="store_false",
                   help="train with the CoSync gates held shut (ablation)")


def distill_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("data", help="BEAT2 folder, as for train")
    p.add_argument("--teacher", required=True, help="teacher weights folder (from asynfusion train)")
    p.add_argument("-o", "--out", required=True, help="student checkpoint folder")
    _numbers(p, DistillConfig)
    _common(p)


def config_from(args, cls):
    """The run's configuration: each flag given, else the recipe's value, else the code's default."""
    recipe = load_recipe(args.recipe, SECTIONS[cls.__name__], cls)
    values = {}
    for f in fields(cls):
        given = getattr(args, f.name, None)
        if given is not None:
            values[f.name] = given
        elif f.name in recipe:
            values[f.name] = recipe[f.name]
        elif f.default is MISSING:
            raise RecipeError(f"{f.name} is needed.")
    return cls(**values)


def calibrate_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("weights", help="student weights folder (read, never changed)")
    p.add_argument("speech", nargs="+", help="recordings with no motion capture that the weights never trained on")
    p.add_argument("-o", "--out", required=True,
                   help="new folder for the calibrated weights: the same files, the gains in config.json's sampler section")
    p.add_argument("--seeds", type=int, default=3, help="samples per recording and round (default 3)")
    p.add_argument("--rounds", type=int, default=2, help="refinements of the gains (default 2)")
    p.add_argument("--window", type=float, default=4.0,
                   help="seconds over which a part's spread is read, on the clips and the training takes alike "
                        "(default 4; 60 reads minute-long takes whole, posture included)")
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
