"""Amplitude gains (amplitude.py): the slower motion of each body part scaled, the faster left;
read from the weights' sampler section; fitted by asynfusion calibrate (training/calibrate.py)."""

import json
import shutil

import numpy as np
import pytest
import torch

from asynfusion.amplitude import PARTS, SIGMA, column_gains, scale_amplitude
from asynfusion.core import mouth
from asynfusion.core.motion_file import read_motion
from asynfusion.core.skeleton import BODY_PARTS, JAW
from asynfusion.errors import WeightsError
from asynfusion.generate import Generator
from asynfusion.representation import BODY_DIM, BODY_ROT_JOINTS
from asynfusion.sampling import resolve_settings
from asynfusion.training.data import load_split
from asynfusion.weights import default_weights_dir

from .conftest import BEAT2, SPEECH_WAV

FPS = 30.0


def _columns(part: str) -> list[int]:
    return [6 * BODY_ROT_JOINTS.index(j) + i for j in PARTS[part] for i in range(6)]   # not part_columns: its check


def test_each_part_gain_lands_on_its_joints_six_columns_and_nowhere_else():
    g = column_gains({"heading": 1.5, "arms": 2.0})
    assert torch.all(g[:6] == 1.5)                         # the root's rotation is the heading
    assert torch.all(g[_columns("arms")] == 2.0)
    others = torch.ones(BODY_DIM, dtype=torch.bool)
    others[:6] = False
    others[_columns("arms")] = False
    assert torch.all(g[others] == 1.0)                     # legs, hands, the root's translation
    assert torch.all(g[-3:] == 1.0)
    with pytest.raises(ValueError, match="elbows"):
        column_gains({"elbows": 1.2})


def test_the_slow_motion_is_scaled_about_its_mean_and_the_tremor_band_is_left():
    t = torch.arange(600, dtype=torch.float64) / FPS
    slow = torch.sin(2 * torch.pi * 0.5 * t)               # a stroke every 2 s
    fast = 0.2 * torch.sin(2 * torch.pi * 5.0 * t)         # the wobble band
    body = torch.zeros(600, BODY_DIM, dtype=torch.float64)
    col = _columns("arms")[0]
    body[:, col] = 3.0 + slow + fast
    body[:, -1] = slow                                     # the root's height: never scaled
    out = scale_amplitude(body, column_gains({"arms": 2.0}).double(), sigma=3.0)
    mid = slice(60, 540)                                   # away from the mirrored ends
    got = out[mid, col] - 3.0
    fit = np.linalg.lstsq(torch.stack([slow[mid], fast[mid] / 0.2], 1).numpy(), got.numpy(), rcond=None)[0]
    assert fit[0] == pytest.approx(1.95, abs=0.02)     # the stroke nearly twice as large (the low-pass passes 0.95)
    assert abs(fit[1] - 0.2) < 0.2 * 0.1                          # the 5 Hz part within 10 % of itself
    assert out[:, col].mean() == pytest.approx(3.0, abs=0.01)     # about its mean, not about zero
    assert torch.equal(out[:, -1], body[:, -1])
    assert torch.equal(scale_amplitude(body, column_gains({})), body)


def test_the_mean_is_taken_over_the_clip_not_its_padding():
    body = torch.zeros(200, BODY_DIM)
    col = _columns("legs")[0]
    body[:100, col] = torch.linspace(-1, 1, 100)
    body[100:, col] = 5.0                                  # padding repeating a far value
    out = scale_amplitude(body, column_gains({"legs": 2.0}), frames=100)
    assert abs(float(out[:100, col].mean())) < 0.05


def test_the_weights_sampler_section_carries_the_gains_and_bad_ones_are_one_sentence():
    cfg = json.loads((default_weights_dir() / "config.json").read_text())
    sampler = dict(cfg["sampler"], amplitude={"legs": 1.3, "heading": 1.1}, amplitude_sigma=6)
    s = resolve_settings({"sampler": sampler}, "lcm")
    assert dict(s.amplitude) == {"legs": 1.3, "heading": 1.1} and s.amplitude_sigma == 6.0
    assert resolve_settings({"sampler": dict(sampler, amplitude={})}, "lcm").amplitude == ()
    for bad in ({"legs": -1.0}, {"legs": "big"}, {"tail": 1.2}, [1.2]):
        with pytest.raises(WeightsError, match="calibrate"):
            resolve_settings({"sampler": dict(sampler, amplitude=bad)}, "lcm")
    with pytest.raises(WeightsError, match="amplitude_sigma"):
        resolve_settings({"sampler": dict(sampler, amplitude_sigma=None)}, "lcm")


def _arm_spread(poses: np.ndarray) -> float:
    idx = [3 * j + k for j in BODY_PARTS["arms"] for k in range(3)]
    return float(poses[:, idx].std(0).mean())


def test_generation_moves_the_arms_further_with_a_larger_arm_gain(tmp_path):
    """The shipped weights, sampled with and without an arm gain of 1.6 (one seed, same noise)."""
    folder = tmp_path / "weights"
    shutil.copytree(default_weights_dir(), folder, ignore=shutil.ignore_patterns("*.png", "MODEL_CARD.md"))
    cfg = json.loads((folder / "config.json").read_text())
    cfg["sampler"].update(amplitude={"arms": 1.0}, amplitude_sigma=8.0)
    (folder / "config.json").write_text(json.dumps(cfg))
    plain = Generator(folder, "cpu")
    cfg["sampler"]["amplitude"] = {"arms": 1.6}
    (folder / "config.json").write_text(json.dumps(cfg))
    larger = Generator(folder, "cpu")
    out_plain, out_larger = tmp_path / "plain.npz", tmp_path / "larger.npz"
    plain.generate(SPEECH_WAV, out_plain, seed=3)
    larger.generate(SPEECH_WAV, out_larger, seed=3)
    a, b = read_motion(out_plain), read_motion(out_larger)
    assert _arm_spread(b.poses) > 1.3 * _arm_spread(a.poses)
    spine = [3 * j + k for j in BODY_PARTS["spine"] for k in range(3)]
    np.testing.assert_allclose(a.poses[:, spine], b.poses[:, spine], atol=1e-4)
    assert b.meta["amplitude_gains"] == {"arms": 1.6}


@pytest.mark.shared_data("beat2", "speech")
def test_calibration_brings_the_model_towards_the_training_capture(tmp_path):
    """One round on one recording, one seed: each part's model / capture ratio moves towards 1,
    and the gains land in config.json's sampler section, beside the range of the training
    capture's mouth openings."""
    from asynfusion.cli import main
    from asynfusion.training.calibrate import CALIBRATED

    folder = tmp_path / "weights"
    shutil.copytree(default_weights_dir(), folder, ignore=shutil.ignore_patterns("*.png", "MODEL_CARD.md"))
    cfg = json.loads((folder / "config.json").read_text())
    cfg["training"]["config"]["data"] = str(BEAT2)
    (folder / "config.json").write_text(json.dumps(cfg))
    clip = BEAT2.parent / "speech" / "3436-172162-0000.ogg"
    before_bytes = {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}
    out = tmp_path / "calibrated"
    assert main(["calibrate", str(folder), str(clip), "-o", str(out), "--seeds", "1", "--rounds", "1",
                 "--device", "cpu"]) == 0
    assert {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()} == before_bytes   # the input as it was
    assert sorted(p.name for p in out.iterdir()) == ["config.json", "model.safetensors", "motion_db.safetensors"]
    assert (out / "model.safetensors").read_bytes() == before_bytes["model.safetensors"]
    Generator(out, "cpu")                                                        # loads as weights
    fitted = json.loads((out / "config.json").read_text())["sampler"]
    before, after = fitted["amplitude_fit"]["model_over_capture"]
    assert set(fitted["amplitude"]) == set(CALIBRATED) and fitted["amplitude_sigma"] == SIGMA
    assert fitted["amplitude_fit"]["window_s"] == 4.0
    far = [p for p in CALIBRATED if abs(np.log(before[p])) > 0.1]
    assert far, before                                      # something to correct
    for p in far:
        assert abs(np.log(after[p])) < abs(np.log(before[p])), (p, before[p], after[p])
    run = cfg["training"]["config"]                             # the mouth's range: the training capture's
    takes = load_split(str(BEAT2), holdout=run.get("holdout", 0.15), heldout_take=run.get("heldout_take")).train
    jaw = slice(3 * JAW, 3 * JAW + 3)
    openings = np.concatenate([mouth.opening(t.expressions, t.poses[:, jaw]) for t in takes])
    assert fitted["mouth_range"]["ceiling"] == pytest.approx(openings.max(), abs=1e-4)
    assert fitted["mouth_range"]["knee"] == pytest.approx(np.percentile(openings, 99), abs=1e-4)
    assert Generator(out, "cpu").mouth_range == (fitted["mouth_range"]["knee"], fitted["mouth_range"]["ceiling"])


def test_calibrate_never_writes_over_weights(tmp_path, capsys):
    """An --out that exists (the weights themselves, or any folder) is one sentence and nothing
    is written; so is a missing recording."""
    from asynfusion.cli import main

    weights = default_weights_dir()
    config = (weights / "config.json").read_bytes()
    for out in (weights, tmp_path):
        assert main(["calibrate", str(weights), str(SPEECH_WAV), "-o", str(out)]) == 1
        err = capsys.readouterr().err
        assert "already exists" in err and "Traceback" not in err and err.count("\n") == 1
    assert main(["calibrate", str(weights), str(tmp_path / "none.wav"), "-o", str(tmp_path / "new")]) == 1
    assert "No recording" in capsys.readouterr().err and not (tmp_path / "new").exists()
    for window in ("0", "nan", "-4"):
        assert main(["calibrate", str(weights), str(SPEECH_WAV), "-o", str(tmp_path / "new"), "--window", window]) == 1
        err = capsys.readouterr().err
        assert "--window" in err and "Traceback" not in err and err.count("\n") == 1
        assert not (tmp_path / "new").exists()
    assert (weights / "config.json").read_bytes() == config


def test_a_minute_long_window_reads_the_slow_wandering_that_four_seconds_miss():
    """An arm that drifts slowly across a minute and strokes at 1 Hz: in 4 s windows its spread is
    the strokes' (the drift barely moves within one), in a 60 s window the drift's too, and a
    window as long as the clip is the clip's own spread."""
    from asynfusion.training.calibrate import part_amplitudes

    n = 1800
    t = np.arange(n) / FPS
    poses = np.zeros((n, 165))
    wrist = 3 * BODY_PARTS["arms"][-1]
    poses[:, wrist] = 0.6 * t / t[-1] + 0.05 * np.sin(2 * np.pi * t)
    short, whole = part_amplitudes(poses, np.zeros((n, 3)), 4.0), part_amplitudes(poses, np.zeros((n, 3)), 60.0)
    assert whole["arms"] > 3 * short["arms"] > 0
    assert whole["spine"] == short["spine"] == 0
    assert whole == part_amplitudes(poses, np.zeros((n, 3)), 1e6)
