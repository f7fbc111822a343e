"""The ``asynfusion`` command line."""

from __future__ import annotations

import argparse
import functools
import importlib
import math
import os
import sys

from .core.motion_file import MotionFileError
from .core.output import OutputError, check_outputs, folder_files
from .core.protocol import MAX_SEED, MAX_VARIATIONS
from .core.request import GenerateRequest, RequestError, variation_seeds
from .errors import UserError
from .memory import OUT_OF_MEMORY, check_address_space, is_out_of_memory
from .shipped import shipped_sampler
from .progress import ProgressLine


class ProgressBar(ProgressLine):
    """Generation's bar: fraction and stage on a terminal, silent when stderr is a file or a pipe."""

    def __init__(self) -> None:
        super().__init__(interval=0.1, keep=False)

    def __call__(self, fraction: float, stage: str) -> None:
        self.update(fraction, f"{fraction:4.0%} {stage:<9}")


def _finite(text: str) -> float:
    """argparse type: a finite number (NaN or infinity would make NaN motion)."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
    return value


def _whole(low: int, high: int):
    """argparse type: a whole number from low to high (so 0 steps is refused, not taken as the default)."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = low - 1
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number from {low} to {high}")
        return value
    return parse


_steps = _whole(1, 1000)
_variations = _whole(1, MAX_VARIATIONS)     # seeds in one batched model run


def _per_seed(path: str, seeds: list[int]) -> list[str]:
    """Each seed's file: ``path`` itself for one seed; for variations <name>-seed<K><ext> beside
    it, the names batch.py and the panel give variation takes."""
    if len(seeds) == 1:
        return [path]
    stem, ext = os.path.splitext(path)
    return [f"{stem}-seed{seed}{ext}" for seed in seeds]


def _generate(args) -> int:
    from .generate import Generator

    if (args.regenerate is None) != (args.source is None):
        raise UserError("--regenerate START END and --from MOTION.npz go together: name the take's motion file "
                        "and the frames to resample.")
    seeds = variation_seeds(args.seed, args.variations)
    from .weights import default_weights_dir
    inputs = [args.audio, args.source, *folder_files(args.weights or default_weights_dir())]
    written = check_outputs(_per_seed(args.output, seeds) + (_per_seed(args.livelink, seeds) if args.livelink else []),
                            inputs)
    outputs = written[:len(seeds)]
    livelinks = written[len(seeds):] or [None] * len(seeds)
    request = GenerateRequest.for_seeds(args.audio, seeds, outputs, steps_face=args.steps_face,
                                        steps_body=args.steps_body, guidance=args.guidance, speaker=args.speaker,
                                        regenerate=None if args.regenerate is None else tuple(args.regenerate),
                                        source=args.source, smoothing=args.smoothing)
    generator = Generator(args.weights, args.device)
    print(f"device: {generator.device_name}", file=sys.stderr)
    bar = ProgressBar()
    try:
        result = generator.run(request, progress=bar)
    finally:
        bar.close()
    print(f"{', '.join((result.path, *result.more))}: {result.frames} frames{' each' if result.more else ''}, "
          f"{result.seconds:.1f} s of motion in {result.total_seconds:.2f} s on {result.device} "
          f"({result.realtime_factor:.0f}x real time)")
    if args.arkit or args.livelink:
        from .core.face_track import write_face_outputs
        made, lines = list(outputs), []      # all or nothing: no motion file without the face files asked for
        try:
            for path, livelink in zip(outputs, livelinks):
                lines += write_face_outputs(path, args.arkit, livelink)
                made.append(livelink)
        except BaseException:
            for path in made:
                if path and os.path.lexists(path):
                    os.unlink(path)
            raise
        print("\n".join(lines))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="asynfusion", description="Speech to whole-body SMPL-X motion.")
    sub = parser.add_subparsers(dest="command", required=True)
    gen = sub.add_parser("generate", help="generate a motion .npz for an audio file")
    gen.add_argument("audio", help="speech recording: WAV, FLAC, Ogg or MP3, any sample rate")
    gen.add_argument("-o", "--output", required=True, help="motion file to write (.npz)")
    gen.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    gen.add_argument("--seed", type=int, default=0, help=f"a whole number from 0 to {MAX_SEED}")
    gen.add_argument("--variations", type=_variations, default=1, metavar="N",
                     help=f"generate seeds --seed to --seed+N-1 (N up to {MAX_VARIATIONS}) in one batched model run, "
                          "each written to <output>-seed<K>.npz (and --livelink likewise)")
    shipped = _shipped_sampler()
    gen.add_argument("--steps-face", type=_steps, default=None,
                     help=f"face branch steps (default: the weights' own{shipped('steps_face')})")
    gen.add_argument("--steps-body", type=_steps, default=None,
                     help=f"body branch steps (default: the weights' own{shipped('steps_body')})")
    gen.add_argument("--guidance", type=_finite, default=None,
                     help=f"classifier-free guidance scale (default: the weights' own{shipped('guidance')})")
    gen.add_argument("--speaker", type=int, default=None, help="speaker/style id, for models trained with them")
    gen.add_argument("--weights", default=None, help="weights folder (default: the shipped weights/)")
    gen.add_argument("--smooth", dest="smoothing", action="store_true",
                     help="a light temporal Gaussian on the result (the model's body output is already "
                          "band-limited; this calms the face and body further)")
    gen.add_argument("--arkit", action="store_true",
                     help="also store the face as ARKit blendshape weights in the motion file (arkit, arkit_names)")
    gen.add_argument("--livelink", default=None, metavar="FILE.csv",
                     help="also write the face as a Live Link Face CSV (52 ARKit shapes, head and eye angles)")
    gen.add_argument("--regenerate", type=int, nargs=2, default=None, metavar=("START", "END"),
                     help="resample only motion frames START to END-1 (30 fps, from 0) of --from's take with "
                          "this --seed, keeping every other frame exactly; seamless at both borders")
    gen.add_argument("--from", dest="source", default=None, metavar="MOTION.npz",
                     help="the take's motion file (made for this audio) that --regenerate works on")
    gen.set_defaults(run=_generate)
    _add_lazy_commands(sub)
    return parser


# Sub-commands whose modules import torch and the data loaders: (name, module with run(args),
# module and function adding its arguments (torch-free), help). Imported only when run, so
# generate starts fast.
_LAZY_COMMANDS = (
    ("train", "training.train", "training.args:train_arguments",
     "train the DDIM teacher on BEAT2 (CPU, GPU or torchrun DDP)"),
    ("distill", "training.distill", "training.args:distill_arguments",
     "latent-consistency distillation of a teacher into the few-step student"),
    ("calibrate", "training.calibrate", "training.args:calibrate_arguments",
     "fit a student's amplitude gains on speech without capture (amplitude.py)"),
    ("eval", "evaluation.evaluate", "evaluation.args:eval_arguments",
     "metrics on held-out BEAT2 takes (JSON + table)"),
    ("train-ae", "evaluation.motion_ae", "evaluation.args:ae_arguments",
     "train the motion autoencoder whose features the Frechet distance uses"),
)


def _shipped_sampler():
    """For help texts: ", N for the shipped ones" from the shipped weights' own sampler section
    (the source generation reads), or nothing where those weights are not there."""
    saved = shipped_sampler()
    return lambda key: f", {saved[key]:g} for the shipped ones" if isinstance(saved.get(key), (int, float)) else ""


def _run_lazily(module: str, args) -> int:
    return importlib.import_module(f".{module}", __package__).run(args)


def _add_lazy_commands(sub) -> None:
    for name, module, arguments, help_text in _LAZY_COMMANDS:
        p = sub.add_parser(name, help=help_text)
        where, function = arguments.split(":")
        getattr(importlib.import_module(f".{where}", __package__), function)(p)
        p.set_defaults(run=functools.partial(_run_lazily, module))


def main(argv: list[str] | None = None) -> int:
    try:
        return _main(argv)
    except (MemoryError, ImportError, OSError) as err:
        if not is_out_of_memory(err):
            raise
        print(f"error: {OUT_OF_MEMORY}", file=sys.stderr)
        return 1


def _main(argv: list[str] | None) -> int:
    args = build_parser().parse_args(argv)
    try:
        check_address_space()    # every command loads torch
        return args.run(args)
    except (UserError, RequestError, MotionFileError, OutputError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("error: interrupted; nothing was written.", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
