"""The sidebar panel: 3D View > Sidebar > AsynFusion."""

from __future__ import annotations

import textwrap
from typing import Any, Literal

import bpy

from . import operators, preferences, takes, targets
from .bake import action_support, rig_reader


Icon = Literal['INFO', 'BLANK1', 'ERROR', 'CHECKMARK']
CHAR_PX = 6.5           # the width of an average character of the UI font at scale 1, in pixels
MARGIN_PX = 50          # the panel's margins and a label's icon


def wrap(text: str, region_width: float, scale: float = 1.0) -> list[str]:
    """``text`` in lines that fit a sidebar ``region_width`` pixels wide (at ``scale``, the UI
    scale), broken between words: a label would cut a long sentence off in its middle."""
    chars = max(16, int((region_width - MARGIN_PX * scale) / (CHAR_PX * scale)))
    return textwrap.wrap(text, chars, break_long_words=True, break_on_hyphens=False) or [""]


def message(layout: bpy.types.UILayout, context: bpy.types.Context, text: str, icon: Icon) -> None:
    """A message over as many lines as the sidebar's width needs, the icon on the first."""
    region = context.region
    width = region.width if region is not None else 300
    for i, line in enumerate(wrap(text, width, context.preferences.system.ui_scale)):
        layout.label(text=line, icon=icon if i == 0 else 'BLANK1')


class _Sidebar(bpy.types.Panel):
    """Where every panel of the add-on lives: 3D View > Sidebar > AsynFusion."""
    bl_space_type = 'VIEW_3D'
    bl_region_type = 'UI'
    bl_category = "AsynFusion"


class ASYNFUSION_PT_main(_Sidebar):
    bl_label = "AsynFusion"

    def draw(self, context: bpy.types.Context) -> None:
        """In the order of the work: the character, the speech, then Generate."""
        layout = self.layout
        settings = context.scene.asynfusion  # type: ignore[attr-defined]
        layout.label(text=preferences.worker_status(), icon='SYSTEM')

        col = layout.column(align=True)
        col.label(text="1. Character", icon='ARMATURE_DATA')
        col.prop(settings, "armature", text="Rig")
        col.prop(settings, "face_mesh", text="Face")
        row = col.row(align=True)
        row.operator("asynfusion.use_selection", text="From Selection", icon='RESTRICT_SELECT_OFF')
        if settings.armature is None:
            row.operator("asynfusion.create_rig", text="Built-in", icon='ADD').source = "BUILTIN"
        status = targets.rig_status(settings.armature, settings.bone_map, settings.parts())
        if status:
            col.label(text=status)
        faces = targets.face_status(settings.armature, settings.face_mesh) if settings.bake_face else ""
        if faces:
            col.label(text=faces)
        if settings.armature is not None and settings.face_mesh is not None and settings.bake_face:
            col.prop(settings.armature, "asynfusion_mouth_strength")

        col = layout.column(align=True)
        col.label(text="2. Speech", icon='PLAY_SOUND')
        col.row().prop(settings, "audio_source", expand=True)
        editor = context.scene.sequence_editor
        if settings.audio_source == 'FILE':
            col.prop(settings, "audio_file", text="Audio")
            col.prop(settings, "start_frame")
        elif editor is not None:
            col.prop_search(settings, "sound_strip", editor, action_support.ALL_STRIPS, text="Strip")
        else:
            col.label(text="The scene has no sound strips.", icon='INFO')

        col = layout.column(align=True)
        col.label(text="3. Generate", icon='SHADERFX')
        row = col.row(align=True)
        row.prop(settings, "seed")
        row.prop(settings, "lock_seed", text="", icon='LOCKED' if settings.lock_seed else 'UNLOCKED')
        row = col.row(align=True)
        row.prop(settings, "steps_face", text="Face (0 auto)")     # 0: the weights' own steps
        row.prop(settings, "steps_body", text="Body (0 auto)")

        row = layout.row(align=True)
        for name in ("bake_face", "bake_jaw", "bake_body", "bake_hands"):
            row.prop(settings, name, toggle=True)
        row.prop(settings, "bake_root", text="Root", toggle=True)     # "Root Motion" is cut at the default width

        job = operators.JOB
        if job.running:
            row = layout.row(align=True)
            row.progress(factor=job.progress, type='BAR', text=f"{job.stage} {job.progress:.0%}")
            row.operator("asynfusion.cancel", text="", icon='CANCEL')
            col = layout.column(align=True)
            for i, line in enumerate(job.cost):
                message(col, context, line, 'INFO' if i == 0 else 'BLANK1')
        else:
            row = layout.row(align=True)
            row.operator("asynfusion.generate", text="Generate", icon='PLAY_SOUND')
            row.prop(settings, "variations", text="×")
        col = layout.column(align=True)
        if not job.running:
            progress_stand_in(col)
        if job.error:
            col.alert = True
            message(col, context, job.error, 'ERROR')
        elif job.current_summary():
            message(col, context, job.current_summary(), 'CHECKMARK')
        _draw_takes(layout, context, settings)
        _draw_sections(layout, settings)


def progress_stand_in(layout: bpy.types.UILayout) -> None:
    """An empty label of no height where the progress bar was, before the summary's lines.

    A redraw hands each button the state of the old layout's button it matches; Blender 4.2 and
    4.3 match a label and the progress bar alike (type is not compared; later versions compare
    it). So when the mouse was over the bar as Generate ended, the summary's first line took the
    bar's place: drawn as a blue bar, its ✓ over its text, until the mouse moved. This label is
    matched first and, being of no height, shows nothing."""
    row = layout.row(align=True)
    row.scale_y = STAND_IN_SCALE
    row.label(text="")


STAND_IN_SCALE = 0.01       # of a row's height: under a pixel


def _draw_sections(layout: bpy.types.UILayout, settings) -> None:  # settings: AsynFusionSettings
    """Motion File and Rigs, closed until opened: sections of this panel's own layout, not
    sub-panels, which in Blender 4.3 were drawn over the take list for a frame whenever the list
    grew (their place is worked out after the main panel's new height is drawn)."""
    body = _section(layout, "ASYNFUSION_motion_file", "Motion File")
    if body is not None:
        draw_motion_file(body, settings)
    body = _section(layout, "ASYNFUSION_rigs", "Rigs")
    if body is not None:
        draw_rigs(body, settings)


def _section(layout: bpy.types.UILayout, idname: str, title: str) -> bpy.types.UILayout | None:
    """A section closed until opened (UILayout.panel, Blender 4.1+): its body's layout, None when closed."""
    panel: Any = layout.panel     # the fake-bpy-module stubs say it returns nothing; it returns (header, body)
    header, body = panel(idname, default_closed=True)
    header.label(text=title)
    return body


def _draw_takes(layout: bpy.types.UILayout, context: bpy.types.Context,
                settings) -> None:  # settings: AsynFusionSettings
    """4. Takes: each bake, newest first; click one to play it, the shield keeps it, ⟳ regenerates
    a range of it, X deletes it. When saving keeps only kept takes, a line says which a save
    would leave out, and after a save which it did."""
    found = takes.all_takes()
    if operators.JOB.note:
        message(layout.column(align=True), context, operators.JOB.note, 'INFO')
    if not found:
        return
    owners = [o for o in (settings.armature, rig_reader.shape_keys_of(settings.face_mesh)) if o is not None]
    now = takes.playing(owners)
    col = layout.column(align=True)
    col.label(text="4. Takes", icon='ACTION')
    for take in found:
        row = col.row(align=True)
        use = row.operator("asynfusion.take_use", text=take.label(), depress=take.id in now,
                           icon='PLAY' if take.id in now else 'BLANK1')
        use.take = take.id
        keep = row.operator("asynfusion.take_keep", text="", icon='FAKE_USER_ON' if take.kept else 'FAKE_USER_OFF')
        keep.take, keep.keep = take.id, not take.kept
        if take.recording:
            row.operator("asynfusion.take_regenerate", text="", icon='FILE_REFRESH').take = take.id
        row.operator("asynfusion.take_delete", text="", icon='X').take = take.id
        col.label(text=take.details(), icon='BLANK1')
    if not preferences.saves_every_take(context):
        dropped = takes.dropped_on_save()
        if dropped:
            message(layout.column(align=True), context, save_warning(len(dropped)), 'INFO')


def save_warning(count: int) -> str:
    """The line under the take list while a save would leave takes out (Save Takes: Kept Only)."""
    return (f"{count} take{'s are' if count > 1 else ' is'} neither kept nor playing: "
            f"saving leaves {'them' if count > 1 else 'it'} out (the shield keeps a take).")


def draw_motion_file(layout: bpy.types.UILayout, settings) -> None:  # settings: AsynFusionSettings
    """Bake a motion file (.npz) made elsewhere."""
    layout.prop(settings, "motion_file", text="")
    layout.operator("asynfusion.bake_motion", text="Bake Motion File", icon='ACTION')


def draw_rigs(layout: bpy.types.UILayout, settings) -> None:  # settings: AsynFusionSettings
    """Make a rig, or say how another one is read."""
    layout.operator("asynfusion.create_rig", text="Create Built-in Rig", icon='ARMATURE_DATA').source = "BUILTIN"
    layout.prop(settings, "model_file", text="")
    layout.operator("asynfusion.create_rig", text="Create From SMPL-X Model", icon='OUTLINER_OB_ARMATURE').source = "SMPLX"
    layout.separator()
    layout.label(text="Rigify, Mixamo, VRoid: detected.")
    layout.label(text="Other rigs: a bone map.")
    layout.prop(settings, "bone_map", text="")
    layout.operator("asynfusion.write_bone_map", text="Write Bone Map Template", icon='FILE_NEW')


class ASYNFUSION_MT_animation(bpy.types.Menu):
    """The add-on's operators under Object > Animation: a menu is what F3's search looks through."""
    bl_idname = "ASYNFUSION_MT_animation"
    bl_label = "AsynFusion"

    def draw(self, context: bpy.types.Context) -> None:
        layout = self.layout
        layout.operator("asynfusion.generate", text="Generate from Speech", icon='PLAY_SOUND')
        layout.operator("asynfusion.bake_motion", text="Bake Motion File", icon='ACTION')
        layout.operator("asynfusion.create_rig", text="Create Built-in Rig", icon='ARMATURE_DATA').source = "BUILTIN"
        layout.operator("asynfusion.use_selection", text="Targets From Selection", icon='RESTRICT_SELECT_OFF')
        layout.operator("asynfusion.write_bone_map", text="Write Bone Map Template", icon='FILE_NEW')


def _object_animation_menu(self: bpy.types.Menu, context: bpy.types.Context) -> None:
    self.layout.separator()
    self.layout.menu(ASYNFUSION_MT_animation.bl_idname, icon='PLAY_SOUND')


WATCH_SECONDS = 1.0
_shown = ""         # the worker line as last redrawn


def watch_worker() -> float:
    """Timer: redraw the panels when the worker line would read differently (it started, became
    ready, stopped or froze), so a line the mouse is not over does not go stale."""
    global _shown
    status = preferences.worker_status()
    if status != _shown:
        _shown = status
        operators.redraw_panels()
    return WATCH_SECONDS


def register() -> None:
    bpy.types.VIEW3D_MT_object_animation.append(_object_animation_menu)
    bpy.app.timers.register(watch_worker, first_interval=WATCH_SECONDS, persistent=True)


def unregister() -> None:
    if bpy.app.timers.is_registered(watch_worker):
        bpy.app.timers.unregister(watch_worker)
    bpy.types.VIEW3D_MT_object_animation.remove(_object_animation_menu)


CLASSES = (ASYNFUSION_PT_main, ASYNFUSION_MT_animation)
