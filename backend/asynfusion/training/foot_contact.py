"""A foot-skate loss for training: feet that the capture holds on the floor stay still.

Untrained on it, the network predicts the root's position, the pelvis's rotation and the legs'
rotations as separate numbers, and nothing ties them together at a planted foot: its own feet
slide at 21-27 cm/s where the capture's move 1-2, and generation's foot planting
(core/feet.py) has to move the pelvis to hold them, so the pelvis bobs with every
uncoordinated rock (the folds' "pelvis sway" row). This loss puts the tie into training: the
predicted clean body is run through forward kinematics of the legs, and where the capture has
a foot planted on two consecutive frames, the predicted foot's movement is held to the
capture's (a planted foot still shuffles a little; an error of 1 cm a frame costs 1).

Contacts come from the capture with the rule generation uses (core/feet.contacts: near the
foot's own lowest height, with hysteresis), on the whole take, so a window's labels do not
depend on where it was cut.

Off in the shipped recipe (``--foot-weight``): at 0.3 it lowered the pelvis's bob by a fifth to a
third on the take-disjoint folds but made the wrists wobble more (weights/MODEL_CARD.md), and
more still with its gradient kept off the pelvis's rotation (``--foot-pelvis 0``).
"""

from __future__ import annotations

import numpy as np
import torch

from ..core import rest_pose
from ..core.feet import BALLS, LEG_COUNT, contacts
from ..core.kinematics import posed_joints
from ..core.skeleton import PARENTS
from ..representation import Normaliser
from ..rot6d import rot6d_to_matrix

CM = 100.0     # the loss reads movement in centimetres per frame: the capture's planted feet ~0.04


def take_contacts(poses: np.ndarray, trans: np.ndarray) -> np.ndarray:
    """(N, 2) float32: 1 where the capture's left / right foot is planted (core/feet.contacts)."""
    joints, _ = posed_joints(poses, trans, count=LEG_COUNT)
    return contacts(joints).astype(np.float32)


class FootSkate(torch.nn.Module):
    """Mean squared error (cm per frame) of the predicted balls' movement against the capture's,
    over the consecutive frame pairs on which the capture holds that foot planted."""

    def __init__(self, normaliser: Normaliser, pelvis: bool = True) -> None:
        super().__init__()
        self.pelvis = pelvis                  # False: the pelvis's rotation takes none of the gradient
        rest = torch.from_numpy(rest_pose.smplx_rest_joints()[:LEG_COUNT]).float()
        offsets = rest.clone()                # joint 0: the pelvis's rest position, the root turns about it
        offsets[1:] = rest[1:] - rest[list(PARENTS[1:LEG_COUNT])]
        self.register_buffer("offsets", offsets)
        cols = list(range(LEG_COUNT * 6)) + list(range(normaliser.body_mean.shape[0] - 3,
                                                       normaliser.body_mean.shape[0]))
        self.register_buffer("cols", torch.tensor(cols))
        self.register_buffer("mean", normaliser.body_mean[cols].clone())
        self.register_buffer("std", normaliser.body_std[cols].clone())

    def balls(self, body: torch.Tensor) -> torch.Tensor:
        """(B, T, 2, 3) world positions of the balls of the feet from a normalised (B, T, 315) body."""
        x = body[..., self.cols] * self.std + self.mean
        local = rot6d_to_matrix(x[..., : LEG_COUNT * 6].reshape(x.shape[:-1] + (LEG_COUNT, 6)))
        rots, pos = [local[..., 0, :, :]], [self.offsets[0].expand(x.shape[:-1] + (3,))]
        for j in range(1, LEG_COUNT):
            p = PARENTS[j]
            pos.append(pos[p] + (rots[p] @ self.offsets[j].unsqueeze(-1)).squeeze(-1))
            rots.append(rots[p] @ local[..., j, :, :])
        return torch.stack([pos[b] for b in BALLS], -2) + x[..., None, -3:]

    def forward(self, body: torch.Tensor, target: torch.Tensor, contact: torch.Tensor) -> torch.Tensor:
        """``body``, ``target``: normalised (B, T, 315) prediction and capture; ``contact`` (B, T, 2)."""
        with torch.no_grad():
            real = torch.diff(self.balls(target), dim=1)
        if not self.pelvis:               # the legs and the root's position hold the feet; the pelvis's
            body = torch.cat([body[..., :6].detach(), body[..., 6:]], -1)   # turn carries the torso
        error = (torch.diff(self.balls(body), dim=1) - real) * CM         # (B, T-1, 2, 3)
        held = contact[:, 1:] * contact[:, :-1]                          # (B, T-1, 2)
        return ((error ** 2).sum(-1) * held).sum() / held.sum().clamp_min(1.0)
