"""The sampler settings checked on the take-disjoint folds (a check, not a choice: these are the
held-out takes the headline reports, so picking a setting by this table would tune on them):
each setting's fold models scored on their held-out takes (3 seeds) for what the sampler can
change — the face's read-out and /p b m/ closure, the body's heading and limb amplitude and
the wrists' 3-6 Hz band (generated over captured) — beside the weights' own settings.

    .venv/bin/python bench/fold_sampler.py ../shared/data/beat2 \\
        --fold 2_scott_0_2_2=runs/fold-2_scott_0_2_2/student \\
        --fold 2_scott_0_1_1=runs/fold-2_scott_0_1_1/student --cache runs/cache
"""

from __future__ import annotations

from dataclasses import replace

# (label, SamplerSettings fields changed from the weights' own)
GRID = (
    ("the weights' own", {}),
    ("face 4 steps", {"steps_face": 4}),
    ("face 10 steps", {"steps_face": 10}),
    ("body 4 steps", {"steps_body": 4}),
    ("body from the match at t=559", {"body_start": 559}),
    ("body from the match at t=899", {"body_start": 899}),
    ("no slow posture from the match", {"posture_sigma": 0.0}),
)
RATIOS = ("closure", "amp_heading", "amp_legs", "amp_arms", "wrist_tremor")


def main() -> None:
    from asynfusion.evaluation.folds import capture_scores, fold_parser

    args = fold_parser(__doc__, seeds=3).parse_args()

    from asynfusion.evaluation.evaluate import Evaluation, evaluate_generator
    from asynfusion.generate import Generator

    rows: dict[str, list[dict]] = {label: [] for label, _ in GRID}
    for spec in args.fold:
        held, weights = spec.split("=", 1)
        ev = Evaluation(args.data, cache=args.cache, heldout_take=held)
        real = capture_scores(ev)
        gen = Generator(weights, "cpu")
        own = gen.settings(None, None, None)
        for label, change in GRID:
            m = evaluate_generator(ev, gen, replace(own, **change), args.seeds)
            cell = {"viseme": m["viseme"], **{k: m[k] / real[k] for k in RATIOS}}
            rows[label].append(cell)
            print(f"{held}: {label}: " + " ".join(f"{k} {v:.3f}" for k, v in cell.items()), flush=True)
    keys = ("viseme",) + RATIOS
    print("\n| setting (fold A / fold B) | read-out | closure /GT | heading /GT | legs /GT | arms /GT | wrist 3-6 Hz /GT |")
    print("|---|" + "---|" * len(keys))
    for label, cells in rows.items():
        print(f"| {label} | " + " | ".join(" / ".join(f"{c[k]:.2f}" for c in cells) for k in keys) + " |")


if __name__ == "__main__":
    main()
