"""How many visemes can the audio features tell apart on held-out speech, at best?

The viseme read-out scores a *face*; this asks the audio itself. Classifiers trained
directly on the training part's audio features (the model's own, speaker-normalised) and
phone classes, scored on the held-out tails with the same balanced accuracy: a ridge
classifier on one frame and on ±2 frames, and a small dropout conv net (±4 frames, two
layers, class-balanced, noise-augmented) over seeds and training lengths. When a classifier
trained for this one job reads no more than the model's face does, the face is limited by
what the features tell apart, not by the face branch. The same classifiers on **sub-frames**
(the four 100-fps analysis frames under each motion frame side by side) ask whether the
30-fps interpolation throws phonetic detail away, and with the sub-frames' **frication cues**
(audio.frication_features) whether quiet fricatives such as /f v/ become audible.

    .venv/bin/python bench/viseme_ceiling.py ../shared/data/beat2 [--seeds 3] [--heldout-take TAKE]

With ``--heldout-take`` the classifiers train on the other take(s) and score that one
whole, as the folds score the model (bench/FOLDS.md).
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
import torch.nn.functional as F

from asynfusion import audio
from asynfusion.phonetic import balanced_accuracy, context
from asynfusion.training import phones as P
from asynfusion.training.data import load_split

CLASSES = len(P.VISEME_NAMES)
WINDOW = 120


def ridge(train, test, reach: int, alpha: float = 1000.0) -> float:
    x = np.concatenate([context(f, reach) for f, _ in train])
    y = np.concatenate([v for _, v in train])
    mean, std = x.mean(0), x.std(0) + 1e-6
    z = np.c_[(x - mean) / std, np.ones(len(x))][y >= 0]
    w = np.linalg.solve(z.T @ z + alpha * np.eye(z.shape[1]), z.T @ np.eye(CLASSES)[y[y >= 0]])
    pred = [np.argmax(np.c_[(context(f, reach) - mean) / std, np.ones(len(f))] @ w, 1) for f, _ in test]
    return balanced_accuracy(np.concatenate(pred), np.concatenate([v for _, v in test]))


def conv_net(train, test, seed: int, iterations: int) -> float:
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    xs = [torch.from_numpy(f) for f, _ in train]
    mean, std = torch.cat(xs).mean(0), torch.cat(xs).std(0) + 1e-5
    xs = [(x - mean) / std for x in xs]
    ys = [torch.from_numpy(v.astype(np.int64)) for _, v in train]
    labels = torch.cat(ys)
    counts = torch.bincount(labels[labels >= 0], minlength=CLASSES).float()
    dim = xs[0].shape[1]
    net = torch.nn.Sequential(torch.nn.Conv1d(dim, 64, 9, padding=4), torch.nn.GELU(), torch.nn.Dropout(0.3),
                              torch.nn.Conv1d(64, 64, 5, padding=2), torch.nn.GELU(), torch.nn.Dropout(0.3),
                              torch.nn.Conv1d(64, CLASSES, 1))
    opt = torch.optim.AdamW(net.parameters(), 1e-3, weight_decay=0.05)
    for _ in range(iterations):
        loss = torch.zeros(())
        for x, y in zip(xs, ys):
            s = int(rng.integers(0, len(x) - WINDOW))
            logits = net((x[s:s + WINDOW] + 0.1 * torch.randn(WINDOW, dim)).T[None])[0].T
            keep = y[s:s + WINDOW] >= 0
            if keep.any():
                loss = loss + F.cross_entropy(logits[keep], y[s:s + WINDOW][keep], weight=counts.sum() / counts)
        opt.zero_grad()
        loss.backward()
        opt.step()
    net.eval()
    with torch.no_grad():
        pred = [net(((torch.from_numpy(f) - mean) / std).T[None])[0].T.argmax(-1).numpy() for f, _ in test]
    return balanced_accuracy(np.concatenate(pred), np.concatenate([v for _, v in test]))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("data", help="BEAT2 folder with phone alignments")
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--heldout-take", help="score this whole take, train on the others (a take-disjoint fold) "
                                          "instead of the tails of every take")
    p.add_argument("--cache", help="feature cache folder, as training's")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    split = load_split(args.data, cache=args.cache, heldout_take=args.heldout_take)
    print(split.description)
    kinds = {"model features (30 fps)": lambda t: t.feats[:, :audio.FEATURE_DIM],
             "sub-frames (100 fps)": lambda t: t.feats[:, audio.FEATURE_DIM:audio.SPECTRAL_DIM],
             "sub-frames + frication cues": lambda t: t.feats[:, audio.FEATURE_DIM:]}
    print("| audio classifier (trained on the training part's phones) | features | held-out balanced accuracy |")
    print("|---|---|---|")
    for kind, features in kinds.items():
        train = [(features(t), t.visemes) for t in split.train]
        test = [(features(t), t.visemes) for t in split.test]
        for reach in (0, 2):
            print(f"| ridge, ±{reach} frames | {kind} | {ridge(train, test, reach):.3f} |")
        for iterations in (300, 600):
            scores = [conv_net(train, test, seed, iterations) for seed in range(args.seeds)]
            print(f"| conv net ±4 frames, {iterations} steps, {args.seeds} seeds | {kind} | "
                  f"{np.mean(scores):.3f} ± {np.std(scores):.3f} (best {max(scores):.3f}) |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
