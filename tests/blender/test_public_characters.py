"""Real characters made by others (issue 22 item 5), kept in tests/data/characters/ with their
licences: imported with Blender's own glTF importer at its default settings (a .vrm is glTF
binary and imports as one), then baked with the rig named and nothing else. What the issue's
Done-when asks of them: a profile, no bone map; the feet within 10 cm of where the character
stood as imported, all through a long take; batch.py --rig bakes them end to end.

sphere.vrm (CC0, FMS_Cat, UniVRM): VRM 0.x names as Blender users write them (UpperArm.L), facing
+Y, its rest pose 1 m below the pose it shows (Guess Original Bind Pose). VALID's
Hispanic_F_2_Busi (MIT): Mixamo's names without the prefix, a bind pose in centimetres shown at
0.01 by the root bone, so the rest skeleton is 100 times the size of the one on screen."""

import os

import bpy
import numpy as np
import pytest

from batch_runner import batch_runner
from conftest import REPO, png_pixels
from asynfusion_blender import targets
from asynfusion_blender.bake import bake, rig_reader
from asynfusion_blender.core import skeleton

DATA = os.path.join(REPO, "tests", "data", "characters")
FEET = [skeleton.JOINT_NAMES.index(n) for n in ("left_ankle", "right_ankle", "left_foot", "right_foot")]
BODY = frozenset({"body", "hands", "root"})
# file, the armature it imports as, the profile it must get, the meshes it brings
CHARACTERS = {
    "sphere.vrm": ("Armature", "VRM humanoid", {"Sphere"}),
    "valid_hispanic_f_2_busi.glb": ("Reference", "Mixamo", {"H_DDS_HighRes", "h_TeethUp", "h_TeethDown",
                                                            "h_L_eye", "h_R_eye"}),
}


def imported(name):
    """The character as a new user has it: File > Import > glTF 2.0 with the defaults."""
    bpy.ops.wm.read_factory_settings(use_empty=True)
    assert bpy.ops.import_scene.gltf(filepath=os.path.join(DATA, name)) == {'FINISHED'}
    armature_name, _, meshes = CHARACTERS[name]
    scene = bpy.context.scene
    assert meshes <= {o.name for o in scene.objects if o.type == 'MESH'}
    return scene, targets.find_armature(scene, armature_name)


def lowest_foot(scene, armature, feet, frames):
    """Per frame, the lowest foot bone head (world z, metres)."""
    out = []
    for frame in frames:
        scene.frame_set(frame)
        out.append(min((armature.matrix_world @ armature.pose.bones[b].head).z for b in feet))
    return np.array(out)


@pytest.mark.parametrize("name", sorted(CHARACTERS))
def test_a_real_character_bakes_with_its_profile_and_keeps_its_feet_where_it_stood(addon, take, name):
    scene, armature = imported(name)
    _, profile, _ = CHARACTERS[name]
    assert targets.find_armature(scene) == armature                    # found with nothing named
    match = rig_reader.match_rig(armature)
    assert match.profile == profile and all(j in match.mapping for j in range(22) if j not in (15,))
    feet = [match.mapping[j] for j in FEET if j in match.mapping]
    stood = lowest_foot(scene, armature, feet, [1])[0]
    summary = bake.bake_motion(scene, take, armature, None, bake.BakeOptions(parts=BODY, name="take"))
    assert summary.profile == profile
    assert any("the bake starts from the shown pose" in w for w in summary.warnings)    # rest != shown
    heights = lowest_foot(scene, armature, feet, range(1, summary.last_frame + 1, 10))
    assert np.all(np.isfinite(heights))
    assert np.abs(heights - stood).max() < 0.10, (stood, heights.min(), heights.max())
    assert heights.max() - heights.min() > 0.005                       # the feet do move (steps, weight shifts)


def test_the_centimetre_bind_pose_is_baked_at_the_size_it_is_shown(addon, take):
    """VALID's rest skeleton is 100 times the one on screen (its root bone shows it at 0.01): the
    bake says so, and the hips stay about a leg's length above the floor, not 100 legs'."""
    scene, armature = imported("valid_hispanic_f_2_busi.glb")
    hips = armature.pose.bones["Hips"]
    assert hips.scale[0] == pytest.approx(0.01) and armature.data.bones["Hips"].length > 1.0
    summary = bake.bake_motion(scene, take, armature, None, bake.BakeOptions(parts=BODY, name="take"))
    assert any(", at 0.01 of its rest size, as shown at frame 1" in w for w in summary.warnings)
    heights = []
    for frame in range(1, summary.last_frame + 1, 25):
        scene.frame_set(frame)
        heights.append((armature.matrix_world @ hips.head).z)
    assert 0.6 < min(heights) and max(heights) < 1.1                  # her hips stand 0.97 m up, not 97 m


@pytest.mark.parametrize("name", sorted(CHARACTERS))
def test_batch_bakes_a_real_character_with_the_rig_named_and_nothing_else(addon, tmp_path, short_take, name):
    imported(name)
    armature_name, profile, _ = CHARACTERS[name]
    out = tmp_path / "baked.blend"
    done = batch_runner(tmp_path, short_take, armature_name)("--out", str(out))
    assert done.returncode == 0, done.stderr
    assert f"Rig {armature_name}: {profile} profile" in done.stdout
    assert "bone map" not in done.stdout.lower() and out.exists()
    assert f"Rig {armature_name}: no mesh with Exp### or ARKit shape keys" in done.stdout    # none has ARKit keys
    bpy.ops.wm.open_mainfile(filepath=str(out))
    baked = bpy.data.objects[armature_name]
    assert baked.animation_data.action is not None and baked.animation_data.action.name == "speech body"


def test_the_contact_sheet_finds_a_mixamo_characters_head(addon, short_take, tmp_path):
    """The preview's face row aims at the rig's head bone as baking matched it (VALID's is "Head");
    it used to look for a bone called "head", miss, and frame an empty corner of the bounds."""
    from asynfusion_blender import preview
    from asynfusion_blender.core import motion_file

    scene, armature = imported("valid_hispanic_f_2_busi.glb")
    summary = bake.bake_motion(scene, motion_file.read_motion(short_take), armature, None,
                               bake.BakeOptions(parts=BODY, name="take"))
    scene.frame_start, scene.frame_end = 1, summary.last_frame
    pixels = png_pixels(preview.contact_sheet(scene, armature, str(tmp_path / "sheet.png"), count=2))
    tw, th = preview.TILE
    face_row = pixels[:th, :, :3]                                  # pixels are stored bottom-up
    for tile in (face_row[:, :tw], face_row[:, tw + 4:]):
        assert tile.std() > 0.05                                   # a face fills it, not the plain world
