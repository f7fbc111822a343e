"""Randomly initialised weights, for tests and benchmarks that must not need training.

A freshly built model predicts exactly zero (adaLN-Zero and zero output layers)
and its CoSync gates are shut, which would make every test trivially pass; this
fills those parameters with small random values so outputs depend on every input.
"""

from __future__ import annotations

import os

import numpy as np
import torch

from .audio import FEATURE_DIM
from .model import AsynFusion, ModelConfig
from .representation import Normaliser
from .retrieval import MotionDatabase
from .sampling import recipe_sampler
from .schedule import DDIM, LCM, Scheduler, sampler_kind
from .weights import save_weights


def randomise(model: AsynFusion, seed: int = 0, scale: float = 0.05) -> AsynFusion:
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if torch.count_nonzero(p) == 0 and not name.endswith("null"):
                p.copy_(torch.randn(p.shape, generator=gen) * scale)
    return model


def save_random_weights(folder: str | os.PathLike, kind: str = "lcm", seed: int = 0, origin_steps: int = 50,
                        **arch) -> AsynFusion:
    """Build, randomise and save a model; ``arch`` overrides ModelConfig fields; an LCM
    student's scheduler is on a grid of ``origin_steps``."""
    torch.manual_seed(seed)
    mode = sampler_kind(kind)
    cfg = ModelConfig(guidance_embed=(mode == LCM), **arch)
    model = randomise(AsynFusion(cfg), seed)
    scheduler = Scheduler(LCM, origin_steps=origin_steps) if mode == LCM else Scheduler(DDIM)
    save_weights(folder, model, kind, Normaliser.identity(FEATURE_DIM), scheduler,
                 recipe_sampler(scheduler.kind, cfg.retrieval), random_database(cfg.body_dim, seed) if cfg.retrieval else None,
                 training={"data": "none: random weights for tests"})
    return model


def random_database(body_dim: int, seed: int = 0, frames: int = 600) -> MotionDatabase:
    """A motion database of random audio features and random body features (two 'takes')."""
    rng = np.random.default_rng(seed)
    half = frames // 2
    return MotionDatabase.build([(rng.standard_normal((half, FEATURE_DIM)).astype(np.float32),
                                  rng.standard_normal((half, body_dim)).astype(np.float32), k, 0)
                                 for k in range(2)])
