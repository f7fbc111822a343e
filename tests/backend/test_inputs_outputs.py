"""Issue 24 on the backend: one rule for what a run may write (every input, every output, each
other), one seed range, special files refused by type, malformed motion metadata in one sentence,
and no partial output. Real processes, real files."""

import json
import os
import shutil
import sys

import numpy as np
import pytest

from asynfusion.core import protocol
from asynfusion.core.motion_file import MotionFileError, read_motion
from asynfusion.core.output import OutputError, check_outputs, replacing
from asynfusion.core.request import GenerateRequest

from .conftest import REPO, SPEECH_WAV
from .test_cli import cli, one_error_line
from .test_worker import WorkerProcess

sys.path.insert(0, str(REPO / "tests"))
from file_faults import full_folder  # noqa: E402

SEED_WORDS = f"Seeds are whole numbers from 0 to {2**32 - 1}"


@pytest.fixture
def recording(tmp_path):
    path = tmp_path / "speech.wav"
    shutil.copyfile(SPEECH_WAV, path)
    return path


def listing(folder):
    return sorted(p.name for p in folder.iterdir())


@pytest.mark.parametrize("seed,variations", [("-1", "1"), (str(2**64), "1"), (str(2**32), "1"),
                                             (str(2**32 - 1), "2")])
def test_a_seed_outside_0_to_2_to_the_32_is_one_line_and_writes_nothing(random_weights, recording, seed, variations):
    r = cli("generate", recording, "-o", recording.parent / "out.npz", "--weights", random_weights,
            "--seed", seed, "--variations", variations)
    assert r.returncode == 1 and SEED_WORDS in one_error_line(r)
    assert listing(recording.parent) == ["speech.wav"]


def test_the_largest_seed_generates(random_weights, recording):
    out = recording.parent / "out.npz"
    r = cli("generate", recording, "-o", out, "--weights", random_weights, "--seed", str(2**32 - 1),
            "--steps-face", "1", "--steps-body", "1")
    assert r.returncode == 0, r.stderr
    assert read_motion(out).meta["seed"] == 2**32 - 1


def test_the_weights_are_inputs_no_output_may_replace(random_weights, recording, tmp_path):
    weights = tmp_path / "weights"
    shutil.copytree(random_weights, weights)
    before = {p.name: p.read_bytes() for p in weights.iterdir() if p.is_file()}
    r = cli("generate", recording, "-o", weights / "model.safetensors", "--weights", weights)
    assert r.returncode == 1 and "Refusing to write the output model.safetensors over the input" in one_error_line(r)
    assert {p.name: p.read_bytes() for p in weights.iterdir() if p.is_file()} == before


def test_a_livelink_that_cannot_be_written_leaves_no_motion_file(random_weights, recording, tmp_path):
    full = tmp_path / "full"
    full.mkdir()
    with full_folder(full, size="16k"):
        r = cli("generate", recording, "-o", tmp_path / "p.npz", "--weights", random_weights,
                "--steps-face", "1", "--steps-body", "1", "--livelink", full / "f.csv")
        assert r.returncode == 1 and "Cannot write f.csv" in one_error_line(r)
        assert os.listdir(full) == []
    assert listing(tmp_path) == ["full", "speech.wav"]


@pytest.mark.parametrize("kind", ["fifo", "/dev/null", "/dev/zero"])
def test_a_pipe_or_a_device_as_audio_is_refused_by_its_type(random_weights, tmp_path, kind):
    audio = tmp_path / "speech.wav"
    if kind == "fifo":
        os.mkfifo(audio)
    else:
        audio = kind
    r = cli("generate", audio, "-o", tmp_path / "out.npz", "--weights", random_weights)
    assert r.returncode == 1
    assert "is a pipe or a device, not a regular file; choose a recording." in one_error_line(r)
    assert not (tmp_path / "out.npz").exists()


def test_a_pipe_as_the_take_to_regenerate_is_refused_without_blocking(random_weights, recording):
    os.mkfifo(recording.parent / "take.npz")
    r = cli("generate", recording, "-o", recording.parent / "new.npz", "--weights", random_weights,
            "--regenerate", "1", "5", "--from", recording.parent / "take.npz")
    assert r.returncode == 1
    assert "Motion file take.npz is a pipe or a device, not a regular file" in one_error_line(r)
    assert listing(recording.parent) == ["speech.wav", "take.npz"]


def _motion(path, **change):
    arrays = {"poses": np.zeros((30, 165), np.float32), "expressions": np.zeros((30, 100), np.float32)}
    arrays.update(change)
    np.savez(path, **arrays)
    return path


@pytest.mark.parametrize("change,words", [
    ({"asynfusion_meta": np.array("[1, 2]")}, "metadata ('asynfusion_meta') that is not a JSON object"),
    ({"asynfusion_meta": np.array("null")}, "metadata ('asynfusion_meta') that is not a JSON object"),
    ({"asynfusion_meta": np.array("[" * 100000 + "]" * 100000)}, "not a JSON object"),
    ({"poses": np.full((30, 165), "0.5")}, "stores 'poses' as <U3 values, not real numbers"),
    ({"poses": np.zeros((30, 165), np.complex64)}, "stores 'poses' as complex64 values"),
    ({"expressions": np.zeros((30, 100), bool)}, "stores 'expressions' as bool values"),
])
def test_malformed_motion_files_are_one_sentence(tmp_path, change, words):
    path = _motion(tmp_path / "take.npz", **change)
    with pytest.raises(MotionFileError) as err:
        read_motion(path)
    assert words in str(err.value) and "\n" not in str(err.value) and str(err.value).endswith(".")


def test_metadata_that_is_not_an_object_is_one_line_as_the_take_to_regenerate(random_weights, recording):
    take = _motion(recording.parent / "take.npz", asynfusion_meta=np.array("[1, 2]"))
    before = take.read_bytes()
    r = cli("generate", recording, "-o", recording.parent / "new.npz", "--weights", random_weights,
            "--regenerate", "1", "5", "--from", take)
    assert r.returncode == 1 and "is not a JSON object" in one_error_line(r)
    assert take.read_bytes() == before and listing(recording.parent) == ["speech.wav", "take.npz"]


def test_outputs_are_checked_against_each_other_and_every_input(tmp_path):
    (tmp_path / "a.csv").write_text("kept")
    (tmp_path / "link.csv").symlink_to(tmp_path / "a.csv")
    with pytest.raises(OutputError, match="^Two outputs of this run are the same file link.csv; give each"):
        check_outputs([tmp_path / "a.csv", tmp_path / "link.csv"], [])
    with pytest.raises(OutputError, match="^Refusing to write the output link.csv over the input a.csv"):
        check_outputs([tmp_path / "b.npz", tmp_path / "link.csv"], [None, tmp_path / "a.csv"])
    assert check_outputs([tmp_path / "b.npz", "c.npz"], [tmp_path / "a.csv"]) == [
        str(tmp_path / "b.npz"), os.path.abspath("c.npz")]


def test_a_long_output_name_has_a_temporary_name_that_fits(tmp_path):
    target = tmp_path / ("x" * 241 + ".npz")          # 245 bytes: a legal name
    with replacing(target) as tmp:
        with open(tmp, "w") as fh:
            fh.write("whole")
    assert target.read_text() == "whole" and listing(tmp_path) == [target.name]


@pytest.mark.parametrize("request_fields,words", [
    ({"seed": -1}, "seed -1 is outside 0 to 4294967295"),
    ({"seed": 2**64}, f"seed {2**64} is outside"),
    ({"variations": [[2**32, "v.npz"]]}, f"seed {2**32} is outside"),
    ({"variations": [[k, f"v{k}.npz"] for k in range(1, 41)]}, "holds 40 seeds; a request has at most 16"),
])
def test_the_protocol_refuses_seeds_and_variations_out_of_range(request_fields, words):
    line = json.dumps({"op": "generate", "id": "x", "audio": "a.wav", "out": "o.npz", **request_fields})
    with pytest.raises(protocol.ProtocolError, match=words):
        GenerateRequest.from_message(protocol.parse_request(line))
    assert protocol.seed_error(2**32 - 1) is None and protocol.seed_error(0, 16) is None


def test_the_worker_refuses_a_variation_written_over_the_main_output(random_weights, recording):
    worker = WorkerProcess(random_weights)
    try:
        assert worker.next()["type"] == "ready"
        out = str(recording.parent / "o.npz")
        worker.request(op="generate", id="twice", audio=str(recording), out=out, variations=[[1, out]])
        err, _ = worker.until("error")
        assert err["id"] == "twice" and err["kind"] == "output" and "Two outputs of this run" in err["message"]
        worker.request(op="generate", id="seed", audio=str(recording), out=out, seed=2**32)
        err, _ = worker.until("error")
        assert err["kind"] == "bad_request" and "outside 0 to 4294967295" in err["message"]
        assert listing(recording.parent) == ["speech.wav"]
        assert worker.close() == 0
    finally:
        if worker.proc.poll() is None:
            worker.proc.kill()


def test_a_nul_byte_in_a_path_is_one_sentence(random_weights, recording):
    with pytest.raises(OutputError, match="holds a NUL byte; choose another output file.$"):
        check_outputs(["out\0.npz"], [])
    worker = WorkerProcess(random_weights)
    try:
        assert worker.next()["type"] == "ready"
        worker.request(op="generate", id="nul", audio=str(recording), out=str(recording.parent / "o\0.npz"))
        err, _ = worker.until("error")
        assert err["kind"] == "output" and "holds a NUL byte" in err["message"]
        worker.request(op="generate", id="nul-in", audio=str(recording) + "\0", out=str(recording.parent / "o.npz"))
        err, _ = worker.until("error")
        assert err["kind"] == "audio" and err["message"].startswith("Audio file speech.wav\0 cannot be read")
        assert listing(recording.parent) == ["speech.wav"]
        assert worker.close() == 0
    finally:
        if worker.proc.poll() is None:
            worker.proc.kill()
