"""``asynfusion train``: the DDIM teacher (x0-prediction) on BEAT2 windows.

Per batch: a ``decoupled`` fraction draws face and body timesteps independently
(so asynchronous sampling is in-distribution), audio is replaced by the learned
null input with probability ``audio_drop`` (classifier-free guidance; the retrieved
track goes with it), the retrieved track alone is dropped with ``retrieval_drop``,
and the mel axis is warped by a random vocal-tract-length factor (other voices).
The loss is x0 MSE + velocity + acceleration terms on each branch, with the face's
frames weighted by their phones (closures count most), plus the auxiliary viseme
loss (viseme_loss.py) where the takes have phone alignments, and the foot-skate loss
(foot_contact.py) where the capture's feet are planted. Runs on CPU, one GPU, or
under torchrun (DDP).
"""

from __future__ import annotations

import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.nn.parallel import DistributedDataParallel as DDP

from .. import phonetic
from ..audio import FEATURE_DIM, FRICATION_DIM, MOTION_FPS, N_MELS, SPECTRAL_DIM, SUBFRAMES
from ..errors import UserError
from ..model import BRANCHES, AsynFusion, ModelConfig
from ..phonetic import REACH, Probe
from ..schedule import DDIM, Scheduler
from ..weights import TEACHER
from . import common
from . import phones as P
from .args import TrainConfig
from .data import Windows, fit_normaliser, load_split, motion_database, with_mirrors
from .foot_contact import FootSkate
from .viseme_loss import readout_for


def _weighted_mse(a: torch.Tensor, b: torch.Tensor, w: torch.Tensor | None) -> torch.Tensor:
    err = ((a - b) ** 2).mean(-1)
    return err.mean() if w is None else (err * w[:, : err.shape[1]]).sum() / w[:, : err.shape[1]].sum()


def branch_loss(pred: dict[str, torch.Tensor], target: dict[str, torch.Tensor], vel_weight: float,
                acc_weight: float = 0.0, face_weight: torch.Tensor | None = None
                ) -> tuple[torch.Tensor, dict[str, float]]:
    """x0 + velocity + acceleration MSE per branch; face frames weighted (B, T) by their phones."""
    total, parts = 0.0, {}
    for b in BRANCHES:
        w = face_weight if b == "face" else None
        rec = _weighted_mse(pred[b], target[b], w)
        vel = _weighted_mse(torch.diff(pred[b], dim=1), torch.diff(target[b], dim=1), w)
        acc = F.mse_loss(torch.diff(pred[b], 2, dim=1), torch.diff(target[b], 2, dim=1))
        total = total + rec + vel_weight * vel + acc_weight * acc
        parts[b] = float(rec.detach())
    return total, parts


def noised(x0: dict[str, torch.Tensor], t: dict[str, torch.Tensor], scheduler: Scheduler,
           gen: torch.Generator) -> dict[str, torch.Tensor]:
    return {b: scheduler.add_noise(x0[b], scheduler.noise(b, tuple(x0[b].shape), gen).to(x0[b].device), t[b])
            for b in BRANCHES}


def withheld_retrieval(batch: dict[str, torch.Tensor], rate: float, gen: torch.Generator,
                       dropped: torch.Tensor | None = None) -> torch.Tensor | None:
    """The batch's retrieved tracks, zeroed (the normalised mean, "none") for a ``rate``
    fraction of items and for those whose audio is ``dropped``; None without a database."""
    if "retrieved" not in batch:
        return None
    track = batch["retrieved"]
    keep = (torch.rand(track.shape[0], generator=gen) >= rate).to(track.device)
    if dropped is not None:
        keep = keep & ~dropped
    return track * keep[:, None, None]


def warp_voice(audio: torch.Tensor, amount: float, gen: torch.Generator) -> torch.Tensor:
    """Vocal-tract-length perturbation on normalised features: each item's mel axis is
    resampled by a factor in [1 - amount, 1 + amount] (a longer or shorter vocal tract
    moves formants up or down the mel scale), in every block alike; onset, energy and the
    frication cues are left alone."""
    if amount <= 0:
        return audio
    spectral = min(audio.shape[-1], SPECTRAL_DIM) // FEATURE_DIM * FEATURE_DIM
    rest = audio[..., spectral:]                          # frication cues: ratios, not warped
    audio = audio[..., :spectral]
    shape = audio.shape
    audio = audio.reshape(shape[0], -1, FEATURE_DIM)     # (n, T * blocks, 66)
    n = audio.shape[0]
    alpha = 1 + amount * (2 * torch.rand(n, generator=gen) - 1)
    pos = (torch.arange(N_MELS, dtype=torch.float32)[None] * alpha[:, None]).clamp(0, N_MELS - 1).to(audio.device)
    lo = pos.floor().long()
    hi = (lo + 1).clamp(max=N_MELS - 1)
    frac = (pos - lo)[:, None, :]
    mel = audio[..., :N_MELS]
    take = lambda idx: torch.gather(mel, 2, idx[:, None, :].expand(-1, mel.shape[1], -1))  # noqa: E731
    warped = torch.cat([take(lo) * (1 - frac) + take(hi) * frac, audio[..., N_MELS:]], -1).reshape(shape)
    return torch.cat([warped, rest], -1)


def batches(ds: Windows, batch: int, gen: torch.Generator, device):
    while True:
        idx = torch.randint(0, len(ds), (batch,), generator=gen)
        items = [ds[int(i)] for i in idx]
        yield {k: torch.stack([it[k] for it in items]).to(device) for k in items[0]}


def train(cfg: TrainConfig) -> Path:
    d = common.setup_dist(cfg.device)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    if not 0 <= cfg.subframes <= SUBFRAMES:
        raise ValueError(f"--subframes must be from 0 to {SUBFRAMES}, not {cfg.subframes}")
    out = Path(cfg.out)
    split = load_split(cfg.data, cfg.holdout, cache=cfg.cache or str(out / "feature_cache"),
                       heldout_take=cfg.heldout_take)
    if cfg.frication and cfg.subframes != SUBFRAMES:
        raise UserError(f"The frication cues (--frication 1) come after all {SUBFRAMES} sub-frames in the "
                        f"features; train them with --subframes {SUBFRAMES}.")
    audio_dim = FEATURE_DIM * (1 + cfg.subframes) + (SUBFRAMES * FRICATION_DIM if cfg.frication else 0)
    normaliser = fit_normaliser(with_mirrors(split.train, cfg.mirror), audio_dim)
    database = motion_database(with_mirrors(split.train, cfg.mirror), normaliser) if cfg.retrieval else None
    ds = Windows(split.train, normaliser, cfg.window, cfg.stride, mirror=cfg.mirror, database=database,
                 stretch=cfg.stretch, voices=cfg.voices)
    readout = readout_for(ds.face, ds.visemes, cfg.viseme_weight)
    readout = None if readout is None else readout.to(d.device)
    probe = phonetic_probe(ds, cfg) if cfg.phonetic else None
    skate = FootSkate(normaliser, bool(cfg.foot_pelvis)).to(d.device) if cfg.foot_weight else None
    torch.manual_seed(cfg.seed)
    arch = ModelConfig(audio_dim=audio_dim, width=cfg.width, depth=cfg.depth, heads=cfg.heads, window=cfg.window,
                       retrieval=cfg.retrieval, body_lowpass=cfg.body_lowpass, root_lowpass=cfg.root_lowpass,
                       body_audio_lowpass=cfg.body_audio_lowpass,
                       phonetic_classes=0 if probe is None else probe.weight.shape[0],
                       phonetic_reach=REACH if probe is None else probe.reach, dropout=cfg.dropout,
                       dropout_face_only=bool(cfg.dropout_face_only))
    scheduler = Scheduler(DDIM, body_noise_lowpass=cfg.body_noise_lowpass)
    model = AsynFusion(arch).to(d.device)
    if probe is not None:
        model.audio.probe_weight.copy_(probe.weight)
        model.audio.probe_bias.copy_(probe.bias)
    if not cfg.cosync:
        for g in model.cosync_gates():
            g.requires_grad_(False)
    ema = common.EMA(model, cfg.ema)
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=cfg.lr, weight_decay=0.01)
    state = {"step": 0, "history": []}
    if cfg.resume and (out / common.STATE_FILE).is_file():
        state = common.load_checkpoint(out, model, ema, opt)
        if d.main:
            print(f"resumed from {out} at step {state['step']}")
    net = DDP(Denoiser(model)) if d.world > 1 else Denoiser(model)
    gen = torch.Generator().manual_seed(cfg.seed * 1000 + d.rank + 7919 * state["step"])
    data = batches(ds, cfg.batch // d.world or 1, gen, d.device)
    training = {
        "data": f"{cfg.data}: {len(split.train)} takes, {sum(t.frames for t in split.train) / MOTION_FPS:.1f} s "
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
        tf, tb = scheduler.training_timesteps(n, cfg.decoupled, gen)
        t = {"face": tf.to(d.device), "body": tb.to(d.device)}
        x0 = {b: batch[b] for b in BRANCHES}
        drop = (torch.rand(n, generator=gen) < cfg.audio_drop).to(d.device)
        retrieved = withheld_retrieval(batch, cfg.retrieval_drop, gen, drop)
        audio_in = warp_voice(batch["audio"], cfg.vtlp, gen)
        pred = net(noised(x0, t, scheduler, gen), t, audio_in, drop, retrieved=retrieved,
                   phonetic=batch.get("phonetic"))
        loss, parts = branch_loss(pred, x0, cfg.vel_weight, cfg.acc_weight, batch["face_weight"])
        if readout is not None:
            loss = loss + cfg.viseme_weight * readout.loss(pred["face"], batch["viseme"])
        if skate is not None:
            loss = loss + cfg.foot_weight * skate(pred["body"], x0["body"], batch["contact"])
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
            common.save_checkpoint(out, model, ema, opt, TEACHER, normaliser, scheduler, database, state, training)
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

    def forward(self, x, t, feats, drop, guidance=None, retrieved=None, phonetic=None):
        return self.model(x, t, self.model.encode_audio(feats, drop, phonetic), guidance=guidance,
                          retrieved=retrieved)[0]


def phonetic_probe(ds: Windows, cfg) -> Probe:
    """The mouth-shape probe fitted on the training windows' takes; their cross-fitted scores
    become the windows' "phonetic" items (phonetic.py says why). Its augmentations would put
    copies of a piece's speech in the probe that scores it, so they are refused."""
    if cfg.mirror or cfg.voices or cfg.stretch:
        raise UserError("The phonetic probe (--phonetic 1) is cross-fitted on the takes as recorded; "
                        "train it with --no-mirror, --voices 0 and --stretch 0.")
    try:
        probe, crossfit, report = phonetic.fit([a.numpy() for a in ds.audio], [v.numpy() for v in ds.visemes],
                                               len(P.VISEME_NAMES))
    except ValueError:
        raise UserError("The phonetic probe (--phonetic 1) is fitted on the takes' phone alignments, and these "
                        "takes have no TextGrid beside them with every mouth shape; add them, or train with "
                        "--phonetic 0.") from None
    ds.phonetic = [torch.from_numpy(s) for s in crossfit]
    print("phonetic probe, cross-fitted balanced accuracy by ridge strength: "
          + ", ".join(f"{a:g}: {r:.3f}" for a, r in report.items()), flush=True)
    return probe


def run(args) -> int:
    from .args import config_from

    train(config_from(args, TrainConfig))
    return 0
