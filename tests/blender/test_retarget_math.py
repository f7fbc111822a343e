"""Pure-numpy retargeting and rig profiles: no bpy calls, every number checked against its meaning."""

import json

import numpy as np
import pytest

from foreign_rigs import a_pose_joints, descendants, profile_names
from asynfusion_blender.bake import curve_math, retarget
from asynfusion_blender.rig import blueprint, profiles
from asynfusion_blender.core import rest_pose, quaternions, skeleton

RNG = np.random.default_rng(3)
C = blueprint.Z_UP_FROM_Y_UP


def random_rotation():
    q = RNG.normal(size=4)
    return quaternions.quat_to_matrix(q / np.linalg.norm(q))


def test_rotation_between_is_the_smallest_turn_and_handles_opposites():
    for _ in range(50):
        u, v = RNG.normal(size=3), RNG.normal(size=3)
        r = retarget.rotation_between(u, v)
        assert np.allclose(r @ (u / np.linalg.norm(u)), v / np.linalg.norm(v))
        assert np.allclose(r @ np.cross(u, v), np.cross(u, v))          # the axis stays: no twist
        assert np.allclose(r.T @ r, np.eye(3)) and np.isclose(np.linalg.det(r), 1.0)
    r = retarget.rotation_between([0, 0, 1.0], [0, 0, -2.0])
    assert np.allclose(r @ [0, 0, 1.0], [0, 0, -1.0]) and np.isclose(np.linalg.det(r), 1.0)


def test_rotation_between_frames_matches_the_roll_too():
    r0 = random_rotation()
    u, u2 = RNG.normal(size=3), RNG.normal(size=3)
    r = retarget.rotation_between_frames(u, u2, r0 @ u, r0 @ u2)
    assert np.allclose(r, r0)


def rig_arrays(joints_m, conv, units, rolls=True, names=None):
    """A rig made from joint positions: heads in data space, bone frames pointing at the child
    with an arbitrary roll, anchors = nearest present SMPL-X ancestor."""
    names = names or {j: skeleton.JOINT_NAMES[j] for j in range(55)}
    heads = np.full((55, 3), np.nan)
    rest = np.tile(np.eye(3), (55, 1, 1))
    tails = blueprint.bone_tails(joints_m)
    anchors = np.full(55, -1)
    for j in names:
        heads[j] = conv @ joints_m[j] * units
        y = conv @ (tails[j] - joints_m[j])
        y /= np.linalg.norm(y)
        x = np.cross(y, RNG.normal(size=3) if rolls else [0.0, 0.0, 1.0] if abs(y[2]) < 0.9 else [1.0, 0, 0])
        x /= np.linalg.norm(x)
        rest[j] = np.stack([x, y, np.cross(x, y)], axis=1)
        p = skeleton.PARENTS[j]
        while p >= 0 and p not in names:
            p = skeleton.PARENTS[p]
        anchors[j] = p
    return retarget.target_rig(dict(names), rest, heads, anchors)


def pose_fk(rig, basis_q, joints, root_loc):
    """Blender's rule for the posed rig: pose_j = pose_a B_a^T B_j basis_j, heads riding on anchors."""
    basis = quaternions.quat_to_matrix(basis_q)
    frames = basis.shape[0]
    pose, head = {}, {}
    for k, j in enumerate(joints):
        a = int(rig.anchors[j])
        parent = np.broadcast_to(np.eye(3), (frames, 3, 3)) if a < 0 else pose[a] @ rig.rest_rot[a].T
        pose[j] = parent @ rig.rest_rot[j] @ basis[:, k]
        if a < 0:
            head[j] = rig.heads[j] + root_loc @ rig.rest_rot[j].T
        else:
            head[j] = head[a] + (pose[a] @ rig.rest_rot[a].T) @ (rig.heads[j] - rig.heads[a])
    return pose, head


def smplx_world(q_local):
    world = quaternions.quat_to_matrix(retarget.world_quats(q_local))
    rest = rest_pose.rest_joints()
    pos = np.empty(world.shape[:2] + (3,))
    pos[:, 0] = rest[0]
    for j in range(1, 55):
        p = skeleton.PARENTS[j]
        pos[:, j] = pos[:, p] + world[:, p] @ (rest[j] - rest[p])
    return world, pos


def random_motion(frames=40, scale=0.4):
    aa = RNG.normal(size=(frames, 55, 3)) * scale
    return quaternions.axis_angle_to_quat(aa)


def test_on_an_smplx_shaped_rig_the_transfer_is_the_plain_bake():
    """Same skeleton, same rest: world-space transfer must reduce to B^T C r C^T B."""
    joints = rest_pose.rest_joints()
    rig = rig_arrays(joints, C, 1.0)
    q = random_motion()
    order = list(range(55))
    got = retarget.bone_quats(retarget.world_quats(q), rig, order)
    want = curve_math.bone_local_quats(q, rig.rest_rot, C)
    assert np.allclose(np.abs(np.sum(got * want, axis=-1)), 1.0, atol=1e-9)
    assert np.allclose(rig.align, np.eye(3), atol=1e-12) and np.isclose(rig.scale, 1.0)


@pytest.mark.parametrize("conv,units", [(C, 100.0), (np.eye(3), 100.0), (C, 1.0)])
def test_an_a_pose_rig_points_every_bone_where_smplx_points_it(conv, units):
    joints = a_pose_joints()
    rig = rig_arrays(joints, conv, units)
    assert np.allclose(rig.conv, conv)
    q = random_motion()
    order = list(range(55))
    world, pos = smplx_world(q)
    pose, head = pose_fk(rig, retarget.bone_quats(retarget.world_quats(q), rig, order), order, np.zeros((len(q), 3)))
    for j in range(1, 55):
        child = retarget.preferred_child(j)
        if child is None:
            continue
        want = (pos[:, child] - pos[:, j]) @ conv.T
        got = head[child] - head[j]
        cos = np.sum(want * got, -1) / np.linalg.norm(want, axis=-1) / np.linalg.norm(got, axis=-1)
        assert np.all(cos > 1 - 1e-9), skeleton.JOINT_NAMES[j]
    # The head, which points at no joint, points along SMPL-X's head bone.
    up = pose[15][:, :, 1]
    assert np.allclose(up, (world[:, 15] @ [0.0, 1.0, 0.0]) @ conv.T, atol=1e-9)


def test_wrists_match_the_palm_roll_as_well():
    joints = a_pose_joints()
    # Roll the whole left hand 60 degrees about the forearm axis in the rig's rest pose.
    axis = joints[20] - joints[18]
    axis /= np.linalg.norm(axis)
    k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    roll = np.eye(3) + np.sin(1.0) * k + (1 - np.cos(1.0)) * k @ k
    for j in descendants(20)[1:]:
        joints[j] = joints[20] + roll @ (joints[j] - joints[20])
    rig = rig_arrays(joints, C, 1.0)
    template = rest_pose.rest_joints()
    across = rig.align[20] @ (rig.heads[31] - rig.heads[25])
    want = C @ (template[31] - template[25])
    assert np.dot(across, want) / np.linalg.norm(across) / np.linalg.norm(want) > 0.99


def test_root_travel_scales_with_leg_length_and_feet_rise_as_smplx_feet_do():
    joints = a_pose_joints(legs=1.2)
    rig = rig_arrays(joints, C, 100.0)
    legs = lambda h: np.mean([np.linalg.norm(h[k] - h[a]) + np.linalg.norm(h[n] - h[k])  # noqa: E731
                              for a, k, n in retarget.LEGS])
    assert np.isclose(rig.scale, 100.0 * legs(joints) / legs(rest_pose.rest_joints()))
    frames = 30
    q = random_motion(frames, 0.15)
    rest_trans = rest_pose.rest_joints()[0] - rest_pose.SMPLX_MEAN_PELVIS
    trans = rest_trans + np.cumsum(RNG.normal(size=(frames, 3)) * 0.01, axis=0)
    world = retarget.world_quats(q)
    root = retarget.root_heads(world, trans, rig)
    horizontal = (trans - rest_trans) @ C.T * rig.scale
    assert np.allclose((root - rig.heads[0])[:, :2], horizontal[:, :2])   # Z-up: x, y travel as scaled
    order = list(range(55))
    _, head = pose_fk(rig, retarget.bone_quats(world, rig, order), order,
                      (root - rig.heads[0]) @ rig.rest_rot[0])
    rise = np.min(np.stack([head[j][:, 2] - rig.heads[j, 2] for j in retarget.FEET], 1), 1)
    assert np.allclose(rise, rig.scale * retarget.smplx_foot_rise(world, trans), atol=1e-9)


def test_a_rig_with_a_shorter_spine_and_no_neck_still_points_the_head():
    names = {j: skeleton.JOINT_NAMES[j] for j in range(22) if j not in (6, 12)}
    joints = a_pose_joints()
    rig = rig_arrays(joints, C, 1.0, names=names)
    assert rig.anchors[15] == 9 and rig.anchors[9] == 3
    q = random_motion()
    order = sorted(names)
    world, pos = smplx_world(q)
    pose, head = pose_fk(rig, retarget.bone_quats(retarget.world_quats(q), rig, order), order, np.zeros((len(q), 3)))
    assert np.allclose(pose[15][:, :, 1], (world[:, 15] @ [0.0, 1.0, 0.0]) @ C.T, atol=1e-9)
    # spine3 -> head over the missing neck: turned by spine3 as SMPL-X turns its rest spine3 -> head
    rest = rest_pose.rest_joints()
    want, got = (world[:, 9] @ (rest[15] - rest[9])) @ C.T, head[15] - head[9]
    cos = np.sum(want * got, -1) / np.linalg.norm(want, axis=-1) / np.linalg.norm(got, axis=-1)
    assert np.all(cos > 1 - 1e-9)


def test_a_rig_without_up_or_left_is_refused():
    heads = np.full((55, 3), np.nan)
    heads[0] = 0.0
    with pytest.raises(ValueError):
        retarget.target_rig({0: "Hips"}, np.tile(np.eye(3), (55, 1, 1)), heads, np.full(55, -1))


# --- profiles -------------------------------------------------------------------------------

def _turn_z(degrees):
    c, s = np.cos(np.radians(degrees)), np.sin(np.radians(degrees))
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


@pytest.mark.parametrize("degrees", [12.0, 29.0, 31.0, 44.0, 80.0])
def test_a_rest_pose_turned_past_the_snap_takes_its_own_frame(degrees):
    """Up +Z, left +X turned about the up: within SNAP_DEG of the armature's axes (of any quarter
    turn: at 80 degrees, of the 90 degree one) the frame is those axes, so a body turned a little
    still stands on them; beyond it the body's own frame, turned as many degrees."""
    turn = _turn_z(degrees)
    conv, tilt = retarget.body_frame(np.array([0.0, 0.0, 1.0]), turn @ np.array([1.0, 0.0, 0.2]))
    off = min(degrees, 90.0 - degrees)
    if off <= retarget.SNAP_DEG:
        assert tilt == 0.0 and np.allclose(conv, _turn_z(90.0 * round(degrees / 90.0)) @ C)
    else:
        assert np.isclose(tilt, off) and np.allclose(conv, turn @ C)


def test_profiles_are_detected_from_bone_names():
    mixamo = list(profile_names("mixamo.json", "mixamorig:").values())
    match = profiles.detect(mixamo + ["mixamorig:HeadTop_End"])
    assert match.profile == "Mixamo" and match.mapping[0] == "mixamorig:Hips" and len(match.mapping) == 55 - 1
    assert profiles.detect(list(profile_names("mixamo.json").values())).profile == "Mixamo"
    assert profiles.detect(list(profile_names("vroid.json").values())).profile == "VRoid"
    assert profiles.detect(list(profile_names("rigify_metarig.json").values())).profile == "Rigify metarig"
    generated = list(profile_names("rigify.json").values()) + ["hips", "chest", "ORG-spine", "DEF-spine"]
    assert profiles.detect(generated).profile == "Rigify"
    assert profiles.detect(skeleton.JOINT_NAMES).is_smplx
    assert profiles.detect(["Bone", "Bone.001", "Bone.002"]) is None


def test_vrm_thumbs_in_both_spellings():
    v1 = ["hips", "spine", "chest", "neck", "head", "leftUpperLeg", "rightUpperLeg", "leftLowerLeg",
          "leftUpperArm", "leftThumbMetacarpal", "leftThumbProximal", "leftThumbDistal"]
    m = profiles.detect(v1)
    assert m.profile == "VRM humanoid"
    thumbs = [m.mapping[skeleton.JOINT_NAMES.index(f"left_thumb{k}")] for k in (1, 2, 3)]
    assert thumbs == ["leftThumbMetacarpal", "leftThumbProximal", "leftThumbDistal"]
    v0 = v1[:9] + ["leftThumbProximal", "leftThumbIntermediate", "leftThumbDistal"]
    m = profiles.detect(v0)
    thumbs = [m.mapping[skeleton.JOINT_NAMES.index(f"left_thumb{k}")] for k in (1, 2, 3)]
    assert thumbs == ["leftThumbProximal", "leftThumbIntermediate", "leftThumbDistal"]


def test_skipped_joints_are_grouped_and_absorbed_ones_are_not_missing():
    match = profiles.detect(list(profile_names("rigify.json").values()))
    assert match.skipped(range(22)) == []                     # spine1 is carried by spine_fk.002
    no_hands = {j: n for j, n in profile_names("mixamo.json").items() if j < 25 and j != 12}
    match = profiles.detect(no_hands.values())
    skipped = match.skipped(curve_math.baked_joints({"body", "hands", "jaw"}))
    assert profiles.describe_skipped(skipped) == "neck, jaw, left and right fingers"
    assert profiles.describe_skipped([skeleton.JOINT_NAMES.index("left_index1")]) == "left_index1"


def test_user_bone_maps_are_checked_in_one_sentence(tmp_path):
    good = tmp_path / "map.json"
    good.write_text(json.dumps({"bones": {"pelvis": "Root", "left_hip": "Thigh_L", "neck": ""}}))
    profile = profiles.load_profile(str(good))
    match = profiles.match_user_map(profile, ["Root", "Thigh_L", "Other"], "Rig", "map.json")
    assert match.mapping == {0: "Root", 1: "Thigh_L"}
    with pytest.raises(profiles.BoneMapError, match=r"^Bone map map.json names 1 bone that armature 'Rig' lacks: Thigh_L\.$"):
        profiles.match_user_map(profile, ["Root"], "Rig", "map.json")
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"bones": {"hips": "Root"}}))
    with pytest.raises(profiles.BoneMapError, match="names 'hips', which is not an SMPL-X joint"):
        profiles.load_profile(str(bad))
    bad.write_text("{not json")
    with pytest.raises(profiles.BoneMapError, match=r"^Bone map bad.json is not readable JSON\.$"):
        profiles.load_profile(str(bad))
    with pytest.raises(profiles.BoneMapError, match="does not exist"):
        profiles.load_profile(str(tmp_path / "none.json"))
    no_root = tmp_path / "noroot.json"
    no_root.write_text(json.dumps({"bones": {"left_hip": "Thigh_L"}}))
    with pytest.raises(profiles.BoneMapError, match="no bone for 'pelvis'"):
        profiles.match_user_map(profiles.load_profile(str(no_root)), ["Thigh_L"], "Rig", "noroot.json")


def test_a_template_lists_every_joint_and_reads_back_as_a_bone_map(tmp_path):
    names = list(profile_names("vroid.json").values()) + ["J_Sec_Hair1"]
    data = profiles.template(names, "Avatar")
    assert list(data["bones"]) == list(skeleton.JOINT_NAMES)
    assert data["bones"]["pelvis"] == "J_Bip_C_Hips" and data["_matched_profile"] == "VRoid"
    assert "J_Sec_Hair1" in data["_armature_bones"]
    path = tmp_path / "avatar.json"
    path.write_text(json.dumps(data))
    match = profiles.match_user_map(profiles.load_profile(str(path)), names, "Avatar", "avatar.json")
    assert match.mapping == profiles.detect(names).mapping
    blank = profiles.template(["Bone", "Bone.001"], "Thing")
    assert set(blank["bones"].values()) == {""} and blank["_matched_profile"] is None


def test_two_joints_on_one_spot_fall_back_to_the_bone_axis():
    """A bone map may give a joint and its child bones with the same head (a zero-length gap)."""
    joints = a_pose_joints()
    joints[6] = joints[9]                      # spine2 where spine3 is
    rig = rig_arrays(joints, C, 1.0)
    assert np.all(np.isfinite(rig.align))
    q = retarget.bone_quats(retarget.world_quats(random_motion()), rig, list(range(55)))
    assert np.all(np.isfinite(q))
