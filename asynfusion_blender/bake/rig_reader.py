"""What a bake reads from Blender before it writes anything: the rig's bones and rest frames,
the profile that maps it, and the face mesh's shape keys. Reading raises one sentence when a
rig cannot take the motion; it never changes the scene."""

from __future__ import annotations

import os
from typing import cast

import bpy
import numpy as np

from ..core import skeleton
from ..errors import AddonError
from ..rig import profiles, smplx_names
from ..rig.blueprint import REST_TRANS_PROP
from . import curve_math, face_keys, retarget

CM_THRESHOLD = 5.0      # a pelvis->neck distance above this many units means a centimetre rig


def armature_bones(obj: bpy.types.Object) -> bpy.types.ArmatureBones:
    return cast(bpy.types.Armature, obj.data).bones


def shape_keys_of(obj: bpy.types.Object | None) -> bpy.types.Key | None:
    if obj is None or obj.type != 'MESH':
        return None
    return cast(bpy.types.Mesh, obj.data).shape_keys


def rig_frame(armature: bpy.types.Object, joints: list[int], with_root: bool) -> curve_math.RigFrame:
    """Everything the numpy bake needs from an armature; raises AddonError if it cannot take it."""
    if armature is None or armature.type != 'ARMATURE':
        raise AddonError("Choose an armature to bake onto.")
    bones = armature_bones(armature)
    mapping = smplx_names.map_bones(b.name for b in bones)
    needed = sorted(set(joints) | ({skeleton.ROOT} if with_root else set()))
    smplx_names.require_bones(mapping, needed, armature.name)
    parents = {b.name: (b.parent.name if b.parent else None) for b in bones}
    smplx_names.check_hierarchy(mapping, parents, needed, armature.name)

    rest = np.tile(np.eye(3), (skeleton.NUM_JOINTS, 1, 1))
    heads: dict[int, np.ndarray] = {}
    for j, name in mapping.items():
        m = np.array(bones[name].matrix_local)
        rest[j] = m[:3, :3] / np.linalg.norm(m[:3, :3], axis=0)
        heads[j] = m[:3, 3]
    try:
        up = heads[12] - heads[0]
        left = heads[1] - heads[2]
        conv = curve_math.detect_conversion(up, left)
    except (KeyError, ValueError):
        raise AddonError(
            f"Armature '{armature.name}' needs pelvis, hips and neck bones standing apart "
            "to tell which way is up."
        ) from None
    scale = 100.0 if np.linalg.norm(up) > CM_THRESHOLD else 1.0
    try:    # rigs made elsewhere have no such property: their rest pose is SMPL-X's origin
        rest_trans = np.asarray(armature[REST_TRANS_PROP], np.float64)
    except KeyError:
        rest_trans = np.zeros(3)
    return curve_math.RigFrame(mapping, rest, conv, scale, rest_trans)


def match_rig(armature: bpy.types.Object, bone_map: str | None = None) -> profiles.RigMatch:
    """Which profile plays this armature (or the user's bone map); one sentence if none does."""
    if armature is None or armature.type != 'ARMATURE':
        raise AddonError("Choose an armature to bake onto.")
    names = [b.name for b in armature_bones(armature)]
    if bone_map:
        profile = profiles.load_profile(bone_map)
        return profiles.match_user_map(profile, names, armature.name, os.path.basename(bone_map))
    match = profiles.detect(names)
    if match is None:
        raise smplx_names.RigMappingError(profiles.unknown_rig_sentence(armature.name))
    return match


def _copied_bone(pose_bone: bpy.types.PoseBone, armature: bpy.types.Object, driven: set[str]) -> str | None:
    """The bone a helper bone copies whole: an undriven world-space Copy Transforms at full influence."""
    for c in reversed(pose_bone.constraints):
        if (c.type == 'COPY_TRANSFORMS' and not c.mute and c.influence == 1.0
                and getattr(c, "target", None) == armature and getattr(c, "subtarget", "")
                and c.owner_space == 'WORLD' and c.target_space == 'WORLD'
                and f'pose.bones["{pose_bone.name}"].constraints["{c.name}"].influence' not in driven):
            return cast(str, getattr(c, "subtarget"))
    return None


def _anchor(armature: bpy.types.Object, name: str, joint_of: dict[str, int], driven: set[str]) -> int:
    """The mapped joint whose bone this bone rides on: up the parents, through unposed helper
    bones and whole-bone copies (Rigify's MCH/ORG/DEF chains); -1 when it rides on none."""
    bones = armature.pose.bones
    current = bones[name]
    seen = {name}
    while True:
        if not current.bone.use_inherit_rotation:
            return -1
        copied = _copied_bone(current, armature, driven) if current.name != name else None
        nxt = bones.get(copied) if copied else current.parent
        if nxt is None or nxt.name in seen:
            return -1
        if nxt.name in joint_of:
            return joint_of[nxt.name]
        seen.add(nxt.name)
        current = nxt


def target_rig(armature: bpy.types.Object, match: profiles.RigMatch) -> retarget.TargetRig:
    """Rest frames, heads and anchors of a non-SMPL-X rig's mapped bones, read once."""
    bones = armature_bones(armature)
    rest = np.tile(np.eye(3), (skeleton.NUM_JOINTS, 1, 1))
    heads = np.full((skeleton.NUM_JOINTS, 3), np.nan)
    for j, name in match.mapping.items():
        m = np.array(bones[name].matrix_local)
        rest[j] = m[:3, :3] / np.linalg.norm(m[:3, :3], axis=0)
        heads[j] = m[:3, 3]
    adt = armature.animation_data
    driven = {d.data_path for d in adt.drivers} if adt is not None else set()
    joint_of = {name: j for j, name in match.mapping.items()}
    anchors = np.full(skeleton.NUM_JOINTS, -1, np.int64)
    for j, name in match.mapping.items():
        anchors[j] = _anchor(armature, name, joint_of, driven)
    try:
        return retarget.target_rig(dict(match.mapping), rest, heads, anchors)
    except (ValueError, StopIteration):
        raise AddonError(
            f"Armature '{armature.name}' ({match.profile}) needs its root, hips or shoulders and a "
            "spine, neck or head bone standing apart to tell which way is up."
        ) from None


def mesh_face_keys(mesh: bpy.types.Object | None) -> face_keys.FaceKeys | None:
    """The face shape keys of a mesh (Exp### or ARKit-named), None if it has neither."""
    keys = shape_keys_of(mesh)
    return None if keys is None else face_keys.detect([kb.name for kb in keys.key_blocks])


def expression_keys(mesh: bpy.types.Object | None) -> list[str]:
    """Names of the shape keys a face bake drives on this mesh ([] if none)."""
    face = mesh_face_keys(mesh)
    return list(face.columns) if face is not None else []


def find_face_mesh(armature: bpy.types.Object) -> bpy.types.Object | None:
    """A mesh deformed by the armature that carries Exp### or ARKit-named shape keys, if any."""
    for obj in armature.children:
        if obj.type == 'MESH' and expression_keys(obj):
            return obj
    return None
