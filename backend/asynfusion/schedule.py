"""The noise schedule as one object: which timesteps to visit, how to noise, how to step.

A ``Scheduler`` is part of a model, not a constant: its settings are saved in the
weights' config.json and read back, so a student distilled on another grid is sampled
on its own grid. ``kind`` "ddim" is the teacher's deterministic DDIM (eta = 0); "lcm" is
the consistency student's multistep rule (predict clean motion, re-noise it with fresh
noise to the next timestep), on the grid of ``origin_steps`` DDIM steps it was distilled
on. Training, distillation and sampling all noise and step through this one object.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import torch

from .model.config import JSONConfig
from .model.layers import gaussian_taps, temporal_lowpass

NUM_TRAIN_STEPS = 1000
DDIM, LCM = "ddim", "lcm"       # how a model samples: the teacher's DDIM, the student's LCM
KINDS = (DDIM, LCM)
# The one place the model kind's spellings meet. config.json names it twice: the scheduler's
# "kind" (above; SamplerSettings.mode is the same word) and the weights' own "kind"
# (weights.KINDS), which calls the DDIM teacher "teacher". Code compares scheduler kinds;
# a weights kind is turned into one here (the config format stays as shipped).
WEIGHTS_KIND = {DDIM: "teacher", LCM: "lcm"}


def sampler_kind(weights_kind: str) -> str:
    """The scheduler kind (SamplerSettings.mode) a config.json "kind" samples with; KeyError
    for a kind not in WEIGHTS_KIND."""
    return {weights: sampler for sampler, weights in WEIGHTS_KIND.items()}[weights_kind]


def alphas_cumprod(steps: int = NUM_TRAIN_STEPS) -> torch.Tensor:
    """Cosine schedule (Nichol & Dhariwal), clipped so the last step is nearly pure noise."""
    s = 0.008
    x = torch.arange(steps + 1, dtype=torch.float64) / steps
    f = torch.cos((x + s) / (1 + s) * math.pi / 2) ** 2
    ab = (f / f[0])[1:]
    return ab.clamp(1e-5, 0.9999).float()


@dataclass(frozen=True)
class Scheduler(JSONConfig):
    kind: str = DDIM
    num_train_steps: int = NUM_TRAIN_STEPS
    origin_steps: int = 50          # the DDIM grid an LCM student was distilled on
    body_noise_lowpass: float = 0.0  # sigma (frames): the body's diffusion noise is temporally correlated

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"scheduler kind must be one of {KINDS}, not {self.kind!r}")
        if not 1 <= self.origin_steps <= self.num_train_steps:
            raise ValueError("origin_steps must be between 1 and num_train_steps")

    @cached_property
    def alphas_cumprod(self) -> torch.Tensor:
        return alphas_cumprod(self.num_train_steps)

    @property
    def skip(self) -> int:
        """Timesteps between two points of the distillation grid."""
        return self.num_train_steps // self.origin_steps

    def grid(self) -> list[int]:
        """The distillation grid, cleanest first: skip-1, 2*skip-1, ..., the noisiest."""
        return [self.skip * (i + 1) - 1 for i in range(self.origin_steps)]

    def set_timesteps(self, n: int, start: int | None = None) -> list[int]:
        """The n timesteps a sampler visits, noisiest first.

        DDIM: spread evenly from the noisiest step to 0. LCM: n points of the distillation
        grid at evenly spaced indices (diffusers' LCMScheduler rule: floor of
        linspace(0, len(grid), n, endpoint=False) into the grid reversed). ``start``: begin
        no noisier than this timestep (SDEdit: denoise a noised guess instead of pure noise).
        """
        last = self.num_train_steps - 1 if start is None else start
        if not 0 <= last < self.num_train_steps:
            raise ValueError(f"the start timestep must be between 0 and {self.num_train_steps - 1}")
        if self.kind == DDIM:
            if not 1 <= n <= self.num_train_steps:
                raise ValueError(f"steps must be between 1 and {self.num_train_steps}")
            return [last] if n == 1 else [round(last * (1 - i / (n - 1))) for i in range(n)]
        grid = [t for t in self.grid()[::-1] if t <= last]
        if not 1 <= n <= len(grid):
            raise ValueError(f"steps must be between 1 and {len(grid)}")
        idx = np.floor(np.linspace(0, len(grid), n, endpoint=False)).astype(int)
        return [grid[i] for i in idx]

    def noise(self, branch: str, shape: tuple[int, ...], generator: torch.Generator | None = None
              ) -> torch.Tensor:
        """Diffusion noise for a branch, (..., T, D), drawn on the CPU (seeds give the same motion
        on every device). The body's is low-passed along T and rescaled to unit variance, so
        whatever of it a denoiser lets through is slow drift, never frame-to-frame tremor."""
        eps = torch.randn(shape, generator=generator)
        if branch != "body" or self.body_noise_lowpass <= 0:
            return eps
        taps = gaussian_taps(self.body_noise_lowpass)
        flat = eps.reshape((-1,) + tuple(shape[-2:]))
        return (temporal_lowpass(flat, taps) / taps.pow(2).sum().sqrt()).reshape(shape)

    def alpha_bar(self, t: torch.Tensor | int) -> torch.Tensor:
        """ᾱ at t (any shape); t < 0 means clean data (ᾱ = 1)."""
        t = torch.as_tensor(t)
        ab = self.alphas_cumprod.to(t.device)[t.clamp(min=0)]
        return torch.where(t < 0, torch.ones_like(ab), ab)

    def add_noise(self, x0: torch.Tensor, noise: torch.Tensor, t: torch.Tensor | int) -> torch.Tensor:
        """x_t for clean x0 at timestep t ((B,) for a batch (B, T, D), or one int)."""
        a = _expand(self.alpha_bar(t).to(x0.device, x0.dtype), x0)
        return a.sqrt() * x0 + (1 - a).sqrt() * noise

    def step(self, x_t: torch.Tensor, x0: torch.Tensor, t: torch.Tensor | int, t_next: torch.Tensor | int,
             noise: torch.Tensor | None = None, kind: str | None = None) -> torch.Tensor:
        """Move from x_t at t to t_next given the model's clean estimate x0.

        DDIM keeps the implied noise (deterministic); LCM re-noises x0 with ``noise``
        (fresh noise, required). t_next < 0 returns x0. ``kind`` overrides the scheduler's
        own (distillation takes the teacher's DDIM step with a student's scheduler).
        """
        kind = kind or self.kind
        if bool((torch.as_tensor(t_next) < 0).all()):
            return x0
        a_t = _expand(self.alpha_bar(t).to(x0.device, x0.dtype), x0)
        a_next = _expand(self.alpha_bar(t_next).to(x0.device, x0.dtype), x0)
        if kind == DDIM:
            eps = (x_t - a_t.sqrt() * x0) / (1 - a_t).clamp_min(1e-8).sqrt()
        else:
            if noise is None:
                raise ValueError("an LCM step needs fresh noise")
            eps = noise
        return a_next.sqrt() * x0 + (1 - a_next).sqrt() * eps

    def training_timesteps(self, batch: int, decoupled: float, generator: torch.Generator | None = None,
                           on_grid: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        """(t_face, t_body) for a training batch.

        A ``decoupled`` fraction of the batch draws the two branches' timesteps
        independently, so the model learns to denoise one branch while the other sits
        at another noise level: what asynchronous sampling asks of it. The rest share one.
        ``on_grid``: draw from the distillation grid (what consistency distillation visits).
        """
        cells = self.origin_steps if on_grid else self.num_train_steps
        a = torch.randint(0, cells, (batch,), generator=generator)
        b = torch.randint(0, cells, (batch,), generator=generator)
        b = torch.where(torch.rand(batch, generator=generator) < decoupled, b, a)
        if on_grid:
            a, b = a * self.skip + self.skip - 1, b * self.skip + self.skip - 1
        return a, b


def _expand(a: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """(B,) or () -> broadcastable against (B, T, D) or (T, D)."""
    if a.dim() == 0:
        return a
    return a.reshape(a.shape + (1,) * (like.dim() - a.dim()))


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
