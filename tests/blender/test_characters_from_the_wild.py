"""Characters as they come from elsewhere (issue 22), built in the tests: a VRoid-named rig whose
rest pose lies metres below the pose it shows (glTF's "Guess Original Bind Pose"), a Ready Player
Me-style character whose head, teeth and eyes each carry the ARKit keys, rigs named as the VRM
Add-on for Blender, UniVRM and Unity name their humanoid bones, and rigs whose names match a
profile although their bones do not stand as that profile's do."""

import json
import os
import subprocess
import sys

import bpy
import numpy as np
import pytest
from mathutils import Matrix, Vector

from conftest import REPO, scene_state
from foreign_rigs import a_pose_joints, build_rig, profile_names
from test_retarget_rigs import PARTS, assert_follows, compare_with_builtin, mapped_bones
from asynfusion_blender import takes, targets
from asynfusion_blender.bake import action_support, bake, curve_math, rig_reader
from asynfusion_blender.core import arkit, rest_pose, skeleton
from asynfusion_blender.rig import blueprint, profiles, smplx_names

J = skeleton.JOINT_NAMES.index
FEET = ("left_ankle", "right_ankle", "left_foot", "right_foot")
SCRIPT = os.path.join(REPO, "asynfusion_blender", "batch.py")

# The VRM Add-on for Blender's own humanoid armature (Add VRM Humanoid): snake case, .L/.R.
VRM_ADDON = {
    "pelvis": "hips", "spine1": "spine", "spine2": "chest", "neck": "neck", "head": "head",
    "left_eye_smplhf": "eye.L", "right_eye_smplhf": "eye.R",
    **{f"{side}_{joint}": f"{bone}.{s}" for side, s in (("left", "L"), ("right", "R"))
       for joint, bone in (("hip", "upper_leg"), ("knee", "lower_leg"), ("ankle", "foot"), ("foot", "toes"),
                           ("collar", "shoulder"), ("shoulder", "upper_arm"), ("elbow", "lower_arm"),
                           ("wrist", "hand"))},
    **{f"{side}_{finger}{k}": f"{vrm}_{part}.{s}" for side, s in (("left", "L"), ("right", "R"))
       for finger, vrm in (("index", "index"), ("middle", "middle"), ("ring", "ring"), ("pinky", "little"),
                           ("thumb", "thumb"))
       for k, part in ((1, "proximal"), (2, "intermediate"), (3, "distal"))},
}


def by_joint(names):
    return {J(k): v for k, v in names.items()}


def feet_heights(rig, bones, frames):
    """Per frame, the lowest of the rig's foot bone heads, world metres."""
    scene = bpy.context.scene
    out = []
    for frame in frames:
        scene.frame_set(frame)
        out.append(min((rig.matrix_world @ rig.pose.bones[bones[f]].head).z for f in FEET))
    return np.array(out)


def world_heads(rig, names, frames):
    scene = bpy.context.scene
    out = []
    for frame in frames:
        scene.frame_set(frame)
        out.append([np.array(rig.matrix_world @ rig.pose.bones[n].head) for n in names])
    return np.array(out)


def lift(rig, bone, delta):
    """Pose ``bone`` so that its head moves by ``delta`` (armature data units)."""
    pb = rig.pose.bones[bone]
    pb.location = pb.bone.matrix_local.to_3x3().inverted() @ Vector(delta)


# --- 1. the floor from the shown pose -------------------------------------------------------

@pytest.mark.parametrize("carrier", ["hips", "parent"])
def test_a_rig_whose_rest_pose_lies_metres_below_its_shown_pose_stands_where_it_is_shown(addon, take, carrier):
    """The rest pose sits 4.3 m below and 0.5 m beside the pose the file shows (the hips' own pose,
    or an unmapped parent bone, carries it): the bake starts from the shown pose, its feet on that
    pose's floor, exactly as on the same rig whose rest pose is the shown one; one line says so."""
    scene = bpy.context.scene
    scene.render.fps = 30
    names = profile_names("vroid.json")
    joints = a_pose_joints(drop_deg=30.0, legs=0.92, arms=1.06, spine=0.95)
    control = build_rig("Control", names, joints, centimetres=True)
    sunk = joints.copy()
    sunk[:, 1] -= 4.3          # SMPL-X frame (Y up), metres
    sunk[:, 0] += 0.5
    rig = build_rig("Avatar", names, sunk, centimetres=True)
    shift = (-50.0, 0.0, 430.0)                 # data: Z-up centimetres (build_rig)
    if carrier == "hips":
        lift(rig, names[0], shift)
    else:
        bpy.context.view_layer.objects.active = rig
        bpy.ops.object.mode_set(mode='EDIT')
        root = rig.data.edit_bones.new("Root")
        root.head, root.tail = (50.0, 0.0, -430.0), (50.0, 0.0, -400.0)
        rig.data.edit_bones[names[0]].parent = root
        bpy.ops.object.mode_set(mode='OBJECT')
        lift(rig, "Root", shift)
    bpy.context.view_layer.update()
    shown = feet_heights(rig, {f: names[J(f)] for f in FEET}, [1])[0]
    assert abs(shown - feet_heights(control, {f: names[J(f)] for f in FEET}, [1])[0]) < 1e-4   # shown = control's rest

    ref = bake.bake_motion(scene, take, control, None, bake.BakeOptions(parts=PARTS))
    got = bake.bake_motion(scene, take, rig, None, bake.BakeOptions(parts=PARTS))
    assert [w for w in ref.warnings if "rest pose" in w] == []
    assert [w for w in got.warnings if "rest pose" in w] == [
        "Armature 'Avatar' stands 4.33 m from its rest pose as shown at frame 1; the bake starts from the shown "
        "pose and keeps its feet on that pose's floor, not the rest pose's."]
    frames = range(1, 1526, 50)
    bones = [names[j] for j in (0, J("head"), J("left_wrist"), *[J(f) for f in FEET])]
    a, b = world_heads(control, bones, frames), world_heads(rig, bones, frames)
    assert np.abs(a - b).max() < 1e-3, np.abs(a - b).max()
    heights = feet_heights(rig, {f: names[J(f)] for f in FEET}, frames)
    assert np.abs(heights - shown).max() < 0.10          # within 10 cm of where it stood as shown


def test_a_second_take_starts_where_the_first_did_not_where_the_first_moved_it(addon, take):
    """Where the character stands is measured once (the first bake) and kept on the armature: the
    next take, baked while the first plays, lands on the same spot, and an error keeps nothing."""
    scene = bpy.context.scene
    scene.render.fps = 30
    names = profile_names("mixamo.json", "mixamorig:")
    sunk = a_pose_joints()
    sunk[:, 1] -= 2.0
    rig = build_rig("Armature", names, sunk, y_up_data=True, centimetres=True)
    lift(rig, names[0], (0.0, 200.0, 0.0))      # Y-up data, centimetres
    before = scene_state()
    with pytest.raises(Exception):
        bake.bake_motion(scene, take, rig, None, bake.BakeOptions(parts=PARTS, audio_path="/no/such.wav"))
    assert scene_state() == before and rig_reader.STAND_PROP not in rig
    bake.bake_motion(scene, take, rig, None, bake.BakeOptions(parts=PARTS, name="first"))
    scene.frame_set(900)
    second = bake.bake_motion(scene, take, rig, None, bake.BakeOptions(parts=PARTS, name="second"))
    assert any("stands 2.00 m from its rest pose" in w for w in second.warnings)
    where = {}
    for name in ("first", "second"):
        takes.use(next(t.id for t in takes.all_takes() if t.name == name), rig, None)
        where[name] = world_heads(rig, [names[0], names[J("left_foot")]], (1, 400, 1500))
    assert np.abs(where["first"] - where["second"]).max() < 1e-6


def test_the_shown_pose_is_the_one_at_the_bakes_first_frame_and_the_current_frame_is_kept(addon, take):
    """The character's own action lifts it 1 m by frame 40: a bake starting there stands on that
    pose's floor, while the scene stays at the frame it was on."""
    scene = bpy.context.scene
    scene.render.fps = 30
    names = profile_names("mixamo.json")
    rig = build_rig("Armature", names, a_pose_joints(), centimetres=False)
    hips = rig.pose.bones[names[0]]
    for frame, z in ((1, 0.0), (40, 1.0)):
        lift(rig, names[0], (0.0, 0.0, z))
        hips.keyframe_insert("location", frame=frame)
    scene.frame_set(7)
    summary = bake.bake_motion(scene, take, rig, None, bake.BakeOptions(parts=PARTS, start_frame=40))
    assert scene.frame_current == 7
    assert [w for w in summary.warnings if "rest pose" in w] == [
        "Armature 'Armature' stands 1.00 m from its rest pose as shown at frame 40; the bake starts from the "
        "shown pose and keeps its feet on that pose's floor, not the rest pose's."]
    heights = feet_heights(rig, {f: names[J(f)] for f in FEET}, range(40, 1560, 50))
    rest = min(rig.data.bones[names[J(f)]].head_local.z for f in FEET)
    assert np.abs(heights - (rest + 1.0)).max() < 0.10


# --- 2. the face on every mesh that has it --------------------------------------------------

def arkit_mesh(name, rig, vertices, keys=arkit.ARKIT_NAMES):
    """A mesh under ``rig`` with ``vertices`` vertices and the ARKit keys (each moves one vertex)."""
    mesh = bpy.data.meshes.new(name)
    pts = [(0.01 * k, 0.0, 1.6) for k in range(vertices)]
    mesh.from_pydata(pts, [], [(0, 1, 2)])
    obj = bpy.data.objects.new(name, mesh)
    bpy.context.scene.collection.objects.link(obj)
    obj.parent = rig
    obj.modifiers.new("Armature", 'ARMATURE').object = rig
    obj.shape_key_add(name="Basis", from_mix=False)
    for k, key in enumerate(keys):
        obj.shape_key_add(name=key, from_mix=False).data[k % vertices].co.y -= 0.005
    return obj


def ready_player_me(eyes_first=True):
    """A Mixamo-named rig with Ready Player Me's meshes: the eyes first, as RPM files list them."""
    rig = build_rig("Armature", profile_names("mixamo.json"), a_pose_joints(), centimetres=False)
    made = {}
    order = ("EyeLeft", "EyeRight", "Wolf3D_Head", "Wolf3D_Teeth") if eyes_first else \
        ("Wolf3D_Head", "Wolf3D_Teeth", "EyeLeft", "EyeRight")
    sizes = {"EyeLeft": 8, "EyeRight": 8, "Wolf3D_Head": 60, "Wolf3D_Teeth": 20}
    for name in order:
        made[name] = arkit_mesh(name, rig, sizes[name])
    body = bpy.data.meshes.new("Wolf3D_Body")
    body.from_pydata([(0, 0, 0), (0.1, 0, 0), (0, 0, 0.1)], [], [(0, 1, 2)])
    made["Wolf3D_Body"] = bpy.data.objects.new("Wolf3D_Body", body)
    bpy.context.scene.collection.objects.link(made["Wolf3D_Body"])
    made["Wolf3D_Body"].parent = rig
    return rig, made


def face_action(obj):
    keys = obj.data.shape_keys
    return keys.animation_data.action if keys is not None and keys.animation_data else None


def curve(obj, key, frame):
    action = face_action(obj)
    fc = next(fc for fc in action_support.action_curves(action, obj.data.shape_keys)
              if fc.data_path == f'key_blocks["{key}"].value')
    return fc.evaluate(frame)


def test_the_face_goes_on_the_head_its_teeth_and_its_eyes_in_one_bake(addon, take):
    scene = bpy.context.scene
    rig, meshes = ready_player_me()
    head = rig_reader.find_face_mesh(rig)
    assert head == meshes["Wolf3D_Head"]                      # the head, not the first mesh (EyeLeft)
    assert targets.face_status(rig, head) == "Face on: Wolf3D_Head, Wolf3D_Teeth, EyeLeft, EyeRight"
    summary = bake.bake_motion(scene, take, rig, head, bake.BakeOptions(parts=frozenset({"face", "body"}), name="t"))
    assert summary.face_meshes == ["Wolf3D_Head", "Wolf3D_Teeth", "EyeLeft", "EyeRight"]
    assert summary.face.startswith("Face 'Wolf3D_Head': 52 ARKit keys") and \
        summary.face.endswith("The face also moves 'Wolf3D_Teeth', 'EyeLeft', 'EyeRight'.")
    assert face_action(meshes["Wolf3D_Body"]) is None
    for name in ("Wolf3D_Teeth", "EyeLeft", "EyeRight"):
        assert face_action(meshes[name]).name == f"t face {name}"
        for key, frame in (("jawOpen", 200), ("eyeLookOutLeft", 333), ("eyeBlinkRight", 500)):
            assert curve(meshes[name], key, frame) == pytest.approx(curve(head, key, frame))
    opened = [curve(meshes["Wolf3D_Teeth"], "jawOpen", f) for f in range(1, 1500, 10)]
    assert max(opened) > 0.1                                   # the teeth open with the mouth
    looks = [curve(meshes["EyeLeft"], "eyeLookOutLeft", f) for f in range(1, 1500, 10)]
    assert max(looks) > 0.0                                    # the eyes look about

    # a second take; playing the first again puts it back on every mesh
    bake.bake_motion(scene, take, rig, head, bake.BakeOptions(parts=frozenset({"face"}), name="u"))
    assert face_action(meshes["EyeRight"]).name == "u face EyeRight"
    first = next(t for t in takes.all_takes() if t.name == "t")
    assert takes.use(first.id, rig, head) == []
    assert [face_action(meshes[n]).name for n in ("Wolf3D_Head", "Wolf3D_Teeth", "EyeLeft", "EyeRight")] == [
        "t face", "t face Wolf3D_Teeth", "t face EyeLeft", "t face EyeRight"]


def test_a_face_mesh_without_keys_is_one_sentence_and_nothing_changes(addon, take):
    rig, meshes = ready_player_me(eyes_first=False)
    before = scene_state()
    with pytest.raises(Exception) as err:
        bake.bake_motion(bpy.context.scene, take, rig, [meshes["Wolf3D_Head"], meshes["Wolf3D_Body"]],
                         bake.BakeOptions(parts=frozenset({"face"})))
    assert str(err.value).startswith("Mesh 'Wolf3D_Body' has neither Exp000-Exp099 nor ARKit-named shape keys")
    assert scene_state() == before and all(face_action(m) is None for m in meshes.values())


def test_batch_face_takes_several_meshes_and_defaults_to_the_head(addon, tmp_path, short_take):
    rig, meshes = ready_player_me()
    other = arkit_mesh("Beard", None, 5, keys=("jawOpen", "mouthClose"))     # not under the rig: only if named
    scene_file = tmp_path / "rpm.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(scene_file))
    run = lambda *a: subprocess.run([sys.executable, SCRIPT, "--blend", str(scene_file), "--motion", short_take,  # noqa: E731
                                     "--rig", "Armature", *a], capture_output=True, text=True, cwd=tmp_path, timeout=600)
    done = run("--out", str(tmp_path / "a.blend"))
    assert done.returncode == 0, done.stderr
    assert "speech: Face 'Wolf3D_Head': 52 ARKit keys" in done.stdout
    assert "The face also moves 'Wolf3D_Teeth', 'EyeLeft', 'EyeRight'." in done.stdout
    done = run("--face", "Beard, EyeLeft", "--out", str(tmp_path / "b.blend"))
    assert done.returncode == 0, done.stderr
    assert "speech: Face 'Beard': 2 ARKit keys" in done.stdout
    assert "The face also moves 'EyeLeft', 'Wolf3D_Head', 'Wolf3D_Teeth', 'EyeRight'." in done.stdout
    bpy.ops.wm.open_mainfile(filepath=str(tmp_path / "b.blend"))
    assert all(face_action(bpy.data.objects[n]) is not None
               for n in ("Beard", "EyeLeft", "EyeRight", "Wolf3D_Head", "Wolf3D_Teeth"))
    assert other is not None


# --- 3. VRM names, and profiles that cannot match falsely -----------------------------------

@pytest.mark.shared_data("beat2")       # compare_with_builtin bakes a BEAT2 take
def test_a_vrm_addon_armature_bakes_through_the_vrm_profile(addon, tmp_path):
    names = by_joint(VRM_ADDON)
    rig = build_rig("Armature", names, a_pose_joints(drop_deg=0.0), centimetres=False, extra_leaves=())
    bpy.context.view_layer.objects.active = rig
    bpy.ops.object.mode_set(mode='EDIT')                       # the add-on's "root" bone above the hips
    root = rig.data.edit_bones.new("root")
    root.head, root.tail = (0.0, 0.0, 0.0), (0.0, 0.0, 0.3)
    rig.data.edit_bones["hips"].parent = root
    bpy.ops.object.mode_set(mode='OBJECT')
    assert targets.rig_status(rig, "", PARTS) == "Rig profile: VRM humanoid; no target for spine3, jaw"
    bones = mapped_bones(rig)
    assert bones["pelvis"] == "hips" and bones["left_shoulder"] == "upper_arm.L" and bones["left_thumb1"] == "thumb_proximal.L"
    medians, feet, summary = compare_with_builtin(rig, bones, bones["head"])
    assert summary.profile == "VRM humanoid"
    assert_follows(medians, feet)
    path = tmp_path / "map.json"
    targets.write_bone_map(rig, str(path))
    filled = {k: v for k, v in json.loads(path.read_text())["bones"].items() if v}
    assert filled == VRM_ADDON                                 # every joint it has, each with its own bone


@pytest.mark.parametrize("spelling", ["vrm", "unity"])
def test_vrm_spec_and_unity_humanoid_names_are_the_vrm_profile(addon, spelling):
    with open(os.path.join(profiles.RIGS_DIR, "vrm_humanoid.json"), encoding="utf-8") as fh:
        alternatives = json.load(fh)["bones"]
    pick = (lambda alts: alts[0]) if spelling == "vrm" else (lambda alts: next(a for a in alts if a[0].isupper()))
    names = {J(k): pick(v) for k, v in alternatives.items()}
    rig = build_rig("Avatar", names, a_pose_joints(), centimetres=spelling == "unity", y_up_data=spelling == "unity")
    match = rig_reader.match_rig(rig)
    assert match.profile == "VRM humanoid" and match.mapping[0] == names[0]
    assert match.mapping[J("left_elbow")] == ("leftLowerArm" if spelling == "vrm" else "LeftLowerArm")
    assert len(match.mapping) == len(names)


# The VRM Add-on's armature_transform.vrm test file (CC0), as Blender imports it: its armature's
# rotation was applied to the bones, so the rest pose leans off every axis, its hips->neck and
# right->left hip directions (Z-up, unit) both nearest -X. The test builds the rotation, not the file.
TILTED_UP = (-0.7071, -0.4530, 0.5430)
TILTED_LEFT = (-0.7071, 0.4530, -0.5430)


def square(joints):
    """The body standing square on its axes: neck straight above the pelvis, hips level."""
    out = joints.copy()
    out[J("neck"), [0, 2]] = out[0, [0, 2]]
    out[J("right_hip"), 1:] = out[J("left_hip"), 1:]
    return out


@pytest.mark.parametrize("naming", ["VRM humanoid", "SMPL-X"])
def test_a_rest_pose_turned_off_the_armatures_axes_bakes_in_its_own_frame(addon, take, naming):
    """Its up and left nearest one axis, such a rig used to be refused with a sentence about
    telling which way is up. It bakes in its own frame instead: every pose-bone key the same as on
    the same rig standing upright (a bone's keys are its own, whatever way its rest pose is turned),
    its feet within 10 cm of where it stood, measured along its own up; one line says it. The same
    for a profile's rig (VRM names) and an SMPL-X-named one (its own bake path)."""
    scene = bpy.context.scene
    scene.render.fps = 30
    names = by_joint(VRM_ADDON) if naming != "SMPL-X" else dict(enumerate(skeleton.JOINT_NAMES))
    joints = square(a_pose_joints(drop_deg=0.0))
    upright = build_rig("Upright", names, joints, centimetres=False, extra_leaves=())
    tilted = build_rig("Armature", names, joints, centimetres=False, extra_leaves=())
    if naming == "SMPL-X":          # where its rest pose stands, as the add-on's own SMPL-X rigs say it
        for rig in (upright, tilted):
            rig[blueprint.REST_TRANS_PROP] = [float(v) for v in joints[0] - rest_pose.SMPLX_MEAN_PELVIS]
    up, left = Vector(TILTED_UP).normalized(), Vector(TILTED_LEFT).normalized()
    turn = Matrix((left, up.cross(left), up)).transposed()     # columns: x -> left, y, z -> up
    tilted.matrix_world = turn.to_4x4()
    bpy.ops.object.select_all(action='DESELECT')
    tilted.select_set(True)
    bpy.context.view_layer.objects.active = tilted
    bpy.ops.object.transform_apply(location=False, rotation=True, scale=False)    # into the bones
    heads = {j: np.array(tilted.data.bones[n].head_local) for j, n in names.items()}
    up_now, left_now = heads[J("neck")] - heads[0], heads[J("left_hip")] - heads[J("right_hip")]
    assert np.allclose(up_now / np.linalg.norm(up_now), TILTED_UP, atol=1e-3)
    with pytest.raises(ValueError):             # what the bake used to stop at: up and left on one axis
        curve_math.detect_conversion(up_now, left_now)
    assert rig_reader.match_rig(tilted).profile == naming

    feet = [names[J(f)] for f in ("left_ankle", "right_ankle")]

    def lowest(frame):
        scene.frame_set(frame)
        return min(np.array(tilted.matrix_world @ tilted.pose.bones[f].head) @ np.array(up) for f in feet)
    stood = lowest(1)
    ref = bake.bake_motion(scene, take, upright, None, bake.BakeOptions(parts=PARTS))
    got = bake.bake_motion(scene, take, tilted, None, bake.BakeOptions(parts=PARTS))
    assert not any("degrees off its axes" in w for w in ref.warnings)
    assert "Armature 'Armature' rests turned 59 degrees off its axes; the bake moves it in its own frame, " \
           "as it stands." in got.warnings
    a, b = upright.animation_data.action, tilted.animation_data.action
    curves = {(c.data_path, c.array_index): c for c in action_support.action_curves(a, upright)}
    assert len(curves) > 50
    for c in action_support.action_curves(b, tilted):
        ours, theirs = np.array([k.co[1] for k in c.keyframe_points]), \
            np.array([k.co[1] for k in curves[(c.data_path, c.array_index)].keyframe_points])
        assert np.abs(ours - theirs).max() < 1e-4, (c.data_path, c.array_index)
    along = np.array([lowest(frame) for frame in range(1, got.last_frame + 1, 25)])
    assert np.abs(along - stood).max() < 0.10 and along.max() - along.min() > 0.005


def mirrored(joints):
    """The same body with every left joint where its right one is (a rig whose names lie)."""
    out = joints.copy()
    for j, name in enumerate(skeleton.JOINT_NAMES):
        if name.startswith("left_"):
            k = skeleton.JOINT_NAMES.index("right_" + name[5:])
            out[j], out[k] = joints[k].copy(), joints[j].copy()
    return out


@pytest.mark.parametrize("case", ["left on the right", "upside down", "metarig names on a VRM rig"])
def test_names_that_do_not_stand_as_their_profile_get_the_bone_map_sentence(addon, take, tmp_path, case):
    if case == "left on the right":
        rig = build_rig("Armature", profile_names("mixamo.json", "mixamorig:"), mirrored(a_pose_joints()),
                        y_up_data=True)
        named_like = "Mixamo"
    elif case == "upside down":
        joints = a_pose_joints()
        joints[:, 1] *= -1.0
        rig = build_rig("Armature", by_joint(VRM_ADDON), joints, centimetres=False)
        named_like = "VRM humanoid"
    else:   # the rig, with no VRM profile to find: the metarig's 'spine' is no pelvis here
        rig = build_rig("Armature", by_joint(VRM_ADDON), a_pose_joints(), centimetres=False)
        heads = rig_reader.bone_heads(rig)
        metarig = [p for p in profiles.builtin_profiles() if p.name == "Rigify metarig"]
        assert profiles.detect(heads, metarig).profile == "Rigify metarig"      # by names alone
        assert profiles.detect(heads, metarig, heads) is None
        return
    before = scene_state()
    with pytest.raises(smplx_names.RigMappingError) as err:
        bake.bake_motion(bpy.context.scene, take, rig, None, bake.BakeOptions(parts=PARTS))
    assert str(err.value) == (
        f"Armature 'Armature' has bones named like {named_like} that do not stand as {named_like}'s do "
        "(pelvis below spine below neck below head, left limbs on the left); write a bone map for it "
        "(AsynFusion: Write Bone Map Template) and pass it with --bone-map or the panel's Bone Map field.")
    assert scene_state() == before and rig.animation_data is None
    assert targets.rig_status(rig, "", PARTS) == str(err.value)
    path = tmp_path / "map.json"
    targets.write_bone_map(rig, str(path))
    assert set(json.loads(path.read_text())["bones"].values()) == {""}     # never a bone of another chain
    assert targets.find_armature(bpy.context.scene) is None
