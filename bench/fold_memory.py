"""Does a fold model generalise or remember? Each fold model scored on the take it trained on and
on the take it never heard, as generated over captured (amplitudes, wrist bands, closure) and
the viseme read-out, so a shortfall on the held-out take can be told from one the model has on
its own training data too.

    .venv/bin/python bench/fold_memory.py ../shared/data/beat2 \\
        --fold 2_scott_0_2_2=runs/fold-2_scott_0_2_2/student \\
        --fold 2_scott_0_1_1=runs/fold-2_scott_0_1_1/student --seeds 2 --cache runs/cache
"""

from __future__ import annotations


KEYS = ("amp_heading", "amp_head", "amp_spine", "amp_legs", "amp_arms", "amp_hands", "wrist_tremor", "closure")


def main() -> None:
    from asynfusion.evaluation.folds import capture_scores, fold_parser

    args = fold_parser(__doc__, seeds=2).parse_args()

    from asynfusion.evaluation.evaluate import Evaluation, evaluate_generator
    from asynfusion.generate import Generator

    folds = [f.split("=", 1) for f in args.fold]
    takes = [held for held, _ in folds]
    print("| fold model (held out) | scored on | " + " | ".join(k.removeprefix("amp_") for k in KEYS)
          + " | viseme read-out (capture) |")
    print("|---|---|" + "---|" * (len(KEYS) + 1))
    for held, weights in folds:
        gen = Generator(weights, "cpu")
        settings = gen.settings(None, None, None)
        for take in [t for t in takes if t != held] + [held]:
            ev = Evaluation(args.data, cache=args.cache, heldout_take=take)
            model = evaluate_generator(ev, gen, settings, args.seeds)
            real = capture_scores(ev)
            ratios = " | ".join(f"{model[k] / real[k]:.2f}" for k in KEYS)
            role = "its training take" if take != held else "the held-out take"
            print(f"| {held} | {role} ({take}) | {ratios} | {model['viseme']:.3f} ({real['viseme']:.3f}) |",
                  flush=True)


if __name__ == "__main__":
    main()
