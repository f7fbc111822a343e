"""Pure-numpy parts of the add-on: rotation frames, resampling, curves, rigs, name mapping."""

import numpy as np
import pytest

from asynfusion_blender.bake import curve_math
from asynfusion_blender.rig import blueprint, builtin, smplx_names
from asynfusion_blender.core import quaternions, skeleton

RNG = np.random.default_rng(0)


def random_quats(shape):
    q = RNG.normal(size=shape + (4,))
    return q / np.linalg.norm(q, axis=-1, keepdims=True)


def same_rotation(a, b, atol=1e-9):
    return np.allclose(np.abs(np.sum(a * b, axis=-1)), 1.0, atol=atol)


def test_detect_conversion_for_z_up_and_y_up_rigs():
    # Our rigs: SMPL-X up (+Y) is +Z in Blender, left (+X) stays +X.
    conv = curve_math.detect_conversion(up=[0.01, 0.02, 0.5], left=[0.18, 0.0, 0.01])
    assert np.allclose(conv, blueprint.Z_UP_FROM_Y_UP)
    # Y-up data (MPI / Meshcapade armatures under a rotated object): identity.
    assert np.allclose(curve_math.detect_conversion(up=[0, 50.0, 1.0], left=[18.0, 0, 0]), np.eye(3))
    with pytest.raises(ValueError):
        curve_math.detect_conversion(up=[0, 1, 0], left=[0, 1, 0])


@pytest.mark.parametrize("fps,base,expected", [
    (24, 1.0, 1525), (25, 1.0, 1588), (30, 1.001, 1904), (30, 1.0, 1906), (50, 1.0, 3176), (60, 1.0, 3811)])
def test_resample_keeps_duration_at_scene_rates(fps, base, expected):
    n = 1906            # the BEAT2 take: 63.5 s at 30 fps
    i0, t = curve_math.resample_positions(n, 30.0, fps / base)
    assert len(i0) == expected
    last_time = (i0[-1] + t[-1]) / 30.0
    assert last_time <= (n - 1) / 30.0 + 1e-9
    assert (n - 1) / 30.0 - last_time < 1.0 / (fps / base)
    assert np.all((t >= 0) & (t <= 1)) and i0.min() >= 0 and i0.max() <= n - 2


def test_resample_at_source_rate_is_identity_and_slerp_between():
    q = quaternions.make_continuous(random_quats((10, 3)))
    i0, t = curve_math.resample_positions(10, 30.0, 30.0)
    assert np.allclose(curve_math.resample_quats(q, i0, t), q)
    i0, t = curve_math.resample_positions(10, 30.0, 60.0)
    mid = curve_math.resample_quats(q, i0, t)[1]
    expected = quaternions.slerp(q[0], q[1], 0.5)
    assert same_rotation(mid, expected)
    x = np.arange(10.0)[:, None]
    assert np.allclose(curve_math.resample_linear(x, i0, t)[:, 0], np.arange(19) / 2.0)


def test_bone_local_quats_reproduce_the_rotation_in_armature_space():
    q = random_quats((7, 5))
    rest = quaternions.quat_to_matrix(random_quats((5,)))
    conv = blueprint.Z_UP_FROM_Y_UP
    local = curve_math.bone_local_quats(q, rest, conv)
    # Blender applies the local rotation in the bone's rest frame: B L B^T == C R C^T.
    lhs = rest[None] @ quaternions.quat_to_matrix(local) @ np.swapaxes(rest, -1, -2)[None]
    rhs = conv @ quaternions.quat_to_matrix(q) @ conv.T
    assert np.allclose(lhs, rhs, atol=1e-9)


def test_root_locations_are_displacements_in_the_pelvis_frame():
    rest_rot = quaternions.quat_to_matrix(random_quats(()))
    trans = np.array([[0.0, 1.3, 0.0], [0.5, 1.3, -0.2]])
    loc = curve_math.root_locations(trans, np.array([0.0, 1.3, 0.0]), blueprint.Z_UP_FROM_Y_UP, 100.0, rest_rot)
    world = loc @ rest_rot.T
    assert np.allclose(world, [[0, 0, 0], [50.0, 20.0, 0.0]])


def test_curves_are_continuous_and_coords_interleaved():
    q = np.tile([[1.0, 0, 0, 0]], (40, skeleton.NUM_JOINTS, 1))
    angles = np.linspace(0, 4 * np.pi, 40)          # two full turns about X: sign flips in q
    q[:, 18] = np.stack([np.cos(angles / 2), np.sin(angles / 2), 0 * angles, 0 * angles], -1)
    rig = curve_math.RigFrame({j: n for j, n in enumerate(skeleton.JOINT_NAMES)},
                             np.tile(np.eye(3), (55, 1, 1)), np.eye(3), 1.0, np.zeros(3))
    i0, t = curve_math.resample_positions(40, 30.0, 30.0)
    curves = curve_math.body_curves(q, np.zeros((40, 3)), rig, [18], True, i0, t)
    assert [c.data_path for c in curves][:1] == ['pose.bones["left_elbow"].rotation_quaternion']
    w = curves[0].values
    assert np.max(np.abs(np.diff(w))) < 0.2          # no jump from +1 to -1
    co = curve_math.keyframe_coords(np.arange(40) + 5.0, w)
    assert co[0] == 5.0 and co[2] == 6.0 and np.allclose(co[1::2], w)


def test_parts_select_joints():
    assert curve_math.baked_joints({"jaw"}) == [skeleton.JAW]
    assert curve_math.baked_joints({"hands"}) == list(skeleton.HANDS)
    assert len(curve_math.baked_joints({"body", "jaw", "face", "hands"})) == 55
    assert curve_math.baked_joints({"root"}) == []


def test_mapping_reads_mpi_meshcapade_and_prefixed_rigs():
    mpi = ["root"] + list(skeleton.JOINT_NAMES)
    assert smplx_names.map_bones(mpi) == dict(enumerate(skeleton.JOINT_NAMES))
    meshcapade = ["root"] + [n.replace("_smplhf", "") for n in skeleton.JOINT_NAMES]
    mapping = smplx_names.map_bones(meshcapade)
    assert mapping[23] == "left_eye" and mapping[24] == "right_eye" and len(mapping) == 55
    prefixed = ["SMPLX-male_" + n for n in skeleton.JOINT_NAMES]
    assert smplx_names.map_bones(prefixed)[0] == "SMPLX-male_pelvis"
    assert len(smplx_names.map_bones(prefixed)) == 55


def test_missing_bones_are_listed_in_one_sentence():
    names = [n for n in skeleton.JOINT_NAMES if "thumb" not in n]
    mapping = smplx_names.map_bones(names)
    smplx_names.require_bones(mapping, curve_math.baked_joints({"body"}), "Rig")
    with pytest.raises(smplx_names.RigMappingError) as err:
        smplx_names.require_bones(mapping, curve_math.baked_joints({"hands"}), "Rig")
    message = str(err.value)
    assert message.count(".") == 1 and message.endswith(".")
    assert "6 SMPL-X bones" in message and "left_thumb1" in message and "right_thumb3" in message


def test_hierarchy_check_rejects_a_rig_with_other_parents():
    mapping = dict(enumerate(skeleton.JOINT_NAMES))
    parents = {n: (skeleton.JOINT_NAMES[p] if p >= 0 else "root") for n, p in zip(skeleton.JOINT_NAMES, skeleton.PARENTS)}
    smplx_names.check_hierarchy(mapping, parents, range(55), "Rig")
    parents["left_elbow"] = "spine3"
    with pytest.raises(smplx_names.RigMappingError, match="left_elbow"):
        smplx_names.check_hierarchy(mapping, parents, range(55), "Rig")


def test_bone_tails_give_every_bone_a_length():
    joints = builtin.joint_positions()
    tails = blueprint.bone_tails(joints)
    assert np.all(np.linalg.norm(tails - joints, axis=1) >= blueprint.MIN_BONE)
    pelvis, spine1 = skeleton.JOINT_NAMES.index("pelvis"), skeleton.JOINT_NAMES.index("spine1")
    assert np.allclose(tails[pelvis], joints[spine1])


def test_builtin_rig_is_plausible():
    rig = builtin.builtin_rig()
    joints = rig.joints
    height = joints[:, 1].max() - joints[:, 1].min()
    assert 1.5 < height < 1.8                                   # adult, eyes to ankles
    assert np.allclose(joints[1, 0], -joints[2, 0])             # symmetric hips
    assert np.allclose(rig.weights.sum(1), 1.0)
    assert len(rig.face_materials) == len(rig.faces) and rig.face_materials.max() < len(rig.materials)
