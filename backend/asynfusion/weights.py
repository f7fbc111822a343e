"""Weights on disk: ``model.safetensors`` + ``config.json``, never pickle.

config.json holds the format version, what kind of model it is (DDIM teacher or
LCM student), the architecture, the scheduler it samples with, the normalisation
statistics and a note of what data trained it. A retrieval model also has its
motion database beside it (``motion_db.safetensors``). Loading checks every tensor
name and shape against the architecture and says in one sentence what does not match.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from .errors import WeightsError
from .model import AsynFusion, ModelConfig
from .representation import Normaliser
from .retrieval import DB_FILE, MotionDatabase
from .schedule import DDIM, LCM, WEIGHTS_KIND, Scheduler, sampler_kind
from .shipped import default_weights_dir as default_weights_dir   # re-exported: callers load from it

FORMAT_VERSION = 2
WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "config.json"
TEACHER, STUDENT = WEIGHTS_KIND[DDIM], WEIGHTS_KIND[LCM]     # config.json's "kind" (schedule.WEIGHTS_KIND)
KINDS = (TEACHER, STUDENT)
HOW_TO_GET = ("the repository ships trained weights in weights/, or train your own with "
              "'asynfusion train' and 'asynfusion distill'")


@dataclass
class Weights:
    model: AsynFusion
    kind: str
    normaliser: Normaliser
    scheduler: Scheduler
    database: MotionDatabase | None
    config: dict


def save_weights(folder: str | os.PathLike, model: AsynFusion, kind: str, normaliser: Normaliser,
                 scheduler: Scheduler, sampler: dict, database: MotionDatabase | None = None,
                 training: dict | None = None) -> None:
    """``sampler``: the settings these weights sample with (sampling.recipe_sampler), read back
    by sampling.resolve_settings as the only source of generation defaults."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}")
    if model.cfg.retrieval and database is None:
        raise ValueError("a retrieval model is saved with its motion database")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    if database is not None:
        database.save(folder)
    write_model(folder, model, {
        "format_version": FORMAT_VERSION,
        "kind": kind,
        "architecture": model.cfg.to_dict(),
        "scheduler": scheduler.to_dict(),
        "normalisation": normaliser.to_dict(),
        "sampler": sampler,
        "training": training or {},
    })


def load_weights(folder: str | os.PathLike, device: str | torch.device = "cpu") -> Weights:
    """The model (in eval mode, on ``device``) with everything it samples with."""
    folder = Path(folder)
    cfg_path, w_path = model_files(folder, "model weights", HOW_TO_GET)
    try:
        config = json.loads(cfg_path.read_text())
        version = config["format_version"]
    except (json.JSONDecodeError, KeyError, TypeError) as err:
        raise WeightsError(f"{cfg_path} is not a valid AsynFusion config ({err}); {HOW_TO_GET}.") from None
    if version != FORMAT_VERSION:
        raise WeightsError(f"The weights in {folder} use format {version}, but this version reads "
                           f"format {FORMAT_VERSION}; update AsynFusion or the weights.")
    try:
        kind = config["kind"]
        arch = ModelConfig.from_dict(config["architecture"])
        scheduler = Scheduler.from_dict(config["scheduler"])
        normaliser = Normaliser.from_dict(config["normalisation"])
    except (KeyError, TypeError, ValueError) as err:
        raise WeightsError(f"{cfg_path} is not a valid AsynFusion config ({err}); {HOW_TO_GET}.") from None
    sizes = {"face": arch.face_dim, "body": arch.body_dim, "audio": arch.audio_dim}
    for part, size in sizes.items():
        for stat in ("mean", "std"):
            got = getattr(normaliser, f"{part}_{stat}").shape
            if got != (size,):
                raise WeightsError(f"{cfg_path} has {part} normalisation statistics of length {got[0] if got else 0} "
                                   f"for a model of {size} {part} values; {HOW_TO_GET}.")
        mean, std = getattr(normaliser, f"{part}_mean"), getattr(normaliser, f"{part}_std")
        if not torch.isfinite(mean).all() or not (torch.isfinite(std) & (std > 0)).all():
            raise WeightsError(f"The {part} normalisation statistics in {cfg_path} hold NaN or infinite values "
                               f"or non-positive spreads; {HOW_TO_GET}.")
    if kind not in KINDS:
        raise WeightsError(f"{cfg_path} names an unknown model kind {kind!r}.")
    if sampler_kind(kind) != scheduler.kind:
        raise WeightsError(f"{cfg_path} names a {kind} model with a {scheduler.kind} scheduler; a {kind} model "
                           f"samples with {sampler_kind(kind)}; {HOW_TO_GET}.")
    model = read_state(AsynFusion(arch), w_path, HOW_TO_GET)
    database = None
    if arch.retrieval:
        try:
            database = MotionDatabase.load(folder)
        except Exception:
            raise WeightsError(f"The motion database {folder / DB_FILE} is missing or unreadable; "
                               f"{HOW_TO_GET}.") from None
        if database.body.shape[1] != arch.body_dim or not np.all(np.isfinite(database.body)):
            raise WeightsError(f"The motion database {folder / DB_FILE} does not fit the model; {HOW_TO_GET}.")
    return Weights(model.to(device).eval(), kind, normaliser.to(device), scheduler, database, config)


def write_model(folder: Path, model: torch.nn.Module, config: dict) -> None:
    """model.safetensors (tensors only, never pickle) + config.json: how every model here is saved."""
    tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    save_file(tensors, str(folder / WEIGHTS_FILE), metadata={"format_version": str(config["format_version"])})
    (folder / CONFIG_FILE).write_text(json.dumps(config, indent=1, sort_keys=True) + "\n")


def model_files(folder: Path, what: str, how: str) -> tuple[Path, Path]:
    """(config.json, model.safetensors) of ``folder``; a WeightsError saying ``how`` to get them if absent."""
    cfg_path, w_path = folder / CONFIG_FILE, folder / WEIGHTS_FILE
    if not cfg_path.is_file() or not w_path.is_file():
        raise WeightsError(f"No {what} found in {folder}; {how}.")
    return cfg_path, w_path


M = TypeVar("M", bound=torch.nn.Module)


def read_state(model: M, w_path: Path, how: str) -> M:
    """``model`` with the tensors of ``w_path``, checked against its architecture first."""
    try:
        tensors = load_file(str(w_path))
    except Exception:
        raise WeightsError(f"{w_path} is not a readable safetensors file; {how}.") from None
    check_state(model, tensors, w_path)
    model.load_state_dict(tensors)
    return model


def check_state(model: torch.nn.Module, tensors: dict[str, torch.Tensor], source) -> None:
    """Raise WeightsError naming what is missing, unexpected or mis-shaped."""
    expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    got = {k: tuple(v.shape) for k, v in tensors.items()}
    missing = sorted(set(expected) - set(got))
    extra = sorted(set(got) - set(expected))
    wrong = sorted(k for k in set(expected) & set(got) if expected[k] != got[k])
    problems = []
    if missing:
        problems.append(f"missing {_few(missing)}")
    if extra:
        problems.append(f"unexpected {_few(extra)}")
    if wrong:
        problems.append("wrong shape for " + _few([f"{k} {got[k]} != {expected[k]}" for k in wrong]))
    if problems:
        raise WeightsError(f"The weights in {source} do not fit the architecture in its config: "
                           + "; ".join(problems) + ".")


def _few(items: list[str], n: int = 3) -> str:
    more = f" and {len(items) - n} more" if len(items) > n else ""
    return ", ".join(items[:n]) + more
