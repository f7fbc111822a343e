"""Faces beyond FLAME: ARKit-named shape keys found in any spelling and baked, in real Blender."""

import os
import subprocess
import sys

import bpy
import numpy as np
import pytest

from conftest import REPO, TAKE, make_face, scene_state
from asynfusion_blender import targets
from asynfusion_blender.bake import action_support, bake, face_keys
from asynfusion_blender.core import arkit, motion_file
from asynfusion_blender.errors import AddonError

SCRIPT = os.path.join(REPO, "asynfusion_blender", "batch.py")
# a character's keys in mixed spellings, one key that is no ARKit shape
ARKIT_KEYS = ("jawOpen", "MouthClose", "mouth_funnel", "mouthPucker", "eyeBlink_L", "EyeBlinkRight",
              "browInnerUp_L", "browInnerUp_R", "mouthSmile_R", "Frown2")


def test_naming_is_detected_from_key_names():
    assert face_keys.detect(["Basis", "Exp000", "Exp099", "Exp100", "jawOpen"]).columns == {"Exp000": 0, "Exp099": 99}
    found = face_keys.detect(["Basis", *ARKIT_KEYS])
    assert found.kind == face_keys.ARKIT and "Frown2" not in found.columns
    assert found.columns["MouthClose"] == arkit.INDEX["mouthClose"]
    assert found.columns["browInnerUp_L"] == found.columns["browInnerUp_R"] == arkit.INDEX["browInnerUp"]
    assert face_keys.detect(["Basis", "Key 1", "smile"]) is None
    sentence = face_keys.describe(found, "Head")
    assert sentence.startswith("Face 'Head': 9 ARKit keys for 8 of the 52 ARKit shapes (missing: eyeLookDownLeft")


@pytest.fixture
def rig(addon):
    armature, _ = targets.create_builtin_rig(bpy.context)
    return armature


def test_arkit_keys_are_baked_from_the_fitted_readout(rig, take):
    scene = bpy.context.scene
    scene.render.fps = 30
    face = make_face("Character", ARKIT_KEYS)
    summary = bake.bake_motion(scene, take, rig, face, bake.BakeOptions(start_frame=1))
    assert summary.face.startswith("Face 'Character': 9 ARKit keys")
    key = face.data.shape_keys
    curves = {fc.data_path: fc for fc in action_support.action_curves(key.animation_data.action, key)}
    assert set(curves) == {f'key_blocks["{k}"].value' for k in ARKIT_KEYS if k != "Frown2"}
    want = face_keys.arkit_track(take, 0)
    for k in ("jawOpen", "MouthClose", "eyeBlink_L", "browInnerUp_R"):
        fc = curves[f'key_blocks["{k}"].value']
        values = np.zeros(2 * len(fc.keyframe_points), np.float32)
        fc.keyframe_points.foreach_get("co", values)
        assert len(values) // 2 == take.num_frames
        column = want[:, face_keys.detect([k]).columns[k]]
        assert np.allclose(values[1::2], column, atol=1e-6), k
    blink = want[:, arkit.INDEX["eyeBlinkLeft"]]
    assert blink.max() > 0.99 and np.array_equal(blink, want[:, arkit.INDEX["eyeBlinkRight"]])
    jaw = want[:, arkit.INDEX["jawOpen"]]
    assert jaw.std() > 0.05 and np.all(jaw >= want[:, arkit.INDEX["mouthClose"]])
    for frame in (1, 500, 1000):
        scene.frame_set(frame)
        assert 0.0 <= key.key_blocks["jawOpen"].value <= 1.0


def test_a_mesh_with_neither_naming_is_one_sentence_and_the_scene_is_unchanged(rig, take):
    face = make_face("Plain", ("Key 1", "smile"))
    before = scene_state()
    with pytest.raises(AddonError) as err:
        bake.bake_motion(bpy.context.scene, take, rig, face, bake.BakeOptions())
    assert str(err.value) == face_keys.no_face_sentence("Plain") and str(err.value).endswith("untick Face.")
    assert scene_state() == before


@pytest.mark.shared_data("beat2")
def test_batch_face_bakes_an_arkit_only_mesh_and_refuses_a_plain_one(addon, tmp_path):
    scene_file = tmp_path / "character.blend"
    make_face("Character", ARKIT_KEYS)
    make_face("Plain", ("Key 1",))
    bpy.ops.wm.save_as_mainfile(filepath=str(scene_file))
    out = tmp_path / "out.blend"
    motion = tmp_path / "take.npz"
    full = motion_file.read_motion(TAKE)
    short = motion_file.Motion(full.poses[:300], full.expressions[:300], full.trans[:300])
    motion_file.write_motion(motion, short)
    cmd = [sys.executable, SCRIPT, "--blend", str(scene_file), "--motion", str(motion), "--out", str(out)]
    done = subprocess.run(cmd + ["--face", "Character"], capture_output=True, text=True, cwd=tmp_path, timeout=900)
    assert done.returncode == 0, done.stderr
    assert "take: Face 'Character': 9 ARKit keys for 8 of the 52 ARKit shapes" in done.stdout
    bpy.ops.wm.open_mainfile(filepath=str(out))
    key = bpy.data.objects["Character"].data.shape_keys
    curves = action_support.action_curves(key.animation_data.action, key)
    assert len(curves) == 9 and all(len(fc.keyframe_points) == 240 for fc in curves)   # 10 s at 24 fps

    refused = tmp_path / "refused.blend"
    done = subprocess.run([c if c != str(out) else str(refused) for c in cmd] + ["--face", "Plain"],
                          capture_output=True, text=True, cwd=tmp_path, timeout=900)
    assert done.returncode == 1 and not refused.exists()
    assert done.stderr.strip() == "asynfusion: error: " + face_keys.no_face_sentence("Plain")
    done = subprocess.run(cmd + ["--face", "Nobody"], capture_output=True, text=True, cwd=tmp_path, timeout=900)
    assert done.returncode == 1 and done.stderr.strip() == "asynfusion: error: The scene has no mesh called 'Nobody'."
