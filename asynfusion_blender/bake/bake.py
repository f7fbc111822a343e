"""The bpy half of the bake: write finished arrays into new actions, all or nothing.

Every check (bone names, hierarchy, shape keys, audio) happens before the scene is
touched; the writes then record how to revert themselves, and any failure reverts them
all, so a failed bake leaves the scene exactly as it was. The user's current actions are
kept (given a fake user) and the bake's new actions take their place.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import bpy
import numpy as np

from ..core import face_track, mouth, quaternions, skeleton
from ..core.motion_file import Motion
from ..errors import AddonError
from ..rig import profiles
from . import action_support, cost_estimate, curve_math, face_keys, retarget, rig_reader, take_facts

MAX_FRAME = 1048574     # Blender's last frame (MAXFRAME); keys past it collapse onto it
STAND_NOTE_M = 0.03     # shown pose this far (metres) from the rest pose: the bake says which it used
MOUTH_PROP = "asynfusion_mouth_strength"   # on the armature: the character's mouth strength (properties.py)


@dataclass
class BakeOptions:
    parts: frozenset[str] = frozenset(curve_math.PARTS)
    start_frame: int = 1
    audio_path: str | None = None
    name: str = "AsynFusion"
    bone_map: str | None = None      # a user's JSON bone map; None: detect the rig's profile
    seed: int | None = None          # the take's seed, when it was generated here
    keep: bool = False               # a fake user on the take (batch.py: every file's take is saved)
    generated: tuple[str, str] | None = None   # (recording, motion file) of a generated take
    mouth_strength: float | None = None   # times the calibrated mouth (core/mouth.py); None: the armature's own


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
    face_meshes: list[str] = field(default_factory=list)     # every mesh that took the face, the main one first
    profile: str | None = None          # the rig profile the body went through (SMPL-X, Rigify, ...)
    take: str = ""                      # the take's id (take_facts.py)
    undo: Callable[[], None] = lambda: None     # takes the whole bake back (a later step of one Generate failed)


def expected_cost(scene: bpy.types.Scene, seconds: float,
                  face_mesh: bpy.types.Object | Sequence[bpy.types.Object] | None,
                  parts: frozenset[str], armature: bpy.types.Object | None = None) -> cost_estimate.BakeCost:
    """What baking ``seconds`` of motion will cost, known as soon as the audio is read (the face
    on every mesh that takes it, when the ``armature`` is given)."""
    frames = int(round(seconds * scene.render.fps / scene.render.fps_base))
    chosen = _meshes(face_mesh)
    meshes = rig_reader.face_meshes(armature, chosen) if chosen else []
    face = sum(len(rig_reader.expression_keys(m)) for m in meshes) if "face" in parts else 0
    per_frame = cost_estimate.keys_per_frame(len(curve_math.baked_joints(parts)), "root" in parts, face)
    return cost_estimate.estimate(frames * per_frame)


def _meshes(face_mesh: bpy.types.Object | Sequence[bpy.types.Object] | None) -> list[bpy.types.Object]:
    """The face mesh argument as a list: none, one, or several (the main face first)."""
    return [] if face_mesh is None else [face_mesh] if isinstance(face_mesh, bpy.types.Object) else list(face_mesh)


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
                  curves: list[curve_math.Curve], frames: np.ndarray, take: dict, keep: bool) -> str:
    writer = action_support.CurveWriter(name, owner)
    revert.add(lambda: bpy.data.actions.remove(writer.action))
    for c in curves:
        writer.add(c.data_path, c.index, c.group, curve_math.keyframe_coords(frames, c.values))
    take_facts.stamp(writer.action, take)
    writer.action.use_fake_user = keep
    adt = owner.animation_data
    old = adt.action if adt is not None else None
    if old is not None and not old.use_fake_user and not take_facts.is_take(old):
        old.use_fake_user = True        # keep the user's own action when nothing plays it any more
        revert.add(lambda: setattr(old, "use_fake_user", False))
    revert.add(writer.assign())
    return writer.action.name


def mouth_strength(armature: bpy.types.Object, chosen: float | None) -> float:
    """The strength the mouth is baked with: the one chosen for this bake, else the character's own
    (the panel's Mouth Strength on the armature), else 1; AddonError when out of range."""
    value = chosen if chosen is not None else getattr(armature, MOUTH_PROP, cast(Any, armature).get(MOUTH_PROP, 1.0))
    try:
        return mouth.check_strength(value)
    except ValueError as err:
        raise AddonError(str(err)) from None


def _mouth_factor(faces: list[tuple[bpy.types.Object, face_keys.FaceKeys]], strength: float
                  ) -> tuple[float, str | None]:
    """How much the mouth keys are scaled: the first face mesh's jawOpen lip gap against the
    built-in head's (core/mouth.py), times the strength; and the sentence that says so."""
    for mesh, keys in faces:
        shape = rig_reader.jaw_open_shape(mesh, keys)
        if shape is not None:
            gap = mouth.measured_lip_gap(*shape)
            factor = mouth.calibration(gap) * strength
            return factor, mouth.sentence(gap, factor, strength)
    return strength, mouth.sentence(None, strength, strength, has_jaw_open=False)


def _flame_mouth(motion: Motion, strength: float) -> Motion:
    """The motion as an Exp### face shows it at this mouth strength: its expressions and jaw with
    the mouth ``strength`` times as strong (core/mouth.py scale_flame_mouth), the rest as it is."""
    if strength == 1.0:
        return motion
    poses = motion.joint_rotations().copy()
    expressions, poses[:, skeleton.JAW] = mouth.scale_flame_mouth(motion.expressions, poses[:, skeleton.JAW], strength)
    return dataclasses.replace(motion, poses=poses.reshape(motion.num_frames, -1).astype(motion.poses.dtype),
                               expressions=expressions.astype(motion.expressions.dtype))


def _set_attr(revert: _Revert, obj: object, attr: str, value: object) -> None:
    old = getattr(obj, attr)
    if old != value:
        setattr(obj, attr, value)
        revert.add(lambda: setattr(obj, attr, old))


def _set_switches(revert: _Revert, armature: bpy.types.Object, match: profiles.RigMatch) -> None:
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


def _keep_stand(revert: _Revert, armature: bpy.types.Object, rig: retarget.TargetRig) -> None:
    """Keep where the character stood as shown on the armature, so later takes start there too."""
    if rig_reader.STAND_PROP not in cast(Any, armature):
        cast(Any, armature)[rig_reader.STAND_PROP] = [float(v) for v in rig.stand]
        revert.add(lambda: cast(Any, armature).pop(rig_reader.STAND_PROP, None))


def stand_sentence(armature: bpy.types.Object, rig: retarget.TargetRig, frame: int) -> str | None:
    """One line when the character is shown more than a few centimetres from its rest pose."""
    metres = float(np.linalg.norm(np.array(armature.matrix_world.to_3x3()) @ rig.stand))
    if metres <= STAND_NOTE_M and rig.shown_size == 1.0:
        return None
    sized = f", at {rig.shown_size:.3g} of its rest size," if rig.shown_size != 1.0 else ""
    return (f"Armature '{armature.name}' stands {metres:.2f} m from its rest pose{sized} as shown at frame {frame}; "
            "the bake starts from the shown pose and keeps its feet on that pose's floor, not the rest pose's.")


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
                face_mesh: bpy.types.Object | Sequence[bpy.types.Object] | None,
                options: BakeOptions) -> BakeSummary:
    """Bake ``motion`` onto the rig as new actions; raises AddonError with the scene untouched.

    The face goes onto ``face_mesh`` (one mesh or several, the first the main one) and every
    other mesh of the character with face keys (rig_reader.face_meshes): head, teeth, eyes, ...
    """
    parts = frozenset(options.parts)
    joints = curve_math.baked_joints(parts)
    with_root = "root" in parts
    with_face = "face" in parts
    if not joints and not with_root and not with_face:
        raise AddonError("Choose at least one of face, jaw, body, hands or root motion to bake.")
    match = rig_reader.match_rig(armature, options.bone_map) if (joints or with_root) else None
    rig: curve_math.RigFrame | retarget.TargetRig | None = None
    warnings: list[str] = []
    if match is not None and match.is_smplx and not options.bone_map:
        rig = rig_reader.rig_frame(armature, joints, with_root)
    elif match is not None:
        rig = rig_reader.target_rig(armature, match, scene, options.start_frame) if with_root else \
            rig_reader.target_rig(armature, match)
        skipped = match.skipped(joints)
        joints = [j for j in joints if j in match.mapping]
        if skipped:
            warnings.append(f"Armature '{armature.name}' ({match.profile}) has no bones for "
                            f"{profiles.describe_skipped(skipped)}; those joints were not baked.")
        stood = stand_sentence(armature, rig, options.start_frame) if with_root else None
        if stood is not None:
            warnings.append(stood)
    if rig is not None and rig.tilt:
        warnings.append(f"Armature '{armature.name}' rests turned {rig.tilt:.0f} degrees off its axes; "
                        "the bake moves it in its own frame, as it stands.")
    chosen = _meshes(face_mesh)
    faces: list[tuple[bpy.types.Object, face_keys.FaceKeys]] = []
    if with_face:
        for mesh in chosen:
            if rig_reader.mesh_face_keys(mesh) is None:
                raise AddonError(face_keys.no_face_sentence(mesh.name))
        if not chosen:
            raise AddonError("Choose a face mesh with Exp000-Exp099 or ARKit-named shape keys, or untick Face.")
        for mesh in rig_reader.face_meshes(armature, chosen):
            keys = rig_reader.mesh_face_keys(mesh)
            if keys is not None:
                faces.append((mesh, keys))
    if options.audio_path is not None and not os.path.isfile(options.audio_path):
        raise AddonError(f"Audio file {os.path.basename(options.audio_path)} does not exist.")

    dst_fps = scene.render.fps / scene.render.fps_base
    i0, t = curve_math.resample_positions(motion.num_frames, motion.fps, dst_fps)
    frames = options.start_frame + np.arange(len(i0), dtype=np.float64)
    if frames[0] < -MAX_FRAME or frames[-1] > MAX_FRAME:
        raise AddonError(f"A bake of {len(frames)} frames starting at frame {options.start_frame} runs past "
                         f"Blender's frame range; choose a start frame from {-MAX_FRAME} "
                         f"to {MAX_FRAME - len(frames) + 1}.")
    strength = mouth_strength(armature, options.mouth_strength) if faces else 1.0
    flame = faces[0][1].kind == face_keys.FLAME if faces else False
    flame_motion = _flame_mouth(motion, strength) if flame else motion     # an Exp### face's mouth, and its jaw bone
    body: list[curve_math.Curve] = []
    if rig is not None:
        q_src = quaternions.axis_angle_to_quat(flame_motion.joint_rotations())
        if isinstance(rig, retarget.TargetRig):
            body = retarget.retarget_curves(q_src, motion.trans, rig, joints, with_root, i0, t)
        else:
            body = curve_math.body_curves(q_src, motion.trans, rig, joints, with_root, i0, t)
        if not all(np.all(np.isfinite(c.values)) for c in body):
            raise AddonError(f"The motion gives non-finite bone values on armature '{armature.name}'; "
                             "check the motion file and the rig's rest pose.")
    seed = face_track.motion_seed(motion)
    track = face_keys.track_for([k for _, k in faces], motion, seed)
    mouth_note = mouth.flame_sentence(strength) if flame else None
    if track is not None:
        factor, arkit_note = _mouth_factor(faces, strength)
        track = mouth.scale_mouth(track, factor)
        mouth_note = mouth_note or arkit_note
    face = [face_keys.face_curves(keys, flame_motion if keys.kind == face_keys.FLAME else motion, i0, t, seed, track)
            for _, keys in faces]

    cost = cost_estimate.estimate(len(frames) * (len(body) + sum(len(c) for c in face)))
    refused = cost_estimate.refusal(cost, len(frames) / dst_fps, cost_estimate.free_memory())
    if refused is not None:
        raise AddonError(refused)
    if cost.large:
        warnings.append(cost.sentence(len(frames) / dst_fps))
    summary = BakeSummary(frames=len(frames), seconds=len(frames) / dst_fps,
                          first_frame=int(frames[0]), last_frame=int(frames[-1]),
                          warnings=warnings, profile=match.profile if match is not None else None)
    take = take_facts.new_take(options.name, options.seed, options.audio_path, summary.seconds,
                               summary.first_frame, options.generated)
    summary.take = take["id"]
    revert = _Revert()
    try:
        if match is not None and not match.is_smplx:
            _set_switches(revert, armature, match)
        if isinstance(rig, retarget.TargetRig) and with_root:
            _keep_stand(revert, armature, rig)
        if rig is not None:
            for j in joints:
                _set_attr(revert, armature.pose.bones[rig.bone_names[j]], "rotation_mode", 'QUATERNION')
            summary.actions.append(_write_action(revert, armature, f"{options.name} body", body, frames,
                                                 {**take, "part": "body"}, options.keep))
        for k, ((mesh, keys), curves) in enumerate(zip(faces, face)):
            key = rig_reader.shape_keys_of(mesh)
            low, high = float(flame_motion.expressions.min()), float(flame_motion.expressions.max())
            for name in (keys.columns if keys.kind == face_keys.FLAME else ()):
                block = key.key_blocks[name]
                _set_attr(revert, block, "slider_min", min(block.slider_min, max(low, -10.0)))
                _set_attr(revert, block, "slider_max", max(block.slider_max, min(high, 10.0)))
            # the main face's action is the take's face; the others name their mesh, to play it there
            facts = {**take, "part": "face"} if k == 0 else {**take, "part": "face", "mesh": mesh.name}
            summary.actions.append(_write_action(revert, key, f"{options.name} face" + (f" {mesh.name}" if k else ""),
                                                 curves, frames, facts, options.keep))
        if faces:
            summary.face = face_keys.describe(faces[0][1], faces[0][0].name)
            summary.face_meshes = [mesh.name for mesh, _ in faces]
            if len(faces) > 1:
                summary.face += f" The face also moves {', '.join(repr(m.name) for m, _ in faces[1:])}."
            if mouth_note:
                summary.face += " " + mouth_note
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
    summary.undo = revert.run
    return summary
