"""RigData -> an armature with SMPL-X bone names and a skinned mesh parented to it.

The armature's data is Z-up (SMPL-X's Y-up rotated +90 deg about X) with the object at
the origin, bones pointing at their children with zero roll; the bake reads the rest
frames back from Blender, so these choices are looks, not contracts. The rest pose's
SMPL-X translation is stored on the armature (``asynfusion_rest_trans``) so bakes place
the root exactly.
"""

from __future__ import annotations

from typing import cast

import bpy
import numpy as np

from ..core import skeleton
from .blueprint import REST_TRANS_PROP, Z_UP_FROM_Y_UP, RigData, bone_tails

SLIDER_RANGE = 10.0     # the widest shape-key range Blender allows; FLAME values reach +-6


def _to_blender(points: np.ndarray) -> np.ndarray:
    return np.asarray(points, np.float64) @ Z_UP_FROM_Y_UP.T


def _armature(context: bpy.types.Context, rig: RigData) -> bpy.types.Object:
    data = bpy.data.armatures.new(rig.name)
    obj = bpy.data.objects.new(rig.name, data)
    context.scene.collection.objects.link(obj)
    heads = _to_blender(rig.joints)
    tails = _to_blender(bone_tails(rig.joints))
    with context.temp_override(active_object=obj, object=obj, selected_objects=[obj],
                               selected_editable_objects=[obj]):
        context.view_layer.objects.active = obj
        bpy.ops.object.mode_set(mode='EDIT')
        edit = data.edit_bones
        for j, name in enumerate(skeleton.JOINT_NAMES):
            bone = edit.new(name)
            bone.head = heads[j]
            bone.tail = tails[j]
            bone.roll = 0.0
            if skeleton.PARENTS[j] >= 0:
                bone.parent = edit[skeleton.JOINT_NAMES[skeleton.PARENTS[j]]]
        bpy.ops.object.mode_set(mode='OBJECT')
    for pose_bone in obj.pose.bones:
        pose_bone.rotation_mode = 'QUATERNION'
    obj[REST_TRANS_PROP] = [float(v) for v in rig.rest_trans]
    obj["asynfusion_rig"] = rig.source
    return obj


def _mesh(context: bpy.types.Context, rig: RigData, armature: bpy.types.Object) -> bpy.types.Object:
    """The skinned mesh, built with bulk foreach_set rather than from_pydata."""
    mesh = bpy.data.meshes.new(rig.name + " body")
    verts = _to_blender(rig.verts)
    sizes = np.array([len(f) for f in rig.faces], np.int32)
    loops = np.fromiter((i for f in rig.faces for i in f), np.int32, int(sizes.sum()))
    mesh.vertices.add(len(verts))
    mesh.vertices.foreach_set("co", verts.astype(np.float32).ravel())
    mesh.loops.add(len(loops))
    mesh.loops.foreach_set("vertex_index", loops)
    mesh.polygons.add(len(sizes))
    mesh.polygons.foreach_set("loop_start", np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int32))
    mesh.polygons.foreach_set("loop_total", sizes)
    if rig.face_materials is not None:
        mesh.polygons.foreach_set("material_index", np.asarray(rig.face_materials, np.int32))
    mesh.update(calc_edges=True)
    mesh.validate()

    obj = bpy.data.objects.new(rig.name + " body", mesh)
    context.scene.collection.objects.link(obj)
    obj.parent = armature
    for j, name in enumerate(skeleton.JOINT_NAMES):
        group = obj.vertex_groups.new(name=name)
        column = rig.weights[:, j]
        for w in np.unique(column[column > 0]):
            group.add(np.flatnonzero(column == w).tolist(), float(w), 'REPLACE')
    modifier = cast(bpy.types.ArmatureModifier, obj.modifiers.new("Armature", 'ARMATURE'))
    modifier.object = armature

    if rig.shape_keys:
        obj.shape_key_add(name="Basis", from_mix=False)
        base = verts.astype(np.float32)
        for name, delta in rig.shape_keys:
            block = obj.shape_key_add(name=name, from_mix=False)
            block.slider_min, block.slider_max = -SLIDER_RANGE, SLIDER_RANGE
            block.data.foreach_set("co", (base + _to_blender(delta).astype(np.float32)).ravel())
    return obj


def _material(name: str, colour: tuple[float, float, float]) -> bpy.types.Material:
    """A flat, slightly glossy material of one colour, in the viewport and in Cycles/EEVEE."""
    material = bpy.data.materials.new(name)
    material.diffuse_color = (*colour, 1.0)
    if material.node_tree is None:     # Blender 5.0 materials come with nodes; 4.2 makes them here
        material.use_nodes = True
    for node in material.node_tree.nodes:
        if node.type == 'BSDF_PRINCIPLED':
            inputs = cast(bpy.types.ShaderNodeBsdfPrincipled, node).inputs
            cast(bpy.types.NodeSocketColor, inputs["Base Color"]).default_value = (*colour, 1.0)
            cast(bpy.types.NodeSocketFloat, inputs["Roughness"]).default_value = 0.55
    return material


def build_rig(context: bpy.types.Context, rig: RigData) -> tuple[bpy.types.Object, bpy.types.Object]:
    """Create armature + mesh in the scene; on failure nothing is left behind."""
    if context.object is not None and context.object.mode != 'OBJECT':
        bpy.ops.object.mode_set(mode='OBJECT')
    created: list[bpy.types.ID] = []
    try:
        armature = _armature(context, rig)
        created += [armature, armature.data]
        body = _mesh(context, rig, armature)
        created += [body, body.data]
        for name, colour in rig.materials:
            material = _material(f"{rig.name} {name}", colour)
            created.append(material)
            cast(bpy.types.Mesh, body.data).materials.append(material)
    except BaseException:
        for block in reversed(created):
            if isinstance(block, bpy.types.Material):
                bpy.data.materials.remove(block)
            elif isinstance(block, bpy.types.Object):
                bpy.data.objects.remove(block)
            elif isinstance(block, bpy.types.Mesh):
                bpy.data.meshes.remove(block)
            elif isinstance(block, bpy.types.Armature):
                bpy.data.armatures.remove(block)
        raise
    for obj in context.view_layer.objects:
        obj.select_set(False)
    armature.select_set(True)
    context.view_layer.objects.active = armature
    return armature, body


def frame_in_views(context: bpy.types.Context) -> int:
    """Zoom every 3D view of the window onto the selection (build_rig selects the new armature,
    which is otherwise often off screen or tiny); returns how many views were framed (none in
    background mode)."""
    screen = context.screen
    if screen is None:
        return 0
    framed = 0
    for area in screen.areas:
        region = next((r for r in area.regions if r.type == 'WINDOW'), None)
        if area.type != 'VIEW_3D' or region is None:
            continue
        with context.temp_override(area=area, region=region):
            if bpy.ops.view3d.view_selected.poll():  # type: ignore[call-arg]
                bpy.ops.view3d.view_selected()
                framed += 1
    return framed
