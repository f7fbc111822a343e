"""Rigs made by other add-ons: Y-up bone frames under a rotated object, a root bone, centimetres.

A stand-in for the MPI/Meshcapade layout is built in Blender (data in centimetres, every
bone pointing +Y so rest frames are identity, 'root' above 'pelvis', eyes named
'left_eye'/'right_eye', the object rotated +90 deg about X and scaled 0.01). Baking the same
take onto it and onto the built-in rig must move every joint the same way in the world.
"""

import bpy
import numpy as np
import pytest
from mathutils import Euler

from conftest import TAKE
from asynfusion_blender import targets
from asynfusion_blender.bake import bake, rig_reader
from asynfusion_blender.rig import builtin
from asynfusion_blender.core import motion_file, skeleton

pytestmark = pytest.mark.shared_data("beat2")      # it bakes a BEAT2 take


def meshcapade_like_rig():
    data = bpy.data.armatures.new("SMPLX-neutral")
    obj = bpy.data.objects.new("SMPLX-neutral", data)
    bpy.context.scene.collection.objects.link(obj)
    bpy.context.view_layer.objects.active = obj
    joints_cm = builtin.joint_positions() * 100.0
    bpy.ops.object.mode_set(mode='EDIT')
    root = data.edit_bones.new("root")
    root.head, root.tail = (0, 0, 0), (0, 10, 0)
    for j, name in enumerate(skeleton.JOINT_NAMES):
        bone = data.edit_bones.new(name.replace("_smplhf", ""))
        bone.head = joints_cm[j]
        bone.tail = joints_cm[j] + np.array([0.0, 2.0, 0.0])
        parent = skeleton.PARENTS[j]
        bone.parent = data.edit_bones["root" if parent < 0 else skeleton.JOINT_NAMES[parent].replace("_smplhf", "")]
    bpy.ops.object.mode_set(mode='OBJECT')
    obj.rotation_euler = Euler((np.pi / 2, 0, 0))
    obj.scale = (0.01, 0.01, 0.01)
    return obj


def world_joints(armature, rename=lambda n: n):
    return np.array([armature.matrix_world @ armature.pose.bones[rename(n)].head for n in skeleton.JOINT_NAMES])


def test_y_up_centimetre_rig_moves_like_the_builtin_rig(addon):
    take = motion_file.read_motion(TAKE)
    scene = bpy.context.scene
    scene.render.fps = 30
    ours, _ = targets.create_builtin_rig(bpy.context)
    theirs = meshcapade_like_rig()
    parts = frozenset({"body", "jaw", "hands", "root"})
    bake.bake_motion(scene, take, ours, None, bake.BakeOptions(parts=parts))
    bake.bake_motion(scene, take, theirs, None, bake.BakeOptions(parts=parts))
    assert rig_reader.rig_frame(theirs, list(range(55)), True).scale == 100.0
    eyes = lambda n: n.replace("_smplhf", "")   # noqa: E731
    start = None
    for k in (0, 300, 1200):
        scene.frame_set(1 + k)
        a, b = world_joints(ours), world_joints(theirs, eyes)
        if start is None:
            start = (a[0], b[0])
        # Same pose relative to the pelvis, and the same pelvis travel since frame 0 (the
        # foreign rig has no rest-translation property, so only its offset differs).
        assert np.allclose(a - a[0], b - b[0], atol=1e-4)
        assert np.allclose(a[0] - start[0], b[0] - start[1], atol=1e-4)
    assert theirs.pose.bones["root"].rotation_quaternion[0] == 1.0
