"""Weights on speech with no capture (the speaker's own takes that were never captured here, other
voices): how wide the mouth opens and how far each body part moves over the whole clip, against
the capture of the BEAT2 takes the weights trained on. The shipped weights train on every take, so
no held-out capture is left to score them on; this is the check of the shipped file itself that
the take-disjoint folds (bench/folds.py) cannot give.

    .venv/bin/python bench/unseen_speech.py ../shared/data/beat2 CLIP... \\
        [--weights [LABEL=]DIR ...] [--seeds 2]

Mouth: ARKit jawOpen (the FLAME->ARKit read-out) at its median and 90th percentile and the share
of frames at 0.95 or more, over every seed; body: each part's spread over the whole clip
(motion_stats.group_amplitudes) over the capture's, mean of the seeds. Several ``--weights``
(default: the shipped ones) are sampled on the same clips and seeds, one table row each.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from asynfusion import audio
from asynfusion.evaluation import metrics, motion_stats
from asynfusion.evaluation.articulation import jaw_open_stats
from asynfusion.generate import Generator
from asynfusion.training.data import load_split

PARTS = ("heading", "head", "spine", "legs", "arms", "hands")


def mouth_cells(expressions: list[np.ndarray], poses: list[np.ndarray]) -> str:
    """jawOpen's median, 90th percentile and fully open share over all the given frames."""
    jaw = jaw_open_stats(np.concatenate(expressions), np.concatenate(poses))
    return f"{jaw['jaw_p50']:.2f} | {jaw['jaw_p90']:.2f} | {100 * jaw['jaw_wide']:.1f} %"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("data", help="the BEAT2 folder the weights trained on (its capture is the reference)")
    parser.add_argument("clips", nargs="+", type=Path)
    parser.add_argument("--weights", nargs="+", default=["shipped="], help="[LABEL=]DIR; default the shipped weights")
    parser.add_argument("--seeds", type=int, default=2)
    args = parser.parse_args()
    takes = load_split(args.data, holdout=0.0).train
    spreads = [motion_stats.group_amplitudes(metrics.forward_kinematics(t.poses, t.trans), t.poses) for t in takes]
    capture = {part: float(np.mean([s[part] for s in spreads])) for part in PARTS}
    print(f"Reference: the capture of {len(takes)} takes ({', '.join(t.name for t in takes)}); "
          f"{args.seeds} sampling seeds per clip.\n")
    print("| weights | clip | jawOpen p50 | p90 | ≥ 0.95 | " + " | ".join(f"{p} /capture" for p in PARTS) + " |")
    print("|---|---|---|---|---|" + "---|" * len(PARTS))
    print(f"| capture | the training takes | {mouth_cells([t.expressions for t in takes], [t.poses for t in takes])} |" + " 1 |" * len(PARTS))
    heard = [audio.speaker_normalise(audio.audio_features(audio.normalise_loudness(audio.load_audio(clip))))
             for clip in args.clips]           # the same features for every set of weights
    for entry in args.weights:
        label, _, folder = entry.rpartition("=")
        gen = Generator(Path(folder) if folder else None, "cpu")
        settings = gen.settings(None, None, None)
        for clip, (feats, offset) in zip(args.clips, heard):
            faces, bodies, moved = [], [], []
            for seed in range(args.seeds):
                poses, expressions, trans = gen.decode(gen.sample(feats, offset, settings, seed))
                faces.append(expressions)
                bodies.append(poses)
                moved.append(motion_stats.group_amplitudes(metrics.forward_kinematics(poses, trans), poses))
            ratios = " | ".join(f"{np.mean([m[p] for m in moved]) / capture[p]:.2f}" for p in PARTS)
            print(f"| {label or folder} | {clip.name} | {mouth_cells(faces, bodies)} | {ratios} |",
                  flush=True)


if __name__ == "__main__":
    torch.set_num_threads(2)
    main()
