"""Optional temporal smoothing of generated motion (a Gaussian low-pass along time).

The model's body output is band-limited inside the network (ModelConfig.body_lowpass),
so samples no longer need this; it stays as an option (``asynfusion generate --smooth``)
for a calmer look. sigma = 1 frame at 30 fps passes 5 Hz at ~60 % and damps 15 Hz
(Nyquist) to <1 %. It runs on the normalised 6D/expression features, before decoding,
so rotations stay valid.
"""

from __future__ import annotations

import torch

from .model.layers import gaussian_taps, temporal_lowpass


def smooth(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """(T, D) -> (T, D) low-passed along T; sigma in frames, 0 = unchanged. Ends are mirrored."""
    if sigma <= 0 or x.shape[0] < 2:
        return x
    return temporal_lowpass(x[None], gaussian_taps(sigma).to(x.device))[0]
