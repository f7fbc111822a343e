"""Noise schedule and the step lists of the DDIM teacher and the LCM student."""

from __future__ import annotations

import math

import torch

NUM_TRAIN_STEPS = 1000
LCM_SKIP = 20          # the student is distilled on a 50-step DDIM grid: t = 19, 39, ..., 999


def alphas_cumprod(steps: int = NUM_TRAIN_STEPS) -> torch.Tensor:
    """Cosine schedule (Nichol & Dhariwal), clipped so the last step is nearly pure noise."""
    s = 0.008
    x = torch.arange(steps + 1, dtype=torch.float64) / steps
    f = torch.cos((x + s) / (1 + s) * math.pi / 2) ** 2
    ab = (f / f[0])[1:]
    return ab.clamp(1e-5, 0.9999).float()


def alpha_bar(ab: torch.Tensor, t: int) -> float:
    """ab at step t; t = -1 means clean data."""
    return 1.0 if t < 0 else float(ab[t])


def teacher_timesteps(n: int) -> list[int]:
    """n DDIM steps spread evenly from the noisiest step down to 0."""
    if n < 1:
        raise ValueError("need at least one step")
    if n == 1:
        return [NUM_TRAIN_STEPS - 1]
    return [round((NUM_TRAIN_STEPS - 1) * (1 - i / (n - 1))) for i in range(n)]


def lcm_timesteps(n: int, skip: int = LCM_SKIP) -> list[int]:
    """n steps on the distillation grid, noisiest first (as diffusers' LCMScheduler picks them)."""
    grid = list(range(skip - 1, NUM_TRAIN_STEPS, skip))
    if not 1 <= n <= len(grid):
        raise ValueError(f"steps must be between 1 and {len(grid)}")
    stride = len(grid) // n
    return grid[::-1][::stride][:n]


def async_plan(face: list[int], body: list[int]) -> list[dict[str, tuple[int, int]]]:
    """Interleave two step lists into events {branch: (t, t_next)}.

    Both branches step at the first event; the branch with fewer steps spreads its
    steps evenly over the slots of the other. t_next = -1 means "to clean data".
    """
    slots = max(len(face), len(body))
    events: list[dict[str, tuple[int, int]]] = [{} for _ in range(slots)]
    for name, ts in (("face", face), ("body", body)):
        for i, t in enumerate(ts):
            slot = (i * slots) // len(ts)
            events[slot][name] = (t, ts[i + 1] if i + 1 < len(ts) else -1)
    return events


def training_timesteps(batch: int, decoupled: float, generator: torch.Generator | None = None
                       ) -> tuple[torch.Tensor, torch.Tensor]:
    """(t_face, t_body) for a training batch.

    A ``decoupled`` fraction of the batch draws the two branches' timesteps
    independently, so the model learns to denoise one branch while the other sits
    at another noise level: what asynchronous sampling asks of it. The rest share one.
    """
    t_face = torch.randint(0, NUM_TRAIN_STEPS, (batch,), generator=generator)
    t_other = torch.randint(0, NUM_TRAIN_STEPS, (batch,), generator=generator)
    split = torch.rand(batch, generator=generator) < decoupled
    return t_face, torch.where(split, t_other, t_face)
