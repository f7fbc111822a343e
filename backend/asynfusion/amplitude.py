"""Gesture amplitude: the body's slower motion scaled per body part by gains the weights carry.

On speech it never trained on, a model trained on one take moves its legs, arms and heading
0.6-0.7x as far as the capture it learnt from, against 0.85-1.0x on its own training speech
(bench/fold_memory.py): unsure of the motion, a few-step sampler settles near the mean. The
gains undo that shrinkage. They are fitted per part by ``asynfusion calibrate``
(training/calibrate.py) on recordings with no capture, other voices than the training
speaker's, so no take that a table reports is used to set them, and are stored in config.json's
sampler section ("amplitude", with the "amplitude_sigma" they were fitted at). Only the motion
slower than a Gaussian of that many frames is scaled: sway, posture and the slowest strokes.
With ``SIGMA`` = 8 frames that is 0.25 Hz at 0.92, 0.5 Hz at 0.70, 1 Hz at 0.25, 2 Hz at
0.004: the 3-6 Hz band, where a wobble would show, is left as the model made it. (3 frames,
tried first, raised the wrists' 3-6 Hz power from 2.2x to 2.8x the capture's on a fold.)
"""

from __future__ import annotations

import torch

from .core.skeleton import BODY_PARTS, ROOT
from .representation import BODY_DIM, BODY_ROT_JOINTS
from .smoothing import smooth

PARTS: dict[str, tuple[int, ...]] = {"heading": (ROOT,), **BODY_PARTS}
SIGMA = 8.0        # frames, what asynfusion calibrate fits gains at


def column_gains(gains: dict[str, float]) -> torch.Tensor:
    """(BODY_DIM,) gain of each body-branch column: a part's joints' 6D rotations take the
    part's gain; parts not named, and the root's translation, 1."""
    unknown = set(gains) - set(PARTS)
    if unknown:
        raise ValueError(f"{', '.join(sorted(unknown))} (the parts are {', '.join(PARTS)})")
    out = torch.ones(BODY_DIM)
    for part, g in gains.items():
        out[part_columns(part)] = float(g)
    return out


def part_columns(part: str) -> list[int]:
    """The body-branch columns of a part's joints' 6D rotations."""
    return [6 * BODY_ROT_JOINTS.index(joint) + i for joint in PARTS[part] for i in range(6)]


def scale_amplitude(body: torch.Tensor, gains: torch.Tensor, frames: int | None = None,
                    sigma: float = SIGMA) -> torch.Tensor:
    """(T, BODY_DIM) body (normalised or not: the scaling is affine per column) with each
    column's motion slower than ``sigma`` frames scaled by ``gains`` about its mean over the
    first ``frames`` frames (the clip without padding); the faster rest unchanged."""
    slow = smooth(body, sigma)
    mean = slow[: frames or body.shape[0]].mean(0)
    return body + (gains.to(body) - 1.0) * (slow - mean)
