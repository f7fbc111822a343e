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
from typing import Callable

import numpy as np
import torch

from . import __version__, audio
from .core.motion_file import Motion, non_finite, write_motion
from .device import autocast_dtype, describe, resolve_device
from .errors import Cancelled, UserError
from .representation import branches_to_motion
from .sampling import SamplerSettings, sample
from .weights import default_weights_dir, load_weights

ProgressFn = Callable[[float, str], None]


@dataclass
class Result:
    path: str
    frames: int
    seconds: float
    device: str
    audio_seconds: float        # time spent decoding audio and computing features
    model_seconds: float        # time spent sampling
    total_seconds: float

    @property
    def realtime_factor(self) -> float:
        return self.seconds / max(self.total_seconds, 1e-9)


class Generator:
    def __init__(self, weights: str | os.PathLike | None = None, device: str = "auto") -> None:
        self.device = resolve_device(device)
        self.weights_dir = Path(weights) if weights else default_weights_dir()
        self.model, self.kind, self.normaliser, self.config = load_weights(self.weights_dir, self.device)
        self.precision = autocast_dtype(self.device)
        self.pad = self.normaliser.normalise_audio(audio.silence_features(1).to(self.device))

    @property
    def device_name(self) -> str:
        return describe(self.device)

    def settings(self, steps_face: int | None, steps_body: int | None, guidance: float | None,
                 smoothing: bool = True) -> SamplerSettings:
        if self.kind == "lcm":
            defaults = SamplerSettings(mode="lcm", steps_face=4, steps_body=2, guidance=2.0)
        else:
            defaults = SamplerSettings(mode="ddim", steps_face=50, steps_body=50, guidance=2.0)
        s = SamplerSettings(
            mode=defaults.mode,
            steps_face=steps_face or defaults.steps_face,
            steps_body=steps_body or defaults.steps_body,
            guidance=defaults.guidance if guidance is None else guidance,
        )
        if not smoothing:
            s = replace(s, smooth_face=0.0, smooth_body=0.0)
        for name, n in (("face", s.steps_face), ("body", s.steps_body)):
            if not 1 <= n <= 1000:
                raise UserError(f"--steps-{name} must be between 1 and 1000, not {n}.")
        return s

    def generate(self, audio_path: str | os.PathLike, out_path: str | os.PathLike, seed: int = 0,
                 steps_face: int | None = None, steps_body: int | None = None,
                 guidance: float | None = None, speaker: int | None = None,
                 progress: ProgressFn | None = None, cancel: threading.Event | None = None,
                 smoothing: bool = True) -> Result:
        """Write the motion for ``audio_path`` to ``out_path`` (atomically) and describe it."""
        settings = self.settings(steps_face, steps_body, guidance, smoothing)
        out_path = Path(out_path)
        if not out_path.parent.is_dir():
            raise UserError(f"The output folder {out_path.parent} does not exist; create it first.")

        def report(fraction: float, stage: str) -> None:
            if cancel is not None and cancel.is_set():
                raise Cancelled()
            if progress is not None:
                progress(fraction, stage)

        start = time.perf_counter()
        report(0.0, "audio")
        wave = audio.normalise_loudness(audio.load_audio(audio_path))
        feats = self.normaliser.normalise_audio(audio.audio_features(wave, self.device))
        audio_done = time.perf_counter()
        report(0.05, "sampling")
        out = sample(self.model, feats, settings, seed, self.pad, speaker=speaker,
                     progress=lambda f: report(0.05 + 0.9 * f, "sampling"),
                     autocast_dtype=self.precision)
        model_done = time.perf_counter()
        motion = self._to_motion(out, seed, settings, audio_path)
        report(0.97, "writing")
        if non_finite(motion) is not None:
            raise UserError("The model produced NaN or infinite motion, so nothing was written; "
                            "check the weights and the guidance setting.")
        write_motion(out_path, motion)
        total = time.perf_counter() - start
        return Result(str(out_path), motion.num_frames, motion.seconds, self.device_name,
                      audio_done - start, model_done - audio_done, total)

    def _to_motion(self, out: dict[str, torch.Tensor], seed: int, settings: SamplerSettings,
                   audio_path) -> Motion:
        face, body = self.normaliser.denormalise(out["face"].float(), out["body"].float())
        poses, expressions, trans = branches_to_motion(face, body, self.normaliser.trans_start)
        meta = {
            "generator": f"asynfusion {__version__}",
            "model_kind": self.kind,
            "seed": int(seed),
            "sampler": settings.mode,
            "steps_face": settings.steps_face,
            "steps_body": settings.steps_body,
            "guidance": settings.guidance,
            "smoothing_sigma_frames": [settings.smooth_face, settings.smooth_body],
            "audio_file": os.path.basename(os.fspath(audio_path)),
            "audio_sha256": audio.file_digest(audio_path),
        }
        return Motion(poses=poses.cpu().numpy().astype(np.float32),
                      expressions=expressions.cpu().numpy().astype(np.float32),
                      trans=trans.cpu().numpy().astype(np.float32), fps=float(audio.MOTION_FPS), meta=meta)
