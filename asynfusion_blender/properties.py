"""Per-scene settings of the sidebar panel (saved with the .blend)."""

from __future__ import annotations

import bpy
from bpy.props import BoolProperty, EnumProperty, FloatProperty, IntProperty, PointerProperty, StringProperty

from .core.mouth import STRENGTH_RANGE
from .core.protocol import MAX_VARIATIONS
from .job import JOB


def _targets_changed(_settings: object, _context: bpy.types.Context) -> None:
    """The rig or face changed: an error about the previous ones is stale."""
    JOB.targets_changed()


def _is_armature(_self: object, obj: bpy.types.Object) -> bool:
    return obj.type == 'ARMATURE'


def _is_mesh(_self: object, obj: bpy.types.Object) -> bool:
    return obj.type == 'MESH'


class AsynFusionSettings(bpy.types.PropertyGroup):
    audio_source: EnumProperty(  # type: ignore[valid-type]
        name="Audio", items=[("FILE", "File", "A speech recording on disk"),
                             ("STRIP", "Sound Strip", "A sound strip already in the sequencer; "
                              "the bake starts at the strip's first frame")],
        default="FILE")
    audio_file: StringProperty(name="Audio File", subtype='FILE_PATH')  # type: ignore[valid-type]
    sound_strip: StringProperty(name="Sound Strip")  # type: ignore[valid-type]
    armature: PointerProperty(name="Armature", type=bpy.types.Object, poll=_is_armature,  # type: ignore[valid-type]
                              update=_targets_changed)
    face_mesh: PointerProperty(name="Face Mesh", type=bpy.types.Object, poll=_is_mesh,  # type: ignore[valid-type]
                               description="Mesh with Exp000-Exp099 or ARKit-named (jawOpen, ...) shape keys",
                               update=_targets_changed)
    bone_map: StringProperty(  # type: ignore[valid-type]
        name="Bone Map", subtype='FILE_PATH',
        description="JSON map from SMPL-X joints to this rig's bones, for rigs no profile recognises "
                    "(empty: the profile is detected from the bone names)")
    start_frame: IntProperty(name="Start Frame", default=1)  # type: ignore[valid-type]
    seed: IntProperty(  # type: ignore[valid-type]
        name="Seed", default=0, min=0,
        description="The motion's random seed: the same seed and speech give the same motion. "
                    "Each Generate moves it on, so the next one is a new take, unless locked")
    lock_seed: BoolProperty(  # type: ignore[valid-type]
        name="Lock Seed", default=False,
        description="Keep the seed after Generate (pressing it again makes the same motion as a new take)")
    variations: IntProperty(  # type: ignore[valid-type]
        name="Variations", default=1, min=1, max=MAX_VARIATIONS,
        description="Takes to generate at once, seeds Seed, Seed+1, ...: one batched run of the model, "
                    "one take each, to pick from in the take list")
    steps_face: IntProperty(  # type: ignore[valid-type]
        name="Face Steps", default=0, min=0, max=50,
        description="Denoising steps for the face: 0 takes the weights' own (what they were measured at); "
                    "more is slower")
    steps_body: IntProperty(  # type: ignore[valid-type]
        name="Body Steps", default=0, min=0, max=50,
        description="Denoising steps for the body, which starts from captured motion matched to the speech: "
                    "0 takes the weights' own (what they were measured at); fewer is faster but trembles more")
    bake_face: BoolProperty(name="Face", default=True, description="Expression shape keys and eyes")  # type: ignore[valid-type]
    bake_jaw: BoolProperty(name="Jaw", default=True)  # type: ignore[valid-type]
    bake_body: BoolProperty(name="Body", default=True, description="Root orientation and the 21 body joints")  # type: ignore[valid-type]
    bake_hands: BoolProperty(name="Hands", default=True)  # type: ignore[valid-type]
    bake_root: BoolProperty(  # type: ignore[valid-type]
        name="Root Motion", default=True,
        description="Pelvis translation: the speaker's weight shifts and small steps, within about a metre "
                    "of where the rig stands, feet on the floor. Untick to keep the character in place")
    motion_file: StringProperty(name="Motion File", subtype='FILE_PATH')  # type: ignore[valid-type]
    model_file: StringProperty(  # type: ignore[valid-type]
        name="SMPL-X Model", subtype='FILE_PATH',
        description="Your SMPLX_NEUTRAL*.npz (free for research from smpl-x.is.tue.mpg.de; not shipped)")

    def parts(self) -> frozenset[str]:
        chosen = {"face": self.bake_face, "jaw": self.bake_jaw, "body": self.bake_body,
                  "hands": self.bake_hands, "root": self.bake_root}
        return frozenset(k for k, v in chosen.items() if v)


CLASSES = (AsynFusionSettings,)


def register_mouth_strength() -> None:
    """Mouth Strength on every object, read from the armature (bake.MOUTH_PROP; batch.py
    --mouth-strength), so that each character keeps its own. Where it is not yet: batch.py runs
    without register(), and Blender 5 keeps a saved value of it out of reach until it is registered."""
    if not hasattr(bpy.types.Object, "asynfusion_mouth_strength"):
        bpy.types.Object.asynfusion_mouth_strength = FloatProperty(  # type: ignore
            name="Mouth Strength", default=1.0, min=STRENGTH_RANGE[0], max=STRENGTH_RANGE[1], soft_max=2.0,
            step=10, description="How far this character's mouth opens, times the capture's opening (an ARKit "
                                 "face is calibrated to it from its jawOpen shape, an Exp### face is the "
                                 "capture's own): 1 keeps it; ARKit mouth keys never pass 1")


def register() -> None:
    bpy.types.Scene.asynfusion = PointerProperty(type=AsynFusionSettings)  # type: ignore
    register_mouth_strength()


def unregister() -> None:
    del bpy.types.Object.asynfusion_mouth_strength  # type: ignore[attr-defined]
    del bpy.types.Scene.asynfusion  # type: ignore[attr-defined]
