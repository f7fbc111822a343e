"""Sampling: the DDIM teacher and the asynchronous LCM student, over windowed audio.

One loop serves both. Each event of the plan steps some branches from t to
t_next: the model predicts clean motion x0 per window, windows are fused into
the whole sequence, and the branch moves to t_next either deterministically
(DDIM, eta = 0) or by re-noising x0 with fresh noise (LCM multistep). A branch
not stepping in an event is not evaluated; the other reads its cached CoSync
keys/values.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch

from . import windows
from .model import BRANCHES, AsynFusion
from .smoothing import smooth
from .schedule import alpha_bar, alphas_cumprod, async_plan, lcm_timesteps, teacher_timesteps

Progress = Callable[[float], None]


@dataclass(frozen=True)
class SamplerSettings:
    mode: str = "lcm"              # "lcm" (student) or "ddim" (teacher)
    steps_face: int = 4
    steps_body: int = 2
    guidance: float = 2.0
    overlap: int = 30              # frames shared by neighbouring windows
    chunk: int = 32                # windows per forward pass (bounds memory, cancel latency)
    smooth_face: float = 1.0       # temporal Gaussian sigma (frames) on the result; 0 = raw
    smooth_body: float = 2.0

    def plan(self) -> list[dict[str, tuple[int, int]]]:
        steps = lcm_timesteps if self.mode == "lcm" else teacher_timesteps
        return async_plan(steps(self.steps_face), steps(self.steps_body))


def _noise(shape, generator: torch.Generator, device) -> torch.Tensor:
    """Noise is drawn on the CPU so a seed gives the same motion on every device."""
    return torch.randn(shape, generator=generator).to(device)


@torch.inference_mode()
def sample(model: AsynFusion, feats: torch.Tensor, settings: SamplerSettings, seed: int,
           pad_features: torch.Tensor, speaker: int | None = None, progress: Progress | None = None,
           autocast_dtype: torch.dtype | None = None) -> dict[str, torch.Tensor]:
    """(T, audio_dim) features -> {"face": (T, face_dim), "body": (T, body_dim)}, normalised.

    ``pad_features`` (1, audio_dim): what fills clips shorter than one window (silence).
    """
    device = feats.device
    cfg = model.cfg
    frames = feats.shape[0]
    length = windows.padded_length(frames, cfg.window)
    if length > frames:  # short clip: pad with (normalised) silence, crop afterwards
        feats = torch.cat([feats, pad_features.to(feats)[: length - frames].expand(length - frames, -1)])
    starts = windows.plan_windows(length, cfg.window, min(settings.overlap, cfg.window - 1))
    weights = windows.window_weights(starts, cfg.window, min(settings.overlap, cfg.window - 1), device)
    audio_wins = windows.split(feats, starts, cfg.window)

    guided = settings.mode == "ddim" and settings.guidance != 1.0
    chunks = [slice(i, i + settings.chunk) for i in range(0, len(starts), settings.chunk)]
    autocast = (torch.autocast(device.type, dtype=autocast_dtype) if autocast_dtype is not None
                else torch.autocast(device.type, enabled=False))

    def encode(sl: slice) -> torch.Tensor:
        a = audio_wins[sl]
        if guided:  # conditional and unconditional halves in one batch
            drop = torch.zeros(2 * len(a), dtype=torch.bool, device=device)
            drop[len(a):] = True
            a = torch.cat([a, a])
            return model.encode_audio(a, drop)
        return model.encode_audio(a)

    with autocast:
        ctx = [encode(sl) for sl in chunks]
    gen = torch.Generator().manual_seed(int(seed))
    dims = {"face": cfg.face_dim, "body": cfg.body_dim}
    x = {b: _noise((length, dims[b]), gen, device) for b in BRANCHES}
    x0 = {b: torch.zeros_like(x[b]) for b in BRANCHES}
    caches: list[dict] = [{} for _ in chunks]
    ab = alphas_cumprod()
    plan = settings.plan()
    total = sum(len(ev) for ev in plan) * len(chunks)
    done = 0
    for event in plan:
        stepping = [b for b in BRANCHES if b in event]
        pred = {b: [] for b in stepping}
        for ci, sl in enumerate(chunks):
            n = len(audio_wins[sl])
            xin, tin = {}, {}
            for b in stepping:
                xw = windows.split(x[b], starts[sl], cfg.window)
                xin[b] = torch.cat([xw, xw]) if guided else xw
                tin[b] = torch.full((len(xin[b]),), event[b][0], device=device, dtype=torch.long)
            spk = None if speaker is None else torch.full((len(ctx[ci]),), speaker, device=device)
            g = torch.full((len(ctx[ci]),), settings.guidance, device=device) if cfg.guidance_embed else None
            with autocast:
                out, caches[ci] = model(xin, tin, ctx[ci], caches[ci], speaker=spk, guidance=g)
            for b in stepping:
                o = out[b].float()
                if guided:
                    o = o[n:] + settings.guidance * (o[:n] - o[n:])
                pred[b].append(o)
            done += len(stepping)
            if progress is not None:
                progress(done / total)
        for b in stepping:
            x0[b] = windows.merge(torch.cat(pred[b]), starts, weights, length)
            t, t_next = event[b]
            a_t, a_next = alpha_bar(ab, t), alpha_bar(ab, t_next)
            if t_next < 0:
                x[b] = x0[b]
                continue
            if settings.mode == "ddim":
                eps = (x[b] - a_t ** 0.5 * x0[b]) / (1 - a_t) ** 0.5
            else:
                eps = _noise(x[b].shape, gen, device)
            x[b] = a_next ** 0.5 * x0[b] + (1 - a_next) ** 0.5 * eps
    sigma = {"face": settings.smooth_face, "body": settings.smooth_body}
    return {b: smooth(x[b][:frames], sigma[b]) for b in BRANCHES}
