"""What a bake reads from Blender before it writes anything: the rig's bones and rest frames,
the profile that maps it, where the character stands as shown, and the shape keys of the meshes
that take the face. Reading raises one sentence when a rig cannot take the motion; it never
changes the scene (a frame it evaluates the shown pose at is set back)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any, cast

import bpy
import numpy as np

from ..core import skeleton
from ..errors import AddonError
from ..rig import profiles, smplx_names
from ..rig.blueprint import REST_TRANS_PROP
from . import curve_math, face_keys, retarget, take_facts

CM_THRESHOLD = 5.0      # a pelvis->neck distance above this many units means a centimetre rig
SIZE_TOLERANCE = 1e-3    # a root shown at a size this close to its rest's is at its rest's
STAND_PROP = "asynfusion_stand"   # on the armature: where it stood as shown when first baked (retarget.stand_offset)


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
        conv, tilt = retarget.body_frame(up, left)     # a rest pose turned off the axes: its own frame
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
    return curve_math.RigFrame(mapping, rest, conv, scale, rest_trans, tilt)


def match_rig(armature: bpy.types.Object, bone_map: str | None = None) -> profiles.RigMatch:
    """Which profile plays this armature (or the user's bone map); one sentence if none does."""
    if armature is None or armature.type != 'ARMATURE':
        raise AddonError("Choose an armature to bake onto.")
    names = [b.name for b in armature_bones(armature)]
    if bone_map:
        profile = profiles.load_profile(bone_map)
        return profiles.match_user_map(profile, names, armature.name, os.path.basename(bone_map))
    match = profiles.detect(names, heads=bone_heads(armature))
    if match is None:
        by_name = profiles.detect(names)
        raise smplx_names.RigMappingError(profiles.unknown_rig_sentence(
            armature.name, by_name.profile if by_name is not None else None))
    return match


def bone_heads(armature: bpy.types.Object) -> dict[str, tuple[float, float, float]]:
    """Every bone's rest head in armature space (what profiles.fits_geometry checks)."""
    return {b.name: (b.head_local[0], b.head_local[1], b.head_local[2]) for b in armature_bones(armature)}


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


def target_rig(armature: bpy.types.Object, match: profiles.RigMatch,
               scene: bpy.types.Scene | None = None, frame: int | None = None) -> retarget.TargetRig:
    """Rest frames, heads and anchors of a non-SMPL-X rig's mapped bones, read once; with a
    ``frame``, also where the character stands as shown there (stand_of)."""
    bones = armature_bones(armature)
    rest = np.tile(np.eye(3), (skeleton.NUM_JOINTS, 1, 1))
    heads = np.full((skeleton.NUM_JOINTS, 3), np.nan)
    for j, name in match.mapping.items():
        m = np.array(bones[name].matrix_local)
        rest[j] = m[:3, :3] / np.linalg.norm(m[:3, :3], axis=0)
        heads[j] = m[:3, 3]
    shown = None if frame is None else _shown_pose(armature, match.mapping, scene or bpy.context.scene, frame)
    if shown is not None and abs(shown[2] - 1.0) > SIZE_TOLERANCE:
        heads = heads[0] + shown[2] * (heads - heads[0])    # the rest skeleton at the size it is shown
    adt = armature.animation_data
    driven = {d.data_path for d in adt.drivers} if adt is not None else set()
    joint_of = {name: j for j, name in match.mapping.items()}
    anchors = np.full(skeleton.NUM_JOINTS, -1, np.int64)
    for j, name in match.mapping.items():
        anchors[j] = _anchor(armature, name, joint_of, driven)
    try:
        rig = retarget.target_rig(dict(match.mapping), rest, heads, anchors)
    except (ValueError, StopIteration):
        raise AddonError(
            f"Armature '{armature.name}' ({match.profile}) needs its root, hips or shoulders and a "
            "spine, neck or head bone standing apart to tell which way is up."
        ) from None
    if shown is not None:
        rig.shown_size = shown[2] if abs(shown[2] - 1.0) > SIZE_TOLERANCE else 1.0
        rig.stand, rig.root_parent, _ = stand_of(armature, rig, shown)
    return rig


def _shown_pose(armature: bpy.types.Object, bone_names: dict[int, str], scene: bpy.types.Scene,
                frame: int) -> tuple[np.ndarray, np.ndarray, float]:
    """(55, 3) heads of the mapped bones as the character is shown at ``frame`` (evaluated pose:
    actions, drivers, constraints; armature space), the root's parent bone's pose transform, and
    the size the root bone is shown at against its rest (a glTF whose bind pose is in centimetres
    shows it scaled by 0.01 from the root: everything below it is that much smaller)."""
    adt = armature.animation_data
    animated = adt is not None and (adt.action is not None or len(adt.drivers) or len(adt.nla_tracks))
    before = (scene.frame_current, scene.frame_subframe)
    moved = bool(animated) and before != (frame, 0.0)
    try:
        if moved:
            scene.frame_set(frame)
        pose = armature.evaluated_get(bpy.context.evaluated_depsgraph_get()).pose
        shown = np.full((skeleton.NUM_JOINTS, 3), np.nan)
        for j, name in bone_names.items():
            shown[j] = np.array(pose.bones[name].head)
        root = pose.bones[bone_names[skeleton.ROOT]]
        parent = root.parent
        carried = (np.array(parent.matrix) @ np.linalg.inv(np.array(parent.bone.matrix_local))
                   if parent is not None else np.eye(4))
        size = float(np.cbrt(abs(np.linalg.det(np.array(root.matrix)[:3, :3])
                                 / np.linalg.det(np.array(root.bone.matrix_local)[:3, :3]))))
    finally:
        if moved:
            scene.frame_set(before[0], subframe=before[1])
    return shown, carried, size if np.isfinite(size) and size > 0.0 else 1.0


def stand_of(armature: bpy.types.Object, rig: retarget.TargetRig,
             shown_pose: tuple[np.ndarray, np.ndarray, float]) -> tuple[np.ndarray, np.ndarray, bool]:
    """(stand, root's parent transform, measured now): where the character stands as shown at the
    bake's first frame (``shown_pose``: _shown_pose's) against its rest pose (retarget.stand_offset).
    Measured at the first bake onto the armature and kept on it (STAND_PROP), so later takes start
    where the first did and not where the take playing now has moved it; an armature already
    playing a take from before this was kept stands on its rest pose."""
    shown, carried, _ = shown_pose
    kept = cast(Any, armature).get(STAND_PROP)
    if kept is not None and len(kept) == 3:
        return np.asarray(kept, np.float64), carried, False
    adt = armature.animation_data
    if adt is not None and adt.action is not None and cast(Any, adt.action).get(take_facts.KEY) is not None:
        return np.zeros(3), carried, False
    return retarget.stand_offset(rig, shown), carried, True


def mesh_face_keys(mesh: bpy.types.Object | None) -> face_keys.FaceKeys | None:
    """The face shape keys of a mesh (Exp### or ARKit-named), None if it has neither."""
    keys = shape_keys_of(mesh)
    return None if keys is None else face_keys.detect([kb.name for kb in keys.key_blocks])


def jaw_open_shape(mesh: bpy.types.Object, face: face_keys.FaceKeys) -> tuple[np.ndarray, np.ndarray] | None:
    """The mesh's jawOpen key as world-space centimetres: (rest vertices, offsets), both (V, 3);
    None where its ARKit keys have no jawOpen (core/mouth.py measures the lip gap from them)."""
    name = face_keys.jaw_open_key(face)
    key = shape_keys_of(mesh)
    if name is None or key is None:
        return None
    block = key.key_blocks[name]
    base = block.relative_key if block.relative_key is not None else key.reference_key
    count = len(cast(bpy.types.Mesh, mesh.data).vertices)
    opened, rest = np.zeros(count * 3), np.zeros(count * 3)
    block.data.foreach_get("co", opened)
    base.data.foreach_get("co", rest)
    world = np.array(mesh.matrix_world)
    rest_world = rest.reshape(-1, 3) @ world[:3, :3].T + world[:3, 3]
    return rest_world * 100.0, (opened - rest).reshape(-1, 3) @ world[:3, :3].T * 100.0


def expression_keys(mesh: bpy.types.Object | None) -> list[str]:
    """Names of the shape keys a face bake drives on this mesh ([] if none)."""
    face = mesh_face_keys(mesh)
    return list(face.columns) if face is not None else []


def character_meshes(armature: bpy.types.Object) -> list[bpy.types.Object]:
    """The meshes of the character: under the armature (any depth) or deformed by it."""
    found = [o for o in armature.children_recursive if o.type == 'MESH']
    found += [o for o in bpy.data.objects if o.type == 'MESH' and o not in found and o.users_scene
              and any(m.type == 'ARMATURE' and cast(Any, m).object == armature for m in o.modifiers)]
    return found


def _face_rank(mesh: bpy.types.Object) -> tuple[int, int, str]:
    """The head before the teeth and eyes: the most face keys, then the most vertices."""
    return (-len(expression_keys(mesh)), -len(cast(bpy.types.Mesh, mesh.data).vertices), mesh.name)


def face_meshes(armature: bpy.types.Object | None,
                chosen: Sequence[bpy.types.Object] = ()) -> list[bpy.types.Object]:
    """Every mesh that takes the face: ``chosen`` first, then each other mesh of the character with
    Exp### or ARKit-named keys (head, teeth, tongue, eyes, lashes, ...), the head first. When
    meshes are chosen and none of them is the character's (a face of its own), only they take it."""
    own = [] if armature is None or armature.type != 'ARMATURE' else character_meshes(armature)
    if chosen and not any(o in own for o in chosen):
        return list(chosen)
    rest = sorted((o for o in own if o not in chosen and expression_keys(o)), key=_face_rank)
    return list(chosen) + rest


def find_face_mesh(armature: bpy.types.Object) -> bpy.types.Object | None:
    """The character's main face mesh (the one with the most face keys, then vertices), if any."""
    found = face_meshes(armature)
    return found[0] if found else None
