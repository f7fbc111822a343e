"""A contact sheet of a baked character: something a person looks at rather than reads.

Renders a few frames with Cycles on the CPU (headless Blender has no GPU context for
EEVEE or Workbench here), a full-body row over a row of frontal face close-ups, and tiles
them into one PNG. The face row is there to judge lip sync, so on a face with ARKit keys it
shows the frames where the baked mouth is most closed (left half) and most open (right
half), read from the jawOpen and mouthClose curves; other faces get the body row's frames. The camera, light and render settings it needs live only
for the render: the scene is put back as it was afterwards, so a preview never changes
the .blend it was made from.
"""

from __future__ import annotations

import contextlib
import math
import os
import tempfile
from collections.abc import Iterator
from typing import Any, cast

import bpy
import numpy as np
from mathutils import Vector

from .bake import action_support, face_keys, rig_reader
from .core import arkit
from .core.skeleton import JOINT_NAMES
from .errors import AddonError

TILE = (240, 320)         # width, height of one frame in the sheet
SAMPLES = 8


def sheet_frames(first: int, last: int, count: int) -> list[int]:
    """``count`` frames spread evenly over [first, last], ends included, no repeats."""
    if last <= first or count <= 1:
        return [first]
    return sorted({int(round(f)) for f in np.linspace(first, last, count)})


def mouth_frames(opening: np.ndarray, first: int, count: int, spacing: int) -> list[int]:
    """``count // 2`` frames where ``opening`` (one value per frame from ``first``) is lowest, then
    the rest where it is highest, each group in time order, picks at least ``spacing`` apart."""
    def pick(order: np.ndarray, wanted: int) -> list[int]:
        chosen: list[int] = []
        for i in order.tolist():
            if len(chosen) == wanted:
                break
            if all(abs(i - c) >= spacing for c in chosen):
                chosen.append(i)
        return sorted(first + c for c in chosen)
    order = np.argsort(np.asarray(opening, np.float64), kind="stable")
    return pick(order, count // 2) + pick(order[::-1], count - count // 2)


def _mouth_opening(meshes: list[bpy.types.Object], first: int, last: int) -> np.ndarray | None:
    """jawOpen - mouthClose per frame from the baked curves of a mesh with ARKit keys, else None."""
    for obj in meshes:
        key = cast(bpy.types.Mesh, obj.data).shape_keys if obj.type == 'MESH' else None
        face = face_keys.detect([k.name for k in key.key_blocks]) if key is not None else None
        action = key.animation_data.action if key is not None and key.animation_data is not None else None
        if face is None or face.kind != face_keys.ARKIT or action is None:
            continue
        curves = {fc.data_path: fc for fc in action_support.action_curves(action, key)}
        frames = range(first, last + 1)
        opening = np.zeros(len(frames))
        for name, column in face.columns.items():
            sign = {arkit.INDEX["jawOpen"]: 1.0, arkit.INDEX["mouthClose"]: -1.0}.get(column)
            curve = curves.get(f'key_blocks["{name}"].value')
            if sign is not None and curve is not None:
                opening += sign * np.array([curve.evaluate(f) for f in frames])
        if opening.any():
            return opening
    return None


def tile_images(rows: list[list[np.ndarray]], gap: int = 4) -> np.ndarray:
    """Rows of (h, w, 4) float images (bottom-up, as Blender stores pixels) -> one sheet."""
    h, w = rows[0][0].shape[:2]
    cols = max(len(r) for r in rows)
    sheet = np.ones(((h + gap) * len(rows) - gap, (w + gap) * cols - gap, 4), np.float32)
    for r, row in enumerate(rows):
        y = (len(rows) - 1 - r) * (h + gap)          # first row on top
        for c, img in enumerate(row):
            sheet[y:y + h, c * (w + gap):c * (w + gap) + w] = img
    return sheet


def _bounds(objects: list[bpy.types.Object]) -> tuple[Vector, Vector]:
    pts = [obj.matrix_world @ Vector(corner) for obj in objects for corner in obj.bound_box]
    lo = Vector((min(p.x for p in pts), min(p.y for p in pts), min(p.z for p in pts)))
    hi = Vector((max(p.x for p in pts), max(p.y for p in pts), max(p.z for p in pts)))
    return lo, hi


def _aim(camera: bpy.types.Object, target: Vector, distance: float, turn: float = 0.0) -> None:
    """Put the camera in front of the character (SMPL-X faces -Y in our Z-up rigs), ``turn``
    radians round to its left, looking at ``target``."""
    camera.location = target + distance * Vector((math.sin(turn), -math.cos(turn), 0.0))
    camera.rotation_euler = (target - camera.location).to_track_quat('-Z', 'Y').to_euler()


def _joint_bones(armature: bpy.types.Object) -> dict[int, str]:
    """SMPL-X joint -> the rig's bone, as baking matched them (a Mixamo rig's head is not called
    "head"); none for an object no profile fits."""
    if armature.type != 'ARMATURE':
        return {}
    try:
        return rig_reader.match_rig(armature).mapping
    except AddonError:
        return {}


def _bone_centre(armature: bpy.types.Object, name: str | None, fallback: Vector) -> Vector:
    """World position of a bone's middle now (the cameras follow the character), else ``fallback``."""
    bone = armature.pose.bones.get(name) if armature.type == 'ARMATURE' and name else None
    if bone is None:
        return fallback
    return armature.matrix_world @ ((bone.head + bone.tail) / 2)


def _render(scene: bpy.types.Scene, frame: int, path: str) -> np.ndarray:
    scene.frame_set(frame)
    scene.render.filepath = path
    bpy.ops.render.render(write_still=True)
    image = bpy.data.images.load(path)
    try:
        pixels = np.empty(image.size[0] * image.size[1] * 4, np.float32)
        cast(Any, image.pixels).foreach_get(pixels)
        return pixels.reshape(image.size[1], image.size[0], 4)
    finally:
        bpy.data.images.remove(image)


def _remove(block: bpy.types.ID) -> None:
    """Delete a datablock this module made."""
    for collection in (bpy.data.objects, bpy.data.cameras, bpy.data.lights, bpy.data.worlds):
        if block.name in collection and collection[block.name] == block:
            collection.remove(block)  # type: ignore[arg-type]
            return


def contact_sheet(scene: bpy.types.Scene, armature: bpy.types.Object, path: str, count: int = 6) -> str:
    """Render ``count`` frames of the scene's range (body row + face row) to the PNG at ``path``."""
    meshes = [c for c in armature.children if c.type == 'MESH'] or [armature]
    saved_frame = scene.frame_current
    try:
        with _studio(scene) as camera:
            _save_png(tile_images(_render_rows(scene, armature, meshes, camera, count)), path)
    finally:
        scene.frame_set(saved_frame)
    return os.path.abspath(path)


@contextlib.contextmanager
def _studio(scene: bpy.types.Scene) -> Iterator[bpy.types.Object]:
    """A camera, a sun, a plain world and Cycles settings for the sheet; all gone afterwards."""
    render = cast(Any, scene.render)    # the stubs know only one engine name
    saved = {k: getattr(render, k) for k in ("engine", "resolution_x", "resolution_y",
                                              "resolution_percentage", "filepath", "film_transparent")}
    saved_format = render.image_settings.file_format
    saved_samples = scene.cycles.samples
    saved_camera, saved_world = scene.camera, scene.world
    made: list[bpy.types.ID] = []
    try:
        world = bpy.data.worlds.new("AsynFusion preview world")
        world.color = (0.35, 0.37, 0.4)
        made.append(world)
        scene.world = world
        camera_data = bpy.data.cameras.new("AsynFusion preview camera")
        camera = bpy.data.objects.new("AsynFusion preview camera", camera_data)
        light_data = cast(bpy.types.SunLight, bpy.data.lights.new("AsynFusion preview light", 'SUN'))
        light_data.energy = 3.0
        light = bpy.data.objects.new("AsynFusion preview light", light_data)
        light.rotation_euler = (0.9, 0.0, -0.5)
        made += [camera, camera_data, light, light_data]
        scene.collection.objects.link(camera)
        scene.collection.objects.link(light)
        scene.camera = camera
        render.engine = 'CYCLES'
        scene.cycles.device = 'CPU'
        scene.cycles.samples = SAMPLES
        render.resolution_x, render.resolution_y = TILE
        render.resolution_percentage = 100
        render.film_transparent = False
        render.image_settings.file_format = 'PNG'
        yield camera
    finally:
        for key, value in saved.items():
            setattr(render, key, value)
        render.image_settings.file_format = saved_format
        scene.cycles.samples = saved_samples
        scene.camera, scene.world = saved_camera, saved_world
        for block in made:
            _remove(block)


def _render_rows(scene: bpy.types.Scene, armature: bpy.types.Object, meshes: list[bpy.types.Object],
                 camera: bpy.types.Object, count: int) -> list[list[np.ndarray]]:
    """The body row (frames first to last) and the face row (most closed / most open mouths)."""
    camera_data = cast(bpy.types.Camera, camera.data)
    scene.frame_set(scene.frame_start)
    lo, hi = _bounds(meshes)
    height = hi.z - lo.z
    body_target = (lo + hi) / 2
    frames = sheet_frames(scene.frame_start, scene.frame_end, count)
    opening = _mouth_opening(meshes, scene.frame_start, scene.frame_end)
    spacing = max(1, (scene.frame_end - scene.frame_start) // (4 * count))
    face_frames = (frames if opening is None or len(opening) < count
                   else mouth_frames(opening, scene.frame_start, count, spacing))
    bones = _joint_bones(armature)
    pelvis_bone, head_bone = (bones.get(JOINT_NAMES.index(name)) for name in ("pelvis", "head"))
    crown = Vector(((lo.x + hi.x) / 2, (lo.y + hi.y) / 2, hi.z - 0.06 * height))   # no head bone: the top's middle
    rows: list[list[np.ndarray]] = [[], []]
    with tempfile.TemporaryDirectory() as tmp:
        for i, frame in enumerate(frames):
            scene.frame_set(frame)
            pelvis = _bone_centre(armature, pelvis_bone, body_target)
            camera_data.lens = 50.0
            _aim(camera, Vector((pelvis.x, pelvis.y, body_target.z)), 1.7 * height + 0.2)
            rows[0].append(_render(scene, frame, os.path.join(tmp, f"body{i}.png")))
        for i, frame in enumerate(face_frames):
            scene.frame_set(frame)
            camera_data.lens = 85.0
            face = _bone_centre(armature, head_bone, crown) - Vector((0.0, 0.0, 0.03))   # eyes to chin
            _aim(camera, face, 0.42 * height, turn=0.3)
            rows[1].append(_render(scene, frame, os.path.join(tmp, f"face{i}.png")))
    return rows


def _save_png(sheet: np.ndarray, path: str) -> None:
    image = bpy.data.images.new("AsynFusion contact sheet", sheet.shape[1], sheet.shape[0], alpha=True)
    try:
        cast(Any, image.pixels).foreach_set(sheet.ravel())
        image.filepath_raw = os.path.abspath(path)
        image.file_format = 'PNG'
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        image.save()
    finally:
        bpy.data.images.remove(image)
