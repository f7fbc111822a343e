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
    phonetic_classes: int = 0      # >0: the audio encoder also hears a frozen probe's mouth-shape scores (phonetic.py)
    phonetic_reach: int = 2        # frames of context each side the probe reads
    dropout: float = 0.0           # training only: each block's residual updates and the audio it hears
    dropout_face_only: bool = False  # the dropout in the face branch's blocks only (the body's as without)

    def __post_init__(self) -> None:
        """Refuse architectures no trained model has (a damaged config must not allocate
        gigabytes or fail deep inside torch)."""
        limits = {"width": (8, 4096), "depth": (1, 64), "heads": (1, 64), "mlp_ratio": (1, 16),
                  "audio_kernel": (1, 31), "window": (8, 4096), "cosync_window": (0, 4096), "n_speakers": (0, 100000),
                  "phonetic_classes": (0, 64), "phonetic_reach": (0, 15)}
        for name, (lo, hi) in limits.items():
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or not lo <= value <= hi:
                raise ValueError(f"{name} must be a whole number from {lo} to {hi}, not {value!r}")
        if self.width % self.heads:
            raise ValueError(f"width {self.width} is not divisible by heads {self.heads}")
        for name in ("body_lowpass", "root_lowpass", "body_audio_lowpass"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not 0 <= value <= 50:
                raise ValueError(f"{name} must be between 0 and 50 frames, not {value!r}")
        if not isinstance(self.dropout, (int, float)) or not 0 <= self.dropout < 1:
            raise ValueError(f"dropout must be at least 0 and below 1, not {self.dropout!r}")
