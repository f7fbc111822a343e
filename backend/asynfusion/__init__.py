"""AsynFusion backend: speech audio -> whole-body SMPL-X motion (face + body)."""

__version__ = "0.1.0"
