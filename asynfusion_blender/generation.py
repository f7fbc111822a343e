"""Generate and bake as the sidebar and the headless script both do it: where the motion file
goes, the request to the worker, baking a motion file, the summary line.

Kept free of operator plumbing so that ``batch.py`` runs exactly the same steps as the
sidebar buttons.
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
from collections.abc import Callable, Collection, Sequence

import bpy

from . import client
from .bake import bake
from .core import motion_file
from .core.request import GenerateRequest
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


def motion_output_paths(audio_path: str, seeds: Sequence[int], regenerate: tuple[int, int] | None = None,
                        taken: Collection[str] = ()) -> list[str]:
    """Each seed's ``motion_output_path``: unique among the takes in ``taken`` and each other."""
    names, outs = set(taken), []
    for seed in seeds:
        outs.append(motion_output_path(audio_path, seed, regenerate=regenerate, taken=names))
        names.add(os.path.splitext(os.path.basename(outs[-1]))[0])
    return outs


def new_request(audio: str, seeds: Sequence[int], outs: Sequence[str], steps_face: int | None = None,
                steps_body: int | None = None, regenerate: tuple[str, int, int] | None = None) -> GenerateRequest:
    """The request for ``seeds`` (request.variation_seeds), each written to its file of ``outs``;
    ``regenerate`` (take's motion file, start, end): resample only those motion frames. Steps of
    0 or None are the weights' own (their config's sampler section)."""
    source, frames = (None, None) if regenerate is None else (regenerate[0], (regenerate[1], regenerate[2]))
    return GenerateRequest.for_seeds(audio, seeds, outs, steps_face=steps_face or None, steps_body=steps_body or None,
                                     regenerate=frames, source=source)


def generate_request(worker: client.WorkerClient, request: GenerateRequest) -> str:
    """Send ``request`` to the worker once the files it reads are there; returns its id."""
    if not os.path.isfile(request.audio):
        raise AddonError(f"Audio file {os.path.basename(request.audio) or '(none)'} does not exist; choose a recording.")
    if request.source is not None and not os.path.isfile(request.source):
        raise AddonError(f"The take's motion file {os.path.basename(request.source) or '(none)'} does not exist "
                         "(motion is kept only beside a saved .blend); save the .blend and generate the take again.")
    return worker.generate(request)


def generate_blocking(worker: client.WorkerClient, request: GenerateRequest,
                      on_audio: Callable[[float], None] | None = None) -> dict:
    """Generate synchronously (background mode); returns the result reply or raises AddonError.
    ``on_audio`` hears the clip's length as soon as the worker has read it."""
    req_id = generate_request(worker, request)

    def heard(reply: dict) -> None:
        if on_audio is not None and reply.get("id") == req_id and "audio_seconds" in reply:
            on_audio(float(reply["audio_seconds"]))
    reply = worker.wait(req_id, GENERATE_TIMEOUT, on_reply=heard)
    if reply["type"] == "error":
        raise AddonError(reply["message"])
    return reply


def generated_takes(request: GenerateRequest, reply: dict, options: bake.BakeOptions,
                    kept_in: str = "") -> list[tuple[str, bake.BakeOptions]]:
    """A generate request's takes, from the worker's result ``reply``: each seed's motion file
    and its bake options, ``options`` with the take named as its motion file (<audio>-seed<K>,
    one take or several alike), its seed, and the recording and motion file it comes from:
    the file's name in ``kept_in`` where the files move once the .blend is saved (batch.py),
    else where the worker wrote it."""
    paths = [str(reply["path"]), *(str(p) for p in reply.get("more", []))]
    return [(path, dataclasses.replace(
        options, name=os.path.splitext(os.path.basename(path))[0], seed=seed,
        generated=(request.audio, os.path.join(kept_in, os.path.basename(path)) if kept_in else path)))
        for seed, path in zip(request.seeds, paths)]


def summary_text(summary: bake.BakeSummary, device: str | None = None) -> str:
    text = (f"Baked {summary.frames} frames ({summary.seconds:.1f} s), "
            f"frames {summary.first_frame}-{summary.last_frame}")
    if device:
        text += f" on {device}"
    return text + "."
