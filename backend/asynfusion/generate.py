"""The generation pipeline: audio file -> motion file, with progress and cancel.

A Generator holds the loaded model, so the worker loads weights once and serves
many requests warm.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch

from . import __version__, audio, memory
from .core.feet import plant_feet
from .core.mouth import close_as, limit_opening
from .core.motion_file import Motion, non_finite, read_motion, write_motion
from .core.output import check_input
from .core.quaternions import axis_angle_to_quat, quat_to_axis_angle, slerp
from .core.request import GenerateRequest
from .core.skeleton import JAW
from .device import autocast_dtype, describe, resolve_device
from .errors import AudioError, Cancelled, UserError
from .representation import decode, decode_face, motion_to_branches
from .sampling import CLOSING, Inpaint, SamplerSettings, mouth_range, resolve_settings, sample_many
from .schedule import LCM
from .weights import default_weights_dir, load_weights

ProgressFn = Callable[[float, str], None]
AudioFn = Callable[[float], None]      # told the clip's length (seconds) once the audio is read


@dataclass(frozen=True)
class Regenerate:
    """Resample motion frames [start, end) of ``source`` (a motion file made for the same audio)
    and keep every other frame exactly as that file has it."""
    source: str
    start: int
    end: int


@dataclass
class Result:
    path: str
    frames: int
    seconds: float
    device: str
    audio_seconds: float        # time spent decoding audio and computing features
    model_seconds: float        # time spent sampling
    total_seconds: float
    more: tuple[str, ...] = ()  # the variations' files, in the order asked

    @property
    def realtime_factor(self) -> float:
        return self.seconds / max(self.total_seconds, 1e-9)


class Generator:
    def __init__(self, weights: str | os.PathLike | None = None, device: str = "auto") -> None:
        self.device = resolve_device(device)
        self.weights_dir = Path(weights) if weights else default_weights_dir()
        w = load_weights(self.weights_dir, self.device)
        self.model, self.kind, self.normaliser, self.config = w.model, w.kind, w.normaliser, w.config
        self.scheduler, self.database = w.scheduler, w.database
        self.precision = autocast_dtype(self.device)
        self.silence = audio.silence_features(1).to(self.device)
        self.mouth_range = mouth_range(self.config)     # (knee, ceiling) of the capture's openings, or None

    @property
    def baked_guidance(self) -> float | None:
        """The guidance scale a student without a guidance input was distilled at (None otherwise):
        the guidance its config's sampler section names."""
        if self.scheduler.kind != LCM or self.model.cfg.guidance_embed:
            return None
        return resolve_settings(self.config, self.scheduler.kind).guidance

    @property
    def device_name(self) -> str:
        return describe(self.device)

    def settings(self, steps_face: int | None, steps_body: int | None, guidance: float | None,
                 smoothing: bool = False) -> SamplerSettings:
        """The sampler settings these weights were saved with (sampling.resolve_settings), with
        the caller's choices."""
        baked = self.baked_guidance
        if baked is not None and guidance is not None and abs(guidance - baked) > 1e-6:
            raise UserError(f"These weights were distilled with guidance {baked:g} built in, so the guidance "
                            "scale cannot be changed; leave --guidance out (it applies to DDIM teacher weights).")
        s = resolve_settings(self.config, self.scheduler.kind, steps_face, steps_body, guidance, smoothing)
        for name, n in (("face", s.steps_face), ("body", s.steps_body)):
            if not 1 <= n <= 1000:
                raise UserError(f"--steps-{name} must be between 1 and 1000, not {n}.")
        return s

    def run(self, request: GenerateRequest, progress: ProgressFn | None = None,
            cancel: threading.Event | None = None, on_audio: AudioFn | None = None) -> Result:
        """``generate`` as a GenerateRequest (core/request.py) asks it: the worker's and the
        CLI's one way in. Steps and guidance it leaves as None are the weights' own."""
        regeneration = request.regeneration
        return self.generate(request.audio, request.out, seed=request.seed, steps_face=request.steps_face,
                             steps_body=request.steps_body, guidance=request.guidance, speaker=request.speaker,
                             progress=progress, cancel=cancel, smoothing=request.smoothing, on_audio=on_audio,
                             regenerate=None if regeneration is None else Regenerate(*regeneration),
                             more=request.more)

    def generate(self, audio_path: str | os.PathLike, out_path: str | os.PathLike, seed: int = 0,
                 steps_face: int | None = None, steps_body: int | None = None,
                 guidance: float | None = None, speaker: int | None = None,
                 progress: ProgressFn | None = None, cancel: threading.Event | None = None,
                 smoothing: bool = False, on_audio: AudioFn | None = None,
                 regenerate: Regenerate | None = None,
                 more: Sequence[tuple[int, str | os.PathLike]] = ()) -> Result:
        """Write the motion for ``audio_path`` to ``out_path`` (atomically) and describe it;
        with ``regenerate``, only that range is new (inpainted) and the rest is the source's.
        ``more``: further (seed, out path) variations, sampled in the same model batches."""
        settings = self.settings(steps_face, steps_body, guidance, smoothing)
        seeds = [seed] + [int(s) for s, _ in more]
        paths = [Path(out_path)] + [Path(p) for _, p in more]
        for folder in {p.parent for p in paths}:
            if not folder.is_dir():
                raise UserError(f"The output folder {folder} does not exist; create it first.")

        def report(fraction: float, stage: str) -> None:
            if cancel is not None and cancel.is_set():
                raise Cancelled()
            if progress is not None:
                progress(fraction, stage)

        start = time.perf_counter()
        report(0.0, "audio")
        check_input(audio_path, "Audio file", AudioError, "choose a recording")   # before reading a header
        seconds = memory.recording_seconds(audio_path)
        if seconds is not None:
            memory.check(seconds, os.path.basename(os.fspath(audio_path)), len(seeds))
        wave = audio.normalise_loudness(audio.load_audio(audio_path))
        if on_audio is not None:
            on_audio(len(wave) / audio.SAMPLE_RATE)
        raw, offset = audio.speaker_normalise(audio.audio_features(wave, self.device))
        source = None if regenerate is None else self._source(regenerate, audio_path, raw.shape[0])
        audio_done = time.perf_counter()
        report(0.05, "sampling")
        inpaint = None if source is None or regenerate is None else self._inpaint(source, regenerate)
        outs = self.sample_many(raw, offset, settings, seeds, speaker,
                                progress=lambda f: report(0.05 + 0.9 * f, "sampling"), inpaint=inpaint)
        model_done = time.perf_counter()
        motions = [self._to_motion(out, s, settings, audio_path) for out, s in zip(outs, seeds)]
        if source is not None and inpaint is not None and regenerate is not None:
            ease = inpaint.ramp(source.num_frames)[:, 0].numpy().astype(np.float64)
            motions = [_spliced(source, m, regenerate, ease) for m in motions]
        report(0.97, "writing")
        if any(non_finite(m) is not None for m in motions):
            raise UserError("The model produced NaN or infinite motion, so nothing was written; "
                            "check the weights and the guidance setting.")
        for path, motion in zip(paths, motions):
            write_motion(path, motion)
        total = time.perf_counter() - start
        return Result(str(paths[0]), motions[0].num_frames, motions[0].seconds, self.device_name,
                      audio_done - start, model_done - audio_done, total, tuple(str(p) for p in paths[1:]))

    def _source(self, regenerate: Regenerate, audio_path, frames: int) -> Motion:
        """The motion file a range is regenerated in, checked against this audio and range."""
        source = read_motion(regenerate.source)
        name = os.path.basename(regenerate.source)
        digest = source.meta.get("audio_sha256")
        if source.num_frames != frames or (digest is not None and digest != audio.file_digest(audio_path)):
            raise UserError(f"{name} was not made for {os.path.basename(os.fspath(audio_path))}; regenerate a "
                            "range with the audio its take was generated from.")
        if not 0 <= regenerate.start < regenerate.end <= frames:
            raise UserError(f"The range {regenerate.start}-{regenerate.end} is not inside the take's frames "
                            f"0-{frames}; choose a start before the end, both within the take.")
        return source

    def _inpaint(self, source: Motion, regenerate: Regenerate) -> Inpaint:
        """The source's motion as the normalised branches the sampler keeps outside the range."""
        face, body = motion_to_branches(*(torch.from_numpy(a).to(self.device)
                                          for a in (source.poses, source.expressions, source.trans)))
        face, body = self.normaliser.normalise(face, body)
        return Inpaint(face, body, regenerate.start, regenerate.end)

    def retrieve(self, feats: torch.Tensor, seed: int) -> torch.Tensor | None:
        """The motion-matched body track of speaker-normalised features (retrieval models)."""
        if self.database is None:
            return None
        return torch.from_numpy(self.database.match(feats.cpu().numpy(), seed=seed)).to(self.device)

    def sample(self, feats: torch.Tensor, offset: torch.Tensor, settings: SamplerSettings, seed: int,
               speaker: int | None = None, progress=None, retrieval: bool = True,
               inpaint: Inpaint | None = None) -> dict[str, torch.Tensor]:
        """Speaker-normalised (T, >= audio_dim) features and their offset -> normalised face and
        body (sampling.sample)."""
        return self.sample_many(feats, offset, settings, [seed], speaker, progress, retrieval, inpaint)[0]

    def sample_many(self, feats: torch.Tensor, offset: torch.Tensor, settings: SamplerSettings, seeds: list[int],
                    speaker: int | None = None, progress=None, retrieval: bool = True,
                    inpaint: Inpaint | None = None) -> list[dict[str, torch.Tensor]]:
        """``sample`` for several seeds in the same model batches (sampling.sample_many)."""
        pad = self.normaliser.normalise_audio(self.silence[:, : offset.shape[0]] - offset.to(self.silence))
        retrieved = [self.retrieve(feats, seed) if retrieval else None for seed in seeds]
        if retrieved[0] is None:            # nothing to start the body from (or take posture from)
            settings = replace(settings, body_start=None, posture_sigma=0.0)
        return sample_many(self.model, self.scheduler, self.normaliser.normalise_audio(feats), settings, seeds, pad,
                           retrieved, speaker=speaker, progress=progress, autocast_dtype=self.precision,
                           inpaint=inpaint)

    def decode(self, out: dict[str, torch.Tensor], plant: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Normalised branches -> (poses, expressions, trans) with the feet on the floor, the
        mouth closed as far as the harder-guided face says (``face_closing``, core/mouth.py
        close_as) and no wider than the capture's (``mouth_range``, core/mouth.py limit_opening) and,
        with ``plant``, planted feet standing still (core.feet)."""
        poses, expressions, trans = decode(self.normaliser, out["face"], out["body"])
        jaw = slice(3 * JAW, 3 * JAW + 3)
        if CLOSING in out:
            closed, poses[:, jaw] = close_as(expressions, poses[:, jaw], *decode_face(self.normaliser, out[CLOSING]))
            expressions = closed.astype(np.float32)
        if self.mouth_range is not None:
            limited, poses[:, jaw] = limit_opening(expressions, poses[:, jaw], *self.mouth_range)
            expressions = limited.astype(np.float32)
        if plant:
            poses, trans = plant_feet(poses, trans)
        return poses, expressions, trans

    def _to_motion(self, out: dict[str, torch.Tensor], seed: int, settings: SamplerSettings,
                   audio_path) -> Motion:
        poses, expressions, trans = self.decode(out)
        meta = {
            "generator": f"asynfusion {__version__}",
            "model_kind": self.kind,
            "seed": int(seed),
            "sampler": settings.mode,
            "steps_face": settings.steps_face,
            "steps_body": settings.steps_body,
            "body_start": settings.body_start,
            "posture_sigma_frames": settings.posture_sigma,
            "posture_parts": list(settings.posture_parts),
            "amplitude_gains": dict(settings.amplitude),
            "amplitude_sigma_frames": settings.amplitude_sigma,
            "feet_planted": True,
            "mouth_range": None if self.mouth_range is None else list(self.mouth_range),
            "guidance": settings.guidance,
            "face_guidance_last_step": settings.face_guidance if settings.guides_face_last else 1.0,
            "closing_guidance_last_step": settings.closing_guidance if settings.closes_further else 1.0,
            "smoothing_sigma_frames": [settings.smooth_face, settings.smooth_body],
            "audio_file": os.path.basename(os.fspath(audio_path)),
            "audio_sha256": audio.file_digest(audio_path),
        }
        return Motion(poses=poses, expressions=expressions, trans=trans, fps=float(audio.MOTION_FPS), meta=meta)


def _spliced(source: Motion, new: Motion, regenerate: Regenerate, ease: np.ndarray) -> Motion:
    """The source's frames outside the range, bit for bit, and the new ones inside it. The body
    eases from the source's to the new over ``ease`` (the inpainting's ramp, (N,) weight of the
    new motion) once more after decoding: planting the feet (core.feet) moves the legs and root
    of each take its own way, which the easing in the sampler cannot see."""
    inside = slice(regenerate.start, regenerate.end)
    w = ease[inside]
    n = regenerate.end - regenerate.start
    q_old, q_new = (axis_angle_to_quat(np.asarray(m.poses[inside], np.float64).reshape(n, -1, 3))
                    for m in (source, new))
    blended = {
        "poses": quat_to_axis_angle(slerp(q_old, q_new, np.broadcast_to(w[:, None], q_old.shape[:2]))).reshape(n, -1),
        "expressions": new.expressions[inside],
        "trans": source.trans[inside] + w[:, None] * (new.trans[inside] - source.trans[inside]),
    }
    arrays = {}
    for key in ("poses", "expressions", "trans"):
        a = np.array(getattr(source, key), np.float32, copy=True)
        a[inside] = blended[key]
        arrays[key] = a
    meta = dict(new.meta, regenerated=[regenerate.start, regenerate.end],
                source_seed=source.meta.get("seed"), source_file=os.path.basename(regenerate.source))
    return replace(new, poses=arrays["poses"], expressions=arrays["expressions"], trans=arrays["trans"],
                   betas=source.betas, meta=meta)
