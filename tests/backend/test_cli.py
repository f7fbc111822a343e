"""The asynfusion command end to end on real speech, and its one-line errors."""

import subprocess

import numpy as np
import pytest

from asynfusion.core.motion_file import read_motion

from .conftest import PYTHON, SPEECH_OGG, cli_env


def cli(*args, cwd=None):
    return subprocess.run([PYTHON, "-m", "asynfusion.cli", *map(str, args)], capture_output=True,
                          text=True, env=cli_env(), cwd=cwd, timeout=300)


def test_random_weights_generate_real_speech_end_to_end(random_weights, tmp_path):
    out = tmp_path / "speech.npz"
    r = cli("generate", SPEECH_OGG, "-o", out, "--weights", random_weights, "--seed", "5",
            "--steps-face", "4", "--steps-body", "2", "--device", "auto")
    assert r.returncode == 0, r.stderr
    assert "device: cpu" in r.stderr
    summary = r.stdout.strip().splitlines()
    assert len(summary) == 1 and "445 frames" in summary[0] and "real time" in summary[0]
    m = read_motion(out)
    assert m.num_frames == 445 and m.fps == 30
    assert m.meta["seed"] == 5 and m.meta["steps_body"] == 2 and len(m.meta["audio_sha256"]) == 64
    assert np.abs(m.poses[:, 69:75]).max() == 0          # eyes are not generated
    assert m.meta["smoothing_sigma_frames"] == [1.0, 2.0]
    raw = tmp_path / "raw.npz"
    r = cli("generate", SPEECH_OGG, "-o", raw, "--weights", random_weights, "--seed", "5", "--no-smoothing")
    assert r.returncode == 0, r.stderr
    unsmoothed = read_motion(raw)
    assert unsmoothed.meta["smoothing_sigma_frames"] == [0.0, 0.0]
    jerk = lambda x: np.abs(np.diff(x, n=3, axis=0)).mean()  # noqa: E731
    assert jerk(unsmoothed.expressions) > jerk(m.expressions)


@pytest.mark.parametrize("make,words", [
    (lambda p: p.write_text("not audio"), "not an audio file"),
    (lambda p: None, "does not exist"),
])
def test_bad_audio_is_one_line_and_nothing_written(random_weights, tmp_path, make, words):
    audio = tmp_path / "in.wav"
    make(audio)
    out = tmp_path / "out.npz"
    r = cli("generate", audio, "-o", out, "--weights", random_weights)
    assert r.returncode == 1
    lines = [ln for ln in r.stderr.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1 and words in lines[0] and "Traceback" not in r.stderr
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["in.wav"] if audio.exists() else [])


def test_no_weights_says_how_to_get_them(tmp_path):
    r = cli("generate", SPEECH_OGG, "-o", tmp_path / "o.npz", "--weights", tmp_path)
    assert r.returncode == 1 and "No model weights found" in r.stderr and "Traceback" not in r.stderr


def test_cuda_without_gpu_is_a_sentence(random_weights, tmp_path):
    import torch

    if torch.cuda.is_available():
        pytest.xfail("this machine has a GPU; the sentence is for machines without one")
    r = cli("generate", SPEECH_OGG, "-o", tmp_path / "o.npz", "--weights", random_weights, "--device", "cuda")
    assert r.returncode == 1 and "no NVIDIA GPU" in r.stderr
