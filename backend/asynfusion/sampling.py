"""Sampling: the DDIM teacher and the asynchronous LCM student, over windowed audio.

One loop serves both. Each event of the plan steps some branches from t to
t_next: the model predicts clean motion x0 per window, windows are fused into
the whole sequence, and the scheduler moves the branch to t_next (DDIM keeps the
implied noise, LCM re-noises x0 with fresh noise). A branch not stepping in an
event is not evaluated; the other reads its cached CoSync keys/values.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch

from . import windows
from .model import BRANCHES, AsynFusion
from .schedule import Scheduler, async_plan
from .smoothing import smooth

Progress = Callable[[float], None]


@dataclass(frozen=True)
class SamplerSettings:
    mode: str = "lcm"              # "lcm" (student) or "ddim" (teacher): the scheduler's kind
    steps_face: int = 4
    steps_body: int = 2
    guidance: float = 2.0
    overlap: int = 30              # frames shared by neighbouring windows
    chunk: int = 32                # windows per forward pass (bounds memory, cancel latency)
    smooth_face: float = 0.0       # optional temporal Gaussian sigma (frames) on the result; 0 = raw
    smooth_body: float = 0.0
    body_start: int | None = None  # SDEdit: the body starts from the retrieved track noised to this timestep

    def plan(self, scheduler: Scheduler) -> list[dict[str, tuple[int, int]]]:
        return async_plan(scheduler.set_timesteps(self.steps_face),
                          scheduler.set_timesteps(self.steps_body, self.body_start))


# What each kind of weights samples with unless told otherwise. The student's body starts from
# the motion-matched track noised to t=759 (SDEdit) and takes 4 steps: on held-out speech this
# beat starting from pure noise on body FGD, tremor, head and heading (bench/ABLATIONS.md); the
# face takes 6 steps, which close the lips deeper than 4 (0.76 vs 0.74 of the capture, 6 seeds).
DEFAULTS = {
    "ddim": SamplerSettings(mode="ddim", steps_face=50, steps_body=50),
    "lcm": SamplerSettings(mode="lcm", steps_face=6, steps_body=4, body_start=759),
}


class _Windows:
    """A clip cut into the model's overlapping windows, in chunks of ``chunk`` windows."""

    def __init__(self, frames: int, window: int, settings: SamplerSettings, device) -> None:
        self.frames, self.window = frames, window
        self.length = windows.padded_length(frames, window)
        overlap = min(settings.overlap, window - 1)
        self.starts = windows.plan_windows(self.length, window, overlap)
        self.weights = windows.window_weights(self.starts, window, overlap, device)
        self.chunks = [slice(i, i + settings.chunk) for i in range(0, len(self.starts), settings.chunk)]

    def pad(self, seq: torch.Tensor, fill: torch.Tensor) -> torch.Tensor:
        """Short clips are padded (with ``fill``, one row) to a whole window."""
        extra = self.length - seq.shape[0]
        return seq if extra <= 0 else torch.cat([seq, fill.to(seq)[:1].expand(extra, -1)])

    def split(self, seq: torch.Tensor, sl: slice) -> torch.Tensor:
        return windows.split(seq, self.starts[sl], self.window)

    def merge(self, wins: torch.Tensor) -> torch.Tensor:
        return windows.merge(wins, self.starts, self.weights, self.length)


@torch.inference_mode()
def sample(model: AsynFusion, scheduler: Scheduler, feats: torch.Tensor, settings: SamplerSettings,
           seed: int, pad_features: torch.Tensor, retrieved: torch.Tensor | None = None,
           speaker: int | None = None, progress: Progress | None = None,
           autocast_dtype: torch.dtype | None = None) -> dict[str, torch.Tensor]:
    """(T, audio_dim) features -> {"face": (T, face_dim), "body": (T, body_dim)}, normalised.

    ``pad_features`` (1, audio_dim): what fills clips shorter than one window (silence).
    ``retrieved`` (T, body_dim): the motion-matched body track a retrieval model reads.
    """
    device, cfg = feats.device, model.cfg
    win = _Windows(feats.shape[0], cfg.window, settings, device)
    feats = win.pad(feats, pad_features)
    if retrieved is not None:
        retrieved = win.pad(retrieved.to(device), retrieved[-1:].to(device))
    guided = settings.mode == "ddim" and settings.guidance != 1.0
    autocast = (torch.autocast(device.type, dtype=autocast_dtype) if autocast_dtype is not None
                else torch.autocast(device.type, enabled=False))

    def doubled(x: torch.Tensor) -> torch.Tensor:   # conditional and unconditional halves in one batch
        return torch.cat([x, x]) if guided else x

    ctx, cond = [], []
    with autocast:
        for sl in win.chunks:
            a = win.split(feats, sl)
            drop = torch.arange(2 * len(a), device=device) >= len(a) if guided else None
            ctx.append(model.encode_audio(doubled(a), drop))
            cond.append(None if retrieved is None else _retrieved_input(win.split(retrieved, sl), guided))
    gen = torch.Generator().manual_seed(int(seed))
    dims = {"face": cfg.face_dim, "body": cfg.body_dim}
    x = {b: scheduler.noise(b, (win.length, dims[b]), gen).to(device) for b in BRANCHES}
    plan = settings.plan(scheduler)
    if settings.body_start is not None:
        if retrieved is None:
            raise ValueError("an SDEdit body start needs the retrieved track")
        x["body"] = scheduler.add_noise(retrieved, x["body"], plan[0]["body"][0])
    caches: list[dict] = [{} for _ in win.chunks]
    total, done = sum(len(ev) for ev in plan) * len(win.chunks), 0
    for event in plan:
        stepping = [b for b in BRANCHES if b in event]
        pred: dict[str, list[torch.Tensor]] = {b: [] for b in stepping}
        for ci, sl in enumerate(win.chunks):
            n = len(win.starts[sl])
            xin = {b: doubled(win.split(x[b], sl)) for b in stepping}
            tin = {b: torch.full((len(xin[b]),), event[b][0], device=device, dtype=torch.long) for b in stepping}
            spk = None if speaker is None else torch.full((len(ctx[ci]),), speaker, device=device)
            g = torch.full((len(ctx[ci]),), settings.guidance, device=device) if cfg.guidance_embed else None
            with autocast:
                out, caches[ci] = model(xin, tin, ctx[ci], caches[ci], speaker=spk, guidance=g,
                                        retrieved=cond[ci])
            for b in stepping:
                o = out[b].float()
                pred[b].append(o[n:] + settings.guidance * (o[:n] - o[n:]) if guided else o)
            done += len(stepping)
            if progress is not None:
                progress(done / total)
        for b in stepping:
            x0 = win.merge(torch.cat(pred[b]))
            t, t_next = event[b]
            renoise = settings.mode == "lcm" and t_next >= 0
            fresh = scheduler.noise(b, tuple(x[b].shape), gen).to(device) if renoise else None
            x[b] = scheduler.step(x[b], x0, t, t_next, fresh, kind=settings.mode)
    sigma = {"face": settings.smooth_face, "body": settings.smooth_body}
    return {b: smooth(x[b][:win.frames], sigma[b]) for b in BRANCHES}


def _retrieved_input(track: torch.Tensor, guided: bool) -> torch.Tensor:
    """The unconditional half of a guided batch sees no retrieved motion (as in training)."""
    return torch.cat([track, torch.zeros_like(track)]) if guided else track
