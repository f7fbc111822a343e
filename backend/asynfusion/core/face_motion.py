"""What the captured face cannot name, made from timing: blinks, small eye saccades, brow raises.

Why procedural: the FLAME -> ARKit read-out (core/arkit.py) is supervised by phones, which
say nothing about eyes or brows, and a face that never blinks looks dead. These rules follow
what people do while talking: blinks every 2-7 s (8.6-30 a minute), 150-300 ms each, both
eyes together, drawn towards pauses; the gaze jumps a few degrees every 0.5-2.5 s; the brows
lift briefly on emphasised syllables (the read-out's jaw-opening peaks stand in for pitch
accents, since a motion file carries no audio). Pure numpy; the same seed gives the same face.
"""

from __future__ import annotations

import numpy as np

from .arkit import INDEX, NUM_ARKIT

BLINK_GAP_S = (2.0, 7.0)          # seconds between blink onsets
BLINK_MEAN_GAP_S = 3.5            # ~17 blinks a minute
BLINK_LENGTH_S = (0.15, 0.30)
PAUSE_PULL_S = 0.7                # a blink this close to the start of a pause moves to it
GAZE_HOLD_S = (0.5, 2.5)
GAZE_REACH = 0.15                 # eyeLook weight of the widest glance (a few degrees)
BROW_GAP_S = 1.5
BROW_LIFT = (0.25, 0.5)


def speech_pauses(jaw_open: np.ndarray, fps: float) -> np.ndarray:
    """(N,) bool: frames where the mouth has been still for a while (a pause in speech)."""
    speed = np.abs(np.diff(np.asarray(jaw_open, np.float64), prepend=jaw_open[:1]))
    width = max(1, int(round(0.3 * fps)))
    active = np.convolve(speed, np.ones(width) / width, mode="same")
    return active < 0.3 * max(float(np.median(active)), 1e-6)


def blink_onsets(n: int, fps: float, rng: np.random.Generator, pauses: np.ndarray) -> list[int]:
    """Frames where blinks start: gamma-like gaps clipped to BLINK_GAP_S, pulled to pause starts."""
    pause_starts = np.flatnonzero(np.diff(np.r_[0, pauses.astype(int)]) == 1)
    onsets: list[int] = []
    t = rng.uniform(0.3, BLINK_GAP_S[0])
    while t * fps < n:
        frame = int(t * fps)
        near = pause_starts[np.abs(pause_starts - frame) <= PAUSE_PULL_S * fps]
        if len(near) and (not onsets or near[0] - onsets[-1] >= BLINK_GAP_S[0] * fps):
            frame = int(near[0])
        onsets.append(frame)
        gap = float(np.clip(rng.gamma(4.0, BLINK_MEAN_GAP_S / 4.0), *BLINK_GAP_S))
        t = frame / fps + gap
    return onsets


def blink_curve(n: int, fps: float, rng: np.random.Generator, pauses: np.ndarray) -> np.ndarray:
    """(N,) eyelid closure in [0, 1]: a quick close and a slower open per blink."""
    out = np.zeros(n)
    for start in blink_onsets(n, fps, rng, pauses):
        length = rng.uniform(*BLINK_LENGTH_S) * fps
        closing = 0.4 * length
        k = np.arange(int(np.ceil(length)))
        shape = np.where(k < closing, k / closing, 1.0 - (k - closing) / (length - closing))
        shape = np.sin(np.clip(shape, 0.0, 1.0) * np.pi / 2)
        end = min(n, start + len(k))
        out[start:end] = np.maximum(out[start:end], shape[: end - start])
    return out


def gaze(n: int, fps: float, rng: np.random.Generator) -> np.ndarray:
    """(N, 2) gaze (sideways to the character's left, up) in eyeLook weights: held, then a
    2-frame jump to the next small target."""
    out = np.zeros((n, 2))
    frame, current = 0, np.zeros(2)
    while frame < n:
        hold = int(rng.uniform(*GAZE_HOLD_S) * fps)
        target = rng.uniform(-1.0, 1.0, 2) * GAZE_REACH * np.array([1.0, 0.6])
        if rng.random() < 0.4:
            target = target * 0.2          # often back near straight ahead
        ramp = np.linspace(current, target, 3)[1:]
        out[frame: frame + 2] = ramp[: max(0, min(2, n - frame))]
        out[frame + 2: frame + hold] = target
        current, frame = target, frame + max(hold, 3)
    return out


def brow_raises(jaw_open: np.ndarray, fps: float, rng: np.random.Generator) -> np.ndarray:
    """(N,) brow lift: a quick rise and slow fall at the strongest jaw-opening peaks."""
    jaw = np.convolve(np.asarray(jaw_open, np.float64), np.ones(5) / 5, mode="same")
    n = len(jaw)
    out = np.zeros(n)
    if n < 3:
        return out
    peak = (jaw[1:-1] > jaw[:-2]) & (jaw[1:-1] >= jaw[2:]) & (jaw[1:-1] > np.percentile(jaw, 90))
    last = -np.inf
    rise, fall = int(0.15 * fps), int(0.5 * fps)
    shape = np.r_[np.linspace(0, 1, rise, endpoint=False), np.linspace(1, 0, fall)]
    for p in (np.flatnonzero(peak) + 1).tolist():
        if p - last < BROW_GAP_S * fps:
            continue
        last = p
        lift = rng.uniform(*BROW_LIFT) * shape
        start = max(0, p - rise)
        seg = lift[rise - (p - start):]
        end = min(n, start + len(seg))
        out[start:end] = np.maximum(out[start:end], seg[: end - start])
    return out


def procedural_face(arkit_weights: np.ndarray, fps: float, seed: int) -> np.ndarray:
    """(N, 52): ``arkit_weights`` with blinks, gaze and brow raises added (clipped to [0, 1])."""
    w = np.array(arkit_weights, np.float64, copy=True)
    n = len(w)
    rng = np.random.default_rng([seed, 0xB11C])
    jaw = w[:, INDEX["jawOpen"]]
    blink = blink_curve(n, fps, rng, speech_pauses(jaw, fps))
    look = gaze(n, fps, rng)
    brow = brow_raises(jaw, fps, rng)
    for side in ("Left", "Right"):
        w[:, INDEX["eyeBlink" + side]] = np.maximum(w[:, INDEX["eyeBlink" + side]], blink)
        w[:, INDEX["browOuterUp" + side]] += 0.8 * brow
    w[:, INDEX["browInnerUp"]] += brow
    across, up = look[:, 0], look[:, 1]
    w[:, INDEX["eyeLookOutLeft"]] += np.maximum(across, 0)      # to the character's left:
    w[:, INDEX["eyeLookInRight"]] += np.maximum(across, 0)      # left eye out, right eye in
    w[:, INDEX["eyeLookInLeft"]] += np.maximum(-across, 0)
    w[:, INDEX["eyeLookOutRight"]] += np.maximum(-across, 0)
    for s in ("Left", "Right"):
        w[:, INDEX["eyeLookUp" + s]] += np.maximum(up, 0)
        w[:, INDEX["eyeLookDown" + s]] += np.maximum(-up, 0)
    assert w.shape[1] == NUM_ARKIT
    return np.clip(w, 0.0, 1.0)
