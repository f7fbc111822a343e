"""The body's slow posture (lean, head carriage, stance) taken from the retrieved motion.

On speech it was not trained on, the model moves the body at least as much as the capture
between 0.3 and 3 Hz, but holds a steadier posture than a speaker does: below that band its
head moved 0.37-0.8x as far as the held-out capture's (weights/MODEL_CARD.md, v5.1), its legs
0.62x / 0.46x on the two take-disjoint folds and its root 0.54x / 0.23x, where the legs'
posture band is most of their motion (a speaker shifts weight and steps over a take; v5.6).
Posture is not in the audio, and a 4 s window cannot see a change slower than itself, so the
model falls back to its mean. The retrieved track is a real speaker's posture picked for this
speech. So the final body estimate keeps the model's faster motion of the parts named and
takes the part slower than about one cycle per window from the track: the low-frequency
replacement of ILVR (Choi et al., 2021), on chosen parts. Arms and hands keep the model's own
posture (where the hands are is what a gesture is).
"""

from __future__ import annotations

from collections.abc import Iterable

import torch

from .amplitude import part_columns
from .core.skeleton import JOINT_NAMES
from .representation import BODY_DIM, BODY_ROT_JOINTS
from .smoothing import smooth

AXIAL_JOINTS = ("spine1", "spine2", "spine3", "neck", "head")
# The body branch's columns each nameable part's posture lives in: the spine chain's 6D
# rotations (v5.1), the legs' (hips, knees, ankles, feet), the root's rotation (its heading and
# lean) and the root's position on the floor (x and z: its height is left to the feet).
POSTURE_PARTS: dict[str, list[int]] = {
    "spine chain": [6 * BODY_ROT_JOINTS.index(JOINT_NAMES.index(name)) + i for name in AXIAL_JOINTS for i in range(6)],
    "legs": part_columns("legs"),
    "heading": part_columns("heading"),
    "floor position": [BODY_DIM - 3, BODY_DIM - 1],
}
DEFAULT_PARTS = ("spine chain",)     # what weights whose config names no parts take (v5.1-v5.5)


def posture_columns(parts: Iterable[str]) -> list[int]:
    """The body columns of the parts named (keys of POSTURE_PARTS), in order, each once."""
    return sorted({c for p in parts for c in POSTURE_PARTS[p]})


def take_posture(body: torch.Tensor, track: torch.Tensor, sigma: float,
                 parts: Iterable[str] = DEFAULT_PARTS) -> torch.Tensor:
    """(T, body_dim) normalised body with the named parts' motion slower than a Gaussian of
    ``sigma`` frames replaced by ``track``'s; every other column is returned unchanged."""
    if sigma <= 0:
        return body
    cols = posture_columns(parts)
    mine, theirs = body[:, cols], track[: body.shape[0], cols].to(body)
    out = body.clone()
    out[:, cols] = mine - smooth(mine, sigma) + smooth(theirs, sigma)
    return out
