"""Tests that pin the two algorithms a refactor could quietly swap for a neighbour: consistency
distillation (the student learns the EMA target's estimate, not the clean data) and LCM
sampling (each step re-noises with fresh noise, not DDIM's implied noise). Small random-weight
models and constructed cases; each test fails if its algorithm is replaced by the other."""

from __future__ import annotations

import pytest
import torch

from asynfusion.errors import UserError
from asynfusion.generate import Generator
from asynfusion.model import BRANCHES, AsynFusion, ModelConfig
from asynfusion.random_model import randomise
from asynfusion.sampling import SamplerSettings, sample
from asynfusion.schedule import Scheduler
from asynfusion.training import common
from asynfusion.training import distill as D
from asynfusion.training.args import DistillConfig
from asynfusion.training.train import Denoiser

SMALL = ModelConfig(width=32, depth=1, heads=2, window=32, retrieval=False)
CLEAN = 30.0      # the clean data sits this far from anything a random-weight model predicts


@pytest.fixture()
def distill_run() -> D._Run:
    """A random-weight teacher, its student and the student's EMA target, as distill() builds them."""
    torch.manual_seed(0)
    teacher = randomise(AsynFusion(SMALL), 1).eval()
    student = D.make_student(teacher, guidance_input=False)
    target = D.make_student(teacher, guidance_input=False)
    target.load_state_dict(student.state_dict())
    opt = torch.optim.AdamW(student.parameters(), lr=1e-3)
    return D._Run(teacher, student, target, common.EMA(target, 0.95), Scheduler("lcm", origin_steps=50), opt,
                  None, None, {}, {"step": 0, "history": []})


def _batch(n: int = 8, frames: int = 32) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return {"face": CLEAN + torch.randn(n, frames, SMALL.face_dim, generator=g),
            "body": CLEAN + torch.randn(n, frames, SMALL.body_dim, generator=g),
            "audio": torch.randn(n, frames, SMALL.audio_dim, generator=g)}


def test_random_weights_distillation_pulls_the_student_to_the_target_estimate_not_the_clean_data(distill_run):
    cfg = DistillConfig(data="", teacher="", out="", w_min=2.0, w_max=2.0, vtlp=0.0, retrieval_drop=0.0)
    loss = D._step(distill_run, Denoiser(distill_run.student), _batch(), cfg, torch.Generator().manual_seed(1), "cpu")
    # The student starts as the target's copy: against the target's estimate one step down the
    # teacher's trajectory its pseudo-Huber loss is small; against the clean data it would be ~2 x CLEAN.
    assert float(loss) < 1.0


def test_distillation_refuses_a_face_guidance_it_cannot_bake_in():
    D.check_options(DistillConfig(data="", teacher="", out="", w_min=3.0, w_max=3.0, w_face=5.0))
    with pytest.raises(UserError, match="--w-face"):
        D.check_options(DistillConfig(data="", teacher="", out="", w_min=1.0, w_max=3.0, w_face=5.0))


def test_random_weights_consistency_target_is_the_target_network_above_the_boundary_and_the_point_at_it(
        distill_run):
    b = _batch(n=2)
    x_prev = {k: b[k] - CLEAN for k in BRANCHES}
    t_prev = {k: torch.tensor([-1, 259]) for k in BRANCHES}     # one clean point, one on the grid
    w = torch.full((2,), 2.0)
    got = D.consistency_target(distill_run.target, x_prev, t_prev, b["audio"], w, None)
    with torch.no_grad():
        net, _ = distill_run.target(x_prev, {k: torch.tensor([0, 259]) for k in BRANCHES},
                                    distill_run.target.encode_audio(b["audio"]), guidance=w)
    for k in BRANCHES:
        assert torch.equal(got[k][0], x_prev[k][0])             # boundary: the point is its own estimate
        assert torch.allclose(got[k][1], net[k][1], atol=1e-6)  # else: the target network's clean estimate
        assert not torch.allclose(got[k][1], x_prev[k][1], atol=1e-2)


class _Recording:
    """The model, with the noisy motion it is fed at every call recorded."""

    def __init__(self, model: AsynFusion) -> None:
        self.model, self.cfg, self.inputs = model, model.cfg, []

    def encode_audio(self, *args, **kwargs):
        return self.model.encode_audio(*args, **kwargs)

    def __call__(self, x, t, *args, **kwargs):
        self.inputs.append({b: v.clone() for b, v in x.items()})
        return self.model(x, t, *args, **kwargs)


def _correlation(a: torch.Tensor, b: torch.Tensor) -> float:
    a, b = a.flatten() - a.mean(), b.flatten() - b.mean()
    return float(a @ b / (a.norm() * b.norm()))


def _second_step_against_first(weights, settings: SamplerSettings) -> dict[str, float]:
    """Per branch: how much of the first step's input (pure noise) is left in the second's."""
    gen = Generator(weights, "cpu")
    feats = torch.randn(gen.model.cfg.window, gen.model.cfg.audio_dim, generator=torch.Generator().manual_seed(3))
    retrieved = gen.retrieve(feats, 0)
    rec = _Recording(gen.model)
    sample(rec, gen.scheduler, feats, settings, 0, torch.zeros_like(feats[:1]), retrieved)
    assert len(rec.inputs) == settings.steps_face == settings.steps_body
    return {b: _correlation(rec.inputs[0][b], rec.inputs[1][b]) for b in BRANCHES}


def test_random_weights_lcm_steps_renoise_with_fresh_noise(random_weights):
    corr = _second_step_against_first(random_weights, SamplerSettings(mode="lcm", steps_face=2, steps_body=2, guidance=2.0))
    # LCM: x_next = sqrt(a) x0 + sqrt(1 - a) * fresh noise, so the starting noise is gone;
    # DDIM's implied noise would carry it over (correlation 0.93 on these weights).
    assert all(abs(c) < 0.2 for c in corr.values()), corr


def test_random_weights_ddim_steps_keep_the_implied_noise(random_teacher_weights):
    # 999 -> 666: most of x_666 is the noise DDIM carries over from x_999
    corr = _second_step_against_first(random_teacher_weights,
                                      SamplerSettings(mode="ddim", steps_face=4, steps_body=4, guidance=1.0))
    assert all(c > 0.7 for c in corr.values()), corr
