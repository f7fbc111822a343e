import numpy as np
import pytest
import torch

from asynfusion import rot6d
from asynfusion.core import quaternions


def random_axis_angles(n: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    axis = torch.nn.functional.normalize(torch.randn(n, 3, generator=g, dtype=torch.float64), dim=-1)
    angle = torch.rand(n, 1, generator=g, dtype=torch.float64) * (np.pi - 1e-3)
    angle[:5] = torch.tensor([[0.0], [1e-9], [1e-5], [np.pi - 1e-4], [np.pi - 1e-2]], dtype=torch.float64)
    return axis * angle


def test_axis_angle_matrix_round_trip_including_zero_and_near_pi():
    aa = random_axis_angles(2000)
    back = rot6d.matrix_to_axis_angle(rot6d.axis_angle_to_matrix(aa))
    assert torch.allclose(back, aa, atol=1e-6)


def test_rot6d_round_trip_and_gram_schmidt_gives_rotations():
    m = rot6d.axis_angle_to_matrix(random_axis_angles(500, seed=1))
    assert torch.allclose(rot6d.rot6d_to_matrix(rot6d.matrix_to_rot6d(m)), m, atol=1e-10)
    noisy = rot6d.matrix_to_rot6d(m) + 0.1 * torch.randn(500, 6, dtype=torch.float64)
    r = rot6d.rot6d_to_matrix(noisy)
    eye = torch.eye(3, dtype=torch.float64).expand_as(r)
    assert torch.allclose(r @ r.transpose(-1, -2), eye, atol=1e-10)
    assert torch.allclose(torch.linalg.det(r), torch.ones(500, dtype=torch.float64))


def test_numpy_quaternions_agree_with_torch_matrices():
    aa = random_axis_angles(300, seed=2)
    m_torch = rot6d.axis_angle_to_matrix(aa).numpy()
    m_np = quaternions.quat_to_matrix(quaternions.axis_angle_to_quat(aa.numpy()))
    assert np.allclose(m_np, m_torch, atol=1e-10)
    assert np.allclose(quaternions.quat_to_axis_angle(quaternions.axis_angle_to_quat(aa.numpy())), aa.numpy(), atol=1e-8)


def test_quaternion_continuity_removes_sign_flips():
    q = quaternions.axis_angle_to_quat(random_axis_angles(50, seed=3).numpy() * 0.01 + [0, 0, 3.1])
    q[::2] *= -1
    fixed = quaternions.make_continuous(q)
    assert np.all(np.sum(fixed[1:] * fixed[:-1], -1) > 0)
    assert np.allclose(np.abs(np.sum(fixed * q, -1)), 1)


@pytest.mark.parametrize("t", [0.0, 0.25, 1.0])
def test_slerp_end_points_and_constant_speed(t):
    a = quaternions.axis_angle_to_quat(np.array([0.0, 0.0, 0.0]))
    b = quaternions.axis_angle_to_quat(np.array([0.0, 0.0, 1.2]))
    got = quaternions.quat_to_axis_angle(quaternions.slerp(a, b, np.array(t)))
    assert np.allclose(got, [0, 0, 1.2 * t], atol=1e-9)


def _random_quats(n):
    q = np.random.default_rng(3).normal(size=(n, 4))
    return q / np.linalg.norm(q, axis=-1, keepdims=True)


def test_matrix_to_quat_inverts_quat_to_matrix_including_half_turns():
    q = _random_quats(500)
    q = np.concatenate([q, [[0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1], [1, 0, 0, 0]]])
    back = quaternions.matrix_to_quat(quaternions.quat_to_matrix(q))
    assert np.allclose(np.abs(np.sum(back * q, axis=-1)), 1.0, atol=1e-9)
    assert np.all(back[:, 0] >= 0)
