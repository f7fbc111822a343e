"""``asynfusion eval`` and the ablation table end to end on the real held-out BEAT2 segments.

The generator is a small randomly initialised model (random weights, not trained), so the
numbers say nothing about quality; the tests check the machinery: every metric for generated
and ground truth, the held-out segments the split promises, sync/async/CoSync switches.
"""

import json
import subprocess
import sys

import numpy as np
import pytest
import torch

from asynfusion.core import rest_pose, skeleton
from asynfusion.errors import UserError
from asynfusion.evaluation import motion_ae
from asynfusion.evaluation.evaluate import METRIC_KEYS, TIMING_KEYS, Evaluation, cosync_disabled, eval_settings
from asynfusion.evaluation.metrics import forward_kinematics
from asynfusion.generate import Generator
from asynfusion.training.data import load_split

from .conftest import BEAT2, PYTHON, REPO, cli_env

sys.path.insert(0, str(REPO / "tests"))
from synthetic_smplx import write_synthetic_model  # noqa: E402

GT_NA = {"l1div_seeds", "face_mse", "lvd", "fgd_std", "gesture_fd_std"}   # what the captured motion has no value for


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("feature_cache")


@pytest.fixture(scope="module")
def tiny_ae(tmp_path_factory, cache):
    """A motion autoencoder trained for a few steps on the training split (FGD features)."""
    torch.set_num_threads(1)
    split = load_split(BEAT2, cache=cache)
    model, _ = motion_ae.train_motion_ae([t.poses for t in split.train], motion_ae.AETrainConfig(
        steps=20, batch=8, window=32, hidden=32, latent=8))
    folder = tmp_path_factory.mktemp("motion_ae")
    motion_ae.save_motion_ae(folder, model)
    return folder


def run(args, timeout=400):
    return subprocess.run([PYTHON, *map(str, args)], capture_output=True, text=True, env=cli_env(),
                          timeout=timeout, cwd=REPO)


@pytest.mark.shared_data("beat2")
def test_random_weights_eval_end_to_end_writes_every_metric(random_weights, tiny_ae, cache, tmp_path):
    out = tmp_path / "eval.json"
    r = run(["-m", "asynfusion.cli", "eval", BEAT2, "--weights", random_weights, "--fid-model", tiny_ae,
             "--seeds", "2", "--steps-face", "2", "--steps-body", "1", "--json", out, "--cache", cache,
             "--threads", "1"])
    assert r.returncode == 0, r.stderr
    result = json.loads(out.read_text())
    gen, gt = result["generated"], result["ground_truth"]
    assert set(METRIC_KEYS) <= set(gen) and set(METRIC_KEYS) <= set(gt)
    for k in METRIC_KEYS:
        assert gen[k] is not None and np.isfinite(gen[k]), k
        assert (gt[k] is None) == (k in GT_NA), k
    for k in TIMING_KEYS:
        assert gen[k] > 0
    # the held-out part is the last 15% of each take, as the split promises
    split = load_split(BEAT2, cache=cache)
    assert [(s["take"], s["start"], s["frames"]) for s in result["segments"]] == [
        (t.name, t.start, t.frames) for t in split.test]
    assert all(s["start"] > 0.8 * (s["start"] + s["frames"]) for s in result["segments"])
    assert result["settings"]["steps_face"] == 2 and result["settings"]["steps_body"] == 1
    assert result["settings"]["synchronous"] is False and result["settings"]["cosync"] is True
    assert "template" in result["joints"]
    # captured motion is smooth, random weights are not; two seeds differ
    assert gt["jitter"] < gen["jitter"] and gen["l1div_seeds"] > 0
    assert 0 < gt["bc"] < 1 and gt["fgd"] >= 0
    table = r.stdout
    assert "ground truth" in table and "FGD" in table and "n/a" in table and "x real time" in table


def test_random_weights_sync_flag_and_step_overrides(random_weights):
    gen = Generator(random_weights)
    default = gen.settings(None, None, None)
    saved = gen.config["sampler"]                     # the weights' own settings are the defaults
    assert (default.steps_face, default.steps_body, default.body_start) == (
        saved["steps_face"], saved["steps_body"], saved["body_start"])
    assert default.body_start is not None            # a retrieval student starts its body from the match
    s = eval_settings(gen, None, None, None, synchronous=True)
    assert s.steps_face == s.steps_body == saved["steps_face"] and s.body_start is None
    s = eval_settings(gen, 3, 1, None, synchronous=False)
    assert (s.steps_face, s.steps_body) == (3, 1)
    with pytest.raises(UserError, match="--sync"):
        eval_settings(gen, 4, 2, None, synchronous=True)


def test_random_weights_cosync_off_zeroes_the_gates_and_restores_them(random_weights):
    gen = Generator(random_weights)
    before = [g.detach().clone() for g in gen.model.cosync_gates()]
    assert any(torch.count_nonzero(g) for g in before)
    with cosync_disabled(gen.model):
        assert all(torch.count_nonzero(g) == 0 for g in gen.model.cosync_gates())
    assert all(torch.equal(a, b) for a, b in zip(before, gen.model.cosync_gates()))


@pytest.mark.shared_data("beat2")
def test_random_weights_ablation_table(random_weights, random_teacher_weights, tiny_ae, cache, tmp_path):
    md, js = tmp_path / "ablations.md", tmp_path / "ablations.json"
    r = run([REPO / "bench" / "ablations.py", BEAT2, "-o", md, "--json", js, "--weights", random_weights,
             "--teacher", random_teacher_weights, "--teacher-steps", "3", "--seeds", "1",
             "--fid-model", tiny_ae, "--cache", cache, "--threads", "1"])
    assert r.returncode == 0, r.stderr
    text = md.read_text()
    rows = [line for line in text.splitlines() if line.startswith("| ") and "configuration" not in line]
    names = [row.split("|")[1].strip() for row in rows]
    saved = json.loads((random_weights / "config.json").read_text())["sampler"]
    start = saved["body_start"]
    steps = f"{saved['steps_face']}+{saved['steps_body']}"
    default = f"LCM {steps}, body from the match at t={start} (default)"
    own_posture = "LCM default, posture from the model (no slow posture from the match)"
    expected = ["static mean pose", "mismatched capture (another take)", "motion matching (baseline)",
                "teacher DDIM 3, body from noise",
                f"teacher DDIM {steps}, body from the match at t={start} (what distillation must beat)", default,
                own_posture, f"LCM 6+4, body from the match at t={start}", "LCM 4+2, body from noise (async)",
                "LCM 4+4, body from noise (sync)",
                "LCM 4+4, body from the match at t=499", "LCM 2+2, body from the match", "LCM 1+1, body from the match",
                "LCM default, retrieval off (no track: body from noise)", "LCM default, CoSync off at inference",
                "LCM default, smoothed (σ 1/2)", "**ground truth**"]
    voices = ["static mean pose", "motion matching (baseline)", "teacher DDIM 3, body from noise", default,
              own_posture, "LCM 4+2, body from noise (async)", "LCM default, retrieval off (no track: body from noise)"]
    assert names == expected + expected + voices           # the body table, the face table, other voices
    data = json.loads(js.read_text())
    by_name = {row["name"]: row for row in data["rows"]}
    assert by_name["teacher DDIM 3, body from noise"]["settings"]["kind"] == "teacher"
    assert by_name["LCM 4+4, body from noise (sync)"]["settings"]["synchronous"] is True
    assert by_name[default]["settings"]["body_start"] == start and not by_name[default]["settings"]["synchronous"]
    on, off = by_name[default], by_name["LCM default, CoSync off at inference"]
    assert off["settings"]["cosync"] is False and on["settings"]["cosync"] is True
    assert on["metrics"]["face_mse"] != off["metrics"]["face_mse"]     # the gates really were shut
    assert by_name[default]["settings"]["posture_sigma"] > 0 and by_name[own_posture]["settings"]["posture_sigma"] == 0
    assert by_name[default]["settings"]["posture_parts"] == ["spine chain", "legs", "heading", "floor position"]
    assert by_name[own_posture]["metrics"]["amp_head"] != on["metrics"]["amp_head"]   # the spine chain's posture
    assert by_name[own_posture]["metrics"]["amp_legs"] != on["metrics"]["amp_legs"]   # ... and the stance's
    no_retrieval = by_name["LCM default, retrieval off (no track: body from noise)"]["metrics"]
    assert no_retrieval["amp_arms"] != on["metrics"]["amp_arms"]      # the body branch reads the track
    assert "## Other voices" in text and by_name["motion matching (baseline)"]["voices"]["body_mean"] > 0
    assert by_name["static mean pose"]["voices"]["body_mean"] < 1e-9
    static = by_name["static mean pose"]
    assert static["metrics"]["amp_hands"] < 1e-9 and static["relative"]["expr_amp"] == 0
    assert all(row["metrics"]["gen_seconds"] > 0 for row in data["rows"] if row["settings"])


@pytest.mark.shared_data("beat2")
def test_evaluation_labels_smplx_joints_and_uses_the_takes_betas(tiny_ae, cache, tmp_path):
    model = tmp_path / "SMPLX_NEUTRAL_synthetic.npz"
    write_synthetic_model(str(model), rest_pose.smplx_rest_joints(), skeleton.PARENTS)
    ev = Evaluation(BEAT2, cache=cache, smplx_model=str(model), fid_model=tiny_ae)
    assert "smplx" in ev.joints.label and model.name in ev.joints.label
    seg = ev.segments[0]
    assert seg.betas is not None and seg.betas.shape == (300,)
    fk = forward_kinematics(seg.take.poses, seg.take.trans)  # the same segment through template FK
    assert 1e-3 < np.abs(seg.joints - fk).max() < 0.05       # close skeletons, not the same one


@pytest.mark.shared_data("beat2")
def test_eval_without_the_speed_normaliser_says_what_to_pass(random_weights, tiny_ae, cache, tmp_path):
    r = run(["-m", "asynfusion.cli", "eval", BEAT2, "--weights", random_weights, "--fid-model", tiny_ae,
             "--mean-vel", tmp_path / "nope.npy", "--cache", cache, "--seeds", "1"])
    assert r.returncode == 1
    assert r.stderr.strip().startswith("error:") and "--mean-vel" in r.stderr and "Traceback" not in r.stderr


@pytest.mark.shared_data("beat2")
def test_random_weights_a_take_disjoint_fold_scores_every_row_on_the_whole_held_out_take(random_weights, cache):
    from asynfusion.evaluation.folds import ROWS, Fold, score_fold
    from asynfusion.training.data import load_split

    split = load_split(BEAT2, cache=cache, heldout_take="2_scott_0_1_1")
    assert [t.name for t in split.test] == ["2_scott_0_1_1"] and [t.name for t in split.train] == ["2_scott_0_2_2"]
    assert split.test[0].start == 0 and split.train[0].start == 0          # whole takes, nothing of one in the other
    with pytest.raises(ValueError, match="not a take"):
        load_split(BEAT2, cache=cache, heldout_take="2_scott_9_9_9")
    rows = score_fold(str(BEAT2), Fold("2_scott_0_1_1", str(random_weights)), seeds=1, cache=str(cache))
    assert tuple(rows) == ROWS
    assert rows["capture"]["gesture_fd"] == pytest.approx(0, abs=1e-6) and rows["capture"]["fgd"] == pytest.approx(0, abs=1e-6)
    assert rows["static"]["gesture_fd"] > rows["other take"]["gesture_fd"] > 0
    assert rows["model"]["gesture_fd"] != rows["model, feet not planted"]["gesture_fd"]


def test_several_trainings_of_a_recipe_are_averaged_and_each_training_kept():
    """A fold's model rows over retrainings (evaluation/folds.over_trainings): numbers averaged,
    each training's beside them; what is not a finite number stays the first training's."""
    from asynfusion.evaluation.folds import over_trainings

    runs = [{"viseme": 0.5, "fgd": 10.0, "fgd_std": 1.0, "kind": "lcm", "sync": None},
            {"viseme": 0.6, "fgd": 20.0, "fgd_std": 3.0, "kind": "lcm", "sync": 0.3}]
    out = over_trainings(runs)
    assert out["viseme"] == pytest.approx(0.55) and out["viseme_trainings"] == [0.5, 0.6]
    assert out["fgd"] == pytest.approx(15.0) and out["fgd_std"] == pytest.approx(2.0)
    assert out["kind"] == "lcm" and out["sync"] is None and "sync_trainings" not in out
    assert over_trainings(runs[:1]) is runs[0]
