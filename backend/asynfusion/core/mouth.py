"""How far a character's mouth opens: its own jawOpen shape against the built-in head's (no bpy).

The FLAME -> ARKit read-out (core/arkit.py) was fitted so that the built-in ICT-FaceKit head
opens its lips as far as the capture's. Another character's ``jawOpen`` shape may open its lips
much less (a VRoid face: a few millimetres) or much more, so the same weight gives it a mouth
that barely moves, or gapes. The lip gap of a ``jawOpen`` shape is measured from its deltas:
the most that two vertices which touch at rest (the upper and the lower lip along the mouth's
seam; a closed mouth's teeth) move apart along the vertical. The character's jawOpen, mouthClose
(which closes the lips the jaw opened, so it must keep jawOpen's scale) and the other mouth keys
are then scaled by ``REFERENCE_GAP_CM / gap``, times the character's own strength for taste,
and clipped to 1.0.

An Exp### (FLAME) face is the capture's own face model, so it opens as far as the capture with no
calibration; the strength scales its mouth too (scale_flame_mouth): the FLAME inputs (expression
coefficients and jaw) are scaled along the directions the read-out (core/arkit.py) reads the mouth
shapes from, and kept as captured across them, so the mouth moves ``strength`` times as far by
the same measure the ARKit faces are scaled by, while what lies across those directions (the
blinks and brows, as far as they do: no FLAME mesh is at hand to check) stays the capture's.
Every FLAME coefficient moves lips, eyelids and brows together, so scaling them all would grow
the blinks with the mouth.

Everything here is numpy; the bpy side (bake/rig_reader.py) only reads the key's vertices.
"""

from __future__ import annotations

import hashlib
import math

import numpy as np

from .arkit import ARKIT_NAMES, FACE_INPUTS, INDEX, ArkitFit, face_inputs, load_fit, soft_ceiling

# The built-in ICT head's jawOpen lip gap as lip_gap() measures it (its midline lip vertices,
# UPPER_LIP/LOWER_LIP in tools/make_ict_head.py, part 3.28 cm; its teeth, in the same mesh, 3.5 cm).
# tests/backend/test_mouth.py measures the shipped head and holds this number to it.
REFERENCE_GAP_CM = 3.518
# Which keys follow the jaw: the jaw's opening and every mouth shape (smiles, funnels, ...).
MOUTH_COLUMNS = tuple(i for i, n in enumerate(ARKIT_NAMES) if n == "jawOpen" or n.startswith("mouth"))
CALIBRATION_RANGE = (0.25, 4.0)     # a calibration outside this is a measurement gone wrong: clipped
SAME = 0.05                         # within 5 % of the capture's opening: left as it is
STRENGTH_RANGE = (0.0, 3.0)         # the user's strength (panel, batch.py --mouth-strength)
TOUCH = 0.1                         # vertices this close at rest (x the key's largest vertical move) touch
MOVING = 0.25                       # the vertices searched from move this much of the largest move
_CELLS = np.array([(i, j, k) for i in (-1, 0, 1) for j in (-1, 0, 1) for k in (-1, 0, 1)], np.int64)


def _pairs_near(points: np.ndarray, queries: np.ndarray, reach: float) -> tuple[np.ndarray, np.ndarray]:
    """Every (query, point) pair closer than ``reach``, found through a grid of ``reach`` cells."""
    cells = np.floor(points / reach).astype(np.int64)
    cells -= cells.min(0) - 1
    dims = cells.max(0) + 2

    def cell_id(c: np.ndarray) -> np.ndarray:
        return (c[:, 0] * dims[1] + c[:, 1]) * dims[2] + c[:, 2]

    ids = cell_id(cells)
    order = np.argsort(ids, kind="stable")
    sorted_ids = ids[order]
    firsts, seconds = [], []
    for step in _CELLS:
        wanted = cell_id(cells[queries] + step)
        lo = np.searchsorted(sorted_ids, wanted, "left")
        count = np.searchsorted(sorted_ids, wanted, "right") - lo
        if not count.any():
            continue
        at = np.repeat(lo - (np.cumsum(count) - count), count) + np.arange(count.sum())
        firsts.append(np.repeat(queries, count))
        seconds.append(order[at])
    a, b = np.concatenate(firsts), np.concatenate(seconds)
    close = np.linalg.norm(points[a] - points[b], axis=1) < reach
    return a[close], b[close]


def lip_gap(rest: np.ndarray, delta: np.ndarray, up: np.ndarray | tuple[float, float, float] = (0.0, 0.0, 1.0)
            ) -> float | None:
    """How far a jawOpen shape parts the lips, in the units of ``rest`` and ``delta``.

    ``rest`` (V, 3): the vertices at rest; ``delta`` (V, 3): the shape's offsets; ``up``: the
    vertical. The gap is the largest vertical parting of two vertices that touch at rest (closer
    than TOUCH x the largest vertical move) and come apart by more than twice their distance plus
    a quarter of that move: the lips' seam, or the teeth. None where nothing parts (a shape that
    does not open, a mouth without a seam) or the arrays are not finite.
    """
    rest, delta = np.asarray(rest, np.float64), np.asarray(delta, np.float64)
    axis = np.asarray(up, np.float64)
    if rest.shape != delta.shape or rest.ndim != 2 or rest.shape[1] != 3 or not len(rest):
        return None
    if not (np.all(np.isfinite(rest)) and np.all(np.isfinite(delta)) and np.linalg.norm(axis) > 0):
        return None
    vertical = delta @ (axis / np.linalg.norm(axis))
    largest = float(np.abs(vertical).max())
    if largest <= 0.0:
        return None
    moving = np.flatnonzero(np.abs(vertical) >= MOVING * largest)
    a, b = _pairs_near(rest, moving, TOUCH * largest)
    apart = np.abs(vertical[a] - vertical[b])
    torn = apart > 2.0 * np.linalg.norm(rest[a] - rest[b], axis=1) + MOVING * largest
    return float(apart[torn].max()) if torn.any() else None


_MEASURED: dict[bytes, float | None] = {}   # lip gaps by the arrays' digest: a character is measured once


def measured_lip_gap(rest: np.ndarray, delta: np.ndarray) -> float | None:
    """``lip_gap`` (up +Z), remembered for the same arrays: the neighbour search costs a bake a
    quarter of a second on the built-in head, hashing the arrays about a millisecond, and an
    edited jawOpen shape hashes differently, so it is measured again."""
    rest, delta = np.ascontiguousarray(rest, np.float64), np.ascontiguousarray(delta, np.float64)
    digest = hashlib.blake2b(rest.tobytes() + delta.tobytes() + repr(rest.shape).encode(), digest_size=16).digest()
    if digest not in _MEASURED:
        if len(_MEASURED) >= 32:
            _MEASURED.clear()
        _MEASURED[digest] = lip_gap(rest, delta)
    return _MEASURED[digest]


def calibration(gap_cm: float | None) -> float:
    """The factor that makes a jawOpen parting ``gap_cm`` open as far as the capture's; 1.0 where
    the gap is unknown or already within SAME of it."""
    if gap_cm is None or not math.isfinite(gap_cm) or gap_cm <= 0.0:
        return 1.0
    factor = min(max(REFERENCE_GAP_CM / gap_cm, CALIBRATION_RANGE[0]), CALIBRATION_RANGE[1])
    return 1.0 if abs(factor - 1.0) <= SAME else factor


def check_strength(strength: float) -> float:
    """The user's mouth strength, or ValueError naming the range."""
    low, high = STRENGTH_RANGE
    if not (isinstance(strength, (int, float)) and math.isfinite(strength) and low <= strength <= high):
        raise ValueError(f"The mouth strength must be a number from {low:g} to {high:g} (1 keeps it as calibrated).")
    return float(strength)


def scale_mouth(track: np.ndarray, factor: float) -> np.ndarray:
    """The ARKit track (N, 52) with its jaw-opening and mouth columns times ``factor``, clipped
    to [0, 1]; the other columns as they were. A factor that is not a finite number >= 0 leaves
    the track alone."""
    out = np.array(track, np.float64)
    if factor == 1.0 or not math.isfinite(factor) or factor < 0.0:
        return out
    cols = list(MOUTH_COLUMNS)
    out[:, cols] = np.clip(np.nan_to_num(out[:, cols] * factor, nan=0.0), 0.0, 1.0)
    return out


def flame_mouth_directions(fit: ArkitFit | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(directions, std): the directions in FLAME inputs (100 expression coefficients, then the
    jaw's axis-angle; arkit.face_inputs), each input in units of its spread over the captures
    (``std``, the read-out's), along which the read-out's mouth shapes (jawOpen, mouthClose,
    mouth*) change: (103, k) orthonormal columns, k the independent ones (left and right shapes
    are read alike). Measured in spreads, a jaw turn of under a degree counts as much as an
    expression coefficient's typical swing, so neither is pushed past what a face does."""
    fit = load_fit() if fit is None else fit
    cols = [INDEX[n] for n in fit.fitted if INDEX[n] in MOUTH_COLUMNS]
    u, sing, _ = np.linalg.svd(fit.matrix[:, cols], full_matrices=False)
    return u[:, sing > 1e-9 * sing.max()], fit.std


def scale_flame_mouth(expressions: np.ndarray, jaw: np.ndarray, factor: float,
                      directions: tuple[np.ndarray, np.ndarray] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(expressions, jaw) of an Exp### face with its mouth ``factor`` times as strong: each frame's
    FLAME inputs (in spreads, from the neutral face) scaled by ``factor`` along ``directions``
    (flame_mouth_directions) and kept across them, so the read-out's mouth shapes (before their
    clip, less their bias) are ``factor`` times the capture's and nothing across them changes.
    ``expressions`` (N, E <= 100), ``jaw`` (N, 3); both come back in their shapes. A factor of 1,
    or one that is not a finite number >= 0, leaves them alone."""
    e, j = np.array(expressions, np.float64), np.array(jaw, np.float64)
    if factor == 1.0 or not math.isfinite(factor) or factor < 0.0 or not len(e):
        return e, j
    q, std = flame_mouth_directions() if directions is None else directions
    w = face_inputs(e, j) / std
    w += (factor - 1.0) * (w @ q) @ q.T
    x = w * std
    width = min(e.shape[1], FACE_INPUTS - 3)
    e[:, :width] = x[:, :width]
    return e, x[:, FACE_INPUTS - 3:].reshape(j.shape)


def opening(expressions: np.ndarray, jaw: np.ndarray, fit: ArkitFit | None = None) -> np.ndarray:
    """(N,) how far the read-out opens each frame's jaw: its linear jawOpen value before the
    clip and the soft ceiling (arkit.raw_readout), so openings past full weight still differ."""
    fit = load_fit() if fit is None else fit
    return _opening(face_inputs(expressions, jaw), fit)


def _opening(inputs: np.ndarray, fit: ArkitFit) -> np.ndarray:
    """``opening`` from (N, FACE_INPUTS) FLAME inputs."""
    return (inputs - fit.mean) / fit.std @ fit.matrix[:, INDEX["jawOpen"]] + fit.bias[INDEX["jawOpen"]]


OPENING_KNEE = 99.0      # percentile of the capture's opening where limit_opening starts to bend


def opening_range(openings: np.ndarray) -> dict[str, float]:
    """The limit a capture's openings (``opening``, every frame it has) set: "knee" its
    ``OPENING_KNEE`` th percentile, "ceiling" its widest."""
    o = np.asarray(openings, np.float64)
    knee, ceiling = float(np.percentile(o, OPENING_KNEE)), float(o.max())
    if not (math.isfinite(knee) and math.isfinite(ceiling) and ceiling > knee):
        raise ValueError("the capture's mouth openings have no spread to fit a range from")
    return {"knee": round(knee, 4), "ceiling": round(ceiling, 4)}


def limit_opening(expressions: np.ndarray, jaw: np.ndarray, knee: float, ceiling: float,
                  fit: ArkitFit | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(expressions, jaw) of a generated face whose mouth never opens wider than ``ceiling``:
    each frame's opening (``opening``) above ``knee`` bent along arkit.soft_ceiling, by the
    smallest change of its FLAME inputs (in spreads, as scale_flame_mouth measures them) that
    does it. A model unsure of the speech overshoots the capture's widest mouth (a yawn: up to
    1.7 % of a take-disjoint fold's frames fully open, the capture's none); the knee and ceiling come
    from the capture the weights learnt from (opening_range, fitted by asynfusion calibrate), so
    the model's face never gapes wider than the speaker it learnt from, and below the knee it
    is untouched. Both come back in their shapes."""
    fit = load_fit() if fit is None else fit
    e, j = np.array(expressions, np.float64), np.array(jaw, np.float64)
    if not len(e):
        return e, j
    x = face_inputs(e, j)
    r = _opening(x, fit)
    change = soft_ceiling(r, knee, ceiling) - r
    width = min(e.shape[1], FACE_INPUTS - 3)
    present = np.r_[np.arange(width), np.arange(FACE_INPUTS - 3, FACE_INPUTS)]
    m = np.zeros(FACE_INPUTS)
    m[present] = fit.matrix[present, INDEX["jawOpen"]]
    x += np.outer(change / (m @ m), m) * fit.std
    e[:, :width] = x[:, :width]
    return e, x[:, FACE_INPUTS - 3:].reshape(j.shape)


CLOSING_EASE = 0.05      # jawOpen: how much further the closing estimate must close to be taken whole


def close_as(expressions: np.ndarray, jaw: np.ndarray, closing_expressions: np.ndarray, closing_jaw: np.ndarray,
             fit: ArkitFit | None = None) -> tuple[np.ndarray, np.ndarray]:
    """A face that closes its mouth as far as ``closing`` and opens it only as far as itself.

    Classifier-free guidance on the face's last step deepens the /p b m/ closures a few-step
    student rounds off, but pushes every frame away from the face without audio, so the mouth
    opens wider around them too: a yawn (sampling.RECIPE). Given both estimates of the same
    step, each frame takes the harder-guided one (``closing_*``) where its opening (``opening``)
    is smaller, the other where it is not, and between the two as the difference grows from 0
    to ``CLOSING_EASE``, so the switch is continuous. Both come back in their shapes, float64."""
    fit = load_fit() if fit is None else fit
    e, j = np.asarray(expressions, np.float64), np.asarray(jaw, np.float64)
    ce, cj = np.asarray(closing_expressions, np.float64), np.asarray(closing_jaw, np.float64)
    take = np.clip((opening(e, j, fit) - opening(ce, cj, fit)) / CLOSING_EASE, 0.0, 1.0)[:, None]
    return e + take * (ce - e), j + take * (cj - j)


def flame_sentence(strength: float) -> str | None:
    """What the bake says of an Exp### face's mouth, or None at strength 1 (the capture's own)."""
    if strength == 1.0:
        return None
    return f"Mouth strength {strength:g}: its Exp### mouth moves {strength:g} times as far as the capture's."


def sentence(gap_cm: float | None, factor: float, strength: float, has_jaw_open: bool = True) -> str | None:
    """What the bake says about the mouth (``factor``: calibration x strength), or None where it
    is left as the capture's."""
    if factor == 1.0:
        return None
    scaled = f"the mouth keys are scaled x{factor:.2f}" + (f" (mouth strength {strength:g})" if strength != 1.0 else "")
    if not has_jaw_open:
        return f"The face has no jawOpen key to calibrate the mouth from; {scaled}."
    if gap_cm is None:
        return f"Its jawOpen shape parts no vertices that touch at rest, so the mouth is not calibrated; {scaled}."
    return (f"Its jawOpen parts the lips {gap_cm:.1f} cm against the built-in head's "
            f"{REFERENCE_GAP_CM:.1f} cm, so {scaled}.")
