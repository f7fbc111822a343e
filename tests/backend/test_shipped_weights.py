"""The shipped, trained weights: what they are, and that distillation earned its place.

These tests use the trained weights in weights/ (the LCM student) and weights/teacher/
(the DDIM teacher it was distilled from); nothing here is random.
"""

from __future__ import annotations

import json

import torch

from asynfusion import audio
from asynfusion.generate import Generator
from asynfusion.sampling import SamplerSettings, sample
from asynfusion.weights import default_weights_dir

from .conftest import SPEECH_OGG

WEIGHTS = default_weights_dir()
TEACHER = WEIGHTS / "teacher"


def test_shipped_weights_are_the_trained_student_with_their_provenance():
    config = json.loads((WEIGHTS / "config.json").read_text())
    assert config["kind"] == "lcm" and config["architecture"]["guidance_embed"] is True
    training = config["training"]
    assert "beat2" in training["data"].lower() and "non-commercial" in training["licence"]
    assert training["steps"] > 0 and training["distill_steps"] > 0
    teacher = json.loads((TEACHER / "config.json").read_text())
    assert teacher["kind"] == "teacher"
    assert teacher["architecture"] == {**config["architecture"], "guidance_embed": False}
    assert (WEIGHTS / "MODEL_CARD.md").is_file()


def _features(gen: Generator) -> torch.Tensor:
    wave = audio.normalise_loudness(audio.load_audio(SPEECH_OGG))
    return gen.normaliser.normalise_audio(audio.audio_features(wave, gen.device))


def _run(gen: Generator, feats: torch.Tensor, settings: SamplerSettings, seed: int) -> torch.Tensor:
    out = sample(gen.model, feats, settings, seed=seed, pad_features=gen.pad)
    return torch.cat([out["face"], out["body"]], -1)


def test_lcm_student_at_4_steps_is_closer_to_the_50_step_teacher_than_the_teacher_at_4_steps():
    student, teacher = Generator(WEIGHTS, "cpu"), Generator(TEACHER, "cpu")
    feats = _features(teacher)
    ddim = lambda n: SamplerSettings(mode="ddim", steps_face=n, steps_body=n, guidance=2.0)  # noqa: E731
    lcm4 = SamplerSettings(mode="lcm", steps_face=4, steps_body=4, guidance=2.0)
    d_student, d_teacher4 = [], []
    for seed in range(3):
        reference = _run(teacher, feats, ddim(50), seed)
        d_student.append((_run(student, feats, lcm4, seed) - reference).pow(2).mean())
        d_teacher4.append((_run(teacher, feats, ddim(4), seed) - reference).pow(2).mean())
    assert torch.stack(d_student).mean() < torch.stack(d_teacher4).mean()
