"""``asynfusion distill``: latent-consistency distillation (MotionLCM's recipe, two branches).

Per batch, each branch draws its own timestep t_n on the student scheduler's DDIM grid
(t = skip-1, 2*skip-1, ..., 999; a ``decoupled`` fraction draws the two
independently, the rest share one) and a guidance scale w ~ U[w_min, w_max].
The student's scheduler (kind "lcm", its grid) is saved with it, so it is sampled
on the grid it was distilled on. Teacher and student read the same retrieved track.
The frozen teacher, with classifier-free guidance at w, takes one DDIM step
t_n -> t_n - skip on each branch; the EMA target network maps that point to
clean motion (at t_n - skip < 0 the point *is* the clean estimate: the
consistency boundary condition); the student, conditioned on w through its
guidance embedding, must map x_{t_n} to the same thing (pseudo-Huber loss).
The student starts as a copy of the teacher with a zero-initialised guidance
embedding. With w_min == w_max the guidance is baked in instead: the student has no
guidance input and is sampled at the scale it was distilled with (a student trained on
two minutes of data learned to ignore its guidance input: 0.03-0.06 RMS between w = 1
and 4, against 0.5-1.1 between two seeds).
A baked-in student may take the face at a guidance of its own (``w_face``): on the folds'
teachers, guidance deepens the /p b m/ closures steadily (w 1, 3, 5, 8: 0.48, 0.71, 0.93,
1.41 of the capture's on one fold, 0.37, 0.64, 0.91, 1.52 on the other), though a 400-step
student at w_face 5 follows it only a little (bench/face_guidance.py, weights/MODEL_CARD.md).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from ..errors import UserError
from ..model import BRANCHES, AsynFusion
from ..representation import Normaliser
from ..retrieval import MotionDatabase
from ..sampling import guided, with_unconditional_track
from ..schedule import DDIM, LCM, Scheduler
from ..weights import STUDENT, TEACHER, load_weights
from . import common
from .args import DistillConfig
from .data import Windows, load_split
from .train import Denoiser, batches, noised, phonetic_probe, warp_voice, withheld_retrieval

TARGET_FILE = "target.safetensors"   # the consistency target's weights, for resuming


def make_student(teacher: AsynFusion, guidance_input: bool = True) -> AsynFusion:
    student = AsynFusion(replace(teacher.cfg, guidance_embed=guidance_input))
    missing, unexpected = student.load_state_dict(teacher.state_dict(), strict=False)
    assert not unexpected and all(".guidance." in k for k in missing), (missing, unexpected)
    if not guidance_input:
        return student
    with torch.no_grad():
        for b in BRANCHES:
            last = student.branches[b].guidance.mlp[2]
            last.weight.zero_()
            last.bias.zero_()
    return student


@torch.no_grad()
def teacher_step(teacher: AsynFusion, scheduler: Scheduler, x_t, t, t_prev, feats, w: dict[str, torch.Tensor],
                 retrieved=None, phonetic=None) -> dict[str, torch.Tensor]:
    """One guided DDIM step t -> t_prev per branch, each at its own guidance ``w[branch]``
    (t_prev < 0: the clean estimate); ``phonetic``: cross-fitted probe scores to hear."""
    n = feats.shape[0]
    drop = torch.arange(2 * n, device=feats.device) >= n
    ctx = teacher.encode_audio(torch.cat([feats, feats]), drop,
                               None if phonetic is None else torch.cat([phonetic, phonetic]))
    cond_track = None if retrieved is None else with_unconditional_track(retrieved)
    out, _ = teacher({b: torch.cat([x_t[b], x_t[b]]) for b in BRANCHES},
                     {b: torch.cat([t[b], t[b]]) for b in BRANCHES}, ctx, retrieved=cond_track)
    x_prev = {}
    for b in BRANCHES:
        x0 = guided(out[b], n, w[b][:, None, None])
        x_prev[b] = scheduler.step(x_t[b], x0, t[b], t_prev[b], kind=DDIM)
    return x_prev


@torch.no_grad()
def consistency_target(target: AsynFusion, x_prev, t_prev, feats, w, retrieved, phonetic=None
                       ) -> dict[str, torch.Tensor]:
    """What the student must output at x_t: the EMA target network's clean estimate at the
    teacher's next point; where that point is already clean (t_prev < 0), the point itself
    (the consistency boundary condition)."""
    tgt, _ = target(x_prev, {b: t_prev[b].clamp(min=0) for b in BRANCHES},
                    target.encode_audio(feats, None, phonetic), guidance=w, retrieved=retrieved)
    return {b: torch.where((t_prev[b] < 0)[:, None, None], x_prev[b], tgt[b]) for b in BRANCHES}


def pseudo_huber(a: torch.Tensor, b: torch.Tensor, c: float) -> torch.Tensor:
    return (torch.sqrt((a - b) ** 2 + c * c) - c).mean()


@dataclass
class _Run:
    """Everything a distillation run holds between steps."""

    teacher: AsynFusion
    student: AsynFusion
    target: AsynFusion                  # the consistency target: an EMA of the student
    target_ema: common.EMA
    scheduler: Scheduler                # the student's: kind "lcm" on the teacher's grid every ``skip`` steps
    opt: torch.optim.Optimizer
    normaliser: Normaliser
    database: MotionDatabase | None
    training: dict                      # the teacher's training notes, with this distillation's added
    state: dict


def _prepare(cfg: DistillConfig, d: common.Dist, out: Path) -> tuple[_Run, Windows]:
    """Teacher (frozen), student and target (copies of it), their data, and a resumed state."""
    tw = load_weights(cfg.teacher, d.device)
    if tw.kind != TEACHER:
        raise SystemExit(f"{cfg.teacher} holds a {tw.kind} model; distil a teacher")
    teacher, normaliser, database = tw.model, tw.normaliser, tw.database
    teacher.requires_grad_(False)
    scheduler = replace(tw.scheduler, kind=LCM, origin_steps=tw.scheduler.num_train_steps // cfg.skip)
    split = load_split(cfg.data, cfg.holdout, cache=cfg.cache or str(out / "feature_cache"),
                       heldout_take=cfg.heldout_take)
    ds = Windows(split.train, normaliser.to("cpu"), teacher.cfg.window, cfg.stride, mirror=cfg.mirror,
                 database=database, stretch=cfg.stretch, voices=cfg.voices)
    if teacher.cfg.phonetic_classes:   # the teacher's probe, refitted on the same takes: the same scores
        probe = phonetic_probe(ds, cfg)
        if not torch.allclose(probe.weight.to(d.device), teacher.audio.probe_weight, rtol=1e-3, atol=1e-5):
            raise UserError(f"The teacher's phonetic probe was fitted on other takes than these ({split.description}); "
                            "distil on the data and split the teacher was trained on.")
    guidance_input = cfg.w_max > cfg.w_min
    student = make_student(teacher.cpu(), guidance_input).to(d.device)
    teacher.to(d.device)
    target = make_student(teacher, guidance_input).to(d.device)
    target.load_state_dict(student.state_dict())
    target.requires_grad_(False)
    target_ema = common.EMA(target, cfg.ema)
    opt = torch.optim.AdamW(student.parameters(), lr=cfg.lr, weight_decay=0.0)
    state = {"step": 0, "history": []}
    if cfg.resume and (out / common.STATE_FILE).is_file():
        state = common.load_checkpoint(out, student, None, opt)
        target_ema.shadow = load_file(str(out / TARGET_FILE), device=str(d.device))
        target_ema.copy_to(target)
    training = dict(tw.config.get("training", {}))
    training["distillation"] = {k: v for k, v in vars(cfg).items() if k not in ("device", "resume", "cache")}
    return _Run(teacher, student, target, target_ema, scheduler, opt, normaliser, database, training, state), ds


def _step(run: _Run, net: torch.nn.Module, batch: dict, cfg: DistillConfig, gen: torch.Generator, device
          ) -> torch.Tensor:
    """One consistency-distillation step on a batch; returns the loss."""
    n = batch["face"].shape[0]
    sch = run.scheduler
    tf, tb = sch.training_timesteps(n, cfg.decoupled, gen, on_grid=True)
    t = {"face": tf.to(device), "body": tb.to(device)}
    t_prev = {b: t[b] - sch.skip for b in BRANCHES}
    w = (cfg.w_min + (cfg.w_max - cfg.w_min) * torch.rand(n, generator=gen)).to(device)
    w_branch = {"face": torch.full_like(w, cfg.w_face) if cfg.w_face else w, "body": w}
    x_t = noised({b: batch[b] for b in BRANCHES}, t, sch, gen)
    feats = warp_voice(batch["audio"], cfg.vtlp, gen)
    retrieved = withheld_retrieval(batch, cfg.retrieval_drop, gen)
    phonetic = batch.get("phonetic")
    x_prev = teacher_step(run.teacher, sch, x_t, t, t_prev, feats, w_branch, retrieved, phonetic)
    tgt = consistency_target(run.target, x_prev, t_prev, feats, w, retrieved, phonetic)
    pred = net(x_t, t, feats, None, guidance=w, retrieved=retrieved, phonetic=phonetic)
    loss = sum(pseudo_huber(pred[b], tgt[b], cfg.huber_c) for b in BRANCHES)
    run.opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(run.student.parameters(), 1.0)
    run.opt.step()
    return loss.detach()


def _save(run: _Run, out: Path, steps: int, seconds: float) -> None:
    """Ship the student itself; its EMA, the consistency target, is kept beside it for resuming."""
    run.training["distill_steps"] = steps
    run.training["distill_seconds"] = round(seconds, 1)
    w = run.training["distillation"]
    common.save_checkpoint(out, run.student, None, run.opt, STUDENT, run.normaliser.to("cpu"), run.scheduler,
                           run.database, run.state, run.training,
                           guidance=w["w_min"] if w["w_min"] == w["w_max"] else None)   # baked in: that one
    save_file({k: v.cpu().contiguous() for k, v in run.target_ema.shadow.items()}, str(out / TARGET_FILE))
    common.plot_losses(run.state["history"], out / "loss.png", "consistency distillation loss")


def check_options(cfg: DistillConfig) -> None:
    """Option combinations distillation cannot honour, as one sentence each."""
    if cfg.w_face and cfg.w_max > cfg.w_min:
        raise UserError("A face guidance of its own (--w-face) needs the guidance baked in (--w-min equal to "
                        "--w-max); leave --w-face at 0 to distil a student with a guidance input.")


def distill(cfg: DistillConfig) -> Path:
    check_options(cfg)
    d = common.setup_dist(cfg.device)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    out = Path(cfg.out)
    run, ds = _prepare(cfg, d, out)
    net: torch.nn.Module = Denoiser(run.student)
    if d.world > 1:
        from torch.nn.parallel import DistributedDataParallel as DDP

        net = DDP(net)
    gen = torch.Generator().manual_seed(cfg.seed * 1000 + d.rank + 7919 * run.state["step"])
    data = batches(ds, max(1, cfg.batch // d.world), gen, d.device)
    bar = common.Progress(cfg.steps, run.state["step"]) if d.main else None
    t0 = time.monotonic()
    run.student.train()
    for step in range(run.state["step"], cfg.steps):
        for g in run.opt.param_groups:
            g["lr"] = common.cosine_lr(step, cfg.steps, cfg.lr, warmup=100)
        loss = _step(run, net, next(data), cfg, gen, d.device)
        run.target_ema.update(run.student, step, warmup=False)
        run.target_ema.copy_to(run.target)
        lv = common.all_mean(float(loss), d)
        run.state["step"] = step + 1
        run.state["history"].append([step + 1, lv])
        if bar:
            bar(step + 1, lv)
        if d.main and ((step + 1) % cfg.save_every == 0 or step + 1 == cfg.steps):
            _save(run, out, step + 1, time.monotonic() - t0)
    if bar:
        bar.close()
    common.cleanup_dist()
    return out


def run(args) -> int:
    from .args import config_from

    distill(config_from(args, DistillConfig))
    return 0
