"""Phone alignments (BEAT2's Praat TextGrids) as per-frame mouth-shape classes.

Two uses: training weights the face loss on the frames where the lips must do something
visible (closure on /p b m/ above all: a small model otherwise rounds them off), and
evaluation reads the generated face back into these classes (the viseme read-out) and
measures how deep the lips close on bilabials.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from ..audio import MOTION_FPS

# Mouth-shape classes an animator can check by eye; ARPAbet without stress digits.
VISEMES: dict[str, tuple[str, ...]] = {
    "closed": ("P", "B", "M"),                    # lips pressed together
    "labiodental": ("F", "V"),                    # lower lip on the upper teeth
    "rounded": ("W", "UW", "OW", "UH", "OY"),     # lips rounded forward
    "open": ("AA", "AE", "AW", "AY", "AO"),       # jaw open
}
VISEME_NAMES = tuple(VISEMES)
NONE = -1
CLOSED = VISEME_NAMES.index("closed")
# Face-loss weight per class: closures are the shortest and most visible events.
LOSS_WEIGHT = {"closed": 4.0, "labiodental": 2.0, "rounded": 2.0, "open": 1.5}

_INTERVAL = re.compile(r"xmin\s*=\s*([\d.eE+-]+)\s*xmax\s*=\s*([\d.eE+-]+)\s*text\s*=\s*\"(.*?)\"", re.S)


def read_phones(path: str | Path) -> list[tuple[float, float, str]]:
    """The ``phones`` tier of a TextGrid: [(start s, end s, ARPAbet without stress)]."""
    text = Path(path).read_text(encoding="utf-8", errors="replace")
    tier = re.search(r'name\s*=\s*"phones"(.*?)(?=item\s*\[\d+\]:|\Z)', text, re.S)
    if tier is None:
        raise ValueError(f"{Path(path).name} has no 'phones' tier")
    return [(float(a), float(b), re.sub(r"\d", "", t).strip().upper()) for a, b, t in _INTERVAL.findall(tier.group(1))]


def frame_visemes(phones: list[tuple[float, float, str]], frames: int, fps: float = MOTION_FPS) -> np.ndarray:
    """(frames,) int8 viseme class per motion frame (NONE where no class applies)."""
    lookup = {p: i for i, name in enumerate(VISEME_NAMES) for p in VISEMES[name]}
    out = np.full(frames, NONE, np.int8)
    centres = (np.arange(frames) + 0.5) / fps
    for start, end, phone in phones:
        cls = lookup.get(phone, NONE)
        if cls != NONE:
            out[(centres >= start) & (centres < end)] = cls
    return out


def loss_weights(visemes: np.ndarray) -> np.ndarray:
    """(N,) face-loss weight per frame: 1 where no viseme applies."""
    table = np.array([LOSS_WEIGHT[n] for n in VISEME_NAMES] + [1.0], np.float32)
    return table[np.where(visemes < 0, len(VISEME_NAMES), visemes)]
