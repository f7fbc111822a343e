"""Mouth strength per character (issue 22 item 4) in real Blender: the bake reads a face's jawOpen
key in world centimetres (object scale, parent, units), measures how far it parts the lips
(core/mouth.py) and scales jawOpen, mouthClose and the mouth keys of every mesh that takes the
face so the mouth opens as far as the built-in head's; the armature's Mouth Strength (the panel)
or --mouth-strength (batch.py) multiplies that, and nothing passes 1."""

import bpy
import numpy as np
import pytest

from batch_runner import batch_runner
from conftest import make_face, scene_state
from test_panel_drawing import draw_main
from foreign_rigs import a_pose_joints, build_rig, profile_names
from asynfusion_blender import targets
from asynfusion_blender.bake import action_support, bake, rig_reader
from asynfusion_blender.core import mouth

FACE = frozenset({"face"})
FRAMES = range(1, 1500, 7)
XS = np.linspace(-2.5, 2.5, 11)


def lips_mesh(name, rig, gap_cm, keys=("jawOpen", "mouthClose", "mouthSmileLeft", "eyeBlinkLeft")):
    """A mouth under ``rig``, modelled in centimetres with object scale 0.01 (as an FBX import
    leaves it): an upper-lip and a lower-lip row touching along the mouth's line, a chin below.
    jawOpen lowers the lower lip and chin by ``gap_cm`` (world); the other keys move one vertex."""
    upper = [(x, 0.0, z) for x in XS for z in (0.0, 0.6)]
    lower = [(x, 0.0, z) for x in XS for z in (0.0, -0.6, -1.5)]
    mesh = bpy.data.meshes.new(name)
    mesh.from_pydata(upper + lower, [], [])
    obj = bpy.data.objects.new(name, mesh)
    bpy.context.scene.collection.objects.link(obj)
    obj.parent = rig
    obj.scale = (0.01, 0.01, 0.01)
    obj.location = (0.0, -0.1, 1.55)
    obj.modifiers.new("Armature", 'ARMATURE').object = rig
    obj.shape_key_add(name="Basis", from_mix=False)
    for key in keys:
        block = obj.shape_key_add(name=key, from_mix=False)
        if key == "jawOpen":
            for k in range(len(upper), len(upper) + len(lower)):
                block.data[k].co.z -= gap_cm
        else:
            block.data[0].co.y -= 0.3
    return obj


def character(name, gap_cm):
    """A Mixamo-named rig with a head whose jawOpen parts the lips ``gap_cm`` and teeth that take
    the face with it."""
    rig = build_rig(name, profile_names("mixamo.json", prefix=f"{name}:"), a_pose_joints(), centimetres=False)
    head = lips_mesh(f"{name}_Head", rig, gap_cm)
    teeth = lips_mesh(f"{name}_Teeth", rig, 0.3 * gap_cm, keys=("jawOpen", "mouthClose"))
    bpy.context.view_layer.update()          # world matrices, as a loaded file has them
    bpy.context.scene.render.fps = 30        # the take's: a frame is a row of the track, clipped as it is
    return rig, head, teeth


def values(obj, key):
    keys = obj.data.shape_keys
    fc = next(fc for fc in action_support.action_curves(keys.animation_data.action, keys)
              if fc.data_path == f'key_blocks["{key}"].value')
    return np.array([fc.evaluate(f) for f in FRAMES])


def test_the_built_in_head_is_read_as_the_reference(scene):
    """The bpy layer hands core/mouth.py the built-in head's jawOpen in world centimetres: it parts
    the lips as far as the reference, so the built-in character's mouth stays the capture's."""
    armature, body = scene
    keys = rig_reader.mesh_face_keys(body)
    rest, delta = rig_reader.jaw_open_shape(body, keys)
    gap = mouth.lip_gap(rest, delta)
    assert gap == pytest.approx(mouth.REFERENCE_GAP_CM, rel=0.01)
    assert mouth.calibration(gap) == 1.0


def test_the_panel_shows_the_characters_mouth_strength_under_its_face(scene):
    settings = bpy.context.scene.asynfusion
    names = [item[1] for item in draw_main(bpy.context) if item[0] == "prop"]
    assert names.index("asynfusion_mouth_strength") == names.index("face_mesh") + 1
    settings.bake_face = False                    # no face baked: nothing to set
    assert "asynfusion_mouth_strength" not in [item[1] for item in draw_main(bpy.context)]


def test_a_small_jaw_opens_as_far_as_the_capture_and_its_teeth_with_it(addon, take):
    scene = bpy.context.scene
    ref_rig, ref_head, _ = character("Ref", 3.5)        # within 5 % of the reference: as it is
    rig, head, teeth = character("Small", 0.9)
    plain = bake.bake_motion(scene, take, ref_rig, ref_head, bake.BakeOptions(parts=FACE, name="ref"))
    summary = bake.bake_motion(scene, take, rig, head, bake.BakeOptions(parts=FACE, name="small"))
    assert "scaled" not in plain.face
    assert summary.face.endswith("Its jawOpen parts the lips 0.9 cm against the built-in head's 3.5 cm, "
                                 "so the mouth keys are scaled x3.91.")
    factor = mouth.REFERENCE_GAP_CM / 0.9
    jaw = values(ref_head, "jawOpen")
    assert jaw.max() > 0.3 and np.any(jaw * factor > 1.0)          # the take opens it enough to clip
    for key in ("jawOpen", "mouthClose", "mouthSmileLeft"):
        assert np.allclose(values(head, key), np.minimum(values(ref_head, key) * factor, 1.0), atol=1e-5), key
    assert np.allclose(values(head, "eyeBlinkLeft"), values(ref_head, "eyeBlinkLeft"))   # not a mouth key
    for key in ("jawOpen", "mouthClose"):                            # the teeth open with the lips
        assert np.allclose(values(teeth, key), values(head, key))
    opened = values(head, "jawOpen")
    assert opened.max() <= 1.0 and np.all(np.isfinite(opened)) and np.all(values(head, "mouthClose") <= opened + 1e-6)


def test_the_characters_strength_and_the_bakes_own(addon, take):
    """The armature's Mouth Strength (the panel's) multiplies the calibration; a bake's own
    strength wins over it; one out of range is one sentence and nothing changes."""
    scene = bpy.context.scene
    rig, head, _ = character("Avatar", 3.5)
    assert rig.asynfusion_mouth_strength == 1.0                     # registered on every object, 1 by default
    bake.bake_motion(scene, take, rig, head, bake.BakeOptions(parts=FACE, name="one"))
    one = values(head, "jawOpen")
    rig.asynfusion_mouth_strength = 0.5
    summary = bake.bake_motion(scene, take, rig, head, bake.BakeOptions(parts=FACE, name="half"))
    assert np.allclose(values(head, "jawOpen"), 0.5 * one, atol=1e-5)
    assert summary.face.endswith("so the mouth keys are scaled x0.50 (mouth strength 0.5).")
    bake.bake_motion(scene, take, rig, head, bake.BakeOptions(parts=FACE, name="double", mouth_strength=2.0))
    assert np.allclose(values(head, "jawOpen"), np.minimum(2.0 * one, 1.0), atol=1e-5)
    before = scene_state()
    for bad in (3.5, float("nan"), -1.0):
        with pytest.raises(Exception, match="The mouth strength must be a number from 0 to 3"):
            bake.bake_motion(scene, take, rig, head, bake.BakeOptions(parts=FACE, mouth_strength=bad))
    assert scene_state() == before


def test_batch_mouth_strength(addon, tmp_path, short_take):
    rig, head, _ = character("Armature", 0.9)
    rig.asynfusion_mouth_strength = 0.8                            # saved with the .blend
    run = batch_runner(tmp_path, short_take, "Armature")
    own = run("--out", str(tmp_path / "own.blend"))
    assert own.returncode == 0, own.stderr
    assert "so the mouth keys are scaled x3.13 (mouth strength 0.8)." in own.stdout
    chosen = run("--out", str(tmp_path / "chosen.blend"), "--mouth-strength", "1.2")
    assert chosen.returncode == 0, chosen.stderr
    assert "so the mouth keys are scaled x4.69 (mouth strength 1.2)." in chosen.stdout
    wrong = run("--out", str(tmp_path / "wrong.blend"), "--mouth-strength", "7")
    assert wrong.returncode == 1 and not (tmp_path / "wrong.blend").exists()
    assert wrong.stderr.strip() == ("asynfusion: error: The mouth strength must be a number from 0 to 3 "
                                    "(1 keeps it as calibrated).")
    assert targets.find_armature(bpy.context.scene, "Armature").asynfusion_mouth_strength == pytest.approx(0.8)


def test_an_exp_face_takes_the_strength_too_through_its_expressions_and_jaw(scene, take):
    """An Exp### (FLAME) face needs no calibration (it is the capture's own face model), but the
    character's Mouth Strength scales its mouth as it scales an ARKit face's: its Exp### keys and
    the jaw bone are the capture's with the mouth scaled (core/mouth.py scale_flame_mouth); the
    strength 1 bake is the capture's exactly, and the sentence says what was done."""
    armature, _ = scene
    bpy.context.scene.render.fps = 30
    face = make_face("Smplx_Face", [f"Exp{k:03d}" for k in range(10)])      # not the character's own: it alone
    jaw = armature.pose.bones["jaw"]

    def baked(name):
        keys = face.data.shape_keys
        fcs = {fc.data_path: fc for fc in action_support.action_curves(keys.animation_data.action, keys)}
        exp = np.array([[fcs[f'key_blocks["Exp{k:03d}"].value'].evaluate(f) for k in range(10)] for f in FRAMES])
        turn = []
        for f in FRAMES:
            bpy.context.scene.frame_set(f)
            turn.append(2.0 * np.degrees(np.arccos(min(1.0, abs(jaw.rotation_quaternion[0])))))
        return exp, np.array(turn)

    bake.bake_motion(bpy.context.scene, take, armature, face, bake.BakeOptions(name="one"))
    exp1, turn1 = baked("one")
    rows = [f - 1 for f in FRAMES]
    assert np.allclose(exp1, take.expressions[rows, :10], atol=1e-5)
    armature.asynfusion_mouth_strength = 2.0
    summary = bake.bake_motion(bpy.context.scene, take, armature, face, bake.BakeOptions(name="two"))
    exp2, turn2 = baked("two")
    want_e, want_jaw = mouth.scale_flame_mouth(take.expressions, take.joint_rotations()[:, 22], 2.0)
    assert np.allclose(exp2, want_e[rows, :10], atol=1e-4)
    assert np.allclose(turn2, np.degrees(np.linalg.norm(want_jaw[rows], axis=1)), atol=0.05)
    assert np.allclose(turn1, np.degrees(np.linalg.norm(take.joint_rotations()[rows, 22], axis=1)), atol=0.05)
    assert turn2.mean() > 1.5 * turn1.mean()                         # the jaw opens further
    assert summary.face == ("Face 'Smplx_Face': 10 FLAME expression keys (Exp###). Mouth strength 2: its "
                            "Exp### mouth moves 2 times as far as the capture's.")
