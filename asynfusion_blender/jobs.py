"""What the operators and the headless script both do: find targets, generate, bake.

Kept free of operator plumbing so that ``batch.py`` runs exactly the same steps as the
sidebar buttons.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable

import bpy

from . import bake, bake_math, client, rig_build, rig_builtin, rig_mapping, rig_profiles
from .core import motion_file
from .errors import AddonError

AUDIO_EXTENSIONS = (".wav", ".flac", ".mp3", ".ogg")
GENERATE_TIMEOUT = 3600.0


def is_smplx_armature(obj: bpy.types.Object | None) -> bool:
    if obj is None or obj.type != 'ARMATURE':
        return False
    return 0 in rig_mapping.map_bones(b.name for b in bake.armature_bones(obj))


def is_known_armature(obj: bpy.types.Object | None) -> bool:
    """An armature some rig profile (SMPL-X, Rigify, Mixamo, VRoid/VRM) recognises."""
    if obj is None or obj.type != 'ARMATURE':
        return False
    return rig_profiles.detect(b.name for b in bake.armature_bones(obj)) is not None


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
    bones = bake.armature_bones(armature)
    key = (armature.name, len(bones), bone_map, parts)
    if key not in _STATUS_CACHE:
        try:
            match = bake.match_rig(armature, bpy.path.abspath(bone_map) if bone_map else None)
            skipped = match.skipped(bake_math.baked_joints(parts)) if not match.is_smplx else []
            text = f"Rig profile: {match.profile}"
            if skipped:
                text += f"; no target for {rig_profiles.describe_skipped(skipped)}"
        except AddonError as err:
            text = str(err)
        _STATUS_CACHE.clear()
        _STATUS_CACHE[key] = text
    return _STATUS_CACHE[key]


def write_bone_map(armature: bpy.types.Object, path: str) -> str:
    """Write a bone-map template for ``armature`` to ``path``; returns the sentence to report."""
    if armature is None or armature.type != 'ARMATURE':
        raise AddonError("Choose or select the armature to write a bone map for.")
    data = rig_profiles.template([b.name for b in bake.armature_bones(armature)], armature.name)
    filled = sum(1 for v in data["bones"].values() if v)
    try:
        with open(path, "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=2)
            fh.write("\n")
    except OSError as err:
        raise AddonError(f"Cannot write {os.path.basename(path)}: {err.strerror}.") from None
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
    mesh = next((o for o in selected if o.type == 'MESH' and bake.expression_keys(o)), None)
    if armature is None and mesh is not None and mesh.parent is not None and mesh.parent.type == 'ARMATURE':
        armature = mesh.parent
    if mesh is None and armature is not None:
        mesh = bake.find_face_mesh(armature)
    return armature, mesh


def create_builtin_rig(context: bpy.types.Context) -> tuple[bpy.types.Object, bpy.types.Object]:
    return rig_build.build_rig(context, rig_builtin.builtin_rig())


def sibling_audio(motion_path: str) -> str | None:
    """The recording that sits beside a motion file with the same name (BEAT2 ships take.npz + take.wav)."""
    stem = os.path.splitext(motion_path)[0]
    return next((stem + ext for ext in AUDIO_EXTENSIONS if os.path.isfile(stem + ext)), None)


def bake_motion_file(scene: bpy.types.Scene, path: str, armature: bpy.types.Object,
                     face_mesh: bpy.types.Object | None, options: bake.BakeOptions) -> bake.BakeSummary:
    motion = motion_file.read_motion(path)
    return bake.bake_motion(scene, motion, armature, face_mesh, options)


def motion_folder(blend_path: str = "") -> str:
    """Where generated motion goes: //asynfusion/ beside the .blend (the one being written, else
    the open one), else a folder in the temp folder (emptied after each bake: see discard_temporary)."""
    blend = blend_path or bpy.data.filepath
    return os.path.join(os.path.dirname(os.path.abspath(blend)), "asynfusion") if blend else _temporary_folder()


def _temporary_folder() -> str:
    return os.path.join(tempfile.gettempdir(), "asynfusion")


def motion_name(audio_path: str, seed: int) -> str:
    return f"{os.path.splitext(os.path.basename(audio_path))[0]}-seed{seed}.npz"


def motion_output_path(audio_path: str, seed: int, blend_path: str = "") -> str:
    folder = motion_folder(blend_path)
    os.makedirs(folder, exist_ok=True)
    return os.path.join(folder, motion_name(audio_path, seed))


def discard_temporary(motion_path: str) -> None:
    """Remove a motion file Generate wrote to the temp folder (an unsaved .blend has no folder of
    its own); motion beside a saved .blend is kept."""
    if os.path.dirname(os.path.abspath(motion_path)) == _temporary_folder():
        try:
            os.unlink(motion_path)
        except FileNotFoundError:
            pass


def generate_request(worker: client.WorkerClient, audio: str, out: str, seed: int,
                     steps_face: int | None, steps_body: int | None) -> str:
    if not os.path.isfile(audio):
        raise AddonError(f"Audio file {os.path.basename(audio) or '(none)'} does not exist; choose a recording.")
    return worker.generate(audio, out, seed=seed, steps_face=steps_face, steps_body=steps_body)


def generate_blocking(worker: client.WorkerClient, audio: str, out: str, seed: int,
                      steps_face: int | None = None, steps_body: int | None = None,
                      on_audio: Callable[[float], None] | None = None) -> dict:
    """Generate synchronously (background mode); returns the result reply or raises AddonError.
    Steps left as None are the weights' own defaults.
    ``on_audio`` hears the clip's length as soon as the worker has read it."""
    req_id = generate_request(worker, audio, out, seed, steps_face, steps_body)

    def heard(reply: dict) -> None:
        if on_audio is not None and reply.get("id") == req_id and "audio_seconds" in reply:
            on_audio(float(reply["audio_seconds"]))
    reply = worker.wait(req_id, GENERATE_TIMEOUT, on_reply=heard)
    if reply["type"] == "error":
        raise AddonError(reply["message"])
    return reply


def summary_text(summary: bake.BakeSummary, device: str | None = None) -> str:
    text = (f"Baked {summary.frames} frames ({summary.seconds:.1f} s), "
            f"frames {summary.first_frame}-{summary.last_frame}")
    if device:
        text += f" on {device}"
    return text + "."
