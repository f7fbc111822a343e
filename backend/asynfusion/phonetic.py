"""Mouth-shape scores heard in the audio: a ridge probe fitted on the training takes' phones.

On take-disjoint folds a model trained on one minute of one take makes faces that read back
into the four mouth-shape classes (training/phones.py) at 0.53, while a ridge classifier
fitted on the same minute's phone alignments, from the same features with two frames of
context, tells them apart at 0.61-0.68 on the other take (bench/viseme_ceiling.py): the
network learns *when* the mouth moves, the heavily regularised linear map generalises better
in *which* shape. So a model may hear the probe's scores beside the audio (a frozen
convolution in its audio encoder, stored with the weights).

A probe scores its own training frames better than new speech (train 0.78-0.96 against
0.61-0.68), and a network trained on such scores would trust them more than they deserve.
Training therefore feeds **cross-fitted** scores: every take is cut into ``BLOCKS`` pieces and
each piece is scored by a probe fitted without it. The same pieces choose the ridge strength
(the one whose cross-fitted scores read best), so nothing held out is looked at.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

REACH = 2                                   # frames of context each side (the ceiling bench's ±2)
ALPHAS = (30.0, 100.0, 300.0, 1000.0, 3000.0, 10000.0)   # ridge strengths tried, on normalised features
BLOCKS = 4                                  # pieces per take for cross-fitting


@dataclass
class Probe:
    """weight (K, D, 2 * reach + 1): a convolution over normalised (T, D) features; bias (K,)."""

    weight: torch.Tensor
    bias: torch.Tensor

    @property
    def reach(self) -> int:
        return self.weight.shape[-1] // 2


def scores(weight: torch.Tensor, bias: torch.Tensor, feats: torch.Tensor) -> torch.Tensor:
    """(B, T, D) normalised features -> (B, T, K) class scores; the ends repeat the first and
    last frame as context (as the probe was fitted)."""
    reach = weight.shape[-1] // 2
    x = F.pad(feats.transpose(1, 2), (reach, reach), mode="replicate") if reach else feats.transpose(1, 2)
    return F.conv1d(x, weight.to(feats.dtype), bias.to(feats.dtype)).transpose(1, 2)


def context(x: np.ndarray, reach: int) -> np.ndarray:
    """(T, D) -> (T, (2 reach + 1) D): frames t - reach .. t + reach side by side, ends repeated."""
    idx = np.clip(np.arange(len(x))[:, None] + np.arange(-reach, reach + 1)[None], 0, len(x) - 1)
    return x[idx].reshape(len(x), -1)


def _moments(x: np.ndarray, y: np.ndarray, classes: int) -> tuple[np.ndarray, ...]:
    """What a ridge regression onto one-hot classes of the labelled rows needs, whatever its
    strength: the centred Gram and cross products and the means (the bias is not penalised)."""
    keep = y >= 0
    x, target = x[keep], np.eye(classes)[y[keep]]
    mx, my = x.mean(0), target.mean(0)
    xc = x - mx
    return xc.T @ xc, xc.T @ (target - my), mx, my


def _solve(moments: tuple[np.ndarray, ...], alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """(weights, bias) of the ridge regression at strength ``alpha``."""
    gram, cross, mx, my = moments
    w = np.linalg.solve(gram + alpha * np.eye(len(gram)), cross)
    return w, my - mx @ w


def balanced_accuracy(pred: np.ndarray, truth: np.ndarray) -> float:
    """Mean recall over the classes present among the labelled frames (``truth`` >= 0)."""
    keep = truth >= 0
    p, t = pred[keep], truth[keep]
    return float(np.mean([(p[t == c] == c).mean() for c in np.unique(t)]))


def fit(feats: list[np.ndarray], classes: list[np.ndarray], n_classes: int, reach: int = REACH
        ) -> tuple[Probe, list[np.ndarray], dict[float, float]]:
    """Probe for normalised takes ``feats[k]`` (T_k, D) with per-frame ``classes[k]`` (T_k,)
    (negative: unlabelled). Returns the probe fitted on everything, every take's cross-fitted
    (T_k, K) scores, and the cross-fitted balanced accuracy of each ridge strength tried."""
    ctx = [context(np.asarray(f, np.float64), reach) for f in feats]
    labels = [np.asarray(c, np.int64) for c in classes]
    piece = [np.minimum(np.arange(len(c)) * BLOCKS // max(1, len(c)), BLOCKS - 1) for c in labels]
    x_all, y_all = np.concatenate(ctx), np.concatenate(labels)
    pieces = np.concatenate([p + BLOCKS * k for k, p in enumerate(piece)])
    if any((y_all == c).sum() == 0 for c in range(n_classes)):
        raise ValueError("the phonetic probe needs frames of every mouth-shape class in the training takes")
    crossfit = {alpha: np.zeros((len(y_all), n_classes)) for alpha in ALPHAS}
    for p in np.unique(pieces):                 # one Gram per piece left out, every strength from it
        held = pieces == p
        moments = _moments(x_all[~held], y_all[~held], n_classes)
        for alpha in ALPHAS:
            w, b = _solve(moments, alpha)
            crossfit[alpha][held] = x_all[held] @ w + b
    report = {alpha: balanced_accuracy(out.argmax(1), y_all) for alpha, out in crossfit.items()}
    alpha = max(ALPHAS, key=lambda a: report[a])
    w, b = _solve(_moments(x_all, y_all, n_classes), alpha)
    d = feats[0].shape[1]
    weight = torch.from_numpy(w.reshape(2 * reach + 1, d, n_classes).transpose(2, 1, 0).copy()).float()
    ends = np.cumsum([len(c) for c in labels])[:-1]
    per_take = [s.astype(np.float32) for s in np.split(crossfit[alpha], ends)]
    return Probe(weight, torch.from_numpy(b).float()), per_take, report
