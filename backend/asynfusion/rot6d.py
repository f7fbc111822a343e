"""Torch rotations for the network: axis-angle <-> matrix <-> the 6D representation.

6D = the first two columns of the rotation matrix (Zhou et al., 2019), continuous
and therefore easy for a network to regress; Gram-Schmidt maps any 6-vector back.
"""

import torch
import torch.nn.functional as F


def axis_angle_to_matrix(aa: torch.Tensor) -> torch.Tensor:
    """(..., 3) -> (..., 3, 3) by Rodrigues' formula, exact near zero."""
    angle2 = (aa * aa).sum(-1, keepdim=True)
    angle = torch.sqrt(angle2.clamp_min(1e-24))
    small = angle2 < 1e-12
    # sin(a)/a and (1-cos a)/a^2 with Taylor series for tiny angles
    a = torch.where(small, torch.ones_like(angle), angle)
    s = torch.where(small, 1 - angle2 / 6, torch.sin(a) / a)
    c = torch.where(small, 0.5 - angle2 / 24, (1 - torch.cos(a)) / (a * a))
    x, y, z = aa.unbind(-1)
    zero = torch.zeros_like(x)
    k = torch.stack([zero, -z, y, z, zero, -x, -y, x, zero], -1).reshape(aa.shape[:-1] + (3, 3))
    eye = torch.eye(3, dtype=aa.dtype, device=aa.device).expand_as(k)
    return eye + s[..., None] * k + c[..., None] * (k @ k)


def matrix_to_rot6d(m: torch.Tensor) -> torch.Tensor:
    """(..., 3, 3) -> (..., 6): column 0 then column 1."""
    return torch.cat([m[..., :, 0], m[..., :, 1]], -1)


def rot6d_to_matrix(x: torch.Tensor) -> torch.Tensor:
    """(..., 6) -> (..., 3, 3) orthonormal, by Gram-Schmidt."""
    a, b = x[..., :3], x[..., 3:]
    c0 = F.normalize(a, dim=-1, eps=1e-8)
    c1 = F.normalize(b - (c0 * b).sum(-1, keepdim=True) * c0, dim=-1, eps=1e-8)
    c2 = torch.cross(c0, c1, dim=-1)
    return torch.stack([c0, c1, c2], -1)


def matrix_to_quat(m: torch.Tensor) -> torch.Tensor:
    """(..., 3, 3) -> (..., 4) (w, x, y, z), numerically safe for every angle."""
    m00, m01, m02 = m[..., 0, 0], m[..., 0, 1], m[..., 0, 2]
    m10, m11, m12 = m[..., 1, 0], m[..., 1, 1], m[..., 1, 2]
    m20, m21, m22 = m[..., 2, 0], m[..., 2, 1], m[..., 2, 2]
    # Four candidate solutions; use the one with the largest (best-conditioned) divisor.
    cands = torch.stack([
        torch.stack([1 + m00 + m11 + m22, m21 - m12, m02 - m20, m10 - m01], -1),
        torch.stack([m21 - m12, 1 + m00 - m11 - m22, m01 + m10, m02 + m20], -1),
        torch.stack([m02 - m20, m01 + m10, 1 - m00 + m11 - m22, m12 + m21], -1),
        torch.stack([m10 - m01, m02 + m20, m12 + m21, 1 - m00 - m11 + m22], -1),
    ], -2)
    diag = torch.stack([cands[..., 0, 0], cands[..., 1, 1], cands[..., 2, 2], cands[..., 3, 3]], -1)
    best = diag.argmax(-1)
    q = torch.gather(cands, -2, best[..., None, None].expand(best.shape + (1, 4))).squeeze(-2)
    q = q / (2 * torch.sqrt(diag.gather(-1, best[..., None]).clamp_min(1e-12)))
    q = F.normalize(q, dim=-1)
    return torch.where(q[..., :1] < 0, -q, q)


def quat_to_axis_angle(q: torch.Tensor) -> torch.Tensor:
    """(..., 4) unit quaternion with w >= 0 -> (..., 3) axis-angle."""
    xyz = q[..., 1:]
    s = xyz.norm(dim=-1, keepdim=True)
    angle = 2 * torch.atan2(s, q[..., :1])
    small = s < 1e-8
    k = torch.where(small, 2 / q[..., :1].clamp_min(1e-8), angle / torch.where(small, torch.ones_like(s), s))
    return xyz * k


def matrix_to_axis_angle(m: torch.Tensor) -> torch.Tensor:
    return quat_to_axis_angle(matrix_to_quat(m))


def axis_angle_to_rot6d(aa: torch.Tensor) -> torch.Tensor:
    return matrix_to_rot6d(axis_angle_to_matrix(aa))


def rot6d_to_axis_angle(x: torch.Tensor) -> torch.Tensor:
    return matrix_to_axis_angle(rot6d_to_matrix(x))
