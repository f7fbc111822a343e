"""Forward-kinematics cross-check against the smplx package, joint by joint, within 1 mm.

A synthetic SMPL-X model file drives both sides: smplx (in the backend Python, which has
torch) computes joint positions for real BEAT2 frames; the add-on builds a rig from the
same file shaped by the take's betas, bakes the take, and Blender evaluates the armature.
"""

import os
import subprocess
import sys

import bpy
import numpy as np
import pytest

from conftest import REPO, TAKE
from asynfusion_blender.bake import bake
from asynfusion_blender.rig import blueprint, build, smplx_model
from asynfusion_blender.core import motion_file, rest_pose, skeleton
from asynfusion_blender.errors import AddonError

sys.path.insert(0, os.path.join(REPO, "tests"))     # the helper shared with the backend tests
from synthetic_smplx import write_synthetic_model  # noqa: E402

FRAMES = [0, 250, 777, 1500, 1905]
PYTHON = os.environ.get("ASYNFUSION_BACKEND_PYTHON") or os.path.join(REPO, ".venv", "bin", "python")


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("smplx") / "SMPLX_NEUTRAL_synthetic.npz"
    write_synthetic_model(str(path), rest_pose.smplx_rest_joints(), skeleton.PARENTS)
    return str(path)


@pytest.fixture(scope="module")
def reference(model_file, tmp_path_factory):
    if not os.path.isfile(PYTHON):
        pytest.fail(f"the backend Python {PYTHON} (with torch and smplx) is needed; run make setup")
    out = tmp_path_factory.mktemp("ref") / "joints.npy"
    here = os.path.dirname(__file__)
    subprocess.run([PYTHON, os.path.join(here, "smplx_reference.py"), model_file, TAKE, str(out)]
                   + [str(f) for f in FRAMES], check=True, capture_output=True, timeout=300)
    return np.load(out)


@pytest.mark.shared_data("beat2")
def test_baked_rig_matches_smplx_joints_within_a_millimetre(addon, model_file, reference):
    take = motion_file.read_motion(TAKE)
    rig = smplx_model.load_smplx_model(model_file, take.betas)
    armature, body = build.build_rig(bpy.context, rig)
    assert len(body.data.vertices) == 10475
    names = [k.name for k in body.data.shape_keys.key_blocks]
    assert names[1:4] == ["Shape000", "Shape001", "Shape002"] and names[-1] == "Exp099"
    scene = bpy.context.scene
    scene.render.fps = 30
    bake.bake_motion(scene, take, armature, body, bake.BakeOptions(start_frame=1))
    worst = 0.0
    for i, k in enumerate(FRAMES):
        scene.frame_set(1 + k)
        for j, name in enumerate(skeleton.JOINT_NAMES):
            got = np.array(armature.matrix_world @ armature.pose.bones[name].head)
            want = blueprint.Z_UP_FROM_Y_UP @ reference[i, j]
            worst = max(worst, float(np.linalg.norm(got - want)))
    assert worst < 1e-3, f"worst joint error {worst * 1000:.3f} mm"


def test_model_file_errors_are_one_sentence(tmp_path):
    bad = tmp_path / "SMPLX_BAD.npz"
    np.savez(bad, v_template=np.zeros((10, 3)))
    with pytest.raises(AddonError, match=r"^SMPLX_BAD.npz is not a usable SMPL-X model file: it lacks "):
        smplx_model.load_smplx_model(str(bad))
    with pytest.raises(AddonError, match="does not exist"):
        smplx_model.load_smplx_model(str(tmp_path / "nope.npz"))
