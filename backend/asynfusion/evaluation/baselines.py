"""What every model row is read against: motion that needs no network.

* **motion matching**: the retrieval of retrieval.py on its own, with the face taken from
  the same matched segments (the plain baseline a neural model has to beat);
* **mismatched capture**: captured motion of *another* take's training part (real motion
  of this speaker, wrong speech: beats and mouth shapes fall where they fall; not held-out
  motion, which is what the Fréchet distance compares against);
* **static pose**: the training mean face and body, held still (wins any metric that
  rewards staying close to the mean; loses every amplitude).

Each is a ``motion(segment, seed) -> (poses, expressions, trans)`` for evaluate.score.
"""

from __future__ import annotations

import numpy as np
import torch

from ..representation import FACE_DIM, Normaliser, decode
from ..retrieval import MotionDatabase
from ..training.data import Take, fit_normaliser, motion_database, with_mirrors


class Baselines:
    def __init__(self, train: list[Take], mirror: bool = False) -> None:
        takes = with_mirrors(train, mirror)
        self.normaliser: Normaliser = fit_normaliser(takes)
        self.database: MotionDatabase = motion_database(takes, self.normaliser, with_face=True)
        self.train = train

    def matching(self, seg, seed: int):
        return self.match_features(seg.take.feats, seed)

    def match_features(self, feats: np.ndarray, seed: int):
        track = torch.from_numpy(self.database.match(feats, seed=seed))
        return decode(self.normaliser, track[:, :FACE_DIM], track[:, FACE_DIM:])

    def mismatched(self, seg, seed: int):
        """A stretch of another take's training capture (a seed picks where), as long as ``seg``;
        a take shorter than that plays on backwards from its end (a wrap-around would jump)."""
        others = [t for t in self.train if t.source != seg.take.source] or self.train
        other = others[seed % len(others)]
        offset = (seed * 311) % max(1, other.frames - seg.frames)
        period = max(2 * (other.frames - 1), 1)
        idx = (offset + np.arange(seg.frames)) % period
        idx = np.where(idx < other.frames, idx, period - idx)
        return other.poses[idx], other.expressions[idx], other.trans[idx]

    def static(self, seg, seed: int):
        face = torch.zeros(seg.frames, FACE_DIM)
        body = torch.zeros(seg.frames, self.normaliser.body_mean.shape[0])
        return decode(self.normaliser, face, body)
