"""Every model row next to the baselines, on held-out BEAT2: one body table, one face table.

Rows, all on the same held-out segments (``asynfusion eval``'s machinery), each over
``--seeds`` seeds (Fréchet distance: mean and spread over seeds):

* baselines: a static mean pose, mismatched capture (another take's motion), plain audio
  motion matching over the same training motion (evaluation/baselines.py);
* teacher DDIM 50 from noise, and at the student's own default steps (with guidance, so twice
  the batch); the LCM student at its default (body: SDEdit from the motion-matched track),
  from noise at 4+2 (async) and 4+4 (sync), from the match at another start, 2+2, 1+1;
* the default with the retrieved track withheld, with CoSync gates zeroed at inference,
  with the optional temporal smoothing;
* ``--no-cosync-teacher DIR``: a teacher *trained* with CoSync held shut, next to the teacher
  trained with it (the paper's central claim; the gates-off-at-inference row only removes a
  part the model learned to use);
* ground truth: the captured motion's own values.

    .venv/bin/python bench/ablations.py ../shared/data/beat2 -o bench/ABLATIONS.md \\
        [--weights weights] [--teacher DIR] [--no-cosync-teacher DIR] [--seeds 3] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

from asynfusion.audio import MOTION_FPS
from asynfusion.errors import UserError
from asynfusion.evaluation.args import ablation_arguments
from asynfusion.evaluation.baselines import Baselines
from asynfusion.evaluation.evaluate import (Evaluation, describe_settings, evaluate_generator, finite, json_ready,
                                           other_voices, relative, score)
from asynfusion.generate import Generator
from asynfusion.sampling import SMOOTH_SIGMA
from asynfusion.weights import default_weights_dir


def _amplitudes(*groups: str) -> list[tuple[str, str, str]]:
    """Columns of per-group motion amplitude, each read against the capture's."""
    return [(f"amp_{g}", g, "/GT≈1") for g in groups]


BODY = [  # (key, header, better); "/GT" columns are generated over captured
    ("fgd", "FGD", "↓"),
    ("fgd_std", "± seeds", ""),
    *_amplitudes("root", "legs", "spine", "head", "arms", "hands", "heading"),
    ("wrist_slow", "wrist 1–2 Hz", "/GT≈1"),
    ("wrist_tremor", "wrist 3–6 Hz", "/GT≤1.5"),
    ("jitter", "jitter m/s³", "≈GT"),
    ("drift", "drift m", "≤1"),
    ("pelvis_low", "pelvis min m", "≈GT"),
    ("pelvis_high", "pelvis max m", "≈GT"),
    ("bc", "BC", "(reported)"),
    ("l1div_seeds", "L1 div. seeds", "↑"),
]
VOICES = [
    ("body_mean", "body amplitude, mean of groups", "/GT≈1"),
    ("body_min", "body amplitude, lowest group", "/GT≥0.8"),
    *_amplitudes("arms", "hands", "head", "root"),
    ("expr_amp", "expression amplitude", "/GT≈1"),
]
FACE = [
    ("viseme", "viseme read-out", "↑"),
    ("closure", "/p b m/ closure", "/GT≈1"),
    ("expr_amp", "expression amplitude", "/GT≈1"),
    ("face_mse", "face MSE", "↓"),
    ("lvd", "LVD", "↓"),
    ("sync", "face–body sync", "≈GT"),
    ("mouth_loudness", "mouth–loudness corr.", "(reported)"),
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


def model_rows(student: Generator, teacher: Generator, teacher_steps: int,
               no_cosync: Generator | None) -> list[tuple]:
    """(row name, generator, settings, cosync at inference, retrieval, other voices too) per model row."""
    lcm = lambda f, b: student.settings(f, b, None, smoothing=False)  # noqa: E731
    default = lcm(None, None)
    start = default.body_start
    noise = lambda s: replace(s, body_start=None)  # noqa: E731
    ddim = noise(teacher.settings(teacher_steps, teacher_steps, None, smoothing=False))
    rows = [
        (f"teacher DDIM {teacher_steps}, body from noise", teacher, ddim, True, True, True),
        (f"teacher DDIM {default.steps_face}+{default.steps_body}, body from the match at t={start} "
         "(what distillation must beat)", teacher,
         replace(teacher.settings(default.steps_face, default.steps_body, None), body_start=start,
                 posture_sigma=default.posture_sigma, posture_parts=default.posture_parts), True, True, False),
        (f"LCM {default.steps_face}+{default.steps_body}, body from the match at t={start} (default)",
         student, default, True, True, True),
        ("LCM default, posture from the model (no slow posture from the match)", student,
         replace(default, posture_sigma=0.0), True, True, True),
        (f"LCM 6+4, body from the match at t={start}", student, replace(lcm(6, 4), body_start=start), True, True, False),
        ("LCM 4+2, body from noise (async)", student, noise(lcm(4, 2)), True, True, True),
        ("LCM 4+4, body from noise (sync)", student, noise(lcm(4, 4)), True, True, False),
        ("LCM 4+4, body from the match at t=499", student, replace(lcm(4, 4), body_start=499), True, True, False),
        ("LCM 2+2, body from the match", student, lcm(2, 2), True, True, False),
        ("LCM 1+1, body from the match", student, lcm(1, 1), True, True, False),
        ("LCM default, retrieval off (no track: body from noise)", student,
         replace(default, body_start=None, posture_sigma=0.0), True, False, True),
        ("LCM default, CoSync off at inference", student, default, False, True, False),
        ("LCM default, smoothed (σ %g/%g)" % SMOOTH_SIGMA, student, student.settings(None, None, None, smoothing=True),
         True, True, False),
    ]
    if no_cosync is not None:
        rows.append((f"teacher trained without CoSync, DDIM {teacher_steps}, body from noise", no_cosync,
                     ddim, True, True, False))
    return rows


class _Length:
    """What Baselines.static reads of a segment: its length."""

    def __init__(self, frames: int) -> None:
        self.frames = frames


def _generated(gen: Generator, settings, retrieval: bool):
    import torch

    def motion(feats, seed):
        x = torch.from_numpy(feats).to(gen.device)
        return gen.decode(gen.sample(x, torch.zeros_like(x[0]), settings, seed, retrieval=retrieval))
    return motion


def _cell(v) -> str:
    if finite(v) is None:
        return "n/a"
    if abs(v) >= 1000:
        return f"{v:.0f}"
    return f"{v:.3g}" if abs(v) >= 1 else f"{v:.3f}"


def _table(title: str, columns: list, rows: list[dict], truth: dict) -> list[str]:
    lines = [f"## {title}", "",
             "| configuration | " + " | ".join(f"{h} {b}".strip() for _, h, b in columns) + " |",
             "|---|" + "---|" * len(columns)]
    for r in rows:
        cells = [_cell(r["relative"].get(k) if "/GT" in better else r["metrics"].get(k)) for k, _, better in columns]
        lines.append(f"| {r['name']} | " + " | ".join(cells) + " |")
    cells = [f"1 ({_cell(truth.get(k))})" if "/GT" in better else _cell(truth.get(k)) for k, _, better in columns]
    return lines + ["| **ground truth** | " + " | ".join(cells) + " |", ""]


def markdown(rows: list[dict], truth: dict, header: dict) -> str:
    lines = [
        "# Model rows against baselines on held-out BEAT2",
        "",
        f"Data: `{header['data']}` ({header['split']}); {header['segments']} held-out segments, "
        f"{header['seconds']:.1f} s of speech; {header['seeds']} seed(s) per segment; joints: {header['joints']}; "
        f"FGD features: `{header['fid_model']}`; device: {header['device']}.",
        f"Student: `{header['student']}`; teacher: `{header['teacher']}`.",
        "",
        "Columns marked /GT are generated over captured (1 = moves like the capture). FGD is the "
        "mean over seeds of one distance per seed to the held-out capture (± its standard deviation); "
        "the ground truth's FGD is the held-out capture against the training split's, another reference "
        "than the rows' (not a floor for them; bench/FOLDS.md compares real motion with the baselines). "
        "BC and the mouth–loudness correlation are reported, not targets: jitter raises BC and a "
        "loudness-driven face wins the correlation. Sampling seconds cover all segments and seeds "
        "(retrieval and sampling, after one warm-up).",
        "",
    ]
    lines += _table("Body", BODY, rows, truth)
    lines += _table("Face and speed", FACE, rows, truth)
    voices = [r for r in rows if r.get("voices")]
    if voices:
        lines += [f"## Other voices ({header['voices']})", "",
                  "No capture exists for these recordings: amplitudes are read against the held-out capture "
                  "of the training speaker (1 = moves as much). A body that freezes on an unfamiliar voice "
                  "shows here.", "",
                  "| configuration | " + " | ".join(f"{h} {b}" for _, h, b in VOICES) + " |",
                  "|---|" + "---|" * len(VOICES)]
        for r in voices:
            lines.append(f"| {r['name']} | " + " | ".join(_cell(r["voices"].get(k)) for k, _, _ in VOICES) + " |")
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ablation_arguments(p)
    p.add_argument("--no-cosync-teacher", default=None, help="a teacher trained with --no-cosync (ablation row)")
    args = p.parse_args(argv)
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    log = lambda msg: print(msg, file=sys.stderr, flush=True)  # noqa: E731
    student_dir = Path(args.weights) if args.weights else default_weights_dir()
    student = Generator(student_dir, args.device)
    teacher = Generator(find_teacher(student_dir, args.teacher), args.device)
    no_cosync = Generator(args.no_cosync_teacher, args.device) if args.no_cosync_teacher else None
    if student.kind != "lcm" or teacher.kind != "teacher":
        raise UserError(f"expected an LCM student and a DDIM teacher, got {student.kind!r} and {teacher.kind!r}.")
    ev = Evaluation(args.data, args.holdout, args.cache, args.smplx_model, args.mean_vel, args.fid_model)
    reference = ev.gt_features()
    truth = ev.ground_truth()
    base = Baselines(ev.train)
    # speech without capture beside the BEAT2 folder (../shared/data/speech): other voices
    clips = sorted(p for p in (Path(args.data).parent / "speech").glob("*") if p.suffix in (".wav", ".ogg", ".flac"))
    rows = []
    for name, fn in (("static mean pose", base.static), ("mismatched capture (another take)", base.mismatched),
                     ("motion matching (baseline)", base.matching)):
        t0 = time.perf_counter()
        metrics = score(ev, fn, args.seeds, reference)
        log(f"{name}: done in {time.perf_counter() - t0:.1f} s")
        row = {"name": name, "settings": None, "metrics": metrics, "relative": relative(metrics, truth)}
        if fn == base.matching and clips:
            row["voices"] = other_voices(ev, base.match_features, clips, truth, args.seeds)
        elif fn == base.static and clips:
            row["voices"] = other_voices(ev, lambda f, s: base.static(_Length(len(f)), s), clips, truth)
        rows.append(row)
    for name, gen, settings, cosync, retrieval, voices in model_rows(student, teacher, args.teacher_steps, no_cosync):
        t0 = time.perf_counter()
        metrics = evaluate_generator(ev, gen, settings, args.seeds, cosync, reference, retrieval=retrieval)
        log(f"{name}: done in {time.perf_counter() - t0:.1f} s")
        row = {"name": name, "settings": describe_settings(gen, settings, cosync), "metrics": metrics,
               "relative": relative(metrics, truth)}
        if clips and voices:
            row["voices"] = other_voices(ev, _generated(gen, settings, retrieval), clips, truth, args.seeds)
        rows.append(row)
    header = {"data": args.data, "split": ev.description, "segments": len(ev.segments),
              "seconds": sum(s.frames for s in ev.segments) / MOTION_FPS, "seeds": args.seeds,
              "joints": ev.joints.label, "fid_model": str(ev.ae_dir), "device": student.device_name,
              "student": str(student.weights_dir), "teacher": str(teacher.weights_dir),
              "voices": ", ".join(p.name for p in clips)}
    text = markdown(rows, truth, header)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(text)
    print(text)
    if args.json:
        Path(args.json).write_text(json.dumps({"header": header, "ground_truth": json_ready(truth),
                                               "rows": [dict(r, metrics=json_ready(r["metrics"])) for r in rows]},
                                              indent=1) + "\n")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except UserError as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(1)
