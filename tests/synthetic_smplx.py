"""A synthetic SMPL-X model file with the real file's keys and shapes (numpy only).

The real SMPLX_NEUTRAL*.npz is licensed (free for research) and not ours to ship, so
tests make a stand-in that both our loader and the ``smplx`` package accept: 10,475
vertices (smplx indexes landmark vertices up to 9,929, so fewer would not load), 20,908
faces, 300 shape + 100 expression components, 486 pose correctives. Joints come out
of the regressor at the given rest joints (clusters of vertices around each joint; the
callers pass core.rest_pose.smplx_rest_joints(), the built-in rig's proportions);
shape directions are random, so betas really move the joints. Expression directions
are random too but only on vertices the regressor ignores: in SMPL-X, joints are
regressed from the mesh *with* the expression, which a rig with fixed bones cannot follow;
the real expression basis barely moves the regressed joints, and keeping the stand-in's
apart makes the test measure the rig and the bake, not that approximation.

Shared by the Blender tests and the backend tests, so it imports numpy only: each side
passes the skeleton from its own copy of the core package.
"""

import numpy as np

V, F = 10475, 20908


def write_synthetic_model(path, joints, parents, seed: int = 0) -> None:
    """joints: (55, 3) rest joints at zero translation; parents: the 55 SMPL-X parents."""
    rng = np.random.default_rng(seed)
    joints = np.asarray(joints, np.float64)
    J = len(joints)
    owner = np.arange(V) % J
    v_template = joints[owner] + rng.normal(scale=0.02, size=(V, 3))
    regressor = np.zeros((J, V))
    face_only = np.arange(V) >= V - 2000            # expression-only vertices
    regressor[owner[~face_only], np.arange(V)[~face_only]] = 1.0
    regressor /= regressor.sum(1, keepdims=True)
    weights = np.zeros((V, J))
    weights[np.arange(V), owner] = 0.7
    parent = np.array(parents)[owner]
    weights[np.arange(V), np.where(parent >= 0, parent, owner)] += 0.3
    shapedirs = rng.normal(scale=0.002, size=(V, 3, 400)).astype(np.float32)
    shapedirs[~face_only, :, 300:] = 0.0
    kintree = np.stack([np.array(parents, np.int64), np.arange(J)])
    kintree[0, 0] = 4294967295          # as in the real file (uint32 -1)
    np.savez(
        path,
        v_template=v_template, f=rng.integers(0, V, size=(F, 3)).astype(np.uint32),
        J_regressor=regressor, weights=weights, kintree_table=kintree.astype(np.uint32),
        shapedirs=shapedirs,
        posedirs=np.zeros((V, 3, 486), np.float32),
        hands_componentsl=np.eye(45), hands_componentsr=np.eye(45),
        hands_meanl=np.zeros(45), hands_meanr=np.zeros(45),
        lmk_faces_idx=rng.integers(0, F, size=51), lmk_bary_coords=np.full((51, 3), 1.0 / 3),
    )
