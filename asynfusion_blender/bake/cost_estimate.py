"""What a bake will cost before it starts: keyframes, Blender's memory, the size of the .blend.

An hour of speech is 108,000 frames; on a full rig that is tens of millions of keyframes, which
Blender holds in memory and writes into the .blend. The cost per keyframe is measured on real
bakes by ``bench/bake_cost.py`` and stored in ``data/bake_cost.json``; a bake that would not fit
in the memory left is refused before anything is written, and a large one is announced.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

DATA_FILE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "data", "bake_cost.json")
LARGE_BYTES = 1_000_000_000        # a bake above this (memory or .blend) is announced first
HEADROOM = 1.25                    # refuse unless the estimate fits in the free memory with this margin


@dataclass(frozen=True)
class BakeCost:
    keys: int
    memory: int        # bytes of Blender's memory the keyframes take
    blend: int         # bytes they add to the saved .blend

    @property
    def large(self) -> bool:
        return max(self.memory, self.blend) >= LARGE_BYTES

    def panel_lines(self, seconds: float) -> list[str]:
        """The same in two lines short enough for the sidebar."""
        return [f"Large bake: {_duration(seconds)}, {_count(self.keys)} keyframes",
                f"about {_size(self.memory)} of memory, {_size(self.blend)} .blend"]

    def sentence(self, seconds: float) -> str:
        return (f"Baking {_duration(seconds)} of motion writes about {_count(self.keys)} keyframes: about "
                f"{_size(self.memory)} of memory and {_size(self.blend)} in the saved .blend.")


def keys_per_frame(joints: int, root: bool, face_keys: int) -> int:
    """Keyframes one frame of a bake writes: a quaternion per joint, the root's location, one
    value per driven shape key."""
    return 4 * joints + 3 * int(root) + face_keys


def estimate(keys: int) -> BakeCost:
    with open(DATA_FILE) as f:
        per_key = json.load(f)
    return BakeCost(keys, int(keys * per_key["memory_bytes_per_key"]), int(keys * per_key["blend_bytes_per_key"]))


def free_memory() -> int | None:
    """Bytes the system can still give (MemAvailable); None where /proc/meminfo does not exist."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def refusal(cost: BakeCost, seconds: float, free: int | None) -> str | None:
    """The sentence that refuses a bake that would exhaust memory, or None if it fits."""
    if free is None or cost.memory * HEADROOM <= free:
        return None
    return (f"Baking {_duration(seconds)} of motion needs about {_size(cost.memory)} of memory and only "
            f"{_size(free)} is free; split the audio into shorter clips or bake fewer parts.")


def _duration(seconds: float) -> str:
    minutes = seconds / 60.0
    return f"{seconds:.0f} s" if minutes < 2 else f"{minutes:.0f} min"


def _count(n: int) -> str:
    return f"{n / 1e6:.1f} million" if n >= 1e6 else f"{n:,}"


def _size(n: int) -> str:
    return f"{n / 1e9:.1f} GB" if n >= 1e9 else f"{n / 1e6:.0f} MB"
