"""N variations in one batched call: each is its seed's sample, at one model pass per step."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from asynfusion.core import protocol
from asynfusion.core.motion_file import read_motion
from asynfusion.core.request import GenerateRequest
from asynfusion.generate import Generator

from .conftest import SPEECH_WAV
from .test_sampling import count_branch_evaluations


@pytest.mark.parametrize("weights", ["random_weights", "random_teacher_weights"])
def test_random_weights_variations_are_their_seeds_samples_in_one_pass_per_step(weights, request):
    """The student, and the guided teacher (whose batches hold conditional and unconditional halves)."""
    gen = Generator(request.getfixturevalue(weights), "cpu")
    feats, settings = torch.randn(150, 66), gen.settings(3, 2, None)
    single = [gen.sample(feats, torch.zeros(66), settings, seed) for seed in (3, 4, 5)]
    calls = count_branch_evaluations(gen.model)
    many = gen.sample_many(feats, torch.zeros(66), settings, [3, 4, 5])
    # not three times that (the student's face takes one more pass at its guided last step)
    assert calls == {"face": settings.steps_face + settings.guides_face_last, "body": settings.steps_body}
    for one, batched in zip(single, many):
        for b in ("face", "body"):
            torch.testing.assert_close(batched[b], one[b], rtol=1e-4, atol=1e-4)
    assert not torch.allclose(many[0]["face"], many[1]["face"])


def test_random_weights_generate_writes_every_variation_or_none(random_weights, tmp_path):
    gen = Generator(random_weights, "cpu")
    result = gen.generate(SPEECH_WAV, tmp_path / "a.npz", seed=1, more=[(2, tmp_path / "b.npz")])
    assert result.more == (str(tmp_path / "b.npz"),)
    a, b = read_motion(tmp_path / "a.npz"), read_motion(tmp_path / "b.npz")
    assert (a.meta["seed"], b.meta["seed"]) == (1, 2) and not np.array_equal(a.poses, b.poses)


def test_a_variations_field_is_seed_and_path_pairs():
    base = {"op": "generate", "id": "r", "audio": "a.wav", "out": "o.npz"}
    assert GenerateRequest.from_message(base | {"variations": [[2, "b.npz"]]}).more == ((2, "b.npz"),)
    for bad in ([[2]], [["2", "b.npz"]], [[True, "b.npz"]], [[2, ""]], "b.npz"):
        with pytest.raises(protocol.ProtocolError, match="variations"):
            GenerateRequest.from_message(base | {"variations": bad})
