"""Long audio as overlapping windows that go through the model as one batch.

Windows are fused back into one sequence after *every* denoising step (each frame
is the weighted mean of the windows that cover it, with weights that fade in and
out across the overlap), so neighbouring windows agree on the shared frames
long before the last step and no seam is left to hide.
"""

from __future__ import annotations

import math

import torch


def plan_windows(frames: int, window: int, overlap: int) -> list[int]:
    """Start frames of windows covering ``frames``; the last one ends at the end."""
    if not 0 <= overlap < window:
        raise ValueError("overlap must be in [0, window)")
    if frames <= window:
        return [0]
    stride = window - overlap
    starts = list(range(0, frames - window, stride))
    starts.append(frames - window)
    return starts


def padded_length(frames: int, window: int) -> int:
    """Clips shorter than one window are generated at window length, then cropped."""
    return max(frames, window)


def window_weights(starts: list[int], window: int, overlap: int, device=None) -> torch.Tensor:
    """(n, window) weights: a sin^2 fade over each overlap, flat elsewhere."""
    w = torch.ones(len(starts), window, device=device)
    if overlap > 0 and len(starts) > 1:
        i = torch.arange(overlap, device=device, dtype=torch.float32)
        ramp = torch.sin(0.5 * math.pi * (i + 0.5) / overlap) ** 2
        w[1:, :overlap] = ramp
        w[:-1, window - overlap:] = ramp.flip(0)
    return w


def split(seq: torch.Tensor, starts: list[int], window: int) -> torch.Tensor:
    """(L, D) -> (n, window, D) views stacked."""
    return torch.stack([seq[s:s + window] for s in starts])


def merge(wins: torch.Tensor, starts: list[int], weights: torch.Tensor, length: int) -> torch.Tensor:
    """(n, window, D) -> (L, D): per-frame weighted mean of the covering windows."""
    window, dim = wins.shape[1], wins.shape[2]
    idx = (torch.tensor(starts, device=wins.device)[:, None]
           + torch.arange(window, device=wins.device)[None]).reshape(-1)
    acc = wins.new_zeros(length, dim).index_add_(0, idx, (wins * weights[..., None].to(wins.dtype)).reshape(-1, dim))
    norm = wins.new_zeros(length).index_add_(0, idx, weights.reshape(-1).to(wins.dtype))
    return acc / norm[:, None]
