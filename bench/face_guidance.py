"""The face's guidance on the take-disjoint folds: where the /p b m/ closures are lost, and the
face guidance the weights' sampler section carries (sampling.RECIPE, "face_guidance" and
"closing_guidance").

    .venv/bin/python bench/face_guidance.py ../shared/data/beat2 --cache runs/cache \\
        --fold 2_scott_0_2_2=runs/fold-2_scott_0_2_2/teacher,runs/fold-2_scott_0_2_2/calibrated \\
        --fold 2_scott_0_1_1=runs/fold-2_scott_0_1_1/teacher,runs/fold-2_scott_0_1_1/calibrated

Each ``--fold HELDOUT=TEACHER,STUDENT``: the fold's DDIM teacher (20 face and body steps) at
several guidance scales, and its calibrated student with its own sampler and with classifier-free
guidance on the face's last step only (sampling.SamplerSettings.face_guidance), and with that
step guided one way where it opens the mouth and harder where it closes it
(SamplerSettings.closing_guidance, core/mouth.close_as), each scored on the held-out take
(2 seeds): viseme read-out, closure depth over the capture's (evaluation/articulation.py), and
how open the mouth gets (ARKit jawOpen). Printed last: whether the weights' own setting keeps
fully open frames (jawOpen >= 0.95) within the capture's + 1 point on every fold (issue 21's
mouth constraint). Weights calibrated with a mouth range (asynfusion calibrate, core/mouth.py
limit_opening) are scored with it, as they generate.

v5.4-v5.6 shipped face guidance 2.5, the largest of this sweep within that constraint before
the mouth's range existed; its closures came with wider mouths around them (fold B jawOpen p90
0.72 against the capture's 0.60). v5.7 ships opening 1 / closing 4: the sweep's largest guidance
where it closes, none where it opens. Both were chosen reading these held-out takes.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import torch

TEACHER_GUIDANCE = (1.0, 3.0, 5.0, 8.0)
FACE_GUIDANCE = (1.0, 2.0, 2.5, 3.0, 4.0)
OPEN_CLOSE = ((1.0, 4.0), (2.5, 4.0))     # (face_guidance, closing_guidance)
TEACHER_STEPS = 20
WIDE_MARGIN = 0.01          # fully open frames allowed above the capture's


def face_scores(ev, motions) -> dict[str, float]:
    """Read-out, closure over the capture's and jawOpen of (poses, expressions) motions of the
    held-out take."""
    from asynfusion.evaluation import metrics as M
    from asynfusion.evaluation.articulation import balanced_accuracy, closure_depths, jaw_open_stats

    seg = ev.segments[0]
    visemes = seg.take.visemes
    captured = closure_depths(ev.probe.openness(seg.face), visemes).mean()
    counts, depths, jaws = 0, [], []
    for poses, expressions in motions:
        face = M.face_params(poses, expressions)
        counts = counts + ev.probe.readout_counts(face, visemes)
        depths.append(closure_depths(ev.probe.openness(face), visemes))
        jaws.append(jaw_open_stats(expressions, poses))
    return {"readout": balanced_accuracy(counts), "closure": float(np.concatenate(depths).mean() / captured),
            "wide": float(np.mean([j["jaw_wide"] for j in jaws])), "p90": float(np.mean([j["jaw_p90"] for j in jaws]))}


def sampled(ev, gen, settings, seeds: int):
    seg = ev.segments[0]
    feats = torch.from_numpy(seg.take.feats).to(gen.device)
    for out in gen.sample_many(feats, torch.zeros_like(feats[0]), settings, list(range(seeds))):
        poses, expressions, _ = gen.decode(out, plant=False)
        yield poses, expressions


def rows_for(ev, teacher_dir: str, student_dir: str, seeds: int) -> dict[str, dict[str, float]]:
    from asynfusion.generate import Generator

    seg = ev.segments[0]
    rows = {"capture": face_scores(ev, [(seg.take.poses, seg.take.expressions)])}
    teacher = Generator(teacher_dir, "cpu")
    for w in TEACHER_GUIDANCE:
        settings = teacher.settings(TEACHER_STEPS, TEACHER_STEPS, w)
        rows[f"teacher, guidance {w:g}"] = face_scores(ev, sampled(ev, teacher, settings, seeds))
    student = Generator(student_dir, "cpu")
    own = student.settings(None, None, None)
    for g in FACE_GUIDANCE:
        rows[f"student, face guidance {g:g}"] = face_scores(
            ev, sampled(ev, student, replace(own, face_guidance=g, closing_guidance=1.0), seeds))
    for g, c in OPEN_CLOSE:
        rows[f"student, opening {g:g} / closing {c:g}"] = face_scores(
            ev, sampled(ev, student, replace(own, face_guidance=g, closing_guidance=c), seeds))
    rows["student, its own setting"] = face_scores(ev, sampled(ev, student, own, seeds))
    return rows


def main() -> None:
    from asynfusion.evaluation.evaluate import Evaluation
    from asynfusion.evaluation.folds import fold_parser

    args = fold_parser(__doc__, seeds=2).parse_args()
    per_fold = []
    for spec in args.fold:
        held, paths = spec.split("=", 1)
        teacher, student = paths.split(",")
        ev = Evaluation(args.data, cache=args.cache, heldout_take=held)
        per_fold.append(rows_for(ev, teacher, student, args.seeds))
        for label, r in per_fold[-1].items():
            print(f"{held}: {label}: " + ", ".join(f"{k} {v:.3f}" for k, v in r.items()), flush=True)
    folds = " / ".join(s.split("=", 1)[0] for s in args.fold)
    print(f"\n| face of ({folds}) | read-out | closure /GT | jawOpen >= 0.95, % of frames | jawOpen p90 |")
    print("|---|---|---|---|---|")
    for label in per_fold[0]:
        cells = [rows[label] for rows in per_fold]
        print(f"| {label} | " + " / ".join(f"{c['readout']:.3f}" for c in cells) + " | "
              + " / ".join(f"{c['closure']:.2f}" for c in cells) + " | "
              + " / ".join(f"{100 * c['wide']:.1f}" for c in cells) + " | "
              + " / ".join(f"{c['p90']:.2f}" for c in cells) + " |")
    within = all(rows["student, its own setting"]["wide"] <= rows["capture"]["wide"] + WIDE_MARGIN
                 for rows in per_fold)
    print(f"\nthe weights' own setting keeps fully open frames within the capture's + {100 * WIDE_MARGIN:g} point "
          f"on every fold: {'yes' if within else 'no'}")


if __name__ == "__main__":
    main()
