"""Characters made by the tests: skeletons with Mixamo, VRoid or any other names, in an A-pose,
with other proportions, other bone rolls and centimetre units, and no downloaded files.

``a_pose_joints`` is numpy only (SMPL-X frame, metres); ``build_rig`` turns it into a Blender
armature the way an FBX or VRM import leaves one.
"""

import json
import os

import numpy as np

from asynfusion_blender.rig import blueprint, profiles
from asynfusion_blender.core import rest_pose, skeleton

LEGS = (1, 2, 4, 5, 7, 8, 10, 11)
SPINE = (3, 6, 9, 12, 15, 13, 14)
ARM_ROOTS = {16: -1.0, 17: 1.0}          # shoulder joint -> sign of the drop about SMPL-X +Z


def descendants(j):
    out = {j}
    for k, p in enumerate(skeleton.PARENTS):
        if p in out:
            out.add(k)
    return sorted(out)


def _rot_z(angle):
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def a_pose_joints(drop_deg=40.0, legs=1.08, arms=0.93, spine=1.05):
    """(55, 3) joints of a body unlike SMPL-X's template: longer legs, shorter arms, a longer
    spine, arms dropped ``drop_deg`` into an A-pose, feet on the floor (y = 0 plane as the template)."""
    rest = rest_pose.rest_joints()
    out = np.empty_like(rest)
    out[0] = rest[0]
    for j in range(1, skeleton.NUM_JOINTS):
        p = skeleton.PARENTS[j]
        f = legs if j in LEGS else spine if j in SPINE else arms if j >= 16 and j not in (22, 23, 24) else 1.0
        out[j] = out[p] + f * (rest[j] - rest[p])
    for shoulder, sign in ARM_ROOTS.items():
        rot = _rot_z(sign * np.radians(drop_deg))
        for k in descendants(shoulder)[1:]:
            out[k] = out[shoulder] + rot @ (out[k] - out[shoulder])
    out[:, 1] += rest[[7, 8, 10, 11], 1].min() - out[[7, 8, 10, 11], 1].min()
    return out


def profile_names(profile_file, prefix=""):
    """Joint index -> bone name from a shipped profile (first spelling), with a namespace prefix."""
    with open(os.path.join(profiles.RIGS_DIR, profile_file), encoding="utf-8") as fh:
        bones = json.load(fh)["bones"]
    index = {n: j for j, n in enumerate(skeleton.JOINT_NAMES)}
    return {index[k]: prefix + (v if isinstance(v, str) else v[0]) for k, v in bones.items()}


def build_rig(name, names, joints_m, *, y_up_data=False, centimetres=True, roll_step=0.7,
              drop=(), extra_leaves=("HeadTop_End",)):
    """An armature named ``name`` whose bones are ``names`` (joint -> bone) at ``joints_m``.

    y_up_data: bones stored Y-up under an object rotated +90 deg about X (FBX import);
    otherwise Z-up data. centimetres: data in cm under an object scaled 0.01. Bones get a
    different roll each (roll_step * joint radians); ``drop`` joints are left out (their
    children hang on the nearest kept ancestor).
    """
    import bpy
    from mathutils import Euler

    from asynfusion_blender.rig.blueprint import Z_UP_FROM_Y_UP

    unit = 100.0 if centimetres else 1.0
    to_data = (lambda p: p * unit) if y_up_data else (lambda p: (p @ Z_UP_FROM_Y_UP.T) * unit)
    heads = to_data(joints_m)
    tails = to_data(blueprint.bone_tails(joints_m))
    data = bpy.data.armatures.new(name)
    obj = bpy.data.objects.new(name, data)
    bpy.context.scene.collection.objects.link(obj)
    bpy.context.view_layer.objects.active = obj
    bpy.ops.object.mode_set(mode='EDIT')
    kept = [j for j in range(skeleton.NUM_JOINTS) if j in names and j not in drop]
    for j in kept:
        bone = data.edit_bones.new(names[j])
        bone.head, bone.tail = heads[j], tails[j]
        bone.roll = roll_step * j
        p = skeleton.PARENTS[j]
        while p >= 0 and p not in kept:
            p = skeleton.PARENTS[p]
        if p >= 0:
            bone.parent = data.edit_bones[names[p]]
    head = names.get(15)
    for leaf in extra_leaves:
        if head in data.edit_bones:
            bone = data.edit_bones.new(leaf)
            bone.head = data.edit_bones[head].tail
            bone.tail = bone.head + (data.edit_bones[head].tail - data.edit_bones[head].head)
            bone.parent = data.edit_bones[head]
    bpy.ops.object.mode_set(mode='OBJECT')
    if y_up_data:
        obj.rotation_euler = Euler((np.pi / 2, 0, 0))
    if centimetres:
        obj.scale = (0.01, 0.01, 0.01)
    return obj
