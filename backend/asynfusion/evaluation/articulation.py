"""Does the face articulate? A read-out of mouth shapes and the depth of lip closures.

Both are fitted on the *captured* faces of the training part (with their phone
alignments) and then applied to any face, generated or captured, on held-out speech:

* **viseme read-out**: a ridge classifier from the face parameters (FLAME expression +
  jaw, standardised) to the four mouth-shape classes of phones.py; its balanced accuracy
  (mean recall over the classes, chance 0.25) on held-out frames says whether the mouth
  makes the shape the phone needs. A face driven by loudness alone cannot pass it.
* **closure depth**: the face's position along the direction that best separates lip
  closures (/p b m/) from every other phone (a regularised Fisher discriminant) is a
  mouth-openness signal; at each bilabial, depth = openness 0.3 s before the closure minus
  the lowest openness during it. Generated depth over captured depth says how deeply the
  lips close (1 = like the capture).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..audio import MOTION_FPS, SAMPLE_RATE
from ..core.arkit import INDEX, flame_to_arkit
from ..core.skeleton import JAW
from ..training import phones as P

RIDGE = 10.0
LEAD = 9            # frames (0.3 s at 30 fps) before a closure that it is measured against


@dataclass
class FaceProbe:
    mean: np.ndarray         # (D,) standardisation of the face parameters
    std: np.ndarray
    weights: np.ndarray      # (D + 1, classes) ridge classifier
    direction: np.ndarray    # (D,) mouth openness (larger = more open)

    @classmethod
    def fit(cls, faces: list[np.ndarray], visemes: list[np.ndarray]) -> "FaceProbe":
        x = np.concatenate(faces)
        v = np.concatenate(visemes)
        mean, std = x.mean(0), x.std(0) + 1e-6
        z = (x - mean) / std
        labelled = v >= 0
        zl = np.c_[z[labelled], np.ones(labelled.sum())]
        onehot = np.eye(len(P.VISEME_NAMES))[v[labelled]]
        weights = np.linalg.solve(zl.T @ zl + RIDGE * np.eye(zl.shape[1]), zl.T @ onehot)
        closed, other = z[v == P.CLOSED], z[(v != P.CLOSED) & labelled]
        scatter = np.cov(closed.T) * len(closed) + np.cov(other.T) * len(other)
        direction = np.linalg.solve(scatter / len(z) + RIDGE / len(z) * np.eye(z.shape[1]),
                                    other.mean(0) - closed.mean(0))
        return cls(mean, std, weights, direction / np.linalg.norm(direction))

    def _z(self, face: np.ndarray) -> np.ndarray:
        return (np.asarray(face, np.float64) - self.mean) / self.std

    def classify(self, face: np.ndarray) -> np.ndarray:
        z = self._z(face)
        return np.argmax(np.c_[z, np.ones(len(z))] @ self.weights, 1)

    def openness(self, face: np.ndarray) -> np.ndarray:
        return self._z(face) @ self.direction

    def readout_counts(self, face: np.ndarray, visemes: np.ndarray) -> np.ndarray:
        """(classes, 2): [correct, total] per class over the labelled frames."""
        pred = self.classify(face)
        out = np.zeros((len(P.VISEME_NAMES), 2))
        for c in range(len(P.VISEME_NAMES)):
            mask = visemes == c
            out[c] = [(pred[mask] == c).sum(), mask.sum()]
        return out


def balanced_accuracy(counts: np.ndarray) -> float | None:
    """Mean recall over the classes that occur ((classes, 2) summed over segments)."""
    present = counts[:, 1] > 0
    if not present.any():
        return None
    return float(np.mean(counts[present, 0] / counts[present, 1]))


def closure_depths(openness: np.ndarray, visemes: np.ndarray, lead: int = LEAD) -> np.ndarray:
    """Depth of every bilabial closure that has ``lead`` frames before it."""
    closed = np.r_[False, visemes == P.CLOSED, False].astype(np.int8)
    starts = np.flatnonzero(np.diff(closed) == 1)
    ends = np.flatnonzero(np.diff(closed) == -1)
    return np.array([openness[s - lead] - openness[s:e].min() for s, e in zip(starts, ends) if s >= lead])


def loudness(wave: np.ndarray, frames: int, sr: int = SAMPLE_RATE, fps: float = MOTION_FPS) -> np.ndarray:
    """(frames,) log RMS of the audio under each motion frame."""
    hop = sr / fps
    edges = (np.arange(frames + 1) * hop).astype(int)
    sq = np.concatenate([[0.0], np.cumsum(np.asarray(wave, np.float64) ** 2)])
    idx = np.minimum(edges, len(wave))
    energy = (sq[idx[1:]] - sq[idx[:-1]]) / np.maximum(idx[1:] - idx[:-1], 1)
    return np.log(energy + 1e-8) / 2


def loudness_correlation(openness: np.ndarray, loud: np.ndarray) -> float | None:
    """Pearson correlation of mouth openness with loudness: reported, never a target (a face
    driven by loudness alone wins it)."""
    if openness.std() < 1e-9 or loud.std() < 1e-9:
        return None
    return float(np.corrcoef(openness, loud)[0, 1])


def expression_amplitude(expressions: np.ndarray) -> float:
    """Root of the summed per-coefficient variance over time: how much the face moves."""
    return float(np.sqrt(np.asarray(expressions, np.float64).var(0).sum()))


WIDE_OPEN = 0.95          # ARKit jawOpen at or above this is a fully open mouth


def jaw_open_stats(expressions: np.ndarray, poses: np.ndarray) -> dict[str, float]:
    """The face's ARKit jawOpen (the shipped FLAME->ARKit read-out, what the built-in head and
    ARKit characters show): median, 90th percentile, and the fraction of frames fully open."""
    jaw = flame_to_arkit(expressions, np.asarray(poses)[:, 3 * JAW: 3 * JAW + 3])[:, INDEX["jawOpen"]]
    return {"jaw_p50": float(np.median(jaw)), "jaw_p90": float(np.percentile(jaw, 90)),
            "jaw_wide": float((jaw >= WIDE_OPEN).mean())}
