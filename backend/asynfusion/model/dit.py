"""Dual-branch diffusion transformer (face, body) coupled by CoSync cross-attention.

Each block of each branch: self-attention -> CoSync cross-attention to the other
branch (zero-initialised gate, local temporal band) -> additive audio -> MLP,
with adaLN-Zero driven by that branch's *own* timestep, so the two branches can
sit at different noise levels. A branch that is not evaluated in a call reads
the other branch's CoSync keys/values from a cache: that is what makes
asynchronous sampling cost steps_face*cost_face + steps_body*cost_body.
"""

from __future__ import annotations

from typing import cast

import torch
from torch import nn

from ..phonetic import scores as probe_scores
from .config import ModelConfig
from .layers import Attention, ScalarEmbedding, band_mask, gaussian_taps, modulate, positions, temporal_lowpass

BRANCHES = ("face", "body")
KVCache = dict[str, list[tuple[torch.Tensor, torch.Tensor]]]


class Block(nn.Module):
    def __init__(self, cfg: ModelConfig, dropout: float = 0.0) -> None:
        super().__init__()
        w = cfg.width
        self.norm1 = nn.LayerNorm(w, elementwise_affine=False, eps=1e-6)
        self.self_attn = Attention(w, cfg.heads)
        self.norm_kv = nn.LayerNorm(w, eps=1e-6)
        self.norm_q = nn.LayerNorm(w, eps=1e-6)
        self.cosync = Attention(w, cfg.heads)
        self.cosync_gate = nn.Parameter(torch.zeros(w))    # closed at init: branches start independent
        self.audio = nn.Linear(w, w)
        self.norm2 = nn.LayerNorm(w, elementwise_affine=False, eps=1e-6)
        self.mlp = nn.Sequential(nn.Linear(w, cfg.mlp_ratio * w), nn.GELU(approximate="tanh"),
                                 nn.Linear(cfg.mlp_ratio * w, w))
        self.drop = nn.Dropout(dropout)         # in training only: an identity in eval mode
        ada = nn.Linear(w, 6 * w)
        self.ada = nn.Sequential(nn.SiLU(), ada)
        nn.init.zeros_(ada.weight)
        nn.init.zeros_(ada.bias)

    def attend_self(self, h: torch.Tensor, mod: list[torch.Tensor]) -> torch.Tensor:
        x = modulate(self.norm1(h), mod[0], mod[1])
        h = h + mod[2][:, None] * self.drop(self.self_attn(x, self.self_attn.keys_values(x)))
        return h

    def cosync_kv(self, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """What the *other* branch attends to in this block."""
        return self.cosync.keys_values(self.norm_kv(h))

    def finish(self, h, other_kv, audio, mod, mask) -> torch.Tensor:
        h = h + self.cosync_gate * self.drop(self.cosync(self.norm_q(h), other_kv, mask))
        h = h + self.audio(self.drop(audio))
        x = modulate(self.norm2(h), mod[3], mod[4])
        return h + mod[5][:, None] * self.drop(self.mlp(x))


class Branch(nn.Module):
    def __init__(self, cfg: ModelConfig, dim: int, cond_dim: int = 0, dropout: float = 0.0) -> None:
        super().__init__()
        w = cfg.width
        self.inp = nn.Linear(dim + cond_dim, w)
        self.time = ScalarEmbedding(w)
        self.guidance = ScalarEmbedding(w, scale=100.0) if cfg.guidance_embed else None
        self.blocks = nn.ModuleList(Block(cfg, dropout) for _ in range(cfg.depth))
        self.norm_out = nn.LayerNorm(w, elementwise_affine=False, eps=1e-6)
        ada_out = nn.Linear(w, 2 * w)
        self.ada_out = nn.Sequential(nn.SiLU(), ada_out)
        self.out = nn.Linear(w, dim)
        for layer in (ada_out, self.out):
            nn.init.zeros_(layer.weight)
            nn.init.zeros_(layer.bias)

    def block(self, i: int) -> Block:
        return cast(Block, self.blocks[i])

    def all_blocks(self) -> list[Block]:
        return [self.block(i) for i in range(len(self.blocks))]


class AudioEncoder(nn.Module):
    """Shared temporal encoder of the 30 fps audio features (both branches read it), and with
    ``phonetic_classes`` the scores of a frozen mouth-shape probe (phonetic.py) beside them."""

    probe_weight: torch.Tensor
    probe_bias: torch.Tensor

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        w, k = cfg.width, cfg.audio_kernel
        self.inp = nn.Linear(cfg.audio_dim, w)
        self.convs = nn.ModuleList(nn.Conv1d(w, w, k, padding=k // 2) for _ in range(2))
        self.act = nn.GELU()
        self.null = nn.Parameter(torch.zeros(cfg.audio_dim))  # "no audio", for guidance
        self.phonetic = nn.Linear(cfg.phonetic_classes, w) if cfg.phonetic_classes else None
        if cfg.phonetic_classes:   # fitted before training (training/train.py), then never trained
            self.register_buffer("probe_weight", torch.zeros(cfg.phonetic_classes, cfg.audio_dim,
                                                             2 * cfg.phonetic_reach + 1))
            self.register_buffer("probe_bias", torch.zeros(cfg.phonetic_classes))

    def forward(self, feats: torch.Tensor, drop: torch.Tensor | None = None,
                phonetic: torch.Tensor | None = None) -> torch.Tensor:
        """``phonetic`` (B, T, K): scores to hear instead of the probe's (training's cross-fitted
        ones); dropped audio hears no scores either."""
        if self.phonetic is not None and phonetic is None:
            phonetic = probe_scores(self.probe_weight, self.probe_bias, feats)
        if drop is not None:
            feats = torch.where(drop[:, None, None], self.null.to(feats.dtype), feats)
        h = self.inp(feats)
        if self.phonetic is not None and phonetic is not None:
            if drop is not None:
                phonetic = phonetic * ~drop[:, None, None]
            h = h + self.phonetic(phonetic.to(h.dtype))
        h = h.transpose(1, 2)
        for conv in self.convs:
            h = h + conv(self.act(h))
        return h.transpose(1, 2)


class AsynFusion(nn.Module):
    # the fixed temporal filters, buffers registered in __init__
    body_taps: torch.Tensor
    root_taps: torch.Tensor
    body_audio_taps: torch.Tensor

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.audio = AudioEncoder(cfg)
        self.branches = nn.ModuleDict({
            "face": Branch(cfg, cfg.face_dim, dropout=cfg.dropout),
            "body": Branch(cfg, cfg.body_dim, cfg.body_dim if cfg.retrieval else 0,
                           dropout=0.0 if cfg.dropout_face_only else cfg.dropout),
        })
        self.speaker = nn.Embedding(cfg.n_speakers + 1, cfg.width) if cfg.n_speakers else None
        # the body's fixed temporal filters (ModelConfig): output, root position, audio it hears
        for name, sigma in (("body_taps", cfg.body_lowpass), ("root_taps", cfg.root_lowpass),
                            ("body_audio_taps", cfg.body_audio_lowpass)):
            self.register_buffer(name, gaussian_taps(sigma) if sigma > 0 else torch.ones(1), persistent=False)

    def encode_audio(self, feats: torch.Tensor, drop: torch.Tensor | None = None,
                     phonetic: torch.Tensor | None = None) -> torch.Tensor:
        """(B, T, audio_dim) -> (B, T, width); ``drop`` (B,) bool replaces audio by the null input;
        ``phonetic``: mouth-shape scores to hear instead of the probe's (AudioEncoder)."""
        return self.audio(feats, drop, phonetic)

    def branch(self, name: str) -> Branch:
        return cast(Branch, self.branches[name])

    def _condition(self, name: str, t: torch.Tensor, speaker, guidance) -> torch.Tensor:
        br = self.branch(name)
        c = br.time(t)
        if self.speaker is not None and speaker is not None:
            c = c + self.speaker(speaker)
        if br.guidance is not None:
            if guidance is None:
                raise ValueError("this model needs a guidance scale")
            c = c + br.guidance(guidance)
        return c

    def forward(self, x: dict[str, torch.Tensor], t: dict[str, torch.Tensor], audio: torch.Tensor,
                cache: KVCache | None = None, speaker: torch.Tensor | None = None,
                guidance: torch.Tensor | None = None, retrieved: torch.Tensor | None = None
                ) -> tuple[dict[str, torch.Tensor], KVCache]:
        """Predict clean motion (x0) for the branches present in ``x``.

        x, t: per-branch noisy input (B, T, dim) and timestep (B,). A branch absent
        from ``x`` is not evaluated; its CoSync keys/values come from ``cache``.
        retrieved: (B, T, body_dim) motion-matched body track for a retrieval model
        (zeros, the normalised mean, when absent: what it was trained to read as "none").
        Returns the predictions and the cache refreshed for the evaluated branches.
        """
        run = [b for b in BRANCHES if b in x]
        cache = {b: list(v) for b, v in (cache or {}).items()}
        length = audio.shape[1]
        pos = positions(length, self.cfg.width, audio.device).to(audio.dtype)
        mask = band_mask(length, self.cfg.cosync_window, audio.device)
        heard = {"face": audio, "body": audio}
        if self.cfg.body_audio_lowpass > 0 and "body" in run:
            heard["body"] = temporal_lowpass(audio, self.body_audio_taps)
        h, mods, c = {}, {}, {}
        for b in run:
            br = self.branch(b)
            c[b] = self._condition(b, t[b], speaker, guidance)
            h[b] = br.inp(self._body_input(x[b], retrieved) if b == "body" else x[b]) + pos + heard[b]
            mods[b] = [blk.ada(c[b]).chunk(6, -1) for blk in br.all_blocks()]
            cache[b] = []               # this call's keys/values, block by block
        for i in range(self.cfg.depth):
            for b in run:
                blk = self.branch(b).block(i)
                h[b] = blk.attend_self(h[b], mods[b][i])
                cache[b].append(blk.cosync_kv(h[b]))
            for b in run:
                other = "body" if b == "face" else "face"
                if other not in cache:
                    raise ValueError(f"the {b} branch needs the {other} branch's cached keys/values")
                blk = self.branch(b).block(i)
                h[b] = blk.finish(h[b], cache[other][i], heard[b], mods[b][i], mask)
        out = {}
        for b in run:
            br = self.branch(b)
            shift, scale = br.ada_out(c[b]).chunk(2, -1)
            out[b] = br.out(modulate(br.norm_out(h[b]), shift, scale))
            if b == "body":
                out[b] = self._band_limit(out[b])
        return out, cache

    def _band_limit(self, body: torch.Tensor) -> torch.Tensor:
        """The body's output low-passed, so the network's own frame-to-frame errors cannot
        tremble; the root position (last 3 dims) slower still."""
        if self.cfg.body_lowpass > 0:
            body = temporal_lowpass(body, self.body_taps)
        if self.cfg.root_lowpass > 0:
            body = torch.cat([body[..., :-3], temporal_lowpass(body[..., -3:], self.root_taps)], -1)
        return body

    def _body_input(self, x: torch.Tensor, retrieved: torch.Tensor | None) -> torch.Tensor:
        if not self.cfg.retrieval:
            return x
        return torch.cat([x, torch.zeros_like(x) if retrieved is None else retrieved.to(x.dtype)], -1)

    def cosync_gates(self) -> list[nn.Parameter]:
        return [blk.cosync_gate for b in BRANCHES for blk in self.branch(b).all_blocks()]
