"""Which rig and face mesh a bake goes onto: found by name, by SMPL-X bones or a profile, or
from the selection; the panel's line about the rig; a bone-map template to fill in.

Shared by the operators and the headless script.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable

import bpy

from .bake import curve_math, rig_reader
from .core.output import check_outputs, replacing
from .errors import AddonError
from .rig import build, builtin, profiles, smplx_names


def is_smplx_armature(obj: bpy.types.Object | None) -> bool:
    if obj is None or obj.type != 'ARMATURE':
        return False
    return 0 in smplx_names.map_bones(b.name for b in rig_reader.armature_bones(obj))


def is_known_armature(obj: bpy.types.Object | None) -> bool:
    """An armature some rig profile (SMPL-X, Rigify, Mixamo, VRoid/VRM) recognises."""
    if obj is None or obj.type != 'ARMATURE':
        return False
    return profiles.detect((b.name for b in rig_reader.armature_bones(obj)),
                           heads=rig_reader.bone_heads(obj)) is not None


def find_armature(scene: bpy.types.Scene, name: str | None = None) -> bpy.types.Object | None:
    """The named armature, else the first with SMPL-X bones, else the first any profile knows."""
    if name:
        obj: bpy.types.Object | None = scene.objects.get(name)
        if obj is None or obj.type != 'ARMATURE':
            raise AddonError(f"The scene has no armature called '{name}'.")
        return obj
    return (next((o for o in scene.objects if is_smplx_armature(o)), None)
            or next((o for o in scene.objects if is_known_armature(o)), None))


_STATUS_CACHE: dict[tuple, str] = {}


def rig_status(armature: bpy.types.Object | None, bone_map: str, parts: frozenset[str]) -> str:
    """The panel's line: which profile the armature goes through and what it has no bones for.

    Cached by armature, bone count, map and parts, since the panel redraws often."""
    if armature is None or armature.type != 'ARMATURE':
        return ""
    bones = rig_reader.armature_bones(armature)
    key = (armature.name, len(bones), bone_map, parts)
    if key not in _STATUS_CACHE:
        try:
            match = rig_reader.match_rig(armature, bpy.path.abspath(bone_map) if bone_map else None)
            skipped = match.skipped(curve_math.baked_joints(parts)) if not match.is_smplx else []
            text = f"Rig profile: {match.profile}"
            if skipped:
                text += f"; no target for {profiles.describe_skipped(skipped)}"
        except AddonError as err:
            text = str(err)
        _STATUS_CACHE.clear()
        _STATUS_CACHE[key] = text
    return _STATUS_CACHE[key]


def face_status(armature: bpy.types.Object | None, face_mesh: bpy.types.Object | None) -> str:
    """The panel's line naming every mesh that takes the face (head, teeth, eyes, ...), when
    more than the face mesh itself does."""
    if face_mesh is None or face_mesh.type != 'MESH' or not rig_reader.expression_keys(face_mesh):
        return ""
    meshes = rig_reader.face_meshes(armature, [face_mesh])
    return "Face on: " + ", ".join(m.name for m in meshes) if len(meshes) > 1 else ""


def write_bone_map(armature: bpy.types.Object, path: str, inputs: Iterable[str | None] = ()) -> str:
    """Write a bone-map template for ``armature`` to ``path``, never over one of ``inputs`` (the
    open .blend and what it reads, a bone map in use: output.check_outputs) and atomically;
    returns the sentence to report."""
    if armature is None or armature.type != 'ARMATURE':
        raise AddonError("Choose or select the armature to write a bone map for.")
    path = check_outputs([path], inputs)[0]
    data = profiles.template([b.name for b in rig_reader.armature_bones(armature)], armature.name,
                             rig_reader.bone_heads(armature))
    filled = sum(1 for v in data["bones"].values() if v)
    with replacing(path) as tmp, open(tmp, "w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=2)
        fh.write("\n")
    found = f" ({filled} of 55 joints filled from the {data['_matched_profile']} profile)" if filled else ""
    return (f"Wrote bone map {os.path.basename(path)} for '{armature.name}'{found}; give each joint its bone, "
            "then bake with it as the Bone Map (--bone-map).")


def find_face(scene: bpy.types.Scene, name: str) -> bpy.types.Object:
    """The named mesh to bake the face onto (its keys are checked by the bake)."""
    obj: bpy.types.Object | None = scene.objects.get(name)
    if obj is None or obj.type != 'MESH':
        raise AddonError(f"The scene has no mesh called '{name}'.")
    return obj


def in_scene(scene: bpy.types.Scene, obj: bpy.types.Object | None) -> bool:
    """Whether ``obj`` still exists and is in ``scene``: a deleted object lives on in bpy.data
    for as long as something (the panel's target fields) refers to it."""
    try:
        return obj is not None and scene.objects.get(obj.name) == obj
    except ReferenceError:      # removed from bpy.data altogether
        return False


def targets_from_selection(context: bpy.types.Context) -> tuple[bpy.types.Object | None, bpy.types.Object | None]:
    """Armature and face mesh from the active/selected objects (a selected mesh's armature counts)."""
    selected = list(context.selected_objects)
    if context.active_object is not None:
        selected.insert(0, context.active_object)
    armature = next((o for o in selected if o.type == 'ARMATURE'), None)
    mesh = next((o for o in selected if o.type == 'MESH' and rig_reader.expression_keys(o)), None)
    if armature is None and mesh is not None and mesh.parent is not None and mesh.parent.type == 'ARMATURE':
        armature = mesh.parent
    if mesh is None and armature is not None:
        mesh = rig_reader.find_face_mesh(armature)
    return armature, mesh


def create_builtin_rig(context: bpy.types.Context) -> tuple[bpy.types.Object, bpy.types.Object]:
    return build.build_rig(context, builtin.builtin_rig())


def startup_cube(scene: bpy.types.Scene) -> bpy.types.Object | None:
    """The startup file's cube when it is still as Blender made it (named Cube, a 2 m cube of 8
    vertices at the origin, unrotated, unscaled, no modifiers or animation, shown): the built-in
    character stands inside it. Any cube the user touched is theirs and returns None."""
    cube: bpy.types.Object | None = scene.objects.get("Cube")
    if cube is None or cube.type != 'MESH' or cube.hide_get() or cube.parent is not None:
        return None
    mesh: bpy.types.Mesh = cube.data  # type: ignore[assignment]
    def exactly(vector: object, value: float) -> bool:
        return all(c == value for c in vector)  # type: ignore[attr-defined]
    untouched = (len(mesh.vertices) == 8 and len(mesh.polygons) == 6 and mesh.shape_keys is None
                 and not cube.modifiers and cube.animation_data is None and exactly(cube.location, 0.0)
                 and exactly(cube.rotation_euler, 0.0) and exactly(cube.scale, 1.0)
                 and all(all(abs(c) == 1.0 for c in v.co) for v in mesh.vertices))  # type: ignore[attr-defined]
    return cube if untouched else None
