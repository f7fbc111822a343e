"""The training's foot-skate loss (training/foot_contact.py): torch leg kinematics that agree
with the numpy ones generation plants feet with, and a loss that counts a foot's movement only
where the capture holds it planted, against the capture's own."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from asynfusion.core.feet import BALLS
from asynfusion.core.kinematics import posed_joints
from asynfusion.representation import BODY_DIM, Normaliser, motion_to_branches
from asynfusion.training.foot_contact import FootSkate, take_contacts

T = 40


def _motion(seed: int, sway: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """(T, 165) poses of small random rotations and (T, 3) translations drifting ``sway`` m a frame along x."""
    rng = np.random.default_rng(seed)
    poses = (0.15 * rng.standard_normal((T, 165))).astype(np.float32)
    trans = np.zeros((T, 3), np.float32)
    trans[:, 0] = sway * np.arange(T)
    trans[:, 1] = 0.3
    return poses, trans


def _body(poses: np.ndarray, trans: np.ndarray) -> torch.Tensor:
    """(1, T, 315) body branch, normalised with an identity normaliser."""
    _, body = motion_to_branches(torch.from_numpy(poses), torch.zeros(T, 100), torch.from_numpy(trans))
    return body[None]


@pytest.fixture
def skate() -> FootSkate:
    return FootSkate(Normaliser.identity(8))


def test_the_torch_legs_put_the_balls_of_the_feet_where_the_numpy_kinematics_does(skate):
    poses, trans = _motion(0, sway=0.01)
    balls = skate.balls(_body(poses, trans))[0].numpy()
    joints, _ = posed_joints(poses, trans, count=12)
    np.testing.assert_allclose(balls, joints[:, list(BALLS)], atol=1e-5)


def test_a_normalised_body_is_read_in_metres():
    poses, trans = _motion(1, sway=0.01)
    body = _body(poses, trans)
    mean, std = torch.linspace(-1, 1, BODY_DIM), torch.linspace(0.5, 2, BODY_DIM)
    norm = Normaliser(torch.zeros(106), torch.ones(106), mean, std, torch.zeros(8), torch.ones(8))
    np.testing.assert_allclose(FootSkate(norm).balls((body - mean) / std).numpy(),
                               FootSkate(Normaliser.identity(8)).balls(body).numpy(), atol=1e-5)


def test_a_foot_sliding_where_the_capture_stands_costs_its_slide_squared_in_cm(skate):
    poses, trans = _motion(2)
    still = _body(poses, trans)
    planted = torch.ones(1, T, 2)
    assert float(skate(still, still, planted)) == pytest.approx(0.0, abs=1e-6)
    sliding = _body(poses, _motion(2, sway=0.002)[1])          # the whole body glides 2 mm a frame
    assert float(skate(sliding, still, planted)) == pytest.approx(0.2 ** 2, rel=1e-3)
    # the same glide in the capture itself is no error: a planted foot may shuffle as the capture's does
    assert float(skate(sliding, sliding, planted)) == pytest.approx(0.0, abs=1e-6)


def test_only_frame_pairs_with_the_foot_planted_on_both_count(skate):
    poses, trans = _motion(3)
    still = _body(poses, trans)
    moved = trans.copy()
    moved[T // 2:, 0] += 0.05                                   # a 5 cm step between two frames
    step = _body(poses, moved)
    lifted = torch.ones(1, T, 2)
    lifted[0, T // 2] = 0                                        # both feet in the air on the step's frame
    assert float(skate(step, still, lifted)) == pytest.approx(0.0, abs=1e-6)
    left_only = torch.ones(1, T, 2)
    left_only[0, T // 2, 1] = 0                                  # only the left foot planted through it
    pairs = 2 * (T - 1) - 2
    assert float(skate(step, still, left_only)) == pytest.approx(5.0 ** 2 / pairs, rel=1e-3)
    assert float(skate(step, still, torch.zeros(1, T, 2))) == 0.0


def test_its_gradient_moves_the_root_back_over_the_planted_feet(skate):
    poses, trans = _motion(4)
    still = _body(poses, trans)
    sliding = _body(poses, _motion(4, sway=0.002)[1]).requires_grad_(True)
    skate(sliding, still, torch.ones(1, T, 2)).backward()
    grad_x = sliding.grad[0, :, BODY_DIM - 3]
    # the root drifts +x: frames late in the window are pushed back (-x), early ones forward
    assert grad_x[-1] > 0 > grad_x[0]


def test_a_lifted_foot_is_not_a_contact():
    poses = np.zeros((60, 165), np.float32)
    trans = np.zeros((60, 3), np.float32)
    poses[20:40, 3 * 4] = -1.2                                   # the left knee bends: that foot leaves the floor
    planted = take_contacts(poses, trans)
    assert planted.dtype == np.float32 and planted.shape == (60, 2)
    assert planted[:, 1].all() and planted[:15, 0].all() and not planted[25:35, 0].any()


def test_held_to_the_legs_it_leaves_the_pelvis_turn_alone():
    poses, trans = _motion(5)
    still = _body(poses, trans)
    turned = poses.copy()
    turned[:, 1] += 0.01 * np.arange(T)                      # the pelvis turns under planted feet
    grads = {}
    for pelvis in (True, False):
        body = _body(turned, trans).requires_grad_(True)
        FootSkate(Normaliser.identity(8), pelvis=pelvis)(body, still, torch.ones(1, T, 2)).backward()
        grads[pelvis] = body.grad[0]
    assert grads[True][:, :6].abs().sum() > 0                  # by default the pelvis turns back too
    assert float(grads[False][:, :6].abs().sum()) == 0.0       # held to the legs: only legs and root move
    assert grads[False][:, 6:72].abs().sum() > 0
