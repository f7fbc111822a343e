"""Audio motion matching over the training motion: the body branch's retrieved track.

Two minutes of capture are too little for a network to learn the space of gestures, but
enough to *look them up*. New speech is cut into 1.5 s segments every second; each gets
the database segment whose audio is closest (MFCC-like spectrum shape, onset strength and
energy over the segment) with a cost for a jump in pose from the previous choice, and the
chosen segments are cross-faded over their 0.5 s overlap. Alone this is the plain
motion-matching baseline; the body branch receives the same track as an input and learns
timing, blending and sync with the face on top of it.

A seed picks among the ``top_k`` cheapest segments, so seeds give different motion. The
database ships beside the weights (``motion_db.safetensors``, same licence as the weights).
Everything here is numpy: matching 60 s against the shipped database takes milliseconds.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .audio import FEATURE_DIM, N_MELS

SEGMENT = 45            # frames per matched segment (1.5 s)
HOP = 30                # a new segment every second: 15 frames (0.5 s) of cross-fade
KEY_STEP = 3            # frames between the key's samples inside a segment
N_CEPSTRA = 13
DB_STRIDE = 2           # database segments start every other frame
TOP_K = 4
CONTINUITY = 1.0        # weight of the pose jump against the audio distance (both ~1)
DB_FILE = "motion_db.safetensors"


def _dct_matrix(n_in: int = N_MELS, n_out: int = N_CEPSTRA) -> np.ndarray:
    k = np.arange(n_out)[:, None]
    i = np.arange(n_in)[None]
    return np.cos(np.pi * k * (2 * i + 1) / (2 * n_in)).astype(np.float32)


_DCT = _dct_matrix()


def frame_keys(feats: np.ndarray) -> np.ndarray:
    """(T, >= 66) model audio features -> (T, 15): cepstra of the log-mel, onset, energy
    (of the first block: the features at the frame's time)."""
    feats = np.asarray(feats, np.float32)
    return np.concatenate([feats[:, :N_MELS] @ _DCT.T, feats[:, N_MELS:FEATURE_DIM]], 1)


def _segment_keys(keys: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """(T, K) standardised frame keys -> (len(starts), K * SEGMENT / KEY_STEP)."""
    offsets = np.arange(0, SEGMENT, KEY_STEP)
    return keys[starts[:, None] + offsets[None]].reshape(len(starts), -1)


@dataclass
class MotionDatabase:
    keys: np.ndarray         # (N, 15) frame keys of the database audio
    body: np.ndarray         # (N, body_dim) normalised body-branch features
    source: np.ndarray       # (N,) which original take a frame comes from (mirrors share it)
    frame: np.ndarray        # (N,) the frame's index within that original take
    key_mean: np.ndarray     # (15,) key standardisation, fitted on the database
    key_std: np.ndarray

    @classmethod
    def build(cls, takes: list[tuple[np.ndarray, np.ndarray, int, int]]) -> "MotionDatabase":
        """takes: [(model audio features (T, 66), normalised body (T, D), source id, first frame)]."""
        allk = np.concatenate([frame_keys(f) for f, _, _, _ in takes])
        return cls(allk, np.concatenate([np.asarray(b, np.float32) for _, b, _, _ in takes]),
                   np.concatenate([np.full(len(f), s, np.int32) for f, _, s, _ in takes]),
                   np.concatenate([np.arange(a, a + len(f), dtype=np.int32) for f, _, _, a in takes]),
                   allk.mean(0), allk.std(0) + 1e-3)

    def __post_init__(self) -> None:
        n = len(self.keys)
        ends = np.r_[np.flatnonzero((np.diff(self.source) != 0) | (np.diff(self.frame) != 1)) + 1, n]
        begins = np.r_[0, ends[:-1]]
        self.starts = np.concatenate([np.arange(b, e - SEGMENT + 1, DB_STRIDE) for b, e in zip(begins, ends)
                                      if e - b >= SEGMENT]).astype(np.int64)
        if not len(self.starts):
            raise ValueError(f"the motion database holds no run of {SEGMENT} frames")
        self.seg_keys = _segment_keys(self._standardise(self.keys), self.starts)
        self.mid = self.body[self.starts + (SEGMENT - HOP) // 2]   # pose in the middle of the lead-in

    def _standardise(self, keys: np.ndarray) -> np.ndarray:
        return ((keys - self.key_mean) / self.key_std).astype(np.float32)

    # ------------------------------------------------------------------ files

    def save(self, folder: str | os.PathLike) -> None:
        import torch
        from safetensors.torch import save_file

        tensors = {"keys": self.keys, "body": self.body.astype(np.float16), "source": self.source,
                   "frame": self.frame, "key_mean": self.key_mean, "key_std": self.key_std}
        save_file({k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in tensors.items()},
                  str(Path(folder) / DB_FILE),
                  metadata={"licence": "CC BY-NC 4.0 (BEAT2 motion): non-commercial use only"})

    @classmethod
    def load(cls, folder: str | os.PathLike) -> "MotionDatabase":
        from safetensors.numpy import load_file

        t = load_file(str(Path(folder) / DB_FILE))
        return cls(t["keys"].astype(np.float32), t["body"].astype(np.float32), t["source"], t["frame"],
                   t["key_mean"], t["key_std"])

    # --------------------------------------------------------------- matching

    def match(self, feats: np.ndarray, seed: int = 0, top_k: int = TOP_K,
              exclude: tuple[int, int, int] | None = None) -> np.ndarray:
        """(T, 66) model audio features -> (T, body_dim) retrieved, cross-faded body track.

        ``exclude`` (source, first frame, radius): the query is frames first.. of take
        ``source``; never pick segments of that take starting within ``radius`` frames of
        the query segment (training: a take must not find itself).
        """
        frames = len(feats)
        keys = self._standardise(frame_keys(feats))
        if frames < SEGMENT:
            keys = np.concatenate([keys, np.repeat(keys[-1:], SEGMENT - frames, 0)])
        length = max(frames, SEGMENT)
        q_starts = list(range(0, length - SEGMENT + 1, HOP))
        if q_starts[-1] != length - SEGMENT:
            q_starts.append(length - SEGMENT)
        q_keys = _segment_keys(keys, np.asarray(q_starts))
        rng = np.random.default_rng(seed)
        out = np.zeros((length, self.body.shape[1]), np.float32)
        weight = np.zeros(length, np.float32)
        prev = -1
        for qi, qs in enumerate(q_starts):
            cost = ((self.seg_keys - q_keys[qi]) ** 2).mean(1)
            if prev >= 0:
                lead = qs - q_starts[qi - 1]          # where this segment starts inside the previous one
                held = self.body[prev + lead + (SEGMENT - HOP) // 2]
                cost = cost + CONTINUITY * ((self.mid - held) ** 2).mean(1)
            if exclude is not None:
                src, first, radius = exclude
                near = (self.source[self.starts] == src) & (np.abs(self.frame[self.starts] - first - qs) < radius)
                cost = np.where(near, np.inf, cost)
            k = min(top_k, int(np.isfinite(cost).sum()))
            if k < 1:
                raise ValueError("every database segment is excluded")
            best = np.argpartition(cost, k - 1)[:k]
            pick = self.starts[best[rng.integers(k)]]
            w = _fade(qi, len(q_starts), q_starts)
            out[qs:qs + SEGMENT] += w[:, None] * self.body[pick:pick + SEGMENT]
            weight[qs:qs + SEGMENT] += w
            prev = pick
        return (out / weight[:, None])[:frames]


def _fade(qi: int, count: int, starts: list[int]) -> np.ndarray:
    """Weights of segment ``qi`` over its frames: sin^2 ramps where it overlaps a neighbour."""
    w = np.ones(SEGMENT, np.float32)
    if qi > 0:
        n = starts[qi - 1] + SEGMENT - starts[qi]
        w[:n] = np.sin(0.5 * np.pi * (np.arange(n) + 0.5) / n) ** 2
    if qi + 1 < count:
        n = starts[qi] + SEGMENT - starts[qi + 1]
        w[SEGMENT - n:] = np.minimum(w[SEGMENT - n:], np.cos(0.5 * np.pi * (np.arange(n) + 0.5) / n) ** 2)
    return w
