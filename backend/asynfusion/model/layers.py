"""Small building blocks: embeddings, adaLN modulation, banded attention."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def sinusoid(x: torch.Tensor, dim: int, max_period: float = 10000.0) -> torch.Tensor:
    """(B,) scalars -> (B, dim) sin/cos features (timesteps, guidance scales)."""
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, device=x.device, dtype=torch.float32) / half)
    args = x.float()[:, None] * freqs[None]
    return torch.cat([torch.cos(args), torch.sin(args)], -1)


class ScalarEmbedding(nn.Module):
    """Sinusoid -> MLP, for a diffusion timestep or a guidance scale."""

    def __init__(self, width: int, scale: float = 1.0) -> None:
        super().__init__()
        self.scale = scale
        self.mlp = nn.Sequential(nn.Linear(width, width), nn.SiLU(), nn.Linear(width, width))
        self.width = width

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.mlp(sinusoid(x * self.scale, self.width))


def modulate(x: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    return x * (1 + scale[:, None]) + shift[:, None]


def positions(length: int, width: int, device) -> torch.Tensor:
    return sinusoid(torch.arange(length, device=device), width)


class Attention(nn.Module):
    """Multi-head attention whose keys/values can come from elsewhere (a cache)."""

    def __init__(self, width: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.q = nn.Linear(width, width)
        self.kv = nn.Linear(width, 2 * width)
        self.out = nn.Linear(width, width)

    def split(self, x: torch.Tensor) -> torch.Tensor:
        b, t, d = x.shape
        return x.view(b, t, self.heads, d // self.heads).transpose(1, 2)

    def keys_values(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        k, v = self.kv(x).chunk(2, -1)
        return self.split(k), self.split(v)

    def forward(self, x: torch.Tensor, kv: tuple[torch.Tensor, torch.Tensor],
                mask: torch.Tensor | None = None) -> torch.Tensor:
        q = self.split(self.q(x))
        o = F.scaled_dot_product_attention(q, kv[0], kv[1], attn_mask=mask)
        b, h, t, d = o.shape
        return self.out(o.transpose(1, 2).reshape(b, t, h * d))


def band_mask(length: int, radius: int, device) -> torch.Tensor | None:
    """Boolean (T, T) mask allowing |i - j| <= radius; None when unrestricted."""
    if radius <= 0 or radius >= length:
        return None
    idx = torch.arange(length, device=device)
    return (idx[:, None] - idx[None]).abs() <= radius


def gaussian_taps(sigma: float) -> torch.Tensor:
    """Normalised 1D Gaussian taps out to 3 sigma."""
    radius = max(1, math.ceil(3 * sigma))
    x = torch.arange(-radius, radius + 1, dtype=torch.float32)
    k = torch.exp(-0.5 * (x / sigma) ** 2)
    return k / k.sum()


def temporal_lowpass(x: torch.Tensor, taps: torch.Tensor) -> torch.Tensor:
    """(B, T, D) filtered along T with ``taps``; ends are mirrored. One depthwise convolution
    (each of the D channels filtered alike): 5-12x faster on the CPU than the same filter
    over B * D single-channel rows, and the same numbers."""
    b, t, d = x.shape
    pad = min(len(taps) // 2, t - 1)
    k = taps[len(taps) // 2 - pad: len(taps) // 2 + pad + 1]
    k = (k / k.sum()).to(x.dtype)
    y = F.pad(x.transpose(1, 2), (pad, pad), mode="reflect")
    return F.conv1d(y, k.view(1, 1, -1).expand(d, 1, -1), groups=d).transpose(1, 2)
