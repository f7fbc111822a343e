"""Regenerate a frame range (inpainting): the sampler keeps the known motion outside the range at
every step and eases the new motion in at the borders; the file keeps the source's frames exactly."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from asynfusion.core import protocol
from asynfusion.core.motion_file import read_motion
from asynfusion.core.request import GenerateRequest
from asynfusion.errors import UserError
from asynfusion.generate import Generator, Regenerate
from asynfusion.sampling import Inpaint

from .conftest import SPEECH_OGG, SPEECH_WAV
from .test_worker import WorkerProcess


def test_the_ramp_is_zero_outside_the_range_and_eases_to_one_inside():
    inpaint = Inpaint(torch.zeros(100, 2), torch.zeros(100, 3), start=30, end=70, blend=5)
    w = inpaint.ramp(110)[:, 0]
    assert (w[:30] == 0).all() and (w[70:] == 0).all()          # kept frames and padding
    assert (w[36:64] == 1).all() and 0 < w[30] < 0.1 and 0 < w[69] < 0.1
    assert (w[30:36].diff() > 0).all() and (w[64:70].diff() < 0).all()
    # a range at the take's start has nothing to blend with there: new motion from frame 0
    assert inpaint.__class__(inpaint.face, inpaint.body, 0, 50, 5).ramp(100)[0, 0] == 1


def jerk(x: np.ndarray) -> np.ndarray:
    """|third difference| per frame: jerk index i spans frames i..i+3."""
    return np.linalg.norm(np.diff(x, 3, axis=0), axis=1)


def seam_jerk(x: np.ndarray, start: int, end: int) -> float:
    """The largest jerk over the frames that straddle either border of [start, end)."""
    return float(max(jerk(x)[[*range(start - 3, start), *range(end - 3, end)]]))


@pytest.fixture(scope="module")
def take(random_weights, tmp_path_factory):
    folder = tmp_path_factory.mktemp("take")
    gen = Generator(random_weights, "cpu")
    gen.generate(SPEECH_OGG, folder / "take.npz", seed=0)
    return gen, folder


def test_random_weights_regenerate_keeps_the_outside_bit_identical_and_changes_the_range(take):
    gen, folder = take
    gen.generate(SPEECH_OGG, folder / "new.npz", seed=3, regenerate=Regenerate(str(folder / "take.npz"), 100, 200))
    old, new = read_motion(folder / "take.npz"), read_motion(folder / "new.npz")
    for key in ("poses", "expressions", "trans"):
        a, b = getattr(old, key), getattr(new, key)
        assert np.array_equal(a[:100], b[:100]) and np.array_equal(a[200:], b[200:]), key
        assert np.abs(a[120:180] - b[120:180]).mean() > 1e-3, key      # the range is new motion
        assert np.isfinite(b).all()
    assert new.meta["regenerated"] == [100, 200] and new.meta["seed"] == 3 and new.meta["source_seed"] == 0


def test_random_weights_the_sampler_pastes_the_known_motion_at_every_step(take):
    """Known frames are replaced in both branches after every step: a model whose estimate is
    nonsense outside the range still returns the known motion there, exactly."""
    gen, _ = take
    feats = torch.randn(120, 66)
    known = {"face": torch.randn(120, gen.model.cfg.face_dim), "body": torch.randn(120, gen.model.cfg.body_dim)}
    out = gen.sample(feats, torch.zeros(66), gen.settings(None, None, None), 0,
                     inpaint=Inpaint(known["face"], known["body"], 40, 80))
    free = gen.sample(feats, torch.zeros(66), gen.settings(None, None, None), 0)
    for b in ("face", "body"):
        assert torch.equal(out[b][:40], known[b][:40]) and torch.equal(out[b][80:], known[b][80:])
        assert not torch.allclose(out[b][45:75], free[b][45:75])       # the context steered the range


@pytest.mark.parametrize("start,end,needle", [(300, 200, "start before the end"), (100, 100, "start before"),
                                              (-5, 50, "inside the take"), (400, 999, "inside the take")])
def test_random_weights_a_bad_range_is_one_sentence_and_writes_nothing(take, start, end, needle):
    gen, folder = take
    with pytest.raises(UserError, match=needle):
        gen.generate(SPEECH_OGG, folder / "bad.npz", regenerate=Regenerate(str(folder / "take.npz"), start, end))
    assert not (folder / "bad.npz").exists()


def test_random_weights_a_motion_file_for_other_audio_is_refused(take):
    gen, folder = take
    with pytest.raises(UserError, match="was not made for arctic_a0007.wav"):
        gen.generate(SPEECH_WAV, folder / "bad.npz", regenerate=Regenerate(str(folder / "take.npz"), 10, 20))
    assert not (folder / "bad.npz").exists()


def test_a_regenerate_request_needs_two_frames_and_a_source():
    base = {"op": "generate", "id": "r", "audio": "a.wav", "out": "o.npz"}
    assert GenerateRequest.from_message(base | {"regenerate": [1, 5], "source": "t.npz"}).regenerate == (1, 5)
    for bad in ({"regenerate": [1, 5]}, {"source": "t.npz"}, {"regenerate": [1.5, 5], "source": "t.npz"},
                {"regenerate": [1], "source": "t.npz"}):
        with pytest.raises(protocol.ProtocolError):
            GenerateRequest.from_message(base | bad)


def test_random_weights_worker_regenerates_a_range(random_weights, take, tmp_path):
    _, folder = take
    worker = WorkerProcess(random_weights)
    try:
        assert worker.next()["type"] == "ready"
        worker.request(op="generate", id="r", audio=str(SPEECH_OGG), out=str(tmp_path / "r.npz"), seed=1,
                       regenerate=[10, 60], source=str(folder / "take.npz"))
        assert worker.until("result")[0]["frames"] == 445
        worker.request(op="generate", id="bad", audio=str(SPEECH_OGG), out=str(tmp_path / "bad.npz"),
                       regenerate=[60, 10], source=str(folder / "take.npz"))
        error = worker.until("error")[0]
        assert "start before the end" in error["message"] and "unexpectedly" not in error["message"]
        assert worker.close() == 0
    finally:
        if worker.proc.poll() is None:
            worker.proc.kill()
    assert np.array_equal(read_motion(tmp_path / "r.npz").poses[60:], read_motion(folder / "take.npz").poses[60:])
    assert not (tmp_path / "bad.npz").exists()


def test_shipped_weights_the_seams_are_no_jerkier_than_the_take(tmp_path):
    """Real weights, real speech: the jerk at both borders stays within the take's own 95th
    percentile or what the take had there (face expressions and body poses), and the outside is
    the take's, exactly."""
    gen = Generator(None, "cpu")
    gen.generate(SPEECH_OGG, tmp_path / "take.npz", seed=0)
    gen.generate(SPEECH_OGG, tmp_path / "new.npz", seed=5, regenerate=Regenerate(str(tmp_path / "take.npz"), 100, 200))
    old, new = read_motion(tmp_path / "take.npz"), read_motion(tmp_path / "new.npz")
    for key in ("poses", "expressions"):
        a, b = getattr(old, key), getattr(new, key)
        assert np.array_equal(a[:100], b[:100]) and np.array_equal(a[200:], b[200:])
        # within the take's 95th percentile, or within 5 % of what the take itself had at those
        # frames (the frames before a border are the take's own, and a take can be quick there)
        assert seam_jerk(b, 100, 200) <= max(np.percentile(jerk(a), 95), 1.05 * seam_jerk(a, 100, 200)), key
