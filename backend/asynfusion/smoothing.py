"""Temporal smoothing of generated motion (a Gaussian low-pass along time).

The shipped model is small and trained on two minutes of capture; its samples carry
frame-to-frame tremor that captured motion does not have (mean jerk many times the
ground truth's). A Gaussian of a frame or two removes the tremor and keeps gestures and
syllable-rate mouth motion: sigma = 1 frame at 30 fps passes 5 Hz at ~60 % and damps
15 Hz (Nyquist) to <1 %. It runs on the normalised 6D/expression features, before
decoding, so rotations stay valid.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def gaussian_kernel(sigma: float) -> torch.Tensor:
    """Normalised 1D Gaussian taps out to 3 sigma."""
    radius = max(1, math.ceil(3 * sigma))
    x = torch.arange(-radius, radius + 1, dtype=torch.float32)
    k = torch.exp(-0.5 * (x / sigma) ** 2)
    return k / k.sum()


def smooth(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """(T, D) -> (T, D) low-passed along T; sigma in frames, 0 = unchanged. Ends are mirrored."""
    if sigma <= 0 or x.shape[0] < 2:
        return x
    k = gaussian_kernel(sigma).to(x.device, x.dtype)
    pad = min(len(k) // 2, x.shape[0] - 1)
    k = k[len(k) // 2 - pad: len(k) // 2 + pad + 1]
    k = k / k.sum()
    y = F.pad(x.T[:, None], (pad, pad), mode="reflect")
    return F.conv1d(y, k.view(1, 1, -1)).squeeze(1).T
