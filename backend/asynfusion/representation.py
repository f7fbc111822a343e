"""Motion <-> the two branches' feature vectors, and their normalisation.

Face branch (106): 100 FLAME expression coefficients + jaw rotation in 6D.
Body branch (315): root orientation, 21 body and 30 hand joints in 6D (52 x 6)
+ root position (3): height absolute, horizontal position relative to the spot the
speaker stands on (the take's median position in training, the origin when generating).
Nothing is integrated, so the root cannot drift however long the clip: a window
says where the speaker stands, not how far it moved. Eyes are not generated (near
zero in BEAT2).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .core.kinematics import ground
from .core.motion_file import NUM_EXPRESSIONS
from .core.skeleton import BODY_JOINTS, HANDS, JAW, NUM_JOINTS, ROOT
from .rot6d import axis_angle_to_rot6d, rot6d_to_axis_angle

BODY_ROT_JOINTS = (ROOT,) + BODY_JOINTS + HANDS      # 52 joints in the body branch
FACE_DIM = NUM_EXPRESSIONS + 6
BODY_DIM = len(BODY_ROT_JOINTS) * 6 + 3
_STD_FLOOR = 1e-3


def motion_to_branches(poses: torch.Tensor, expressions: torch.Tensor, trans: torch.Tensor
                       ) -> tuple[torch.Tensor, torch.Tensor]:
    """(..., N, 165), (..., N, 100), (..., N, 3) -> face (..., N, 106), body (..., N, 315)."""
    aa = poses.reshape(poses.shape[:-1] + (NUM_JOINTS, 3))
    face = torch.cat([expressions, axis_angle_to_rot6d(aa[..., JAW, :])], -1)
    rot = axis_angle_to_rot6d(aa[..., list(BODY_ROT_JOINTS), :]).flatten(-2)
    return face, torch.cat([rot, trans], -1)


def stage_centred(trans: np.ndarray) -> np.ndarray:
    """(N, 3) translation with the horizontal median moved to the origin (height kept)."""
    out = np.array(trans, np.float32, copy=True)
    out[:, [0, 2]] -= np.median(out[:, [0, 2]], axis=0)
    return out


def branches_to_motion(face: torch.Tensor, body: torch.Tensor
                       ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Inverse of motion_to_branches (the root stands where the body branch puts it)."""
    n = face.shape[-2]
    aa = face.new_zeros(face.shape[:-2] + (n, NUM_JOINTS, 3))
    aa[..., JAW, :] = rot6d_to_axis_angle(face[..., NUM_EXPRESSIONS:])
    rot6 = body[..., :-3].reshape(body.shape[:-1] + (len(BODY_ROT_JOINTS), 6))
    aa[..., list(BODY_ROT_JOINTS), :] = rot6d_to_axis_angle(rot6)
    return aa.flatten(-2), face[..., :NUM_EXPRESSIONS], body[..., -3:]


@dataclass
class Normaliser:
    """Per-dimension mean/std of each branch, computed on the training split only."""

    face_mean: torch.Tensor
    face_std: torch.Tensor
    body_mean: torch.Tensor
    body_std: torch.Tensor
    audio_mean: torch.Tensor
    audio_std: torch.Tensor

    @classmethod
    def fit(cls, faces: list[torch.Tensor], bodies: list[torch.Tensor], audio: list[torch.Tensor]
            ) -> "Normaliser":
        stats = []
        for parts in (faces, bodies, audio):
            x = torch.cat([p.reshape(-1, p.shape[-1]) for p in parts]).double()
            stats += [x.mean(0).float(), x.std(0).clamp_min(_STD_FLOOR).float()]
        f_mean, f_std, b_mean, b_std, a_mean, a_std = stats
        return cls(f_mean, f_std, b_mean, b_std, a_mean, a_std)

    @classmethod
    def identity(cls, audio_dim: int) -> "Normaliser":
        """No scaling at all: what a randomly initialised model is paired with."""
        return cls(torch.zeros(FACE_DIM), torch.ones(FACE_DIM), torch.zeros(BODY_DIM),
                   torch.ones(BODY_DIM), torch.zeros(audio_dim), torch.ones(audio_dim))

    def to_dict(self) -> dict:
        return {k: [round(float(v), 7) for v in getattr(self, k)] for k in self.__dataclass_fields__}

    @classmethod
    def from_dict(cls, d: dict) -> "Normaliser":
        return cls(**{k: torch.tensor(d[k], dtype=torch.float32) for k in cls.__dataclass_fields__})

    def to(self, device) -> "Normaliser":
        return Normaliser(*(getattr(self, k).to(device) for k in self.__dataclass_fields__))

    def normalise(self, face: torch.Tensor, body: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return (face - self.face_mean) / self.face_std, (body - self.body_mean) / self.body_std

    def normalise_audio(self, feats: torch.Tensor) -> torch.Tensor:
        """The model's prefix of the audio features (audio.WIDE_DIM), normalised."""
        return (feats[..., : self.audio_mean.shape[0]] - self.audio_mean) / self.audio_std

    def denormalise(self, face: torch.Tensor, body: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return face * self.face_std + self.face_mean, body * self.body_std + self.body_mean


def decode_face(normaliser: Normaliser, face: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """A normalised face branch alone -> (expressions (N, 100), jaw axis-angle (N, 3)) float32,
    the values ``decode`` gives for it, without converting a body."""
    face = face.float() * normaliser.face_std + normaliser.face_mean
    return (face[..., :NUM_EXPRESSIONS].cpu().numpy().astype(np.float32),
            rot6d_to_axis_angle(face[..., NUM_EXPRESSIONS:]).cpu().numpy().astype(np.float32))


def decode(normaliser: Normaliser, face: torch.Tensor, body: torch.Tensor
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Normalised branches -> (poses, expressions, trans) float32 with the feet on the floor."""
    face, body = normaliser.denormalise(face.float(), body.float())
    poses, expressions, trans = (x.cpu().numpy().astype(np.float32) for x in branches_to_motion(face, body))
    return poses, expressions, ground(poses, trans).astype(np.float32)
