"""The bpy half of the bake: read the rig once, write finished arrays, all or nothing.

Every check (bone names, hierarchy, shape keys, audio) happens before the scene is
touched; the writes then record how to revert themselves, and any failure reverts them
all, so a failed bake leaves the scene exactly as it was. The user's current actions are
kept (given a fake user) and the bake's new actions take their place.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import cast

import bpy
import numpy as np

from . import action_support, bake_math, rig_mapping
from .core import rotations, skeleton
from .core.motion_file import Motion
from .errors import AddonError

REST_TRANS_PROP = "asynfusion_rest_trans"
MAX_FRAME = 1048574     # Blender's last frame (MAXFRAME); keys past it collapse onto it
EXP_PREFIX = "Exp"
CM_THRESHOLD = 5.0      # a pelvis->neck distance above this many units means a centimetre rig


@dataclass
class BakeOptions:
    parts: frozenset[str] = frozenset(bake_math.PARTS)
    start_frame: int = 1
    audio_path: str | None = None
    name: str = "AsynFusion"


@dataclass
class BakeSummary:
    frames: int
    seconds: float
    first_frame: int
    last_frame: int
    actions: list[str] = field(default_factory=list)
    sound_strip: str | None = None
    warnings: list[str] = field(default_factory=list)


def armature_bones(obj: bpy.types.Object) -> bpy.types.ArmatureBones:
    return cast(bpy.types.Armature, obj.data).bones


def shape_keys_of(obj: bpy.types.Object | None) -> bpy.types.Key | None:
    if obj is None or obj.type != 'MESH':
        return None
    return cast(bpy.types.Mesh, obj.data).shape_keys


def rig_frame(armature: bpy.types.Object, joints: list[int], with_root: bool) -> bake_math.RigFrame:
    """Everything the numpy bake needs from an armature; raises AddonError if it cannot take it."""
    if armature is None or armature.type != 'ARMATURE':
        raise AddonError("Choose an armature to bake onto.")
    bones = armature_bones(armature)
    mapping = rig_mapping.map_bones(b.name for b in bones)
    needed = sorted(set(joints) | ({skeleton.ROOT} if with_root else set()))
    rig_mapping.require_bones(mapping, needed, armature.name)
    parents = {b.name: (b.parent.name if b.parent else None) for b in bones}
    rig_mapping.check_hierarchy(mapping, parents, needed, armature.name)

    rest = np.tile(np.eye(3), (skeleton.NUM_JOINTS, 1, 1))
    heads: dict[int, np.ndarray] = {}
    for j, name in mapping.items():
        m = np.array(bones[name].matrix_local)
        rest[j] = m[:3, :3] / np.linalg.norm(m[:3, :3], axis=0)
        heads[j] = m[:3, 3]
    try:
        up = heads[12] - heads[0]
        left = heads[1] - heads[2]
        conv = bake_math.detect_conversion(up, left)
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
    return bake_math.RigFrame(mapping, rest, conv, scale, rest_trans)


def expression_keys(mesh: bpy.types.Object | None) -> list[str]:
    keys = shape_keys_of(mesh)
    if keys is None:
        return []
    return [kb.name for kb in keys.key_blocks
            if kb.name.startswith(EXP_PREFIX) and kb.name[3:].isdigit() and int(kb.name[3:]) < 100]


def find_face_mesh(armature: bpy.types.Object) -> bpy.types.Object | None:
    """A mesh deformed by the armature that carries Exp### shape keys, if any."""
    for obj in armature.children:
        if obj.type == 'MESH' and expression_keys(obj):
            return obj
    return None


class _Revert:
    """Undo closures of the writes done so far, run newest first on failure."""

    def __init__(self) -> None:
        self.steps: list[Callable[[], None]] = []

    def add(self, step: Callable[[], None]) -> None:
        self.steps.append(step)

    def run(self) -> None:
        for step in reversed(self.steps):
            step()
        self.steps.clear()


def _write_action(revert: _Revert, owner: action_support.Animated, name: str,
                  curves: list[bake_math.Curve], frames: np.ndarray) -> str:
    writer = action_support.CurveWriter(name, owner)
    revert.add(lambda: bpy.data.actions.remove(writer.action))
    for c in curves:
        writer.add(c.data_path, c.index, c.group, bake_math.keyframe_coords(frames, c.values))
    adt = owner.animation_data
    old = adt.action if adt is not None else None
    if old is not None and not old.use_fake_user:
        old.use_fake_user = True        # keep the user's action when nothing plays it any more
        revert.add(lambda: setattr(old, "use_fake_user", False))
    revert.add(writer.assign())
    return writer.action.name


def _set_attr(revert: _Revert, obj: object, attr: str, value: object) -> None:
    old = getattr(obj, attr)
    if old != value:
        setattr(obj, attr, value)
        revert.add(lambda: setattr(obj, attr, old))


def _add_sound(revert: _Revert, scene: bpy.types.Scene, path: str, frame: int) -> str:
    had_editor = scene.sequence_editor is not None
    if not had_editor:
        scene.sequence_editor_create()
        revert.add(scene.sequence_editor_clear)
    used = [s.channel for s in action_support.all_strips(scene)]
    channel = min(max(used, default=0) + 1, 128)
    strips = action_support.sound_strips(scene)
    try:
        strip = strips.new_sound(os.path.basename(path), path, channel, frame)
    except RuntimeError:
        raise AddonError(f"Blender cannot play {os.path.basename(path)}; choose a WAV, FLAC, MP3 or OGG file.") from None
    revert.add(lambda: strips.remove(strip))
    return strip.name


def bake_motion(scene: bpy.types.Scene, motion: Motion, armature: bpy.types.Object,
                face_mesh: bpy.types.Object | None, options: BakeOptions) -> BakeSummary:
    """Bake ``motion`` onto the rig as new actions; raises AddonError with the scene untouched."""
    parts = frozenset(options.parts)
    joints = bake_math.baked_joints(parts)
    with_root = "root" in parts
    with_face = "face" in parts
    if not joints and not with_root and not with_face:
        raise AddonError("Choose at least one of face, jaw, body, hands or root motion to bake.")
    rig = rig_frame(armature, joints, with_root) if (joints or with_root) else None
    exp_keys = expression_keys(face_mesh) if with_face else []
    if with_face and not exp_keys:
        raise AddonError("Choose a face mesh with Exp000-Exp099 shape keys, or untick Face.")
    if options.audio_path is not None and not os.path.isfile(options.audio_path):
        raise AddonError(f"Audio file {os.path.basename(options.audio_path)} does not exist.")

    dst_fps = scene.render.fps / scene.render.fps_base
    i0, t = bake_math.resample_positions(motion.num_frames, motion.fps, dst_fps)
    frames = options.start_frame + np.arange(len(i0), dtype=np.float64)
    if frames[0] < -MAX_FRAME or frames[-1] > MAX_FRAME:
        raise AddonError(f"A bake of {len(frames)} frames starting at frame {options.start_frame} runs past "
                         f"Blender's frame range; choose a start frame from {-MAX_FRAME} "
                         f"to {MAX_FRAME - len(frames) + 1}.")
    body: list[bake_math.Curve] = []
    if rig is not None:
        q_src = rotations.axis_angle_to_quat(motion.joint_rotations())
        body = bake_math.body_curves(q_src, motion.trans, rig, joints, with_root, i0, t)
    face = bake_math.expression_curves(motion.expressions, exp_keys, i0, t) if exp_keys else []

    summary = BakeSummary(frames=len(frames), seconds=len(frames) / dst_fps,
                          first_frame=int(frames[0]), last_frame=int(frames[-1]))
    revert = _Revert()
    try:
        if rig is not None:
            for j in joints:
                _set_attr(revert, armature.pose.bones[rig.bone_names[j]], "rotation_mode", 'QUATERNION')
            summary.actions.append(_write_action(revert, armature, f"{options.name} body", body, frames))
        if face and face_mesh is not None:
            key = shape_keys_of(face_mesh)
            low, high = float(motion.expressions.min()), float(motion.expressions.max())
            for name in exp_keys:
                block = key.key_blocks[name]
                _set_attr(revert, block, "slider_min", min(block.slider_min, max(low, -10.0)))
                _set_attr(revert, block, "slider_max", max(block.slider_max, min(high, 10.0)))
            summary.actions.append(_write_action(revert, key, f"{options.name} face", face, frames))
        if options.audio_path is not None and bpy.app.build_options.audaspace:
            summary.sound_strip = _add_sound(revert, scene, options.audio_path, options.start_frame)
        elif options.audio_path is not None:
            summary.warnings.append("This Blender build has no audio support, so no sound strip was added.")
        _set_attr(revert, scene, "frame_end", max(scene.frame_end, summary.last_frame))
    except BaseException:
        revert.run()
        raise
    return summary
