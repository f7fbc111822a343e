"""A real BEAT2 take baked onto other characters: a Rigify rig generated in the test, the Rigify
metarig, Mixamo- and VRoid-named skeletons in an A-pose with other rolls and centimetres, a
rig without fingers or neck, a rig with unknown names. Each is compared, in world space and on
evaluated poses, with the same take on the built-in SMPL-X rig."""

import json

import addon_utils
import bpy
import numpy as np
import pytest

from conftest import TAKE, scene_state
from foreign_rigs import a_pose_joints, build_rig, profile_names
from asynfusion_blender import targets
from asynfusion_blender.bake import bake
from asynfusion_blender.rig import profiles, smplx_names
from asynfusion_blender.core import skeleton

PARTS = frozenset({"body", "hands", "root", "jaw"})
J = skeleton.JOINT_NAMES.index
SEGMENTS = {
    "upper arm": [("left_shoulder", "left_elbow"), ("right_shoulder", "right_elbow")],
    "forearm": [("left_elbow", "left_wrist"), ("right_elbow", "right_wrist")],
    "hand": [("left_wrist", "left_middle1"), ("right_wrist", "right_middle1")],
    "thigh": [("left_hip", "left_knee"), ("right_hip", "right_knee")],
    "shin": [("left_knee", "left_ankle"), ("right_knee", "right_ankle")],
    "spine": [("spine3", "neck")],
}
FEET = ("left_ankle", "right_ankle", "left_foot", "right_foot")
FRAMES = range(1, 1526, 20)
# Where the generated Rigify rig's deforming skeleton (ORG bones) has each joint.
RIGIFY_JOINTS = {
    "pelvis": "ORG-spine", "spine3": "ORG-spine.003", "neck": "ORG-spine.004", "head": "ORG-spine.006",
    **{f"{side}_{joint}": f"ORG-{bone}.{s}" for side, s in (("left", "L"), ("right", "R"))
       for joint, bone in (("shoulder", "upper_arm"), ("elbow", "forearm"), ("wrist", "hand"),
                           ("middle1", "f_middle.01"), ("hip", "thigh"), ("knee", "shin"),
                           ("ankle", "foot"), ("foot", "toe"))},
}


def world_head(obj, bone, tail=False):
    pb = obj.pose.bones[bone]
    return np.array(obj.matrix_world @ (pb.tail if tail else pb.head))


def rest_height(obj, bone):
    return (obj.matrix_world @ obj.data.bones[bone].head_local).z


def track(obj, joint_bone, head_bone):
    """Per sampled frame: segment directions, head direction and how far the feet rise."""
    scene = bpy.context.scene
    feet_rest = {f: rest_height(obj, joint_bone[f]) for f in FEET}
    dirs = {k: [] for k in list(SEGMENTS) + ["head"]}
    rise = []
    for frame in FRAMES:
        scene.frame_set(frame)
        for kind, pairs in SEGMENTS.items():
            dirs[kind].append([world_head(obj, joint_bone[b]) - world_head(obj, joint_bone[a])
                               if a in joint_bone and b in joint_bone else np.full(3, np.nan) for a, b in pairs])
        dirs["head"].append([world_head(obj, head_bone, True) - world_head(obj, head_bone)])
        rise.append(min(world_head(obj, joint_bone[f])[2] - feet_rest[f] for f in FEET))
    return {k: np.array(v) for k, v in dirs.items()}, np.array(rise)


def angle_deg(a, b):
    cos = np.sum(a * b, -1) / np.linalg.norm(a, axis=-1) / np.linalg.norm(b, axis=-1)
    return np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))


def compare_with_builtin(theirs, joint_bone, head_bone, parts=PARTS, bone_map=None):
    """Bake the take on the built-in rig and on ``theirs``; returns (median angle per segment
    kind, worst foot-rise difference in metres, the bake summary)."""
    from asynfusion_blender.core import motion_file
    take = motion_file.read_motion(TAKE)
    scene = bpy.context.scene
    scene.render.fps = 30
    ours, _ = targets.create_builtin_rig(bpy.context)
    bake.bake_motion(scene, take, ours, None, bake.BakeOptions(parts=parts))
    summary = bake.bake_motion(scene, take, theirs, None, bake.BakeOptions(parts=parts, bone_map=bone_map))
    ref, ref_rise = track(ours, {n: n for n in skeleton.JOINT_NAMES}, "head")
    got, rise = track(theirs, joint_bone, head_bone)
    medians = {k: float(np.median(angle_deg(ref[k], got[k]), axis=0).max()) for k in ref
               if not np.isnan(got[k]).any()}
    return medians, float(np.abs(rise - ref_rise).max()), summary


def assert_follows(medians, foot_error, limit=10.0):
    assert all(m < limit for m in medians.values()), medians
    assert foot_error < 0.03, foot_error


def mapped_bones(obj):
    match = profiles.detect(b.name for b in obj.data.bones)
    return {skeleton.JOINT_NAMES[j]: name for j, name in match.mapping.items()}


@pytest.fixture
def rigify(addon):
    """Blender's bundled Rigify, enabled for the test and disabled after it."""
    addon_utils.enable("rigify", default_set=True)
    yield
    addon_utils.disable("rigify", default_set=True)


def test_generated_rigify_rig_follows_the_smplx_rig(rigify):
    bpy.ops.object.armature_human_metarig_add()
    metarig = bpy.context.object
    assert bpy.ops.pose.rigify_generate() == {'FINISHED'}
    rig = next(o for o in bpy.data.objects if o.type == 'ARMATURE' and o is not metarig)
    bpy.data.objects.remove(metarig)
    arm = rig.pose.bones["upper_arm_parent.L"]
    arm["IK_FK"] = 0.0                                      # the user left the arm in IK
    medians, feet, summary = compare_with_builtin(rig, RIGIFY_JOINTS, "ORG-spine.006")
    assert summary.profile == "Rigify" and summary.warnings == []
    assert_follows(medians, feet)
    assert arm["IK_FK"] == 1.0 and rig.pose.bones["torso"]["head_follow"] == 1.0
    keyed = {fc.data_path.split('"')[1] for fc in bake.action_support.action_curves(rig.animation_data.action, rig)}
    assert {"torso", "upper_arm_fk.L", "hand_fk.R", "f_index.02.L", "thumb.01.R", "neck", "head"} <= keyed
    assert not keyed & {"hips", "chest", "upper_arm_ik.L", "DEF-spine"}      # left free for layering


def test_rigify_metarig_follows_the_smplx_rig(rigify):
    bpy.ops.object.armature_human_metarig_add()
    metarig = bpy.context.object
    bones = mapped_bones(metarig)
    medians, feet, summary = compare_with_builtin(metarig, bones, bones["head"])
    assert summary.profile == "Rigify metarig"
    assert_follows(medians, feet)


def test_mixamo_a_pose_centimetre_rig_follows_the_smplx_rig(addon):
    names = profile_names("mixamo.json", "mixamorig:")
    rig = build_rig("Armature", names, a_pose_joints(), y_up_data=True, centimetres=True)
    bones = mapped_bones(rig)
    medians, feet, summary = compare_with_builtin(rig, bones, bones["head"])
    assert summary.profile == "Mixamo" and summary.warnings == [
        "Armature 'Armature' (Mixamo) has no bones for jaw; those joints were not baked."]
    assert_follows(medians, feet)


def test_vroid_rig_with_other_proportions_follows_the_smplx_rig(addon):
    names = profile_names("vroid.json")
    joints = a_pose_joints(drop_deg=30.0, legs=0.92, arms=1.06, spine=0.95)
    rig = build_rig("Avatar", names, joints, centimetres=True, roll_step=-1.3)
    bones = mapped_bones(rig)
    medians, feet, summary = compare_with_builtin(rig, bones, bones["head"])
    assert summary.profile == "VRoid"
    assert_follows(medians, feet)


def test_a_rig_without_fingers_or_neck_bakes_the_rest_and_says_what_it_skipped_once(addon):
    names = {j: n for j, n in profile_names("mixamo.json").items() if j < 22}
    rig = build_rig("NoHands", names, a_pose_joints(), drop=(J("neck"),))
    bones = mapped_bones(rig)
    assert "neck" not in bones and "left_index1" not in bones
    medians, feet, summary = compare_with_builtin(rig, bones, bones["head"])
    assert summary.warnings == ["Armature 'NoHands' (Mixamo) has no bones for neck, jaw, left and right "
                                "fingers; those joints were not baked."]
    # without a neck or fingers, spine3 -> neck and wrist -> middle1 cannot be measured
    assert "spine" not in medians and "hand" not in medians and "head" in medians
    assert_follows(medians, feet)


def test_an_armature_with_unknown_names_gets_one_sentence_and_nothing_changes(addon, take):
    data = bpy.data.armatures.new("Thing")
    obj = bpy.data.objects.new("Thing", data)
    bpy.context.scene.collection.objects.link(obj)
    bpy.context.view_layer.objects.active = obj
    bpy.ops.object.mode_set(mode='EDIT')
    for k in range(3):
        bone = data.edit_bones.new(f"Bone.{k:03d}")
        bone.head, bone.tail = (0, 0, k), (0, 0, k + 1)
    bpy.ops.object.mode_set(mode='OBJECT')
    before = scene_state()
    with pytest.raises(smplx_names.RigMappingError) as err:
        bake.bake_motion(bpy.context.scene, take, obj, None, bake.BakeOptions(parts=PARTS))
    message = str(err.value)
    assert message.count(".") <= 2 and "--bone-map" in message and message.startswith("Armature 'Thing' has no bones")
    assert scene_state() == before and obj.animation_data is None


def test_any_rig_through_a_template_bone_map(addon, tmp_path):
    """Unknown names: the operator writes a template, the user fills it in, the bake uses it."""
    mixamo = profile_names("mixamo.json")
    custom = {j: f"B_{n.lower()}" for j, n in mixamo.items()}
    rig = build_rig("Custom", custom, a_pose_joints(), centimetres=False)
    settings = bpy.context.scene.asynfusion
    settings.armature = rig
    path = tmp_path / "custom_map.json"
    assert bpy.ops.asynfusion.write_bone_map(filepath=str(path)) == {'FINISHED'}
    data = json.loads(path.read_text())
    assert set(data["bones"].values()) == {""} and "B_hips" in data["_armature_bones"]
    data["bones"].update({skeleton.JOINT_NAMES[j]: n for j, n in custom.items()})
    data["bones"]["jaw"] = ""
    path.write_text(json.dumps(data))
    assert targets.rig_status(rig, "", PARTS).startswith("Armature 'Custom' has no bones named like")
    assert targets.rig_status(rig, str(path), PARTS) == "Rig profile: Custom bone map; no target for jaw"
    settings.bone_map = str(path)
    settings.bake_face = False
    assert bpy.ops.asynfusion.bake_motion(filepath=TAKE) == {'FINISHED'}
    assert rig.animation_data.action.name == "2_scott_0_1_1 body"
    bones = {skeleton.JOINT_NAMES[j]: n for j, n in custom.items()}
    medians, feet, summary = compare_with_builtin(rig, bones, bones["head"], bone_map=str(path))
    assert summary.profile == "Custom bone map"
    assert_follows(medians, feet)


def test_a_bad_bone_map_is_one_sentence_and_nothing_changes(addon, take, tmp_path):
    rig = build_rig("Custom", {j: f"B{j}" for j in range(22)}, a_pose_joints(), centimetres=False)
    before = scene_state()
    bad = tmp_path / "map.json"
    bad.write_text(json.dumps({"bones": {"pelvis": "B0", "left_hip": "NoSuchBone"}}))
    with pytest.raises(profiles.BoneMapError, match=r"^Bone map map.json names 1 bone that armature 'Custom' lacks: NoSuchBone\.$"):
        bake.bake_motion(bpy.context.scene, take, rig, None, bake.BakeOptions(parts=PARTS, bone_map=str(bad)))
    bad.write_text("[1, 2")
    with pytest.raises(profiles.BoneMapError, match=r"^Bone map map.json is not readable JSON\.$"):
        bake.bake_motion(bpy.context.scene, take, rig, None, bake.BakeOptions(parts=PARTS, bone_map=str(bad)))
    assert scene_state() == before
    bpy.context.view_layer.objects.active = None
    with pytest.raises(RuntimeError, match="Choose or select the armature to write a bone map for."):
        bpy.ops.asynfusion.write_bone_map(filepath=str(tmp_path / "x.json"))
    assert not (tmp_path / "x.json").exists()


def planted_feet_after_retarget(rig, joint_bone, frames=300):
    """Bake the capture with planted feet (core.feet) onto ``rig``; over the frames where the
    SMPL-X feet are planted, the median horizontal speed of the rig's ball-of-foot bones (m/s)
    and the fraction faster than 0.1 m/s."""
    from asynfusion_blender.core import feet, motion_file
    from asynfusion_blender.core.kinematics import forward_kinematics
    take = motion_file.read_motion(TAKE)
    poses, trans = feet.plant_feet(take.poses[:frames], take.trans[:frames])
    take = take.__class__(poses=poses, expressions=take.expressions[:frames], trans=trans, fps=take.fps,
                          betas=take.betas, meta=take.meta)
    planted = feet.contacts(forward_kinematics(poses, trans))
    scene = bpy.context.scene
    scene.render.fps = 30
    bake.bake_motion(scene, take, rig, None, bake.BakeOptions(parts=PARTS))
    balls = []
    for k in range(frames):
        scene.frame_set(scene.frame_start + k)
        balls.append([world_head(rig, joint_bone[f"{side}_foot"])[:2] for side in ("left", "right")])
    speed = np.linalg.norm(np.diff(np.array(balls), axis=0), axis=-1) * 30
    held = planted[1:] & planted[:-1]
    return float(np.median(speed[held])), float((speed[held] > 0.1).mean())


def test_planted_feet_stay_planted_on_a_generated_rigify_rig(rigify):
    bpy.ops.object.armature_human_metarig_add()
    metarig = bpy.context.object
    assert bpy.ops.pose.rigify_generate() == {'FINISHED'}
    rig = next(o for o in bpy.data.objects if o.type == 'ARMATURE' and o is not metarig)
    bpy.data.objects.remove(metarig)
    speed, sliding = planted_feet_after_retarget(rig, RIGIFY_JOINTS)
    assert speed <= 0.03 and sliding <= 0.15, (speed, sliding)


@pytest.mark.parametrize("profile,proportions", [("mixamo.json", {}),
                                                 ("vroid.json", {"legs": 0.92, "arms": 1.06, "spine": 0.95})])
def test_planted_feet_stay_planted_on_mixamo_and_vroid_skeletons_of_other_proportions(addon, profile, proportions):
    names = profile_names(profile, "mixamorig:" if profile == "mixamo.json" else "")
    rig = build_rig("Armature", names, a_pose_joints(**proportions), centimetres=True)
    speed, sliding = planted_feet_after_retarget(rig, mapped_bones(rig))
    assert speed <= 0.03 and sliding <= 0.15, (speed, sliding)
