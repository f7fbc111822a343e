"""``asynfusion eval``: metrics on the held-out takes for generated motion and the ground truth.

For every held-out segment the generator samples ``--seeds`` motions from the segment's own
audio features; every metric in metrics.py is computed for them and, where it means
something, for the captured motion of the same segment, so each generated number has the
ground truth's own value beside it. Face MSE/LVD and seed diversity compare generated
motion with something, so the ground truth has none (null in the JSON, n/a in the table).
The ground truth's FGD is its distance to the *training* split's ground truth, a different
reference from the generated rows' (the held-out capture), so it is no floor for them: the
take-disjoint ruler (folds.py) is what compares real motion with the baselines. Sampling time
is measured per segment.

The same machinery (``Evaluation``, ``evaluate_generator``) produces the ablation table in
bench/ablations.py.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from .. import audio
from ..audio import MOTION_FPS
from ..core.motion_file import read_motion
from ..errors import UserError
from ..generate import Generator
from ..sampling import SamplerSettings
from ..training.args import DEFAULT_HOLDOUT
from ..training.data import Take, _pairs, load_split
from ..weights import default_weights_dir
from . import metrics as M
from . import motion_stats as S
from .articulation import (FaceProbe, balanced_accuracy, closure_depths, expression_amplitude, jaw_open_stats,
                           loudness, loudness_correlation)
from .motion_ae import MotionAE, load_motion_ae

AMP_GROUPS = tuple(S.GROUPS) + ("root", "heading")
FOOT_KEYS = ("foot_speed", "foot_sliding", "foot_path", "stance_glide", "leg_jerk", "knee_snaps")
JAW_KEYS = ("jaw_p50", "jaw_p90", "jaw_wide")
WRIST_KEYS = ("wrist_slow", "wrist_tremor", "wrist_fast", "wrist_wobble")

METRIC_KEYS = ("bc", "l1div", "l1div_seeds", "face_mse", "lvd", "jitter", "fgd", "fgd_std",
               "sync", "sync_hit", "sync_chance", "sync_xcorr", "sync_lag",
               "viseme", "closure", "expr_amp", "mouth_loudness") + tuple(f"amp_{g}" for g in AMP_GROUPS) + (
               "drift", "pelvis_low", "pelvis_high", "root_sway", "gesture_fd", "gesture_fd_std"
               ) + WRIST_KEYS + FOOT_KEYS + JAW_KEYS
TIMING_KEYS = ("gen_seconds", "motion_seconds", "realtime_factor")
# Read as generated / captured (1.0 = moves like the capture).
RELATIVE_KEYS = ("closure", "expr_amp") + tuple(f"amp_{g}" for g in AMP_GROUPS) + WRIST_KEYS
_LABELS = {
    "bc": "BC (beat consistency, higher = on the beat)",
    "l1div": "L1div (EMAGE, spread of poses)",
    "l1div_seeds": "L1 diversity across seeds",
    "face_mse": "face MSE (expression + jaw)",
    "lvd": "face LVD (velocity difference)",
    "jitter": "jitter (mean jerk, m/s^3)",
    "fgd": "FGD (motion AE features, mean over seeds)",
    "fgd_std": "  its spread over seeds (std)",
    "sync": "face-body sync (above chance)",
    "sync_hit": "  gesture accents with a mouth accent",
    "sync_chance": "  the same at chance",
    "sync_xcorr": "  mouth/gesture cross-correlation",
    "sync_lag": "  its lag (s)",
    "viseme": "viseme read-out (balanced accuracy, chance 0.25)",
    "closure": "lip closure depth at /p b m/",
    "expr_amp": "expression amplitude",
    "mouth_loudness": "mouth openness / loudness correlation",
    "wrist_slow": "wrist speed power 1-2 Hz",
    "wrist_tremor": "wrist speed power 3-6 Hz",
    "wrist_fast": "wrist speed power 6-15 Hz",
    "wrist_wobble": "wrist velocity power 3-6 Hz (per axis: a wobble, not the strokes)",
    "gesture_fd": "gesture FD (2 s windows, low-passed joints)",
    "gesture_fd_std": "  its spread over seeds (std)",
    "foot_speed": "planted feet: median speed (m/s)",
    "foot_sliding": "planted feet: frames sliding > 0.1 m/s",
    "foot_path": "each foot's path per minute (m)",
    "stance_glide": "both feet planted: glide per second (m)",
    "leg_jerk": "legs: rotation jerk, 99th percentile",
    "knee_snaps": "knees: frames with a snap (jerk > 0.1)",
    "jaw_p50": "ARKit jawOpen, median",
    "jaw_p90": "ARKit jawOpen, 90th percentile",
    "jaw_wide": "ARKit jawOpen >= 0.95 (fraction of frames)",
    "drift": "root drift from the start (m)",
    "pelvis_low": "pelvis height, lowest (m)",
    "pelvis_high": "pelvis height, highest (m)",
    "root_sway": "pelvis sway on the floor, 1-3 Hz (m)",
    **{f"amp_{g}": f"amplitude: {g}" for g in AMP_GROUPS},
}


@dataclass
class Segment:
    take: Take
    betas: np.ndarray | None
    joints: np.ndarray           # (N, 55, 3) ground truth
    face: np.ndarray             # (N, 103)
    onsets: np.ndarray           # audio onsets (s) inside BC's trimmed range
    gesture: np.ndarray          # (W, D) the capture's gesture windows (motion_stats.gesture_windows)

    @property
    def frames(self) -> int:
        return self.take.frames


def _weighted(values: list[float], weights: list[float]) -> float | None:
    pairs = [(v, w) for v, w in zip(values, weights) if v is not None and np.isfinite(v) and w > 0]
    if not pairs:
        return None
    v, w = zip(*pairs)
    return float(np.average(v, weights=w))


class Evaluation:
    """The held-out segments, their ground-truth metrics, and the tools to score a generator."""

    def __init__(self, data: str | os.PathLike, holdout: float = DEFAULT_HOLDOUT, cache: str | None = None,
                 smplx_model: str | None = None, mean_vel: str | None = None,
                 fid_model: str | os.PathLike | None = None, heldout_take: str | None = None) -> None:
        self.data = Path(data)
        split = load_split(self.data, holdout=holdout, cache=cache, heldout_take=heldout_take)
        if not split.test:
            raise UserError(f"{self.data} has no held-out takes to evaluate.")
        self.description = split.description
        self.joints = M.JointSource(smplx_model)
        self.mean_vel = self._mean_vel(mean_vel)
        ae_dir = Path(fid_model) if fid_model else default_weights_dir() / "motion_ae"
        self.ae_dir = ae_dir
        self.ae: MotionAE = load_motion_ae(ae_dir)
        betas = self._betas()
        self.segments = [self._segment(t, betas.get(t.name)) for t in split.test]
        self.train = split.train
        self.train_features = np.concatenate([self.ae.features(t.poses) for t in split.train])
        aligned = all(t.visemes is not None for t in split.train + split.test)
        self.probe = FaceProbe.fit([M.face_params(t.poses, t.expressions) for t in split.train],
                                   [t.visemes for t in split.train]) if aligned else None

    def _mean_vel(self, path: str | None) -> np.ndarray:
        p = Path(path) if path else self.data / "mean_vel_smplxflame_30.npy"
        if not p.is_file():
            raise UserError(f"Beat Consistency needs BEAT2's per-joint speed normaliser; {p} does not exist "
                            "(pass --mean-vel PATH/mean_vel_smplxflame_30.npy).")
        v = np.load(p, allow_pickle=False).reshape(-1)
        if v.shape != (55,):
            raise UserError(f"{p} should hold 55 per-joint mean speeds, not {v.shape[0]}.")
        return v

    def _betas(self) -> dict[str, np.ndarray]:
        pairs, _ = _pairs(self.data)
        return {name: np.asarray(read_motion(npz).betas, np.float32) for name, npz, _ in pairs}

    def _segment(self, take: Take, betas) -> Segment:
        joints = self.joints.joints(take.poses, take.trans, betas, take.expressions)
        return Segment(take, betas, joints, M.face_params(take.poses, take.expressions),
                       M.trimmed_onsets(take.wave, take.frames), S.gesture_windows(joints, take.poses))

    # ---------------------------------------------------------------- scoring

    def motion_metrics(self, seg: Segment, poses, expressions, trans) -> dict:
        """Per-sequence metrics of one motion on a segment's audio (generated or captured)."""
        joints = self.joints.joints(poses, trans, seg.betas, expressions)
        face = M.face_params(poses, expressions)
        out = {
            "bc": M.beat_consistency(joints, None, self.mean_vel, onsets=seg.onsets),
            "l1div": M.l1div(joints - np.asarray(trans, np.float64)[:, None]),
            "jitter": M.jitter(joints),
            "features": self.ae.features(poses),
            "joints_local": joints - np.asarray(trans, np.float64)[:, None],
            "face": face,
            "expr_amp": expression_amplitude(expressions),
            "gesture": S.gesture_windows(joints, poses),
        }
        out.update(S.foot_stats(joints))
        out.update(S.leg_jerk(poses))
        out.update(jaw_open_stats(expressions, poses))
        out.update(M.face_body_sync(face, joints, self.mean_vel))
        out.update({f"amp_{k}": v for k, v in S.group_amplitudes(joints, poses).items()})
        out.update({f"wrist_{k}": v for k, v in S.wrist_band_power(joints).items()})
        out["wrist_wobble"] = S.wrist_wobble(joints)
        out.update(S.root_stats(joints))
        if self.probe is not None and seg.take.visemes is not None:
            opening = self.probe.openness(face)
            out["viseme_counts"] = self.probe.readout_counts(face, seg.take.visemes)
            out["closure_depths"] = closure_depths(opening, seg.take.visemes)
            out["mouth_loudness"] = loudness_correlation(opening, loudness(seg.take.wave, seg.frames))
        return out

    def aggregate(self, per_seg: list[list[dict]], reference: np.ndarray | None) -> dict:
        """per_seg[s][k]: metrics of sample k on segment s -> one value per metric key."""
        res: dict[str, float | None] = {k: None for k in METRIC_KEYS}
        trim = int(round(M.BC_TRIM * MOTION_FPS))
        lengths, bc_w, acc_w = [], [], []
        vals: dict[str, list[float]] = {k: [] for k in METRIC_KEYS}
        for seg, samples in zip(self.segments, per_seg):
            for r in samples:
                lengths.append(seg.frames)
                bc_w.append(max(seg.frames - 2 * trim, 0))
                acc_w.append(r["sync_accents"])
                for k in vals:
                    vals[k].append(r.get(k))
        res["bc"] = _weighted(vals["bc"], bc_w)
        for k in ("l1div", "jitter", "sync_xcorr", "sync_lag", "face_mse", "lvd", "expr_amp", "drift", "root_sway",
                  "mouth_loudness") + WRIST_KEYS + tuple(f"amp_{g}" for g in AMP_GROUPS) + FOOT_KEYS + JAW_KEYS:
            res[k] = _weighted(vals[k], lengths)
        flat = [r for samples in per_seg for r in samples]
        res["pelvis_low"] = min(r["pelvis_low"] for r in flat)
        res["pelvis_high"] = max(r["pelvis_high"] for r in flat)
        if all("viseme_counts" in r for r in flat):
            res["viseme"] = balanced_accuracy(sum(r["viseme_counts"] for r in flat))
            depths = np.concatenate([r["closure_depths"] for r in flat])
            res["closure"] = float(depths.mean()) if len(depths) else None
        res["sync_hit"] = _weighted(vals["sync_hit"], acc_w)
        res["sync_chance"] = _weighted(vals["sync_chance"], acc_w)
        if res["sync_hit"] is not None and res["sync_chance"] is not None:
            res["sync"] = res["sync_hit"] - res["sync_chance"]
        div = [M.l1_diversity(np.stack([r["joints_local"] for r in samples])) for samples in per_seg]
        res["l1div_seeds"] = _weighted(div, [s.frames for s in self.segments])
        if reference is not None:   # one distance per seed, then their mean and spread
            seeds = min(len(samples) for samples in per_seg)
            fgd = [M.frechet_distance(np.concatenate([samples[k]["features"] for samples in per_seg]), reference)
                   for k in range(seeds)]
            res["fgd"] = float(np.mean(fgd))
            res["fgd_std"] = float(np.std(fgd)) if seeds > 1 else None
            truth = np.concatenate([s.gesture for s in self.segments])
            gfd = [M.frechet_distance(np.concatenate([samples[k]["gesture"] for samples in per_seg]), truth)
                   for k in range(seeds)]
            res["gesture_fd"] = float(np.mean(gfd))
            res["gesture_fd_std"] = float(np.std(gfd)) if seeds > 1 else None
        return res

    def ground_truth(self) -> dict:
        """The captured motion's own values; FGD against the training split (another reference
        than the generated rows', so not comparable with theirs)."""
        per_seg = [[self.motion_metrics(s, s.take.poses, s.take.expressions, s.take.trans)] for s in self.segments]
        res = self.aggregate(per_seg, self.train_features)
        res["l1div_seeds"] = None          # diversity of the one captured motion: n/a
        return res

    def gt_features(self) -> np.ndarray:
        return np.concatenate([self.ae.features(s.take.poses) for s in self.segments])


@contextlib.contextmanager
def cosync_disabled(model):
    """CoSync gates zeroed for the duration: the branches no longer see each other."""
    saved = [g.detach().clone() for g in model.cosync_gates()]
    try:
        with torch.no_grad():
            for g in model.cosync_gates():
                g.zero_()
        yield
    finally:
        with torch.no_grad():
            for g, s in zip(model.cosync_gates(), saved):
                g.copy_(s)


def _sample_segment(gen: Generator, seg: Segment, settings: SamplerSettings, seed: int, retrieval: bool = True,
                    plant: bool = True) -> tuple[tuple[np.ndarray, np.ndarray, np.ndarray], float]:
    """Sample a segment's (speaker-normalised) audio; the time covers retrieval and sampling."""
    feats = torch.from_numpy(seg.take.feats).to(gen.device)
    _sync(gen.device)
    t0 = time.perf_counter()
    out = gen.sample(feats, torch.zeros_like(feats[0]), settings, seed, retrieval=retrieval)
    _sync(gen.device)
    seconds = time.perf_counter() - t0
    return gen.decode(out, plant), seconds


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def score(ev: Evaluation, motion: Callable[[Segment, int], tuple], seeds: int,
          reference: np.ndarray | None = None, compare_face: bool = True, log=None) -> dict:
    """Metrics of ``seeds`` motions per held-out segment; motion(seg, seed) -> (poses, expr, trans)."""
    reference = ev.gt_features() if reference is None else reference
    per_seg = []
    for seg in ev.segments:
        samples = []
        for seed in range(seeds):
            poses, expressions, trans = motion(seg, seed)
            r = ev.motion_metrics(seg, poses, expressions, trans)
            if compare_face:
                r["face_mse"] = M.face_mse(r["face"], seg.face)
                r["lvd"] = M.lvd(r["face"], seg.face)
            samples.append(r)
        per_seg.append(samples)
        if log is not None:
            log(f"  {seg.take.name} frames {seg.take.start}-{seg.take.start + seg.frames}: {seeds} samples")
    return ev.aggregate(per_seg, reference)


def evaluate_generator(ev: Evaluation, gen: Generator, settings: SamplerSettings, seeds: int = 2,
                       cosync: bool = True, reference: np.ndarray | None = None, log=None,
                       retrieval: bool = True, plant: bool = True) -> dict:
    """Generate ``seeds`` samples per held-out segment and score them -> metrics + timing."""
    ctx = contextlib.nullcontext() if cosync else cosync_disabled(gen.model)
    timing = {"seconds": 0.0, "motion": 0.0}

    def motion(seg: Segment, seed: int):
        out, dt = _sample_segment(gen, seg, settings, seed, retrieval, plant)
        timing["seconds"] += dt
        timing["motion"] += seg.frames / MOTION_FPS
        return out

    with ctx:
        warm = ev.segments[0]          # one untimed pass: first-call allocations are not sampling time
        _sample_segment(gen, replace(warm, take=warm.take.crop(0, min(warm.frames, gen.model.cfg.window))),
                        settings, 0, retrieval)
        res = score(ev, motion, seeds, reference, log=log)
    res.update({"gen_seconds": timing["seconds"], "motion_seconds": timing["motion"],
                "realtime_factor": timing["motion"] / max(timing["seconds"], 1e-9)})
    return res


def voice_features(path: str | os.PathLike) -> np.ndarray:
    """A recording's speaker-normalised model features, as generation computes them."""
    wave = audio.normalise_loudness(audio.load_audio(path))
    return audio.speaker_normalise(audio.audio_features(wave))[0].numpy()


def other_voices(ev: Evaluation, motion: Callable[[np.ndarray, int], tuple], clips: list[Path],
                 truth: dict, seeds: int = 1) -> dict:
    """Speech with no capture (other speakers, readers): how much the body and face move,
    relative to the held-out capture of the training speaker (1.0 = as much)."""
    ratios: dict[str, list[float]] = {}
    for clip in clips:
        feats = voice_features(clip)
        for seed in range(seeds):
            poses, expressions, trans = motion(feats, seed)
            joints = M.forward_kinematics(poses, trans)
            values = {f"amp_{k}": v for k, v in S.group_amplitudes(joints, poses).items()}
            values["expr_amp"] = expression_amplitude(expressions)
            for k, v in values.items():
                if truth.get(k):
                    ratios.setdefault(k, []).append(v / truth[k])
    out = {k: float(np.mean(v)) for k, v in ratios.items()}
    body = [out[f"amp_{g}"] for g in S.GROUPS]
    out["body_min"], out["body_mean"] = float(min(body)), float(np.mean(body))
    return out


def relative(res: dict, truth: dict) -> dict:
    """The RELATIVE_KEYS of ``res`` over the capture's (1.0 = like the capture)."""
    out = {}
    for k in RELATIVE_KEYS:
        a, b = res.get(k), truth.get(k)
        out[k] = None if a is None or not b else a / b
    return out


def eval_settings(gen: Generator, steps_face: int | None, steps_body: int | None,
                     guidance: float | None, synchronous: bool) -> SamplerSettings:
    s = gen.settings(steps_face, steps_body, guidance)
    if synchronous:
        if steps_face and steps_body and steps_face != steps_body:
            raise UserError("--sync steps both branches together; give equal --steps-face and --steps-body.")
        n = steps_face or steps_body or s.steps_face
        s = replace(s, steps_face=n, steps_body=n, body_start=None)   # both from noise, in step
    return s


def describe_settings(gen: Generator, s: SamplerSettings, cosync: bool = True) -> dict:
    return {"weights": str(gen.weights_dir), "kind": gen.kind, "sampler": s.mode, "steps_face": s.steps_face,
            "steps_body": s.steps_body, "body_start": s.body_start,
            "posture_sigma": s.posture_sigma, "posture_parts": list(s.posture_parts),
            "synchronous": s.steps_face == s.steps_body and s.body_start is None, "guidance": s.guidance,
            "face_guidance": s.face_guidance, "closing_guidance": s.closing_guidance, "cosync": cosync,
            "device": gen.device_name}


def finite(v):
    """``v``, or None where it is missing, NaN or infinite (JSON has no NaN; tables print n/a)."""
    return None if v is None or (isinstance(v, float) and not np.isfinite(v)) else v


def json_ready(d: dict) -> dict:
    """A metrics dict for JSON: NaN and infinities as null, arrays (per-seed features) left out."""
    return {k: finite(v) for k, v in d.items() if not isinstance(v, np.ndarray)}


def _fmt(v) -> str:
    if finite(v) is None:
        return "n/a"
    return f"{v:.4g}" if abs(v) < 1000 else f"{v:.1f}"


def table(generated: dict, truth: dict) -> str:
    rows = [f"{'metric':<50} {'generated':>12} {'ground truth':>13} {'gen/truth':>10}"]
    rel = relative(generated, truth)
    for k in METRIC_KEYS:
        ratio = _fmt(rel[k]) if k in rel else ""
        rows.append(f"{_LABELS[k]:<50} {_fmt(generated.get(k)):>12} {_fmt(truth.get(k)):>13} {ratio:>10}")
    rows.append(f"{'sampling time (s)':<50} {_fmt(generated.get('gen_seconds')):>12}")
    rows.append(f"{'x real time':<50} {_fmt(generated.get('realtime_factor')):>12}")
    return "\n".join(rows)


def run(args) -> int:
    if getattr(args, "threads", 0):
        torch.set_num_threads(args.threads)
    if args.seeds < 1:
        raise UserError("--seeds must be at least 1.")
    log = lambda msg: print(msg, file=sys.stderr, flush=True)  # noqa: E731
    gen = Generator(args.weights, args.device)
    settings = eval_settings(gen, args.steps_face, args.steps_body, args.guidance, args.sync)
    cosync = not getattr(args, "no_cosync", False)
    ev = Evaluation(args.data, args.holdout, args.cache, args.smplx_model, args.mean_vel, args.fid_model)
    log(f"held out: {ev.description}; {len(ev.segments)} segments, "
        f"{sum(s.frames for s in ev.segments) / MOTION_FPS:.1f} s; joints: {ev.joints.label}")
    truth = ev.ground_truth()
    generated = evaluate_generator(ev, gen, settings, args.seeds, cosync, log=log)
    result = {
        "data": str(args.data),
        "split": ev.description,
        "segments": [{"take": s.take.name, "start": s.take.start, "frames": s.frames} for s in ev.segments],
        "joints": ev.joints.label,
        "fid_model": str(ev.ae_dir),
        "seeds": args.seeds,
        "settings": describe_settings(gen, settings, cosync),
        "generated": json_ready(generated),
        "ground_truth": json_ready(truth),
    }
    print(f"joints: {ev.joints.label}; {args.seeds} seed(s); {settings.mode} "
          f"{settings.steps_face}+{settings.steps_body} steps{'' if cosync else ', CoSync off'}")
    print(table(generated, truth))
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(result, indent=1) + "\n")
    return 0
