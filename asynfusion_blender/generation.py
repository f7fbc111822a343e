"""Generate and bake as the sidebar and the headless script both do it: where the motion file
goes, the request to the worker, baking a motion file, the summary line.

Kept free of operator plumbing so that ``batch.py`` runs exactly the same steps as the
sidebar buttons.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Collection, Sequence

import bpy

from . import client
from .bake import bake
from .core import motion_file
from .errors import AddonError

AUDIO_EXTENSIONS = (".wav", ".flac", ".mp3", ".ogg")
GENERATE_TIMEOUT = 3600.0


def sibling_audio(motion_path: str) -> str | None:
    """The recording that sits beside a motion file with the same name (BEAT2 ships take.npz + take.wav)."""
    stem = os.path.splitext(motion_path)[0]
    return next((stem + ext for ext in AUDIO_EXTENSIONS if os.path.isfile(stem + ext)), None)


def bake_motion_file(scene: bpy.types.Scene, path: str, armature: bpy.types.Object,
                     face_mesh: bpy.types.Object | Sequence[bpy.types.Object] | None,
                     options: bake.BakeOptions) -> bake.BakeSummary:
    motion = motion_file.read_motion(path)
    return bake.bake_motion(scene, motion, armature, face_mesh, options)


def bake_motion_files(scene: bpy.types.Scene, paths: list[str], armature: bpy.types.Object,
                      face_mesh: bpy.types.Object | None, options: list[bake.BakeOptions]) -> list[bake.BakeSummary]:
    """Bake each motion file as its own take, all or none: a failure takes back the bakes before it."""
    done: list[bake.BakeSummary] = []
    try:
        for path, opts in zip(paths, options):
            done.append(bake_motion_file(scene, path, armature, face_mesh, opts))
    except BaseException:
        for summary in reversed(done):
            summary.undo()
        raise
    return done


def blend_inputs() -> list[str]:
    """The open .blend and the files it reads (linked libraries, sounds, images that are not
    packed): inputs of every run in this scene, which no output may replace."""
    paths = [bpy.data.filepath]
    for datablocks in (bpy.data.libraries, bpy.data.sounds, bpy.data.images):
        paths += [bpy.path.abspath(d.filepath, library=d.library) for d in datablocks
                  if d.filepath and getattr(d, "packed_file", None) is None]
    return [p for p in paths if p]


def motion_folder(blend_path: str = "") -> str:
    """Where generated motion goes: //asynfusion/ beside the .blend (the one being written, else
    the open one), else a folder in the temp folder (emptied after each bake: see discard_temporary)."""
    blend = blend_path or bpy.data.filepath
    return os.path.join(os.path.dirname(os.path.abspath(blend)), "asynfusion") if blend else _temporary_folder()


def _temporary_folder() -> str:
    return os.path.join(tempfile.gettempdir(), "asynfusion")


def motion_name(audio_path: str, seed: int, regenerate: tuple[int, int] | None = None) -> str:
    """<audio>-seed<N>.npz, or <audio>-seed<N>-frames<S>-<E>.npz for a regenerated range (the
    timeline's frames S to E, as the preview range shows them)."""
    frames = "" if regenerate is None else f"-frames{regenerate[0]}-{regenerate[1]}"
    return f"{os.path.splitext(os.path.basename(audio_path))[0]}-seed{seed}{frames}.npz"


def motion_output_path(audio_path: str, seed: int, blend_path: str = "",
                       regenerate: tuple[int, int] | None = None, taken: Collection[str] = ()) -> str:
    """Where a generated take's motion goes: ``motion_name``, with ``-2``, ``-3``, ... added when a
    file of that name is already there or a take in ``taken`` has that name (the same seed pressed
    again is a take of its own, and never replaces the motion file of an earlier one). In the temp
    folder (an unsaved .blend) only the takes count: a file there is gone once baked."""
    folder = motion_folder(blend_path)
    os.makedirs(folder, exist_ok=True)
    stem = os.path.splitext(motion_name(audio_path, seed, regenerate))[0]
    kept = folder != _temporary_folder()
    name, k = stem, 1
    while name in taken or (kept and os.path.exists(os.path.join(folder, name + ".npz"))):
        k += 1
        name = f"{stem}-{k}"
    return os.path.join(folder, name + ".npz")


# Motion files Generate wrote beside a saved .blend in this session: the ones no take saved with
# the .blend uses any more (deleted, undone, or left out on save) are removed when it is saved.
WRITTEN: set[str] = set()


def remember_written(paths: Sequence[str]) -> None:
    WRITTEN.update(os.path.abspath(p) for p in paths if os.path.dirname(os.path.abspath(p)) != _temporary_folder())


def remove_unused_motion(used: Collection[str]) -> list[str]:
    """Remove this session's motion files that no take in ``used`` (motion paths) refers to;
    returns the paths removed."""
    keep = {os.path.abspath(p) for p in used if p}
    removed = []
    for path in sorted(WRITTEN - keep):
        WRITTEN.discard(path)
        try:
            os.unlink(path)
            removed.append(path)
        except FileNotFoundError:
            pass
    return removed


def discard_temporary(motion_path: str) -> None:
    """Remove a motion file Generate wrote to the temp folder (an unsaved .blend has no folder of
    its own); motion beside a saved .blend is kept."""
    if os.path.dirname(os.path.abspath(motion_path)) == _temporary_folder():
        try:
            os.unlink(motion_path)
        except FileNotFoundError:
            pass


def generate_request(worker: client.WorkerClient, audio: str, out: str, seed: int,
                     steps_face: int | None, steps_body: int | None,
                     regenerate: tuple[str, int, int] | None = None,
                     more: list[tuple[int, str]] | None = None) -> str:
    """``regenerate`` (take's motion file, start, end): resample only those motion frames;
    ``more``: further (seed, out) variations, generated in the same model batches. Steps of 0
    or None are the weights' own (their config's sampler section)."""
    steps_face, steps_body = steps_face or None, steps_body or None
    if not os.path.isfile(audio):
        raise AddonError(f"Audio file {os.path.basename(audio) or '(none)'} does not exist; choose a recording.")
    variations = [[s, path] for s, path in more] if more else None
    if regenerate is None:
        return worker.generate(audio, out, seed=seed, steps_face=steps_face, steps_body=steps_body,
                               variations=variations)
    source, start, end = regenerate
    if not os.path.isfile(source):
        raise AddonError(f"The take's motion file {os.path.basename(source) or '(none)'} does not exist (motion "
                         "is kept only beside a saved .blend); save the .blend and generate the take again.")
    return worker.generate(audio, out, seed=seed, steps_face=steps_face, steps_body=steps_body,
                           regenerate=[start, end], source=source, variations=variations)


def generate_blocking(worker: client.WorkerClient, audio: str, out: str, seed: int,
                      steps_face: int | None = None, steps_body: int | None = None,
                      on_audio: Callable[[float], None] | None = None,
                      regenerate: tuple[str, int, int] | None = None,
                      more: list[tuple[int, str]] | None = None) -> dict:
    """Generate synchronously (background mode); returns the result reply or raises AddonError.
    Steps left as None are the weights' own defaults.
    ``on_audio`` hears the clip's length as soon as the worker has read it."""
    req_id = generate_request(worker, audio, out, seed, steps_face, steps_body, regenerate, more)

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
