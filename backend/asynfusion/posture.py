"""The body's slow posture (lean, slouch, head carriage) taken from the retrieved motion.

On speech it was not trained on, the model moves the spine and head at least as much as
the capture between 0.3 and 3 Hz, but holds a steadier posture than a speaker does: below
that band its head moves 0.37-0.8x as far as the held-out capture's, against about 1x on its
own training speech (the analysis is written up in weights/MODEL_CARD.md, v5.1). Posture is not in
the audio, and a 4 s window cannot see a change slower than itself, so the model falls
back to its mean. The retrieved track is a real speaker's posture picked for this speech.
So the final body estimate keeps the model's faster motion of the spine chain and takes
the part slower than about one cycle per window from the track: the low-frequency
replacement of ILVR (Choi et al., 2021), on one chain of joints. Limbs and hands keep
the model's own posture (taking theirs too made the body's FGD worse, 63 against 49).
"""

from __future__ import annotations

import torch

from .core.skeleton import JOINT_NAMES
from .representation import BODY_ROT_JOINTS
from .smoothing import smooth

AXIAL_JOINTS = ("spine1", "spine2", "spine3", "neck", "head")
# The body branch's columns that hold the spine chain's 6D rotations.
AXIAL_COLUMNS = [6 * BODY_ROT_JOINTS.index(JOINT_NAMES.index(name)) + i for name in AXIAL_JOINTS for i in range(6)]


def take_posture(body: torch.Tensor, track: torch.Tensor, sigma: float) -> torch.Tensor:
    """(T, body_dim) normalised body with the spine chain's motion slower than a Gaussian
    of ``sigma`` frames replaced by ``track``'s; every other column is returned unchanged."""
    if sigma <= 0:
        return body
    mine, theirs = body[:, AXIAL_COLUMNS], track[: body.shape[0], AXIAL_COLUMNS].to(body)
    out = body.clone()
    out[:, AXIAL_COLUMNS] = mine - smooth(mine, sigma) + smooth(theirs, sigma)
    return out
