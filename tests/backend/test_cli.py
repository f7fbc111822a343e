"""The asynfusion command end to end on real speech, and its one-line errors."""

import json
import os
import shutil
import stat
import subprocess
import sys

import numpy as np
import pytest
import torch

from asynfusion.core.motion_file import read_motion

from .conftest import PYTHON, REPO, SPEECH_OGG, cli_env

sys.path.insert(0, str(REPO / "tests"))
from file_faults import read_only_folder  # noqa: E402


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
    assert m.meta["smoothing_sigma_frames"] == [0.0, 0.0]          # raw samples by default
    calm = tmp_path / "smoothed.npz"
    r = cli("generate", SPEECH_OGG, "-o", calm, "--weights", random_weights, "--seed", "5", "--smooth")
    assert r.returncode == 0, r.stderr
    smoothed = read_motion(calm)
    assert smoothed.meta["smoothing_sigma_frames"] == [1.0, 2.0]
    jerk = lambda x: np.abs(np.diff(x, n=3, axis=0)).mean()  # noqa: E731
    assert jerk(m.expressions) > jerk(smoothed.expressions)


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


def one_error_line(r) -> str:
    """The single 'error:' line of a failed run (and no traceback)."""
    lines = [ln for ln in r.stderr.splitlines() if "error:" in ln]
    assert len(lines) == 1 and "Traceback" not in r.stderr, r.stderr
    return lines[0]


@pytest.fixture
def recording(tmp_path):
    path = tmp_path / "speech.ogg"
    shutil.copyfile(SPEECH_OGG, path)
    return path


@pytest.mark.parametrize("output", ["speech.ogg", "link.npz"])
def test_output_that_is_the_input_is_refused_and_the_recording_kept(random_weights, recording, output):
    (recording.parent / "link.npz").symlink_to(recording)
    before = recording.read_bytes()
    r = cli("generate", recording, "-o", recording.parent / output, "--weights", random_weights)
    assert r.returncode == 1
    assert "Refusing to write the output" in one_error_line(r)
    assert recording.read_bytes() == before and (recording.parent / "link.npz").is_symlink()


def test_output_that_is_a_folder_or_not_a_regular_file_is_refused(random_weights, recording):
    folder = recording.parent / "folder.npz"
    folder.mkdir()
    r = cli("generate", recording, "-o", folder, "--weights", random_weights)
    assert r.returncode == 1 and "is a folder" in one_error_line(r) and list(folder.iterdir()) == []
    pipe = recording.parent / "pipe.npz"
    os.mkfifo(pipe)
    r = cli("generate", recording, "-o", pipe, "--weights", random_weights)
    assert r.returncode == 1 and "not a regular file" in one_error_line(r)
    assert stat.S_ISFIFO(os.lstat(pipe).st_mode)


def test_read_only_output_folder_is_a_sentence(random_weights, recording, tmp_path):
    folder = tmp_path / "locked"
    folder.mkdir()
    with read_only_folder(folder):
        r = cli("generate", recording, "-o", folder / "out.npz", "--weights", random_weights)
        assert r.returncode == 1 and "is read-only; choose another place for out.npz" in one_error_line(r)
        assert list(folder.iterdir()) == []


@pytest.mark.parametrize("flag,value,words", [
    ("--guidance", "nan", "not a finite number"),
    ("--guidance", "inf", "not a finite number"),
    ("--steps-face", "0", "not a whole number from 1 to 1000"),
    ("--steps-body", "0", "not a whole number from 1 to 1000"),
])
def test_non_finite_guidance_and_zero_steps_are_refused(random_weights, recording, flag, value, words):
    out = recording.parent / "out.npz"
    r = cli("generate", recording, "-o", out, "--weights", random_weights, flag, value)
    assert r.returncode == 2 and words in one_error_line(r) and not out.exists()


def test_weights_with_nan_are_refused_and_nothing_written(random_weights, recording, tmp_path):
    from safetensors.torch import load_file, save_file

    broken = tmp_path / "broken"
    shutil.copytree(random_weights, broken)
    tensors = load_file(broken / "model.safetensors")
    name = sorted(tensors)[0]
    tensors[name] = torch.full_like(tensors[name], float("nan"))
    save_file(tensors, broken / "model.safetensors")
    out = tmp_path / "out.npz"
    r = cli("generate", recording, "-o", out, "--weights", broken)
    assert r.returncode == 1 and "NaN or infinite" in one_error_line(r) and not out.exists()

    stats = tmp_path / "bad_stats"
    shutil.copytree(random_weights, stats)
    config = json.loads((stats / "config.json").read_text())
    config["normalisation"]["face_std"][0] = float("inf")
    (stats / "config.json").write_text(json.dumps(config))
    r = cli("generate", recording, "-o", out, "--weights", stats)
    assert r.returncode == 1 and "NaN or infinite" in one_error_line(r) and not out.exists()


def test_a_folder_given_as_audio_says_it_is_a_folder(random_weights, tmp_path):
    r = cli("generate", tmp_path, "-o", tmp_path / "out.npz", "--weights", random_weights)
    assert r.returncode == 1 and "is a folder, not a file" in one_error_line(r)


def test_shipped_weights_variations_are_one_file_per_seed_each_that_seeds_own_take(tmp_path):
    """--variations N writes <output>-seed<K>.npz (and --livelink's CSV likewise) for seeds
    --seed..--seed+N-1, batch.py's names, and variation k is what a single generate with seed+k makes."""
    from asynfusion.cli import main
    from asynfusion.generate import Generator

    assert main(["generate", str(SPEECH_OGG), "-o", str(tmp_path / "speech.npz"), "--seed", "2",
                 "--variations", "3", "--device", "cpu", "--livelink", str(tmp_path / "face.csv")]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "face-seed2.csv", "face-seed3.csv", "face-seed4.csv", "speech-seed2.npz", "speech-seed3.npz", "speech-seed4.npz"]
    takes = [read_motion(tmp_path / f"speech-seed{seed}.npz") for seed in (2, 3, 4)]
    assert [t.meta["seed"] for t in takes] == [2, 3, 4]
    for a, b in ((0, 1), (0, 2), (1, 2)):
        assert np.abs(takes[a].poses - takes[b].poses).max() > 0.05
        assert np.abs(takes[a].expressions - takes[b].expressions).max() > 0.05
    single = tmp_path / "single"
    single.mkdir()
    Generator(None, "cpu").generate(SPEECH_OGG, single / "seed3.npz", seed=3)
    alone = read_motion(single / "seed3.npz")
    for key in ("poses", "expressions", "trans"):
        np.testing.assert_allclose(getattr(takes[1], key), getattr(alone, key), rtol=0, atol=1e-4, err_msg=key)


@pytest.mark.parametrize("count", ["0", "17", "two"])
def test_a_variation_count_outside_1_to_16_is_one_line(random_weights, recording, count):
    out = recording.parent / "out.npz"
    r = cli("generate", recording, "-o", out, "--weights", random_weights, "--variations", count)
    assert r.returncode == 2 and "is not a whole number from 1 to 16" in one_error_line(r)
    assert sorted(p.name for p in recording.parent.iterdir()) == ["speech.ogg"]
