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
from typing import Any, cast

import bpy
import numpy as np

from . import action_support, bake_cost, bake_math, retarget, rig_mapping, rig_profiles
from . import face_keys
from .core import face_track, quaternions, skeleton
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
    bone_map: str | None = None      # a user's JSON bone map; None: detect the rig's profile


@dataclass
class BakeSummary:
    frames: int
    seconds: float
    first_frame: int
    last_frame: int
    actions: list[str] = field(default_factory=list)
    sound_strip: str | None = None
    warnings: list[str] = field(default_factory=list)
    face: str | None = None              # which face shape keys were driven, as a sentence
    profile: str | None = None          # the rig profile the body went through (SMPL-X, Rigify, ...)


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


def match_rig(armature: bpy.types.Object, bone_map: str | None = None) -> rig_profiles.RigMatch:
    """Which profile plays this armature (or the user's bone map); one sentence if none does."""
    if armature is None or armature.type != 'ARMATURE':
        raise AddonError("Choose an armature to bake onto.")
    names = [b.name for b in armature_bones(armature)]
    if bone_map:
        profile = rig_profiles.load_profile(bone_map)
        return rig_profiles.match_user_map(profile, names, armature.name, os.path.basename(bone_map))
    match = rig_profiles.detect(names)
    if match is None:
        raise rig_mapping.RigMappingError(rig_profiles.unknown_rig_sentence(armature.name))
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


def target_rig(armature: bpy.types.Object, match: rig_profiles.RigMatch) -> retarget.TargetRig:
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


def expected_cost(scene: bpy.types.Scene, seconds: float, face_mesh: bpy.types.Object | None,
                  parts: frozenset[str]) -> bake_cost.BakeCost:
    """What baking ``seconds`` of motion will cost, known as soon as the audio is read."""
    frames = int(round(seconds * scene.render.fps / scene.render.fps_base))
    face = len(expression_keys(face_mesh)) if "face" in parts else 0
    per_frame = bake_cost.keys_per_frame(len(bake_math.baked_joints(parts)), "root" in parts, face)
    return bake_cost.estimate(frames * per_frame)


def find_face_mesh(armature: bpy.types.Object) -> bpy.types.Object | None:
    """A mesh deformed by the armature that carries Exp### or ARKit-named shape keys, if any."""
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


def _set_switches(revert: _Revert, armature: bpy.types.Object, match: rig_profiles.RigMatch) -> None:
    """Set the profile's switches (Rigify: IK/FK to FK, follow options) that the rig has."""
    for bone_name, props in match.properties.items():
        pose_bone: Any = armature.pose.bones.get(bone_name)     # the stubs type ID properties as None
        for prop, value in props.items():
            if pose_bone is not None and prop in pose_bone and pose_bone[prop] != value:
                _set_item(revert, pose_bone, prop, value)


def _set_item(revert: _Revert, owner: bpy.types.PoseBone, key: str, value: float) -> None:
    """A custom property keeps its type (Rigify's follow switches are ints, IK_FK a float)."""
    old = owner[key]
    owner[key] = int(value) if isinstance(old, int) else float(value)
    revert.add(lambda: owner.__setitem__(key, old))


def _add_sound(revert: _Revert, scene: bpy.types.Scene, path: str, frame: int) -> str:
    """The speech as a sound strip starting with the bake. A strip already playing this file
    is moved, not doubled: every Generate of one recording used to stack another copy."""
    same = [s for s in action_support.all_strips(scene) if getattr(s, "sound", None) is not None
            and os.path.realpath(bpy.path.abspath(s.sound.filepath)) == os.path.realpath(path)]
    if same:
        _set_attr(revert, same[0], "frame_start", frame)
        return same[0].name
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
    match = match_rig(armature, options.bone_map) if (joints or with_root) else None
    rig: bake_math.RigFrame | retarget.TargetRig | None = None
    warnings: list[str] = []
    if match is not None and match.is_smplx and not options.bone_map:
        rig = rig_frame(armature, joints, with_root)
    elif match is not None:
        rig = target_rig(armature, match)
        skipped = match.skipped(joints)
        joints = [j for j in joints if j in match.mapping]
        if skipped:
            warnings.append(f"Armature '{armature.name}' ({match.profile}) has no bones for "
                            f"{rig_profiles.describe_skipped(skipped)}; those joints were not baked.")
    face_names = mesh_face_keys(face_mesh) if with_face else None
    if with_face and face_names is None:
        raise AddonError(face_keys.no_face_sentence(face_mesh.name) if face_mesh is not None else
                         "Choose a face mesh with Exp000-Exp099 or ARKit-named shape keys, or untick Face.")
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
        q_src = quaternions.axis_angle_to_quat(motion.joint_rotations())
        if isinstance(rig, retarget.TargetRig):
            body = retarget.retarget_curves(q_src, motion.trans, rig, joints, with_root, i0, t)
        else:
            body = bake_math.body_curves(q_src, motion.trans, rig, joints, with_root, i0, t)
        if not all(np.all(np.isfinite(c.values)) for c in body):
            raise AddonError(f"The motion gives non-finite bone values on armature '{armature.name}'; "
                             "check the motion file and the rig's rest pose.")
    seed = face_track.motion_seed(motion)
    face = face_keys.face_curves(face_names, motion, i0, t, seed) if face_names is not None else []

    cost = bake_cost.estimate(len(frames) * (len(body) + len(face)))
    refused = bake_cost.refusal(cost, len(frames) / dst_fps, bake_cost.free_memory())
    if refused is not None:
        raise AddonError(refused)
    if cost.large:
        warnings.append(cost.sentence(len(frames) / dst_fps))
    summary = BakeSummary(frames=len(frames), seconds=len(frames) / dst_fps,
                          first_frame=int(frames[0]), last_frame=int(frames[-1]),
                          warnings=warnings, profile=match.profile if match is not None else None)
    revert = _Revert()
    try:
        if match is not None and not match.is_smplx:
            _set_switches(revert, armature, match)
        if rig is not None:
            for j in joints:
                _set_attr(revert, armature.pose.bones[rig.bone_names[j]], "rotation_mode", 'QUATERNION')
            summary.actions.append(_write_action(revert, armature, f"{options.name} body", body, frames))
        if face and face_mesh is not None:
            key = shape_keys_of(face_mesh)
            low, high = float(motion.expressions.min()), float(motion.expressions.max())
            for name in (face_names.columns if face_names.kind == face_keys.FLAME else ()):
                block = key.key_blocks[name]
                _set_attr(revert, block, "slider_min", min(block.slider_min, max(low, -10.0)))
                _set_attr(revert, block, "slider_max", max(block.slider_max, min(high, 10.0)))
            summary.actions.append(_write_action(revert, key, f"{options.name} face", face, frames))
            summary.face = face_keys.describe(face_names, face_mesh.name)
        if options.audio_path is not None and bpy.app.build_options.audaspace:
            summary.sound_strip = _add_sound(revert, scene, options.audio_path, options.start_frame)
            if scene.sync_mode != 'AUDIO_SYNC':        # a slow viewport must drop frames, not drift off the sound
                _set_attr(revert, scene, "sync_mode", 'AUDIO_SYNC')
                summary.warnings.append("Playback is now set to Sync to Audio, so the lips stay on the sound "
                                        "even when the viewport is slow.")
        elif options.audio_path is not None:
            summary.warnings.append("This Blender build has no audio support, so no sound strip was added.")
        _set_attr(revert, scene, "frame_end", max(scene.frame_end, summary.last_frame))
    except BaseException:
        revert.run()
        raise
    return summary
