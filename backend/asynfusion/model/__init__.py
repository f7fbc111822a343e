"""The AsynFusion network: a dual-branch diffusion transformer with CoSync."""

from .config import ModelConfig
from .dit import AsynFusion, BRANCHES

__all__ = ["AsynFusion", "ModelConfig", "BRANCHES"]
