"""A rig from the user's own SMPL-X model file (``SMPLX_NEUTRAL*.npz``, free for research).

We do not ship the model; the user points at their copy. From it come the full mesh,
skin weights, joints regressed from the mesh shaped by the motion's betas (so the
skeleton matches the body the motion was captured on), ``Shape###`` keys for the first
NUM_SHAPE_KEYS shape components and ``Exp###`` keys for the expression components.
The bone rest positions follow the betas given at creation; changing Shape### values
later reshapes the mesh only (as in the MPI add-on without "update joints").
"""

from __future__ import annotations

import os

import numpy as np

from ..core import skeleton
from ..errors import AddonError
from .blueprint import RigData

NUM_SHAPE_KEYS = 10
SHAPE_SPACE = 300
EXPRESSION_SPACE = 100


def _fail(name: str, what: str) -> AddonError:
    return AddonError(f"{name} is not a usable SMPL-X model file: {what}.")


def load_smplx_model(path: str, betas: np.ndarray | None = None) -> RigData:
    """Read the model file (no pickle) and shape it with ``betas`` (zeros if None)."""
    name = os.path.basename(path)
    try:
        with np.load(path, allow_pickle=False) as data:
            present = set(data.files)
            need = {"v_template", "f", "J_regressor", "weights", "shapedirs"}
            if not need <= present:
                raise _fail(name, "it lacks " + ", ".join(sorted(need - present)))
            v_template = np.asarray(data["v_template"], np.float64)
            faces = np.asarray(data["f"], np.int64)
            regressor = np.asarray(data["J_regressor"], np.float64)
            weights = np.asarray(data["weights"], np.float64)
            shapedirs = np.asarray(data["shapedirs"], np.float64)
    except AddonError:
        raise
    except FileNotFoundError:
        raise AddonError(f"SMPL-X model file {name} does not exist; check the path.") from None
    except Exception:
        raise _fail(name, "it cannot be read as an .npz of arrays") from None

    v = len(v_template)
    if v_template.shape != (v, 3) or faces.ndim != 2 or faces.shape[1] != 3:
        raise _fail(name, f"v_template {v_template.shape} and f {faces.shape} are not a mesh")
    if regressor.shape != (skeleton.NUM_JOINTS, v) or weights.shape != (v, skeleton.NUM_JOINTS):
        raise _fail(name, f"J_regressor {regressor.shape} and weights {weights.shape} are not for 55 joints")
    if shapedirs.ndim != 3 or shapedirs.shape[:2] != (v, 3) or shapedirs.shape[2] < 10:
        raise _fail(name, f"shapedirs has shape {shapedirs.shape}")
    if faces.min() < 0 or faces.max() >= v:
        raise _fail(name, "its faces index missing vertices")

    # Full SMPL-X 2020 files hold 300 shape + 100 expression components; older ones 10 + 10.
    k = shapedirs.shape[2]
    n_shape = SHAPE_SPACE if k >= SHAPE_SPACE + EXPRESSION_SPACE else 10
    shape_dirs = shapedirs[:, :, :n_shape]
    expr_dirs = shapedirs[:, :, n_shape:n_shape + EXPRESSION_SPACE]

    b = np.zeros(n_shape)
    if betas is not None:
        given = np.asarray(betas, np.float64).reshape(-1)[:n_shape]
        b[: len(given)] = given
    v_shaped = v_template + shape_dirs @ b
    joints = regressor @ v_shaped
    # Stand the rest pose on the floor; bakes subtract this translation again.
    rest_trans = np.array([0.0, -v_shaped[:, 1].min(), 0.0])

    keys = [(f"Shape{i:03d}", shape_dirs[:, :, i]) for i in range(min(NUM_SHAPE_KEYS, n_shape))]
    keys += [(f"Exp{i:03d}", expr_dirs[:, :, i]) for i in range(expr_dirs.shape[2])]
    return RigData(
        name="SMPL-X", joints=joints + rest_trans, verts=v_shaped + rest_trans,
        faces=[tuple(int(i) for i in f) for f in faces], weights=weights,
        shape_keys=keys, rest_trans=rest_trans, source="smplx",
    )
