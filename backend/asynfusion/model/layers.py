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
