"""Ablations: do the paper's parts earn their place? One table, quality and time side by side.

Rows, all on the same held-out segments and seeds (``asynfusion eval``'s machinery):

* teacher DDIM 50: the diffusion teacher the student was distilled from;
* LCM 4+4 (sync): the student, both branches at every step;
* LCM 4+2 (async): the shipped default, the face branch stepping twice as often as the body;
* LCM 2+2, LCM 1+1: fewer steps;
* LCM 4+2, CoSync off: the default with every CoSync gate zeroed at inference, so the face
  and body branches no longer see each other;
* LCM 4+2, unsmoothed: the default without the temporal Gaussian on its output (smoothing.py);
* ground truth: the captured motion's own values (FGD: held-out vs training split).

    .venv/bin/python bench/ablations.py ../shared/data/beat2 -o bench/ABLATIONS.md \\
        [--weights weights] [--teacher DIR] [--seeds 2] [--json out.json]

The teacher folder defaults to a ``teacher`` folder inside or beside the student's.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from asynfusion.errors import UserError
from asynfusion.generate import Generator
from asynfusion.training.args import ablation_arguments
from asynfusion.training.evaluate import Evaluation, describe_settings, evaluate_generator
from asynfusion.weights import default_weights_dir

COLUMNS = [  # (key, header, better)
    ("bc", "BC", "≈GT"),
    ("l1div", "L1div", "≈GT"),
    ("l1div_seeds", "L1 div. seeds", "↑"),
    ("face_mse", "face MSE", "↓"),
    ("lvd", "LVD", "↓"),
    ("jitter", "jitter m/s³", "≈GT"),
    ("fgd", "FGD", "↓"),
    ("sync", "sync", "≈GT"),
    ("sync_xcorr", "sync xcorr", "≈GT"),
    ("gen_seconds", "sampling s", "↓"),
    ("realtime_factor", "× real time", "↑"),
]


def find_teacher(student: Path, given: str | None) -> Path:
    if given:
        return Path(given)
    for cand in (student / "teacher", student.parent / "teacher"):
        if (cand / "model.safetensors").is_file():
            return cand
    raise UserError(f"No teacher weights inside or beside {student}; pass --teacher DIR.")


def configurations(student: Generator, teacher: Generator, teacher_steps: int) -> list[tuple]:
    """(row name, generator, settings, cosync) for every row of the table."""
    lcm = lambda f, b: student.settings(f, b, None)  # noqa: E731
    return [
        (f"teacher DDIM {teacher_steps}", teacher, teacher.settings(teacher_steps, teacher_steps, None), True),
        ("LCM 4+4 (sync)", student, lcm(4, 4), True),
        ("LCM 4+2 (async, default)", student, lcm(4, 2), True),
        ("LCM 2+2", student, lcm(2, 2), True),
        ("LCM 1+1", student, lcm(1, 1), True),
        ("LCM 4+2, CoSync off", student, lcm(4, 2), False),
        ("LCM 4+2, unsmoothed", student, replace(lcm(4, 2), smooth_face=0.0, smooth_body=0.0), True),
    ]


def _cell(v) -> str:
    if v is None or (isinstance(v, float) and not np.isfinite(v)):
        return "n/a"
    if abs(v) >= 1000:
        return f"{v:.0f}"
    return f"{v:.3g}" if abs(v) >= 1 else f"{v:.3f}"


def markdown(rows: list[dict], truth: dict, header: dict) -> str:
    lines = [
        "# Ablations on held-out BEAT2",
        "",
        f"Data: `{header['data']}` ({header['split']}); {header['segments']} held-out segments, "
        f"{header['seconds']:.1f} s of speech; {header['seeds']} seed(s) per segment; joints: {header['joints']}; "
        f"FGD features: `{header['fid_model']}`; device: {header['device']}.",
        f"Student: `{header['student']}`; teacher: `{header['teacher']}`.",
        "",
        "| configuration | steps face+body | " + " | ".join(f"{h} {b}" for _, h, b in COLUMNS) + " |",
        "|---|---|" + "---|" * len(COLUMNS),
    ]
    for r in rows:
        s = r["settings"]
        lines.append(f"| {r['name']} | {s['steps_face']}+{s['steps_body']} | "
                     + " | ".join(_cell(r["metrics"].get(k)) for k, _, _ in COLUMNS) + " |")
    lines.append("| ground truth | – | " + " | ".join(_cell(truth.get(k)) for k, _, _ in COLUMNS) + " |")
    lines += [
        "",
        "≈GT: closer to the ground truth's own value is better (BC and sync also rise for noisy, "
        "jittery motion, so read them next to jitter). Sampling seconds cover all segments and seeds "
        "(model time only, after one warm-up); × real time = seconds of motion per second of sampling. "
        "Ground-truth FGD is the held-out captured motion against the training split's: the floor.",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ablation_arguments(p)
    args = p.parse_args(argv)
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    log = lambda msg: print(msg, file=sys.stderr, flush=True)  # noqa: E731
    student_dir = Path(args.weights) if args.weights else default_weights_dir()
    student = Generator(student_dir, args.device)
    teacher = Generator(find_teacher(student_dir, args.teacher), args.device)
    if student.kind != "lcm" or teacher.kind != "teacher":
        raise UserError(f"expected an LCM student and a DDIM teacher, got {student.kind!r} and {teacher.kind!r}.")
    ev = Evaluation(args.data, args.holdout, args.cache, args.smplx_model, args.mean_vel, args.fid_model)
    reference = ev.gt_features()
    truth = ev.ground_truth()
    rows = []
    for name, gen, settings, cosync in configurations(student, teacher, args.teacher_steps):
        t0 = time.perf_counter()
        metrics = evaluate_generator(ev, gen, settings, args.seeds, cosync, reference)
        log(f"{name}: done in {time.perf_counter() - t0:.1f} s")
        rows.append({"name": name, "settings": describe_settings(gen, settings, cosync), "metrics": metrics})
    header = {"data": args.data, "split": ev.description, "segments": len(ev.segments),
              "seconds": sum(s.frames for s in ev.segments) / 30.0, "seeds": args.seeds,
              "joints": ev.joints.label, "fid_model": str(ev.ae_dir), "device": student.device_name,
              "student": str(student.weights_dir), "teacher": str(teacher.weights_dir)}
    text = markdown(rows, truth, header)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(text)
    print(text)
    if args.json:
        clean = lambda d: {k: (None if isinstance(v, float) and not np.isfinite(v) else v)  # noqa: E731
                           for k, v in d.items()}
        Path(args.json).write_text(json.dumps({"header": header, "ground_truth": clean(truth),
                                               "rows": [dict(r, metrics=clean(r["metrics"])) for r in rows]},
                                              indent=1) + "\n")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except UserError as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(1)
