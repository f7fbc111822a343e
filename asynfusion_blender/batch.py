"""Headless baking: the same steps as the sidebar, for files and folders.

    blender -b [scene.blend] --python asynfusion_blender/batch.py -- \\
        (--audio FILE|FOLDER | --motion FILE.npz|FOLDER) [--rig NAME] [--bone-map MAP.json]
        [--out OUT.blend] [--start-frame N] [--seed N] [--parts face,jaw,body,hands,root]
        [--blend IN.blend] [--preview SHEET.png] [--preview-video VIDEO.mp4]
        [--regenerate FIRST LAST [--from TAKE.npz]] [--variations N] [--face A,B] [--mouth-strength S]
    ... --write-bone-map MAP.json [--rig NAME]     (a template to fill in, then --bone-map it)
    python asynfusion_blender/batch.py ...      (where the bpy wheel is installed)

Without a scene file the job starts from an empty scene. ``--rig`` names the armature: an
SMPL-X rig, or a Rigify, Mixamo or VRoid/VRM character (detected from its bone names), or any
armature with ``--bone-map``. With no rig named, the first SMPL-X armature, else the first
armature a profile recognises, is used; with none, the built-in rig is created. A
folder bakes each file into its own actions (named after the file). The result is saved
to --out (default: <input>_baked.blend, or asynfusion_baked.blend without an input); the
input .blend is overwritten only with --overwrite. Generated motion files go to an
``asynfusion/`` folder beside the saved .blend. ``--preview`` renders a contact sheet of the
(last) baked take after saving (Cycles, CPU); ``--preview-video`` renders it as an MP4, the body
and a face close-up side by side with the speech (Workbench, H.264 + AAC; without sound in a
Blender built without audio), a progress line on stderr. ``--face MESH`` names the mesh whose shape keys
(Exp000-Exp099, or ARKit names in any common spelling) take the face; by default a mesh of the
rig that has them. ``--mouth-strength S`` (0 to 3) multiplies the mouth's opening, which is
calibrated per character from its jawOpen shape, or an Exp### face's own (default: the armature's
Mouth Strength, 1).
``--regenerate FIRST LAST [--from TAKE.npz]`` (with one --audio file, the take's own) resamples
the timeline's frames FIRST to LAST of that take (the open .blend's take of the recording, or
--from's motion file) with --seed and bakes the result as a new take starting
where the take does; every other frame is the take's. ``--variations N`` generates
seeds --seed to --seed+N-1 in one batched call, one take each (<audio>-seed<K>). Errors: one line on stderr, exit 1.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import os
import re
import secrets
import shutil
import signal
import sys

import bpy

if not __package__:
    # Run as a script: make the folder this file sits in importable as its package, so the
    # relative imports below work the same as inside Blender's extension system.
    _here = os.path.dirname(os.path.abspath(__file__))
    sys.path.insert(0, os.path.dirname(_here))
    __package__ = os.path.basename(_here)
    importlib.import_module(__package__)

from . import client, generation, preview, preview_video, properties, save_size, takes, targets  # noqa: E402
from .core import motion_file  # noqa: E402
from .bake import bake, curve_math, rig_reader  # noqa: E402
from .core.output import OutputError, check_input, check_outputs, folder_files, pid_alive, replacing  # noqa: E402
from .core.protocol import MAX_SEED, MAX_VARIATIONS  # noqa: E402
from .core.request import variation_seeds  # noqa: E402
from .errors import USER_ERRORS, AddonError  # noqa: E402


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="asynfusion batch", description="Bake AsynFusion motion headless.")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--audio", help="speech file or folder of speech files to generate from")
    source.add_argument("--motion", help="motion .npz or folder of them to bake")
    source.add_argument("--write-bone-map", metavar="MAP.json",
                        help="write a bone-map template for the --rig armature to fill in, and stop")
    parser.add_argument("--blend", help="scene to open first (with plain python; blender takes it before -b)")
    parser.add_argument("--rig", help="armature object to bake onto (SMPL-X, Rigify, Mixamo, VRoid/VRM, or any with --bone-map)")
    parser.add_argument("--bone-map", default="", metavar="MAP.json",
                        help="JSON map from SMPL-X joints to the rig's bones (see --write-bone-map)")
    parser.add_argument("--out", help="where to save the result .blend")
    parser.add_argument("--face", help="mesh, or meshes comma-separated, whose Exp### or ARKit-named shape keys "
                        "take the face, the main face first; every other mesh of the rig with such keys "
                        "(teeth, eyes, ...) takes it too (default: every mesh of the rig that has them)")
    parser.add_argument("--mouth-strength", type=float, default=None, metavar="S",
                        help="times the mouth's opening calibrated from the character's jawOpen shape, 0 to 3 "
                        "(default: the armature's Mouth Strength, 1)")
    parser.add_argument("--overwrite", action="store_true", help="allow --out to be the input .blend")
    parser.add_argument("--start-frame", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0, help=f"a whole number from 0 to {MAX_SEED}")
    parser.add_argument("--parts", default=None,
                        help="what to bake, comma-separated from: " + ", ".join(curve_math.PARTS)
                        + " (default: all; without a face mesh on a non-SMPL-X rig, all but face)")
    parser.add_argument("--python", default="", help="backend Python for --audio (default: found automatically)")
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    parser.add_argument("--weights", default="")
    parser.add_argument("--preview", default="", help="also render a contact sheet of the bake to this PNG")
    parser.add_argument("--preview-video", default="", metavar="VIDEO.mp4",
                        help="also render the bake as a video with its speech to this MP4 (body and face side by side)")
    parser.add_argument("--variations", type=int, default=1, metavar="N",
                        help="N seeds from --seed on, generated in one batched call, one take each")
    parser.add_argument("--regenerate", type=int, nargs=2, default=None, metavar=("FIRST", "LAST"),
                        help="resample only the timeline's frames FIRST to LAST (as the preview range shows "
                        "them) of the take, into a new take that starts where it does")
    parser.add_argument("--from", dest="source", default="", metavar="TAKE.npz",
                        help="the take's motion file (made for --audio) that --regenerate works on "
                        "(default: the open .blend's take of --audio, the one playing or else the newest)")
    return parser.parse_args(argv)


def script_args() -> list[str]:
    """Arguments after '--' (blender passes its own before it), else all of them (plain python)."""
    if "--" in sys.argv:
        return sys.argv[sys.argv.index("--") + 1:]
    return sys.argv[1:]


def inputs(path: str, extensions: tuple[str, ...]) -> list[str]:
    """One file, or the matching files of a folder in name order; a pipe or a device among them
    is refused by its type (reading it would block)."""
    what, choose = (("Audio file", "choose a recording") if extensions == generation.AUDIO_EXTENSIONS
                    else ("Motion file", "choose an .npz file"))
    if os.path.isdir(path):
        found = sorted(os.path.join(path, f) for f in os.listdir(path) if f.lower().endswith(extensions))
        if not found:
            raise AddonError(f"Folder {path} has no {'/'.join(extensions)} files.")
        return [check_input(f, what, AddonError, choose) for f in found]
    return [check_input(path, what, AddonError, choose)]


def run_inputs(args: argparse.Namespace, files: list[str]) -> list[str]:
    """Everything this run reads, which no output may replace: its recordings or motion files and
    the recording found beside each, --from, --bone-map, the open .blend and what it reads, the weights."""
    beside = [] if args.audio else [generation.sibling_audio(f) for f in files]
    return [*files, *(a for a in beside if a), args.source, args.bone_map, *generation.blend_inputs(),
            *folder_files(args.weights)]


def output_path(args: argparse.Namespace) -> str:
    """The .blend to save (the open one only with --overwrite)."""
    source = bpy.data.filepath
    if args.out:
        out = os.path.abspath(args.out)
    elif source:
        out = os.path.splitext(source)[0] + "_baked.blend"
    else:
        out = os.path.abspath("asynfusion_baked.blend")
    if source and os.path.realpath(source) == os.path.realpath(out) and not args.overwrite:
        raise AddonError(f"Refusing to overwrite the input {os.path.basename(source)}; pass --overwrite or another --out.")
    return out


def check_run_outputs(args: argparse.Namespace, files: list[str], seeds: list[int],
                      frames: tuple[int, int] | None) -> tuple[str, str, str]:
    """(the .blend, the preview or "", the preview video or ""), checked with every other output of the run (the motion
    files published beside the .blend) against all of the run's inputs and each other."""
    out = output_path(args)
    folder = generation.motion_folder(out)      # made when publishing: while it is not there, no input is in it
    published = [os.path.join(folder, generation.motion_name(f, seed, frames))
                 for f in (files if args.audio and os.path.isdir(folder) else ()) for seed in seeds]
    sources = run_inputs(args, files)
    if args.overwrite:                      # the open .blend may be --out (no other output: they differ from --out)
        sources = [s for s in sources if not s or os.path.realpath(s) != os.path.realpath(out)]
    extras = [p for p in (args.preview, args.preview_video) if p]
    checked = check_outputs([out] + published + extras, sources)
    named = dict(zip(extras, checked[len(checked) - len(extras):]))
    return checked[0], named.get(args.preview, ""), named.get(args.preview_video, "")


def open_scene(path: str | None) -> None:
    if path:
        if not os.path.isfile(path):
            raise AddonError(f"Scene file {path} does not exist.")
        try:
            bpy.ops.wm.open_mainfile(filepath=os.path.abspath(path))
        except RuntimeError:
            raise AddonError(f"Scene file {os.path.basename(path)} cannot be opened; "
                             "it is not a .blend file or it is damaged.") from None
    elif not bpy.data.filepath:
        # No scene given: start from an empty one, not the startup file's cube, camera and light.
        bpy.ops.wm.read_factory_settings(use_empty=True)


def make_folder(path: str) -> None:
    try:
        os.mkdir(path)
    except OSError as err:
        raise OutputError(f"Cannot write in {os.path.dirname(path)}: {err.strerror}.") from None


def save(out: str) -> None:
    """Save a copy of the scene to ``out`` atomically: the old file stays until the new one is whole."""
    with replacing(out) as tmp:
        try:
            # compressed, as save_size compresses the open file when it holds takes (not a copy)
            bpy.ops.wm.save_as_mainfile(filepath=tmp, check_existing=False, copy=True,
                                        compress=save_size.wanted(bpy.context))
        except RuntimeError:
            raise OutputError(f"Cannot save {os.path.basename(out)} in {os.path.dirname(out)}; "
                              "check that the folder is writable and the disk has room.") from None


_STAGING = re.compile(r"\.asynfusion-(\d+)-[0-9a-f]+\.part")


def staging_folder(out: str) -> str:
    """Where this run's generated motion waits beside ``out`` until the .blend is saved."""
    return os.path.join(os.path.dirname(out), f".asynfusion-{os.getpid()}-{secrets.token_hex(4)}.part")


def remove_dead_staging(folder: str) -> None:
    """The staging folders of earlier runs that were killed (their process is gone)."""
    for entry in os.listdir(folder):
        found = _STAGING.fullmatch(entry)
        if found and not pid_alive(int(found.group(1))):
            shutil.rmtree(os.path.join(folder, entry), ignore_errors=True)


class Terminated(KeyboardInterrupt):
    """SIGTERM: stop as Ctrl-C does (the worker is closed, staged motion removed, nothing saved)."""


def _terminate(_signum: int, _frame: object) -> None:
    raise Terminated()


def publish_motion(staging: str, folder: str) -> None:
    """Move the generated motion files into their folder once the .blend that used them is saved."""
    os.makedirs(folder, exist_ok=True)
    for name in sorted(os.listdir(staging)):
        os.replace(os.path.join(staging, name), os.path.join(folder, name))


def write_template(args: argparse.Namespace) -> str:
    """--write-bone-map: a template for the named (or the only) armature; the scene is not saved."""
    armature = targets.find_armature(bpy.context.scene, args.rig) if args.rig else None
    if armature is None:
        armatures = [o for o in bpy.context.scene.objects if o.type == 'ARMATURE']
        if len(armatures) != 1:
            raise AddonError("Name the armature to write a bone map for with --rig.")
        armature = armatures[0]
    return targets.write_bone_map(armature, args.write_bone_map,
                                  [args.bone_map, *generation.blend_inputs(), *folder_files(args.weights)])


def _announce(scene: bpy.types.Scene, seconds: float, face: list[bpy.types.Object] | None,
              parts: frozenset[str], armature: bpy.types.Object | None = None) -> None:
    """Say what a large bake will cost as soon as the clip's length is known, before generating it."""
    cost = bake.expected_cost(scene, seconds, face, parts, armature)
    if cost.large:
        print(cost.sentence(seconds), flush=True)


def _bake_one(scene: bpy.types.Scene, motion_path: str, armature: bpy.types.Object,
              face: list[bpy.types.Object] | None, options: bake.BakeOptions, device: str | None,
              baked: list[tuple[int, int]] | None = None) -> list[str]:
    """Bake one motion file as its own take; returns its summary lines (its frames go on ``baked``)."""
    summary = generation.bake_motion_file(scene, motion_path, armature, face, options)
    if baked is not None:
        baked.append((summary.first_frame, summary.last_frame))
    name = options.name
    lines = [f"{name}: {generation.summary_text(summary, device)}"]
    if summary.face:
        lines.append(f"{name}: {summary.face}")
    return lines + [f"{name}: warning: {warning}" for warning in summary.warnings]


def _scene_take(scene: bpy.types.Scene, recording: str, source: str) -> takes.Take | None:
    """The take of the open .blend that --regenerate works on: the one whose motion file is
    ``source`` (by name) when given, else one generated from ``recording``: the one an armature
    plays, else the newest."""
    def same(a: str, b: str) -> bool:
        return os.path.basename(a) == os.path.basename(b)
    found = [t for t in takes.all_takes()
             if (same(t.motion, source) if source else t.recording and same(t.recording, recording))]
    now = takes.playing([o for o in scene.objects if o.type == 'ARMATURE'])
    return next((t for t in found if t.id in now), found[0] if found else None)


def _take_motion(take: takes.Take) -> str:
    """The take's motion file: where it was written, else the same name in ``asynfusion/`` beside
    the open .blend (the .blend and its folder were moved together)."""
    if os.path.isfile(take.motion):
        return take.motion
    return os.path.join(generation.motion_folder(), os.path.basename(take.motion))


def _regenerate(args: argparse.Namespace, files: list[str], scene: bpy.types.Scene
                ) -> tuple[tuple[str, int, int], tuple[int, int], int] | None:
    """--regenerate FIRST LAST (the timeline's frames, as the preview range): ((take's motion file,
    start, end in its motion frames), (FIRST, LAST), the take's start frame), once it makes sense.
    The take is --from's motion file, else the open .blend's take of the recording."""
    if args.regenerate is None:
        if args.source:
            raise AddonError("--from TAKE.npz goes with --regenerate FIRST LAST; name the frames to resample.")
        return None
    if not args.audio or len(files) != 1:
        raise AddonError("--regenerate works on one take: give its recording as one --audio file.")
    take = _scene_take(scene, files[0], args.source)
    if args.source:
        source = os.path.abspath(check_input(args.source, "The take's motion file", AddonError, "check --from"))
    elif take is None:
        raise AddonError(f"The scene has no take generated from {os.path.basename(files[0])}; open its .blend "
                         "(--blend) or name the take's motion file with --from.")
    else:
        source = check_input(_take_motion(take), "The take's motion file", AddonError,
                             "keep the asynfusion folder beside the .blend or pass --from")
    start = take.start if take is not None else args.start_frame
    motion = motion_file.read_motion(source)
    shown = takes.Take(id="", name=take.name if take is not None else os.path.splitext(os.path.basename(source))[0],
                       seed=-1, date="", seconds=motion.num_frames / float(motion.fps), start=start, actions=(),
                       kept=False)
    first, last = args.regenerate
    begin, end = takes.motion_range(shown, first, last, scene.render.fps / scene.render.fps_base, motion.fps)
    return (source, begin, end), (first, last), start


def run(args: argparse.Namespace) -> list[str]:
    """Do the whole job; returns one summary line per baked file. Generated motion is kept in a
    staging folder beside the output and moved into place only once the .blend is saved, so a
    failure or an interrupt leaves neither a .blend nor motion files."""
    open_scene(args.blend)
    properties.register_mouth_strength()       # the armatures' own Mouth Strength, as saved
    if args.write_bone_map:
        return [write_template(args)]
    parts = frozenset(p.strip() for p in (args.parts or ",".join(curve_math.PARTS)).split(",") if p.strip())
    unknown = parts - set(curve_math.PARTS)
    if unknown:
        raise AddonError(f"Unknown part {sorted(unknown)[0]!r}; choose from {', '.join(curve_math.PARTS)}.")
    files = inputs(args.audio or args.motion, generation.AUDIO_EXTENSIONS if args.audio else (".npz",))
    if not 1 <= args.variations <= MAX_VARIATIONS or (args.variations > 1 and not args.audio):
        raise AddonError(f"--variations needs --audio and a count from 1 to {MAX_VARIATIONS} (one take per seed).")
    seeds = variation_seeds(args.seed, args.variations)
    context = bpy.context
    scene = context.scene
    found = _regenerate(args, files, scene)
    regenerate, frames, start_frame = (None, None, args.start_frame) if found is None else found
    if regenerate is not None:
        args.source = regenerate[0]         # the take's motion file, found or named, is an input
    out, sheet, movie = check_run_outputs(args, files, seeds, frames)
    armature = targets.find_armature(scene, args.rig)
    if armature is None:
        armature, _ = targets.create_builtin_rig(context)
    bake.mouth_strength(armature, args.mouth_strength)      # out of range: said before anything is generated
    face: list[bpy.types.Object] | None = None
    if "face" in parts:
        chosen = [n.strip() for n in (args.face or "").split(",") if n.strip()]
        main = rig_reader.find_face_mesh(armature)
        face = [targets.find_face(scene, n) for n in chosen] if chosen else [main] if main is not None else None
    notes = []
    match = rig_reader.match_rig(armature, os.path.abspath(args.bone_map) if args.bone_map else None)
    if not match.is_smplx:
        notes.append(f"Rig {armature.name}: {match.profile} profile")
        if face is None and args.parts is None:     # a character without face shape keys: bake the rest
            parts = parts - {"face"}
            notes.append(f"Rig {armature.name}: no mesh with Exp### or ARKit shape keys (see --face), "
                         "so the face is not baked")

    worker = None
    if args.audio:
        if args.python and not (os.path.isfile(args.python) and os.access(args.python, os.X_OK)):
            raise AddonError(f"The backend Python {args.python} is not an executable file; check --python.")
        python = client.find_python(args.python)
        if python is None:
            raise AddonError(f"No backend Python found; pass --python or set {client.ENV_PYTHON}.")
        worker = client.WorkerClient(client.worker_command(python, args.device, args.weights), client.worker_env())
    lines = notes
    baked: list[tuple[int, int]] = []       # each take's first and last frame
    # named before it is made, so that an interrupt at any point still finds it to remove
    staging = staging_folder(out)
    remove_dead_staging(os.path.dirname(out))
    try:
        if worker is not None:
            make_folder(staging)
        for path in files:
            stem, device = os.path.splitext(os.path.basename(path))[0], None
            options = bake.BakeOptions(parts=parts, start_frame=start_frame, audio_path=path,
                                       bone_map=os.path.abspath(args.bone_map) if args.bone_map else None,
                                       keep=True, mouth_strength=args.mouth_strength)
            if worker is not None:
                staged = [os.path.join(staging, generation.motion_name(path, seed, frames)) for seed in seeds]
                request = generation.new_request(path, seeds, staged, regenerate=regenerate)
                reply = generation.generate_blocking(worker, request,
                                                     on_audio=lambda s: _announce(scene, s, face, parts, armature))
                device = reply.get("device")
                made = generation.generated_takes(request, reply, options, kept_in=generation.motion_folder(out))
            else:
                made = [(path, dataclasses.replace(options, audio_path=generation.sibling_audio(path), name=stem))]
            for motion_path, take_options in made:
                lines.extend(_bake_one(scene, motion_path, armature, face, take_options, device, baked))
        if worker is not None:
            worker.close()
            worker = None
        save(out)
        if os.path.isdir(staging):
            publish_motion(staging, generation.motion_folder(out))
    finally:
        if worker is not None:
            worker.close(timeout=0.5)
        shutil.rmtree(staging, ignore_errors=True)
    lines.append(f"Saved {out}")
    if sheet:
        lines.append(f"Preview {preview.contact_sheet(scene, armature, sheet)}")
    if movie:
        written, sound = preview_video.video(scene, armature, movie, baked[-1] if baked else None)
        lines.append(f"Preview video {written}" + ("" if sound else
                     " (without sound: this Blender is built without audio)"))
    return lines


def main(argv: list[str] | None = None) -> int:
    args = parse_args(script_args() if argv is None else argv)
    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        for line in run(args):
            print(line)
    except USER_ERRORS as err:
        print(f"asynfusion: error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt as err:
        print(f"asynfusion: {'terminated' if isinstance(err, Terminated) else 'interrupted'}; nothing was saved.",
              file=sys.stderr)
        return 128 + signal.SIGTERM if isinstance(err, Terminated) else 130
    finally:
        signal.signal(signal.SIGTERM, previous)
    return 0


if __name__ == "__main__":
    sys.exit(main())
