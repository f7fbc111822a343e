"""Architecture hyper-parameters, stored in the weights' config.json."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

from ..audio import FEATURE_DIM
from ..representation import BODY_DIM, FACE_DIM


class JSONConfig:
    """to_dict/from_dict for the architecture dataclasses stored in a weights' config.json;
    an unknown field is an error, not silently dropped."""

    def to_dict(self) -> dict:
        return asdict(self)  # type: ignore[call-overload]

    @classmethod
    def from_dict(cls, d: dict):  # type: ignore[no-untyped-def]
        known = {f.name for f in fields(cls)}  # type: ignore[arg-type]
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"unknown architecture fields {unknown}")
        return cls(**d)


@dataclass(frozen=True)
class ModelConfig(JSONConfig):
    face_dim: int = FACE_DIM
    body_dim: int = BODY_DIM
    audio_dim: int = FEATURE_DIM
    width: int = 192
    depth: int = 4
    heads: int = 4
    mlp_ratio: int = 3
    audio_kernel: int = 5          # temporal conv width of the shared audio encoder
    cosync_window: int = 15        # frames each side a branch may look at in the other (0 = all)
    window: int = 120              # frames per generation window (4 s at 30 fps)
    n_speakers: int = 0            # >0 adds a speaker/style embedding; id 0 means "unknown"
    guidance_embed: bool = False   # LCM students take the guidance scale as an input
    retrieval: bool = False        # the body branch also reads the motion-matched body track
    body_lowpass: float = 0.0      # sigma (frames) of the fixed temporal low-pass on the body's output
    root_lowpass: float = 0.0      # sigma (frames) on the root position: a standing speaker's weight shifts are slow
    body_audio_lowpass: float = 0.0  # sigma (frames): the body hears the audio's slow part (no syllable-rate wobble)
