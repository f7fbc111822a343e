"""Operators (all reachable from F3 search). Each bake is one undo step and all-or-nothing.

Generate is modal: a timer polls the worker so the UI stays responsive, the panel shows a
progress bar, ESC or Cancel stops it. In background mode (``bpy.app.background``) or when
called with EXEC_DEFAULT it runs synchronously. Every failure a person can cause is
reported as one sentence in the UI; unexpected ones also log their traceback (``logging``,
Blender's system console).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Literal

import bpy
from bpy.props import BoolProperty, EnumProperty, StringProperty

from . import client, generation, preferences, takes, targets
from .bake import action_support, bake, rig_reader
from .rig import build, smplx_model
from .core import motion_file
from .core.output import check_outputs
from .core.request import variation_seeds
from .errors import USER_ERRORS, AddonError
from .job import JOB


SEED_FIELD_MAX = 2**31 - 1      # the panel's seed field is a Blender integer
Status = set[Literal['RUNNING_MODAL', 'CANCELLED', 'FINISHED', 'PASS_THROUGH', 'INTERFACE']]
log = logging.getLogger(__name__)




@bpy.app.handlers.persistent
def _after_undo(*_args: object) -> None:
    JOB.forget()


@bpy.app.handlers.persistent
def _after_load(*_args: object) -> None:
    takes.release_held()        # the takes a save kept are not kept takes
    generation.WRITTEN.clear()  # the motion written for the file before belongs to it, not to this one
    JOB.set_note("")
    if not JOB.running:
        JOB.done("")            # nothing said about the previous file is about this one


_DROPPED: list[takes.Take] = []


@bpy.app.handlers.persistent
def _before_save(*_args: object) -> None:
    """Keep every take in the file (the default), or note which ones a save of kept takes leaves out."""
    _DROPPED.clear()
    if preferences.saves_every_take(bpy.context):
        takes.hold_for_save()
    else:
        _DROPPED.extend(takes.dropped_on_save())


@bpy.app.handlers.persistent
def _after_save(*_args: object) -> None:
    """Give the held takes back, remove this session's motion files no saved take uses, and say
    which takes were left out."""
    takes.release_held()
    generation.remove_unused_motion(takes.saved_motion(_DROPPED))
    JOB.set_note(save_note([t.name for t in _DROPPED]))
    if JOB.note:
        print(f"AsynFusion: {JOB.note}")
    _DROPPED.clear()
    redraw_panels()


def save_note(dropped: list[str]) -> str:
    """One line naming the takes a save left out."""
    if not dropped:
        return ""
    names = ", ".join(dropped)
    return f"Saved without {len(dropped)} take{'s' if len(dropped) > 1 else ''} not kept: {names}."


_HANDLERS = ((bpy.app.handlers.undo_post, _after_undo), (bpy.app.handlers.redo_post, _after_undo),
             (bpy.app.handlers.load_post, _after_load), (bpy.app.handlers.save_pre, _before_save),
             (bpy.app.handlers.save_post, _after_save))


def register() -> None:
    for handlers, handler in _HANDLERS:
        handlers.append(handler)


def unregister() -> None:
    for handlers, handler in _HANDLERS:
        if handler in handlers:
            handlers.remove(handler)


def _settings(context: bpy.types.Context):  # -> AsynFusionSettings
    return context.scene.asynfusion  # type: ignore[attr-defined]


_PANEL_REGIONS = (('VIEW_3D', 'UI'), ('PREFERENCES', 'WINDOW'))     # the sidebar; the preferences' worker line


def redraw_panels() -> list[bpy.types.Region]:
    """Tag the add-on's panels in every window for redraw, so that progress and the worker line
    follow their state wherever the mouse is (Blender redraws a region by itself only on events
    over it). Returns the regions tagged."""
    wm = bpy.context.window_manager
    tagged = [region for window in (wm.windows if wm is not None else ()) for area in window.screen.areas
              for region in area.regions if (area.type, region.type) in _PANEL_REGIONS]
    for region in tagged:
        region.tag_redraw()
    return tagged


def _fail(op: bpy.types.Operator, message: str) -> Status:
    JOB.fail(message)
    op.report({'ERROR'}, message)
    return {'CANCELLED'}


def _forget_deleted_targets(context: bpy.types.Context) -> None:
    """Clear the panel's targets that are no longer in the scene (they would keep them alive)."""
    settings = _settings(context)
    for attr in ("armature", "face_mesh"):
        if getattr(settings, attr) is not None and not targets.in_scene(context.scene, getattr(settings, attr)):
            setattr(settings, attr, None)


def _targets(context: bpy.types.Context) -> tuple[bpy.types.Object, bpy.types.Object | None]:
    """The panel's armature/face mesh (deleted ones forgotten), filled from the selection when empty."""
    settings = _settings(context)
    _forget_deleted_targets(context)
    if settings.armature is None or settings.face_mesh is None:
        armature, mesh = targets.targets_from_selection(context)
        if settings.armature is None and armature is not None:
            settings.armature = armature
        if settings.face_mesh is None and mesh is not None:
            settings.face_mesh = mesh
    if settings.armature is None:
        raise AddonError("Choose a target armature (or select one), or create a rig first.")
    face = settings.face_mesh if settings.bake_face else None
    return settings.armature, face


def _audio(context: bpy.types.Context) -> tuple[str, int, str | None]:
    """(audio path, start frame, the recording a sound strip is placed for, if any) from the panel."""
    settings = _settings(context)
    if settings.audio_source == 'STRIP':
        strip = next((s for s in action_support.all_strips(context.scene)
                      if s.name == settings.sound_strip), None)
        if strip is None or getattr(strip, "sound", None) is None:
            raise AddonError("Choose a sound strip from the sequencer, or switch the audio source to File.")
        return bpy.path.abspath(strip.sound.filepath), int(strip.frame_start), None
    path = bpy.path.abspath(settings.audio_file)
    if not settings.audio_file:
        raise AddonError("Choose a speech recording (WAV, FLAC, MP3 or OGG) to generate from.")
    if not os.path.isfile(path):
        raise AddonError(f"Audio file {path} does not exist; check the path.")
    return path, settings.start_frame, path


def _regeneration(context: bpy.types.Context, take_id: str
                  ) -> tuple[str, int, str | None, tuple[str, int, int], tuple[int, int]]:
    """(recording, start frame, strip recording, (motion file, start, end) in motion frames, the
    timeline's frames) to regenerate the timeline's preview range of a take: the new take starts
    where the old one does."""
    take = takes.find(take_id)
    if not take.recording:
        raise AddonError(f"Take {take.name} was baked from a motion file; only a take generated here can have a "
                         "range regenerated.")
    scene = context.scene
    if not scene.use_preview_range:
        raise AddonError("Set a preview range first (Ctrl+Alt+P over the timeline).")
    first, last = scene.frame_preview_start, scene.frame_preview_end
    start, end = takes.motion_range(take, first, last, scene.render.fps / scene.render.fps_base,
                                    motion_file.DEFAULT_FPS)
    return take.recording, take.start, take.audio or None, (take.motion, start, end), (first, last)


def _bone_map(context: bpy.types.Context) -> str | None:
    """The panel's bone map as an absolute path, or None to detect the rig's profile."""
    path = _settings(context).bone_map
    return bpy.path.abspath(path) if path else None


def _panel_inputs(context: bpy.types.Context, *fields: str) -> list[str]:
    """The files a panel run reads, which none of its outputs may replace: the open .blend and
    what it reads, the panel's recording and bone map, and the panel's ``fields`` named."""
    settings = _settings(context)
    named = [getattr(settings, name) for name in ("audio_file", "bone_map", *fields)]
    return [*generation.blend_inputs(), *(bpy.path.abspath(p) for p in named if p)]


class GenerateRun:
    """One Generate, from the request to the bake, outside operator plumbing.

    The modal operator calls ``step()`` on every timer tick, background mode waits
    for the reply; both end in ``finish()``. Tests drive a run through these same calls.
    """

    def __init__(self, context: bpy.types.Context, take: str | None = None) -> None:
        """``take``: regenerate the preview range of that take (by id) instead of the panel's audio."""
        settings = _settings(context)
        armature, face = _targets(context)
        audio, start, strip, regenerate, frames = (_audio(context) + (None, None) if take is None
                                                   else _regeneration(context, take))
        seeds = variation_seeds(settings.seed, settings.variations if take is None else 1)
        # named by the timeline's frames; unique, so no earlier take's motion is replaced
        outs = generation.motion_output_paths(audio, seeds, frames, {t.name for t in takes.all_takes()})
        outs = check_outputs(outs, [audio, None if regenerate is None else regenerate[0], *_panel_inputs(context)])
        self.asked = generation.new_request(audio, seeds, outs, settings.steps_face, settings.steps_body, regenerate)
        self.worker = client.shared_client(preferences.worker_command(context), client.worker_env())
        self.request = generation.generate_request(self.worker, self.asked)
        # each take's own (name, seed, motion file) once the reply names its files: generation.generated_takes
        self.take_options = bake.BakeOptions(parts=settings.parts(), start_frame=start, audio_path=strip,
                                             bone_map=_bone_map(context))
        self.options: list[bake.BakeOptions] = []
        self.targets = (armature, face)
        self.scene = context.scene
        JOB.start()

    def step(self) -> dict | None:
        """Take the worker's new replies: progress goes to JOB; returns the final reply, if any."""
        for reply in self.worker.poll():
            if reply.get("id") not in (self.request, None):
                continue                      # late replies of an earlier, cancelled request
            if reply["type"] == "progress":
                JOB.advance(float(reply["fraction"]), str(reply.get("stage", "")))
                if "audio_seconds" in reply:
                    face, parts = self.targets[1], self.take_options.parts
                    cost = bake.expected_cost(self.scene, float(reply["audio_seconds"]), face, parts, self.targets[0])
                    JOB.show_cost(cost.panel_lines(float(reply["audio_seconds"])) if cost.large else [])
            elif reply["type"] in ("result", "error"):
                return reply
        return None

    def wait(self) -> dict:
        return self.worker.wait(self.request, generation.GENERATE_TIMEOUT)

    def cancel(self) -> dict:
        self.worker.cancel(self.request)
        return {"type": "error", "kind": "cancelled", "message": ""}

    def finish(self, context: bpy.types.Context, reply: dict, op: bpy.types.Operator) -> Status:
        """Bake a result (all-or-nothing) or report the error; the job is over either way."""
        JOB.end()
        if reply["type"] == "error":
            if reply.get("kind") == "cancelled":
                JOB.done("Cancelled; the scene is unchanged.")
                return {'CANCELLED'}
            if reply.get("kind") == "device":      # the worker names its --device flag; here it is a preference
                return _fail(op, "CUDA was requested but no NVIDIA GPU is usable here; set Device to Auto or "
                                 "CPU in Preferences > Add-ons > AsynFusion.")
            return _fail(op, reply["message"])
        armature, face = self.targets
        made = generation.generated_takes(self.asked, reply, self.take_options)
        paths, self.options = [path for path, _ in made], [options for _, options in made]
        try:
            if not all(targets.in_scene(context.scene, obj) for obj in (armature, face) if obj is not None):
                _forget_deleted_targets(context)
                return _fail(op, "The target rig was deleted during generation, so nothing was baked; "
                                 "choose or create a rig and press Generate again.")
            summaries = generation.bake_motion_files(context.scene, paths, armature, face, self.options)
        finally:
            for path in paths:
                generation.discard_temporary(path)
        generation.remember_written(paths)
        settings = _settings(context)
        if not settings.lock_seed and settings.seed + len(paths) <= SEED_FIELD_MAX:
            settings.seed += len(paths)         # the next Generate makes a new take (the lock keeps the seed)
        summary = summaries[-1]                 # the last variation plays; the take list has them all
        text = generation.summary_text(summary, reply.get("device"))
        if len(summaries) > 1:
            text = f"{len(summaries)} takes; {text}"
        JOB.done(text, [a for s in summaries for a in s.actions])
        for warning in summary.warnings:
            op.report({'WARNING'}, warning)
        op.report({'INFO'}, JOB.summary)
        return {'FINISHED'}


def _not_while_generating(cls: type[bpy.types.Operator], reason: str) -> bool:
    """An operator's poll: greyed out, with its reason on hover, while a generation runs."""
    if JOB.running:
        cls.poll_message_set(reason)
    return not JOB.running


def _guarded(op: bpy.types.Operator, action: Callable[[], Status]) -> Status:
    """Run ``action``; a person's error becomes one sentence, anything else also logs its traceback."""
    try:
        return action()
    except USER_ERRORS as err:
        return _fail(op, str(err))
    except Exception as err:
        log.exception("%s failed", op.bl_idname)
        return _fail(op, f"Unexpected error ({type(err).__name__}: {err}); details are in the system console.")


def _generating(op: bpy.types.Operator, action: Callable[[], Status]) -> Status:
    """``_guarded`` for Generate: the job is over unless the operator still runs modally (every
    step of Generate runs through here, so however it ends, the job ends)."""
    result = _guarded(op, action)
    if result != {'RUNNING_MODAL'}:
        JOB.end()
    return result


# The mixin is an Operator to the type checker only: at run time a registered operator subclassing
# another one would unhook it, so Generate and Regenerate each subclass bpy.types.Operator.
if TYPE_CHECKING:
    _OperatorForTypes = bpy.types.Operator
else:
    _OperatorForTypes = object


class GenerateSteps(_OperatorForTypes):
    """Generate's steps, shared by Generate and a take's Regenerate: run through in background mode,
    else a request and a timer whose ticks call ``modal``. ``new_run`` says what is generated."""

    _timer = None
    _run: GenerateRun | None = None

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        return _not_while_generating(cls, "A generation is already running; wait for it or cancel it.")

    def new_run(self, context: bpy.types.Context) -> GenerateRun:
        raise NotImplementedError

    def execute(self, context: bpy.types.Context) -> Status:
        def run() -> Status:
            job = self.new_run(context)
            return job.finish(context, job.wait(), self)
        return _generating(self, run)

    def invoke(self, context: bpy.types.Context, event: bpy.types.Event) -> Status:
        if bpy.app.background:          # no event loop would call modal(): run it through
            return self.execute(context)
        return self.start_modal(context)

    def start_modal(self, context: bpy.types.Context) -> Status:
        """Send the request and leave the waiting to a timer whose ticks call ``modal``."""
        def start() -> Status:
            self._run = self.new_run(context)
            self._timer = context.window_manager.event_timer_add(0.1, window=context.window)
            context.window_manager.modal_handler_add(self)
            return {'RUNNING_MODAL'}
        result = _generating(self, start)
        if result != {'RUNNING_MODAL'}:
            self._end(context)
        return result

    def modal(self, context: bpy.types.Context, event: bpy.types.Event) -> Status:
        job = self._run
        assert job is not None
        cancelling = event.type == 'ESC' or JOB.cancel_requested
        if not cancelling and event.type != 'TIMER':
            return {'PASS_THROUGH'}

        def tick() -> Status:
            if cancelling:      # guarded like a tick: a worker that dies meanwhile is one sentence
                return job.finish(context, job.cancel(), self)
            reply = job.step()
            return {'RUNNING_MODAL'} if reply is None else job.finish(context, reply, self)
        result = _generating(self, tick)
        if result != {'RUNNING_MODAL'}:
            self._end(context)
        if JOB.panel_changed():         # not every tick: a redraw costs the worker CPU (bench/RESULTS.md)
            redraw_panels()
        return result

    def _end(self, context: bpy.types.Context) -> None:
        """The timer goes with the run, however it ended."""
        if self._timer is not None:
            context.window_manager.event_timer_remove(self._timer)
            self._timer = None


class ASYNFUSION_OT_generate(GenerateSteps, bpy.types.Operator):
    """Generate face and body motion from the speech and bake it onto the rig"""
    bl_idname = "asynfusion.generate"
    bl_label = "AsynFusion: Generate"
    bl_options = {'REGISTER', 'UNDO'}

    def new_run(self, context: bpy.types.Context) -> GenerateRun:
        return GenerateRun(context)


class ASYNFUSION_OT_cancel(bpy.types.Operator):
    """Stop the running generation; the scene stays as it was"""
    bl_idname = "asynfusion.cancel"
    bl_label = "AsynFusion: Cancel Generation"

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        if not JOB.running:
            cls.poll_message_set("Nothing is being generated.")
        return JOB.running

    def execute(self, context: bpy.types.Context) -> Status:
        JOB.request_cancel()
        return {'FINISHED'}


class ASYNFUSION_OT_bake_motion(bpy.types.Operator):
    """Bake an existing SMPL-X motion file (AsynFusion, EMAGE, BEAT2 or AMASS .npz) onto the rig"""
    bl_idname = "asynfusion.bake_motion"
    bl_label = "AsynFusion: Bake Motion File"
    bl_options = {'REGISTER', 'UNDO'}

    filepath: StringProperty(name="Motion File", subtype='FILE_PATH')  # type: ignore[valid-type]
    filter_glob: StringProperty(default="*.npz", options={'HIDDEN'})  # type: ignore[valid-type]

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        return _not_while_generating(cls, "Wait for the generation to finish (or cancel it) before baking a file.")

    def invoke(self, context: bpy.types.Context, event: bpy.types.Event) -> Status:
        settings = _settings(context)
        if settings.motion_file:
            self.filepath = settings.motion_file
            return self.execute(context)
        context.window_manager.fileselect_add(self)
        return {'RUNNING_MODAL'}

    def execute(self, context: bpy.types.Context) -> Status:
        return _guarded(self, lambda: self._bake(context))

    def _bake(self, context: bpy.types.Context) -> Status:
        settings = _settings(context)
        path = bpy.path.abspath(self.filepath or settings.motion_file)
        if not path:
            raise AddonError("Choose a motion file (.npz) to bake.")
        armature, face = _targets(context)
        audio = generation.sibling_audio(path)
        options = bake.BakeOptions(parts=settings.parts(), start_frame=settings.start_frame,
                                   audio_path=audio, name=os.path.splitext(os.path.basename(path))[0],
                                   bone_map=_bone_map(context))
        summary = generation.bake_motion_file(context.scene, path, armature, face, options)
        JOB.done(generation.summary_text(summary), summary.actions)
        for warning in summary.warnings:
            self.report({'WARNING'}, warning)
        self.report({'INFO'}, JOB.summary)
        return {'FINISHED'}


class ASYNFUSION_OT_create_rig(bpy.types.Operator):
    """Create an SMPL-X armature with a skinned body and a face: the ICT-FaceKit head with ARKit keys (built-in) or Exp000-Exp099 keys (your SMPL-X model file)"""
    bl_idname = "asynfusion.create_rig"
    bl_label = "AsynFusion: Create Rig"
    bl_options = {'REGISTER', 'UNDO'}

    source: EnumProperty(  # type: ignore[valid-type]
        name="Source", default="BUILTIN",
        items=[("BUILTIN", "Built-in", "Our own proportions and a simple body; no licensed data"),
               ("SMPLX", "SMPL-X Model File", "Full SMPL-X mesh from your SMPLX_NEUTRAL*.npz, "
                "shaped by the betas of the panel's motion file when one is set")])

    def execute(self, context: bpy.types.Context) -> Status:
        return _guarded(self, lambda: self._create(context))

    def _create(self, context: bpy.types.Context) -> Status:
        settings = _settings(context)
        if self.source == "SMPLX":
            if not settings.model_file:
                raise AddonError("Choose your SMPL-X model file (SMPLX_NEUTRAL*.npz) first.")
            betas = (motion_file.read_motion(bpy.path.abspath(settings.motion_file)).betas
                     if settings.motion_file else None)
            rig = smplx_model.load_smplx_model(bpy.path.abspath(settings.model_file), betas)
            armature, body = build.build_rig(context, rig)
        else:
            armature, body = targets.create_builtin_rig(context)
        settings.armature, settings.face_mesh = armature, body
        cube = targets.startup_cube(context.scene)
        if cube is not None:            # it would hide the character's legs; undo shows it again
            cube.hide_set(True)
            cube.hide_render = True
        build.frame_in_views(context)
        hidden = " and hid the startup cube" if cube is not None else ""
        self.report({'INFO'}, f"Created {armature.name} with {len(rig_reader.armature_bones(armature))} bones{hidden}.")
        return {'FINISHED'}


class ASYNFUSION_OT_use_selection(bpy.types.Operator):
    """Take the target armature and face mesh from the selected objects"""
    bl_idname = "asynfusion.use_selection"
    bl_label = "AsynFusion: Targets From Selection"
    bl_options = {'REGISTER', 'UNDO'}

    def execute(self, context: bpy.types.Context) -> Status:
        armature, mesh = targets.targets_from_selection(context)
        if armature is None and mesh is None:
            return _fail(self, "Select an SMPL-X armature or its face mesh first.")
        settings = _settings(context)
        settings.armature = armature or settings.armature
        settings.face_mesh = mesh or settings.face_mesh
        return {'FINISHED'}


class ASYNFUSION_OT_write_bone_map(bpy.types.Operator):
    """Write a bone map (JSON) for the target armature to fill in: every SMPL-X joint, pre-filled where a profile fits"""
    bl_idname = "asynfusion.write_bone_map"
    bl_label = "AsynFusion: Write Bone Map Template"

    filepath: StringProperty(name="Bone Map", subtype='FILE_PATH')  # type: ignore[valid-type]
    filter_glob: StringProperty(default="*.json", options={'HIDDEN'})  # type: ignore[valid-type]
    # the file browser marks a name that exists and asks before writing over it
    check_existing: BoolProperty(default=True, options={'HIDDEN', 'SKIP_SAVE'})  # type: ignore[valid-type]

    def _armature(self, context: bpy.types.Context) -> bpy.types.Object | None:
        _forget_deleted_targets(context)
        active = context.active_object
        return _settings(context).armature or (active if active is not None and active.type == 'ARMATURE' else None)

    def invoke(self, context: bpy.types.Context, event: bpy.types.Event) -> Status:
        armature = self._armature(context)
        if not self.filepath:
            self.filepath = bpy.path.clean_name(armature.name if armature else "rig") + "_bone_map.json"
        context.window_manager.fileselect_add(self)
        return {'RUNNING_MODAL'}

    def execute(self, context: bpy.types.Context) -> Status:
        return _guarded(self, lambda: self._write(context))

    def _write(self, context: bpy.types.Context) -> Status:
        if not self.filepath:
            raise AddonError("Choose where to write the bone map (.json).")
        message = targets.write_bone_map(self._armature(context), bpy.path.abspath(self.filepath),
                                         _panel_inputs(context, "motion_file", "model_file"))
        self.report({'INFO'}, message)
        return {'FINISHED'}


class ASYNFUSION_OT_take_regenerate(GenerateSteps, bpy.types.Operator):
    """Regenerate the timeline's preview range of this take with the panel's seed, into a new take (every other frame stays the take's)"""
    bl_idname = "asynfusion.take_regenerate"
    bl_label = "AsynFusion: Regenerate Range"
    bl_options = {'REGISTER', 'UNDO', 'INTERNAL'}

    take: StringProperty(name="Take", options={'HIDDEN'})  # type: ignore[valid-type]

    def new_run(self, context: bpy.types.Context) -> GenerateRun:
        return GenerateRun(context, self.take)


class _TakeOperator(bpy.types.Operator):
    """An operator on one take of the panel's take list (one undo step each)."""
    bl_options = {'REGISTER', 'UNDO', 'INTERNAL'}

    take: StringProperty(name="Take", options={'HIDDEN'})  # type: ignore[valid-type]

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        return _not_while_generating(cls, "Wait for the generation to finish (or cancel it).")

    def execute(self, context: bpy.types.Context) -> Status:
        return _guarded(self, lambda: self.apply(context))

    def apply(self, context: bpy.types.Context) -> Status:
        raise NotImplementedError


class ASYNFUSION_OT_take_use(_TakeOperator):
    """Play this take on the rig and face mesh"""
    bl_idname = "asynfusion.take_use"
    bl_label = "AsynFusion: Use Take"

    def apply(self, context: bpy.types.Context) -> Status:
        armature, _face = _targets(context)
        for skipped in takes.use(self.take, armature, _settings(context).face_mesh):
            self.report({'WARNING'}, f"Not switched: {skipped}.")
        return {'FINISHED'}


class ASYNFUSION_OT_take_keep(_TakeOperator):
    """Keep this take (a fake user): saved even when Save Takes is Kept Only"""
    bl_idname = "asynfusion.take_keep"
    bl_label = "AsynFusion: Keep Take"

    keep: BoolProperty(name="Keep", default=True)  # type: ignore[valid-type]

    def apply(self, context: bpy.types.Context) -> Status:
        takes.set_kept(self.take, self.keep)
        return {'FINISHED'}


class ASYNFUSION_OT_take_delete(_TakeOperator):
    """Delete this take's actions (undo brings them back)"""
    bl_idname = "asynfusion.take_delete"
    bl_label = "AsynFusion: Delete Take"

    def apply(self, context: bpy.types.Context) -> Status:
        self.report({'INFO'}, f"Deleted take {takes.delete(self.take)}.")
        return {'FINISHED'}


CLASSES = (ASYNFUSION_OT_generate, ASYNFUSION_OT_cancel, ASYNFUSION_OT_bake_motion,
           ASYNFUSION_OT_create_rig, ASYNFUSION_OT_use_selection, ASYNFUSION_OT_write_bone_map,
           ASYNFUSION_OT_take_use, ASYNFUSION_OT_take_keep, ASYNFUSION_OT_take_delete,
           ASYNFUSION_OT_take_regenerate)
