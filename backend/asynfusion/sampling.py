"""Sampling: the DDIM teacher and the asynchronous LCM student, over windowed audio.

One loop serves both. Each event of the plan steps some branches from t to
t_next: the model predicts clean motion x0 per window, windows are fused into
the whole sequence, and the scheduler moves the branch to t_next (DDIM keeps the
implied noise, LCM re-noises x0 with fresh noise). A branch not stepping in an
event is not evaluated; the other reads its cached CoSync keys/values.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Callable, TypeGuard

import torch

from . import windows
from .amplitude import column_gains, scale_amplitude
from .errors import WeightsError
from .model import BRANCHES, AsynFusion
from .posture import DEFAULT_PARTS, POSTURE_PARTS, take_posture
from .schedule import DDIM, LCM, Scheduler, async_plan
from .smoothing import smooth

Progress = Callable[[float], None]
CLOSING = "face_closing"       # the face's harder-guided last estimate (SamplerSettings.closes_further)


@dataclass(frozen=True)
class SamplerSettings:
    mode: str                      # the scheduler's kind: LCM (student) or DDIM (teacher), schedule.py
    steps_face: int
    steps_body: int
    guidance: float
    overlap: int = 30              # frames shared by neighbouring windows
    chunk: int = 32                # windows per forward pass (bounds memory, cancel latency)
    smooth_face: float = 0.0       # optional temporal Gaussian sigma (frames) on the result; 0 = raw
    smooth_body: float = 0.0
    body_start: int | None = None  # SDEdit: the body starts from the retrieved track noised to this timestep
    posture_sigma: float = 0.0     # frames: the slower motion of posture_parts from the track (posture.py)
    posture_parts: tuple[str, ...] = DEFAULT_PARTS   # which parts (posture.POSTURE_PARTS)
    amplitude: tuple[tuple[str, float], ...] = ()   # (body part, gain) of the slower motion (amplitude.py)
    amplitude_sigma: float = 0.0   # frames: what "slower" means for those gains
    face_guidance: float = 1.0     # classifier-free guidance on the face's last step, on top of a student's baked in
    closing_guidance: float = 1.0  # the same pass's guidance where it closes the mouth further (core/mouth.close_as)

    @property
    def guides_face_last(self) -> bool:
        """An unconditional pass at the face's last step only: a sampler that already guides
        every step (DDIM at guidance != 1) has no use for it."""
        return (self.face_guidance != 1.0 or self.closes_further) and not (self.mode == DDIM and self.guidance != 1.0)

    @property
    def closes_further(self) -> bool:
        """A second estimate at the face's last step, guided harder, that the mouth closes as far
        as (the "face_closing" entry sampling returns beside the branches)."""
        return self.closing_guidance > self.face_guidance

    def plan(self, scheduler: Scheduler) -> list[dict[str, tuple[int, int]]]:
        return async_plan(scheduler.set_timesteps(self.steps_face),
                          scheduler.set_timesteps(self.steps_body, self.body_start))


SAMPLER_KEYS = ("steps_face", "steps_body", "guidance", "body_start", "posture_sigma")
SMOOTH_SIGMA = (1.0, 2.0)      # frames (face, body) of the optional temporal Gaussian (--smooth)

# What training writes into a checkpoint's config.json ("sampler") as the settings its weights
# sample with; generation reads the weights' own section (resolve_settings), never this table.
# Why these: the student's body starts from the motion-matched track noised to t=759 (SDEdit): on
# held-out speech this beat starting from pure noise on body FGD, tremor, head and heading
# (bench/ABLATIONS.md). The face takes 6 steps, which close the lips deeper than 4; the body 6
# too: the v5 student (which hears sub-frames) trembles at 3-6 Hz 1.9-2.0x the capture's with 4
# body steps and 1.05-1.07x with 6 (two distillations at guidance 2, 3 seeds each; FGD 53-55
# against 62-66), the shipped one (guidance 3) 1.79x and 1.21x (weights/MODEL_CARD.md). Its spine
# chain takes the posture slower than one cycle per 4 s window from the retrieved track
# (posture.py): sigma 16 frames, the Gaussian whose half-power frequency is 0.25 Hz; since v5.6
# the legs, the heading and the root's place on the floor take theirs too (the stance: on both
# take-disjoint folds the legs' shortfall against the capture lay below 0.3 Hz,
# weights/MODEL_CARD.md). The face's last step is guided only where that closes the mouth: a
# 400-step student closes /p b m/ about as shallowly as its teacher unguided, and guidance that
# deepens the closures also opens the mouth wider around them (a yawn). So the last step's pass
# without audio gives two estimates, unguided (face_guidance 1) and guided at 4 (the largest of
# the sweep 1-4 in bench/face_guidance.py), and each frame's mouth closes as far as the guided
# one and opens only as far as the unguided one (core/mouth.close_as): on both take-disjoint
# folds the closures then reach 0.86 / 0.82 of the capture's depth where guidance 2.5 everywhere
# (v5.4-v5.6) reached 0.80 / 0.66 (the recipe retrained with another seed: 0.67 / 0.61 against
# 0.59 / 0.54), and the mouth opens as the capture's does (jawOpen p90
# 0.56 / 0.57; the capture 0.59 / 0.60; guidance 2.5 0.62 / 0.72). Chosen on the held-out takes the
# model card reports, so tuned on them. A DDIM teacher samples 50 steps a branch at guidance 2.
RECIPE: dict[str, dict[str, float | int | list[str] | None]] = {
    DDIM: {"steps_face": 50, "steps_body": 50, "guidance": 2.0, "body_start": None, "posture_sigma": 0.0},
    LCM: {"steps_face": 6, "steps_body": 6, "guidance": 2.0, "body_start": 759, "posture_sigma": 16.0,
          "posture_parts": ["spine chain", "legs", "heading", "floor position"], "face_guidance": 1.0,
          "closing_guidance": 4.0},
}


def recipe_sampler(mode: str, retrieval: bool, guidance: float | None = None
                   ) -> dict[str, float | int | list[str] | None]:
    """The "sampler" section training saves: RECIPE[mode], with the guidance a student was
    distilled at, and no track-based steps for a model without retrieval."""
    out = dict(RECIPE[mode])
    if guidance is not None:
        out["guidance"] = float(guidance)
    if not retrieval:
        out.update(body_start=None, posture_sigma=0.0)
    return out


def resolve_settings(config: dict, mode: str, steps_face: int | None = None, steps_body: int | None = None,
                     guidance: float | None = None, smoothing: bool = False) -> SamplerSettings:
    """The weights' own sampler settings (their config.json's "sampler"), with the caller's
    choices where given (None: the weights'). The one place defaults come from."""
    saved = config.get("sampler")
    if not isinstance(saved, dict) or any(k not in saved for k in SAMPLER_KEYS):
        raise WeightsError("These weights' config.json has no complete \"sampler\" section (the settings they "
                           "sample with: " + ", ".join(SAMPLER_KEYS) + "); save them again with this version's "
                           "asynfusion train or distill, or add the section by hand.")
    s = SamplerSettings(mode=mode, steps_face=int(saved["steps_face"]), steps_body=int(saved["steps_body"]),
                        guidance=float(saved["guidance"]),
                        body_start=None if saved["body_start"] is None else int(saved["body_start"]),
                        posture_sigma=float(saved["posture_sigma"]), posture_parts=posture_parts(saved),
                        amplitude=amplitude_gains(saved), amplitude_sigma=float(saved.get("amplitude_sigma", 0.0)),
                        face_guidance=face_guidance(saved, "face_guidance"),
                        closing_guidance=face_guidance(saved, "closing_guidance"))
    s = replace(s, steps_face=steps_face or s.steps_face, steps_body=steps_body or s.steps_body,
                guidance=s.guidance if guidance is None else guidance)
    if smoothing:
        s = replace(s, smooth_face=SMOOTH_SIGMA[0], smooth_body=SMOOTH_SIGMA[1])
    return s


def posture_parts(saved: dict) -> tuple[str, ...]:
    """A sampler section's optional "posture_parts" (posture.POSTURE_PARTS' names; the spine
    chain alone where absent, as weights before v5.6 were judged)."""
    parts = saved.get("posture_parts", list(DEFAULT_PARTS))
    if not (isinstance(parts, list) and parts and all(isinstance(p, str) and p in POSTURE_PARTS for p in parts)):
        raise WeightsError("The \"posture_parts\" entry of these weights' sampler section must list some of "
                           + ", ".join(f'"{p}"' for p in POSTURE_PARTS) + "; remove it to take the spine chain's "
                           "posture only.")
    return tuple(parts)


def face_guidance(saved: dict, key: str) -> float:
    """A sampler section's optional guidance of the face's last step, "face_guidance" or
    "closing_guidance" (1 where absent: none)."""
    g = saved.get(key, 1.0)
    if isinstance(g, bool) or not isinstance(g, (int, float)) or not 1.0 <= g <= 10.0:
        raise WeightsError(f"The \"{key}\" entry of these weights' sampler section must be a number from 1 "
                           "to 10; set it to 1 to sample the face without it.")
    return float(g)


def mouth_range(config: dict) -> tuple[float, float] | None:
    """The weights' sampler section's optional "mouth_range" (written by asynfusion calibrate:
    the knee and ceiling of the capture's mouth openings, core/mouth.py limit_opening) as
    (knee, ceiling); None for weights not calibrated, whose faces open as the model makes them."""
    saved = config.get("sampler") or {}
    r = saved.get("mouth_range")
    if r is None:
        return None
    knee, ceiling = (r.get("knee"), r.get("ceiling")) if isinstance(r, dict) else (None, None)
    if not (_finite(knee) and _finite(ceiling) and knee < ceiling):
        raise WeightsError("The \"mouth_range\" entry of these weights' sampler section must hold a \"knee\" below "
                           "a \"ceiling\" (finite numbers); run asynfusion calibrate on them again.")
    return float(knee), float(ceiling)


def _finite(v: object) -> TypeGuard[float]:
    """A real, finite number (not a bool)."""
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def amplitude_gains(saved: dict) -> tuple[tuple[str, float], ...]:
    """A sampler section's optional "amplitude" gains (written by asynfusion calibrate, with the
    "amplitude_sigma" they were fitted at) as SamplerSettings holds them; none for weights not
    calibrated."""
    gains = saved.get("amplitude") or {}
    sigma = saved.get("amplitude_sigma")
    if (not isinstance(gains, dict) or not all(isinstance(v, (int, float)) and 0 < v < 10 for v in gains.values())
            or (gains and not (isinstance(sigma, (int, float)) and 0 < sigma < 100))):
        raise WeightsError("The \"amplitude\" entry of these weights' sampler section must map body parts to "
                           "gains between 0 and 10, beside an \"amplitude_sigma\" in frames; run asynfusion "
                           "calibrate on them again.")
    try:
        column_gains(gains)
    except ValueError as err:
        raise WeightsError(f"These weights' amplitude gains name a body part this version does not know: {err}; "
                           "run asynfusion calibrate on them again.")
    return tuple(sorted((str(k), float(v)) for k, v in gains.items()))


@dataclass(frozen=True)
class Inpaint:
    """Known motion (normalised branches, (T, dim) each) kept outside frames [start, end), which
    are resampled. Inpainting makes the new motion fit its context but not meet it exactly, so
    over ``blend`` frames inside each border the result eases (half a cosine, flat at both ends)
    from the known motion at those frames to the new: a seam moves as smoothly as the take."""
    face: torch.Tensor
    body: torch.Tensor
    start: int
    end: int
    blend: int = 24

    def mask(self, length: int) -> torch.Tensor:
        """(length,) True on the frames to keep: the known ones outside the range (not padding)."""
        idx = torch.arange(length)
        return (idx < self.face.shape[0]) & ((idx < self.start) | (idx >= self.end))

    def ramp(self, length: int) -> torch.Tensor:
        """(length, 1) weight of the new motion: 0 on kept frames, rising to 1 over ``blend``
        frames from each border that has known motion beyond it."""
        idx = torch.arange(length, dtype=torch.float32)
        far = torch.full_like(idx, float(self.blend + 1))
        after_start = idx - self.start + 1 if self.start > 0 else far
        before_end = self.end - idx if self.end < self.face.shape[0] else far
        w = 0.5 - 0.5 * torch.cos(torch.pi * (torch.minimum(after_start, before_end) / (self.blend + 1)).clamp(0, 1))
        return torch.where(self.mask(length), torch.zeros_like(w), w)[:, None]


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
           autocast_dtype: torch.dtype | None = None, inpaint: Inpaint | None = None) -> dict[str, torch.Tensor]:
    """(T, audio_dim) features -> {"face": (T, face_dim), "body": (T, body_dim)}, normalised; with
    ``settings.closes_further`` also "face_closing" (T, face_dim), the face's harder-guided end.

    ``pad_features`` (1, audio_dim): what fills clips shorter than one window (silence).
    ``retrieved`` (T, body_dim): the motion-matched body track a retrieval model reads.
    ``inpaint``: keep its known motion outside its range and resample only the range.
    """
    return sample_many(model, scheduler, feats, settings, [seed], pad_features, [retrieved], speaker, progress,
                       autocast_dtype, inpaint)[0]


@torch.inference_mode()
def sample_many(model: AsynFusion, scheduler: Scheduler, feats: torch.Tensor, settings: SamplerSettings,
                seeds: list[int], pad_features: torch.Tensor, retrieved: list[torch.Tensor | None],
                speaker: int | None = None, progress: Progress | None = None,
                autocast_dtype: torch.dtype | None = None, inpaint: Inpaint | None = None
                ) -> list[dict[str, torch.Tensor]]:
    """``sample`` for several seeds of one clip at once (variations): every model evaluation
    takes all of them in one batch, so N seeds cost one pass per step, not N. Each seed draws
    its own noise in the order ``sample`` does, so a variation is that seed's sample."""
    device = feats.device
    win = _Windows(feats.shape[0], model.cfg.window, settings, device)
    feats = win.pad(feats, pad_features)
    tracks = [None if r is None else win.pad(r.to(device), r[-1:].to(device)) for r in retrieved]
    denoiser = _Denoiser(model, win, feats, tracks, settings, speaker, autocast_dtype)
    plan = settings.plan(scheduler)
    gens = [torch.Generator().manual_seed(int(seed)) for seed in seeds]
    xs = [_start(scheduler, model, win.length, plan, settings, r, g, device) for r, g in zip(tracks, gens)]
    known = None if inpaint is None else _Known(inpaint, win, device)
    if known is not None:
        xs = [{b: known.paste(scheduler, b, x[b], plan[0][b][0], g) for b in BRANCHES} for x, g in zip(xs, gens)]
    if settings.posture_sigma > 0 and any(t is None for t in tracks):
        raise ValueError("taking the posture from the match needs the retrieved track")
    postures = [t if t is None or known is None else known.posture_reference(t) for t in tracks]
    gains = column_gains(dict(settings.amplitude)).to(device) if settings.amplitude else None
    ticks = _Ticks((sum(len(ev) for ev in plan) + settings.guides_face_last) * len(win.chunks), progress)
    for event in plan:
        for x, g, posture, estimates in zip(xs, gens, postures, denoiser.predict(xs, event, ticks)):
            if CLOSING in estimates:        # the face's last step: its harder-guided estimate, as it ends
                closing = estimates.pop(CLOSING)
                x[CLOSING] = closing if known is None else known.join("face", closing)
            for b, x0 in estimates.items():
                if b == "body" and event[b][1] < 0:
                    if posture is not None:
                        x0 = take_posture(x0, posture, settings.posture_sigma, settings.posture_parts)
                    if gains is not None:
                        x0 = scale_amplitude(x0, gains, win.frames, settings.amplitude_sigma)
                x[b] = _step(scheduler, settings.mode, b, x[b], x0, *event[b], g)
                if known is not None:
                    x[b] = known.paste(scheduler, b, x[b], event[b][1], g) if event[b][1] >= 0 else known.join(b, x0)
    sigma = {"face": settings.smooth_face, "body": settings.smooth_body, CLOSING: settings.smooth_face}
    return [{b: smooth(v[:win.frames], sigma[b]) for b, v in x.items()} for x in xs]


def _start(scheduler: Scheduler, model: AsynFusion, length: int, plan: list, settings: SamplerSettings,
           retrieved: torch.Tensor | None, gen: torch.Generator, device) -> dict[str, torch.Tensor]:
    """Each branch's starting point: pure noise, or for an SDEdit body start the retrieved
    track noised to the plan's first body timestep (a guess refined, not motion from nothing)."""
    dims = {"face": model.cfg.face_dim, "body": model.cfg.body_dim}
    x = {b: scheduler.noise(b, (length, dims[b]), gen).to(device) for b in BRANCHES}
    if settings.body_start is not None:
        if retrieved is None:
            raise ValueError("an SDEdit body start needs the retrieved track")
        x["body"] = scheduler.add_noise(retrieved, x["body"], plan[0]["body"][0])
    return x


class _Known:
    """An Inpaint's known motion padded to the windows, and how it enters each step."""

    def __init__(self, inpaint: Inpaint, win: _Windows, device) -> None:
        self.x = {b: win.pad(getattr(inpaint, b).to(device).float(), getattr(inpaint, b)[-1:])
                  for b in BRANCHES}
        self.keep = inpaint.mask(win.length).to(device)[:, None]
        self.ramp = inpaint.ramp(win.length).to(device)

    def paste(self, scheduler: Scheduler, branch: str, x_t: torch.Tensor, t: int, gen: torch.Generator
              ) -> torch.Tensor:
        """The kept frames replaced by the known motion noised to timestep t (itself when t < 0)."""
        noise = scheduler.noise(branch, tuple(x_t.shape), gen).to(x_t.device)
        return torch.where(self.keep, scheduler.add_noise(self.x[branch], noise, t), x_t)

    def posture_reference(self, track: torch.Tensor) -> torch.Tensor:
        """Where a regenerated range takes its posture from: the known motion on the kept frames,
        the new track inside, so the range's slow posture leaves the take's at each border."""
        return torch.where(self.keep, self.x["body"], track)

    def join(self, branch: str, x0: torch.Tensor) -> torch.Tensor:
        """The final motion: the known frames, and in the range the model's estimate eased in."""
        known = self.x[branch]
        return torch.where(self.keep, known, known + self.ramp * (x0 - known))


def _step(scheduler: Scheduler, mode: str, branch: str, x_t: torch.Tensor, x0: torch.Tensor, t: int,
          t_next: int, gen: torch.Generator) -> torch.Tensor:
    """The step rule: LCM re-noises the clean estimate with fresh noise (what consistency
    sampling is), DDIM keeps the noise it implies; the last step returns the estimate."""
    renoise = mode == LCM and t_next >= 0
    fresh = scheduler.noise(branch, tuple(x_t.shape), gen).to(x_t.device) if renoise else None
    return scheduler.step(x_t, x0, t, t_next, fresh, kind=mode)


class _Ticks:
    """Progress as the fraction of (branch, chunk) model evaluations done: the unit of cost."""

    def __init__(self, total: int, progress: Progress | None) -> None:
        self.total, self.done, self.progress = total, 0, progress

    def __call__(self, evaluations: int) -> None:
        self.done += evaluations
        if self.progress is not None:
            self.progress(self.done / self.total)


class _Denoiser:
    """The model over a clip's windows, a chunk at a time: the audio (and retrieved tracks) is
    encoded once, each chunk's CoSync keys/values are kept between events so a branch that
    does not step is not evaluated, classifier-free guidance runs both halves in one batch, and
    several variations (one retrieved track each) share each batch."""

    def __init__(self, model: AsynFusion, win: _Windows, feats: torch.Tensor, retrieved: list[torch.Tensor | None],
                 settings: SamplerSettings, speaker: int | None, autocast_dtype: torch.dtype | None) -> None:
        self.model, self.win, self.settings, self.speaker = model, win, settings, speaker
        self.device = feats.device
        self.guided = settings.mode == DDIM and settings.guidance != 1.0
        self.autocast = (torch.autocast(self.device.type, dtype=autocast_dtype) if autocast_dtype is not None
                         else torch.autocast(self.device.type, enabled=False))
        self.ctx, self.cond = [], []
        with self.autocast:
            for sl in win.chunks:
                a = win.split(feats, sl)
                drop = torch.arange(2 * len(a), device=self.device) >= len(a) if self.guided else None
                self.ctx.append(self.tiled(model.encode_audio(self.doubled(a), drop), len(retrieved)))
                self.cond.append(None if retrieved[0] is None else _retrieved_input(
                    torch.cat([win.split(r, sl) for r in retrieved if r is not None]), self.guided))
        self.caches: list[dict] = [{} for _ in win.chunks]
        self.null_ctx: list[torch.Tensor] = []     # the unconditional pass of the face's last step
        if settings.guides_face_last:
            with self.autocast:
                for sl in win.chunks:
                    a = win.split(feats, sl)
                    null = model.encode_audio(a, torch.ones(len(a), dtype=torch.bool, device=self.device))
                    self.null_ctx.append(self.tiled(null, len(retrieved)))

    def doubled(self, x: torch.Tensor) -> torch.Tensor:
        """Conditional and unconditional halves in one batch when guiding."""
        return torch.cat([x, x]) if self.guided else x

    def tiled(self, x: torch.Tensor, n: int) -> torch.Tensor:
        """A chunk's encoding for ``n`` variations: each half (when guiding) repeated n times."""
        if n == 1:
            return x
        halves = x.chunk(2) if self.guided else (x,)
        return torch.cat([h for h in halves for _ in range(n)])

    def predict(self, xs: list[dict[str, torch.Tensor]], event: dict[str, tuple[int, int]], ticks: _Ticks
                ) -> list[dict[str, torch.Tensor]]:
        """Each variation's clean estimate x0 of each branch stepping in ``event``, windows fused."""
        win, settings, device = self.win, self.settings, self.device
        stepping = [b for b in BRANCHES if b in event]
        pred: dict[str, list[torch.Tensor]] = {b: [] for b in stepping}
        for ci, sl in enumerate(win.chunks):
            n = len(win.starts[sl]) * len(xs)
            xin = {b: self.doubled(torch.cat([win.split(x[b], sl) for x in xs])) for b in stepping}
            tin = {b: torch.full((len(xin[b]),), event[b][0], device=device, dtype=torch.long) for b in stepping}
            batch = len(self.ctx[ci])
            spk = None if self.speaker is None else torch.full((batch,), self.speaker, device=device)
            g = torch.full((batch,), settings.guidance, device=device) if self.model.cfg.guidance_embed else None
            with self.autocast:
                out, self.caches[ci] = self.model(xin, tin, self.ctx[ci], self.caches[ci], speaker=spk, guidance=g,
                                                  retrieved=self.cond[ci])
            for b in stepping:
                o = out[b].float()
                pred[b].append((guided(o, n, settings.guidance) if self.guided else o)
                               .unflatten(0, (len(xs), -1)))
            ticks(len(stepping))
            if self.null_ctx and "face" in stepping and event["face"][1] < 0:
                # the face alone at the same point without audio, beside the body it just read:
                # its last estimate is pushed away from that by face_guidance, and a second one
                # by closing_guidance (the body's keys and values come from the cache, so the
                # extra pass costs the face branch only)
                with self.autocast:
                    unc, _ = self.model({"face": xin["face"]}, {"face": tin["face"]}, self.null_ctx[ci],
                                        self.caches[ci], speaker=spk, guidance=g)
                both = torch.cat([pred["face"][-1].flatten(0, 1), unc["face"].float()])
                if settings.closes_further:
                    pred.setdefault(CLOSING, []).append(guided(both, n, settings.closing_guidance)
                                                        .unflatten(0, (len(xs), -1)))
                pred["face"][-1] = guided(both, n, settings.face_guidance).unflatten(0, (len(xs), -1))
                ticks(1)
        return [{b: win.merge(torch.cat([p[k] for p in got])) for b, got in pred.items()} for k in range(len(xs))]


def _retrieved_input(track: torch.Tensor, guided: bool) -> torch.Tensor:
    return with_unconditional_track(track) if guided else track


def with_unconditional_track(track: torch.Tensor) -> torch.Tensor:
    """The retrieved track for a guided batch: the conditional half reads it, the unconditional
    half sees none (zeros, as in training, where the track is dropped with the audio)."""
    return torch.cat([track, torch.zeros_like(track)])


def guided(out: torch.Tensor, n: int, w: torch.Tensor | float) -> torch.Tensor:
    """Classifier-free guidance on a batch whose first ``n`` rows are conditional and the rest
    unconditional: uncond + w (cond - uncond). The sampler and the distillation's teacher both
    take it from here."""
    cond, unc = out[:n], out[n:]
    return unc + w * (cond - unc)
