"""Randomly initialised weights, for tests and benchmarks that must not need training.

A freshly built model predicts exactly zero (adaLN-Zero and zero output layers)
and its CoSync gates are shut, which would make every test trivially pass; this
fills those parameters with small random values so outputs depend on every input.
"""

from __future__ import annotations

import os

import torch

from .audio import FEATURE_DIM
from .model import AsynFusion, ModelConfig
from .representation import Normaliser
from .weights import save_weights


def randomise(model: AsynFusion, seed: int = 0, scale: float = 0.05) -> AsynFusion:
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if torch.count_nonzero(p) == 0 and not name.endswith("null"):
                p.copy_(torch.randn(p.shape, generator=gen) * scale)
    return model


def save_random_weights(folder: str | os.PathLike, kind: str = "lcm", seed: int = 0, **arch) -> AsynFusion:
    """Build, randomise and save a model; ``arch`` overrides ModelConfig fields."""
    torch.manual_seed(seed)
    cfg = ModelConfig(guidance_embed=(kind == "lcm"), **arch)
    model = randomise(AsynFusion(cfg), seed)
    save_weights(folder, model, kind, Normaliser.identity(FEATURE_DIM),
                 training={"data": "none: random weights for tests"})
    return model
