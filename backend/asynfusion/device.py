"""Choosing the device and the precision that is safe on it."""

from __future__ import annotations

import torch

from .errors import DeviceError, UserError


def resolve_device(name: str = "auto") -> torch.device:
    """'auto' takes CUDA when present, else the CPU; 'cuda' without a GPU is an error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise DeviceError("CUDA was requested but no NVIDIA GPU is usable here; use --device cpu or auto.")
    if name not in ("cpu", "cuda"):
        raise UserError(f"Unknown device {name!r}; use auto, cpu or cuda.")
    return torch.device(name)


def autocast_dtype(device: torch.device) -> torch.dtype | None:
    """bfloat16 on CUDA (attention and matmuls are robust to it); float32 on the CPU."""
    if device.type == "cuda" and torch.cuda.is_bf16_supported():
        return torch.bfloat16
    return None


def describe(device: torch.device) -> str:
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    return f"cpu ({torch.get_num_threads()} threads)"
