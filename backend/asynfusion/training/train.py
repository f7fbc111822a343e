"""``asynfusion train``: the DDIM teacher (x0-prediction) on BEAT2 windows.

Per batch: a ``decoupled`` fraction draws face and body timesteps independently
(so asynchronous sampling is in-distribution), audio is replaced by the learned
null input with probability ``audio_drop`` (classifier-free guidance), and the
loss is x0 MSE + a velocity term on each branch. Runs on CPU, one GPU, or under
torchrun (DDP).
"""

from __future__ import annotations

import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.nn.parallel import DistributedDataParallel as DDP

from ..model import BRANCHES, AsynFusion, ModelConfig
from ..schedule import alphas_cumprod, training_timesteps
from . import common
from .args import TrainConfig
from .data import Windows, fit_normaliser, load_split


def branch_loss(pred: dict[str, torch.Tensor], target: dict[str, torch.Tensor], vel_weight: float
                ) -> tuple[torch.Tensor, dict[str, float]]:
    total, parts = 0.0, {}
    for b in BRANCHES:
        rec = F.mse_loss(pred[b], target[b])
        vel = F.mse_loss(torch.diff(pred[b], dim=1), torch.diff(target[b], dim=1))
        total = total + rec + vel_weight * vel
        parts[b] = float(rec.detach())
    return total, parts


def noised(x0: dict[str, torch.Tensor], t: dict[str, torch.Tensor], ab: torch.Tensor,
           gen: torch.Generator) -> dict[str, torch.Tensor]:
    out = {}
    for b in BRANCHES:
        a = ab.to(x0[b].device)[t[b]][:, None, None]
        noise = torch.randn(x0[b].shape, generator=gen).to(x0[b].device)
        out[b] = a.sqrt() * x0[b] + (1 - a).sqrt() * noise
    return out


def batches(ds: Windows, batch: int, gen: torch.Generator, device):
    while True:
        idx = torch.randint(0, len(ds), (batch,), generator=gen)
        items = [ds[int(i)] for i in idx]
        yield {k: torch.stack([it[k] for it in items]).to(device) for k in items[0]}


def train(cfg: TrainConfig) -> Path:
    d = common.setup_dist(cfg.device)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    out = Path(cfg.out)
    split = load_split(cfg.data, cfg.holdout, cache=cfg.cache or str(out / "feature_cache"))
    fit_on = split.train + ([t.mirror() for t in split.train] if cfg.mirror else [])
    normaliser = fit_normaliser(fit_on)
    ds = Windows(split.train, normaliser, cfg.window, cfg.stride, mirror=cfg.mirror)
    torch.manual_seed(cfg.seed)
    arch = ModelConfig(width=cfg.width, depth=cfg.depth, heads=cfg.heads, window=cfg.window)
    model = AsynFusion(arch).to(d.device)
    ema = common.EMA(model, cfg.ema)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=0.01)
    state = {"step": 0, "history": []}
    if cfg.resume and (out / common.STATE_FILE).is_file():
        state = common.load_checkpoint(out, model, ema, opt)
        if d.main:
            print(f"resumed from {out} at step {state['step']}")
    net = DDP(Denoiser(model)) if d.world > 1 else Denoiser(model)
    gen = torch.Generator().manual_seed(cfg.seed * 1000 + d.rank + 7919 * state["step"])
    ab = alphas_cumprod()
    data = batches(ds, cfg.batch // d.world or 1, gen, d.device)
    training = {
        "data": f"{cfg.data}: {len(split.train)} takes, {sum(t.frames for t in split.train) / 30:.1f} s "
                f"for training ({split.description}); mirror augmentation {'on' if cfg.mirror else 'off'}",
        "licence": "CC BY-NC 4.0 (BEAT2): non-commercial use only",
        "config": {k: v for k, v in vars(cfg).items() if k not in ("device", "resume", "cache")},
    }
    bar = common.Progress(cfg.steps, state["step"]) if d.main else None
    model.train()
    t0 = time.monotonic()
    for step in range(state["step"], cfg.steps):
        for g in opt.param_groups:
            g["lr"] = common.cosine_lr(step, cfg.steps, cfg.lr)
        batch = next(data)
        n = batch["face"].shape[0]
        tf, tb = training_timesteps(n, cfg.decoupled, gen)
        t = {"face": tf.to(d.device), "body": tb.to(d.device)}
        x0 = {b: batch[b] for b in BRANCHES}
        drop = (torch.rand(n, generator=gen) < cfg.audio_drop).to(d.device)
        pred = net(noised(x0, t, ab, gen), t, batch["audio"], drop)
        loss, parts = branch_loss(pred, x0, cfg.vel_weight)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        ema.update(model, step)
        lv = common.all_mean(float(loss.detach()), d)
        state["step"] = step + 1
        state["history"].append([step + 1, lv, parts["face"], parts["body"]])
        if bar:
            bar(step + 1, lv)
        if d.main and ((step + 1) % cfg.save_every == 0 or step + 1 == cfg.steps):
            training["steps"] = step + 1
            training["final_loss"] = round(sum(h[1] for h in state["history"][-50:]) / min(50, len(state["history"])), 5)
            training["seconds"] = round(time.monotonic() - t0, 1)
            common.save_checkpoint(out, model, ema, opt, "teacher", normaliser, state, training)
            common.plot_losses(state["history"], out / "loss.png", "teacher training loss")
    if bar:
        bar.close()
    common.cleanup_dist()
    return out


class Denoiser(torch.nn.Module):
    """Audio encoding + both branches in one forward, so DDP sees every parameter's use."""

    def __init__(self, model: AsynFusion) -> None:
        super().__init__()
        self.model = model

    def forward(self, x, t, feats, drop, guidance=None):
        return self.model(x, t, self.model.encode_audio(feats, drop), guidance=guidance)[0]


def run(args) -> int:
    from .args import config_from

    train(config_from(args, TrainConfig))
    return 0
