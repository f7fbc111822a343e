"""Is a regenerated range jerkier than the model's own motion? For the bundled 14.8 s clip and
the shipped weights: takes from several seeds, then ranges of each regenerated with other seeds.
The jerk (|third difference| per frame, body poses and face expressions) of the regenerated
frames is read against the same frames of a take generated whole with the new seed, and
against the largest jerk of whole takes: a range that moves like freshly generated motion,
seams included, is as smooth as the model can make it.

    .venv/bin/python bench/regenerate_seams.py [--takes 10] [--device cpu]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np

from asynfusion.core.motion_file import read_motion
from asynfusion.generate import Generator, Regenerate
from asynfusion.sampling import Inpaint

CLIP = Path(__file__).resolve().parents[1] / "tests" / "data" / "5703-47212-0000.ogg"
SOURCES, NEW_SEEDS = (0, 1, 2), (5, 6, 7)
RANGES = ((100, 200), (200, 300), (300, 400))
KEYS = ("poses", "expressions")


def jerk(x: np.ndarray) -> np.ndarray:
    """|third difference| per frame: index i spans frames i..i+3."""
    return np.linalg.norm(np.diff(x, 3, axis=0), axis=1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--takes", type=int, default=10, help="whole takes (seeds 0..N-1) for the reference")
    parser.add_argument("--device", default="cpu", choices=("auto", "cpu", "cuda"))
    args = parser.parse_args()
    gen, folder = Generator(None, args.device), Path(tempfile.mkdtemp())
    whole = {}
    for seed in range(max(args.takes, *NEW_SEEDS) + 1):
        gen.generate(CLIP, folder / f"{seed}.npz", seed=seed)
        whole[seed] = read_motion(folder / f"{seed}.npz")
    blend = Inpaint.__dataclass_fields__["blend"].default
    rows: dict[str, list[tuple[float, float, float, float]]] = {k: [] for k in KEYS}
    for src in SOURCES:
        for seed in NEW_SEEDS:
            for a, b in RANGES:
                gen.generate(CLIP, folder / "r.npz", seed=seed, regenerate=Regenerate(str(folder / f"{src}.npz"), a, b))
                new = read_motion(folder / "r.npz")
                for key in KEYS:
                    j = jerk(getattr(new, key))
                    seams = max(j[a - 3:a + blend].max(), j[b - blend - 3:b].max())   # straddling + easing
                    fresh = jerk(getattr(whole[seed], key))[a - 3:b].max()
                    rows[key].append((j[a - 3:b].max(), seams, fresh, jerk(getattr(whole[src], key)).max()))
    print(f"{CLIP.name}, shipped weights, {gen.device_name}; {len(SOURCES)} source takes x {len(NEW_SEEDS)} new "
          f"seeds x ranges {', '.join(f'{a}-{b}' for a, b in RANGES)} ({len(rows[KEYS[0]])} regenerations); "
          f"whole takes: seeds 0-{args.takes - 1}")
    print("| jerk (max over the frames) | poses: median | poses: max | expressions: median | expressions: max |")
    print("|---|---:|---:|---:|---:|")
    table = {k: np.array(v) for k, v in rows.items()}
    whole_max = {k: np.array([jerk(getattr(whole[s], k)).max() for s in range(args.takes)]) for k in KEYS}
    for label, col in (("regenerated range, seams included", 0), (f"its seams ({blend} easing frames each side)", 1),
                       ("the same frames of a whole take with the new seed", 2)):
        print(f"| {label} | " + " | ".join(f"{np.median(table[k][:, col]):.4g} | {table[k][:, col].max():.4g}"
                                           for k in KEYS) + " |")
    print("| whole takes (over the seeds) | " + " | ".join(f"{np.median(whole_max[k]):.4g} | {whole_max[k].max():.4g}"
                                                        for k in KEYS) + " |")
    for k in KEYS:
        above = int((table[k][:, 0] > table[k][:, 3]).sum())
        print(f"{k}: the range's peak is above its source take's own peak in {above} of {len(table[k])}, "
              f"above the largest whole-take peak in {int((table[k][:, 0] > whole_max[k].max()).sum())}")


if __name__ == "__main__":
    main()
