"""The one place that knows how Blender's animation API changed between 4.2 and 5.0.

4.2 keeps F-curves on ``Action.fcurves``. 4.4 introduced slotted (layered) actions and
5.0 removed ``Action.fcurves``: curves live in ``action.layers[0].strips[0].channelbag(slot)``
and an ID plays the action through ``AnimData.action_slot``. The bake asks this module
for an action bound to an ID and a way to add curves, and never branches on versions.
The sound-strip collection moved too (``sequences`` -> ``strips`` in 5.0).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Union, cast

import bpy
import numpy as np

SLOTTED = hasattr(bpy.types, "ActionSlot")
# The sequence editor's collections: every strip, and the top-level ones new strips go into.
_STRIPS_5 = "strips" in bpy.types.SequenceEditor.bl_rna.properties
ALL_STRIPS = "strips_all" if _STRIPS_5 else "sequences_all"
TOP_STRIPS = "strips" if _STRIPS_5 else "sequences"
_LINEAR = 1     # Keyframe.interpolation enum index of 'LINEAR'
Animated = Union[bpy.types.Object, bpy.types.Key]     # the IDs a bake animates


class CurveWriter:
    """A new action for one ID; ``add`` writes one F-curve in bulk."""

    def __init__(self, name: str, owner: Animated) -> None:
        self.action = bpy.data.actions.new(name)
        self.owner = owner
        if SLOTTED:
            action: Any = self.action          # the type stubs are 4.2's: no slots there
            self.slot = action.slots.new(id_type=owner.id_type, name=owner.name)
            strip = action.layers.new("Layer").strips.new(type='KEYFRAME')
            self._channels = strip.channelbag(self.slot, ensure=True)
        else:
            self.action.id_root = owner.id_type

    def add(self, data_path: str, index: int, group: str, co: np.ndarray) -> bpy.types.FCurve:
        """One curve from interleaved (frame, value) pairs: a single add + foreach_set."""
        if SLOTTED:
            fcurve = self._channels.fcurves.new(data_path, index=index, group_name=group)
        else:
            fcurve = self.action.fcurves.new(data_path, index=index, action_group=group)
        n = len(co) // 2
        points = fcurve.keyframe_points
        points.add(n)
        points.foreach_set("co", co)
        points.foreach_set("interpolation", np.full(n, _LINEAR, np.int32))
        fcurve.update()
        return fcurve

    def assign(self) -> Callable[[], None]:
        """Make the owner play this action; returns a function that restores what it played."""
        return play(self.owner, self.action, self.slot if SLOTTED else None)


def play(owner: Animated, action: bpy.types.Action, slot: Any = None) -> Callable[[], None]:
    """Make the owner play ``action`` (through ``slot``, else the action's first, when actions are
    slotted); returns a function that restores what it played."""
    adt: Any = owner.animation_data
    created = adt is None
    if adt is None:
        adt = owner.animation_data_create()
    old_action = adt.action
    old_slot = adt.action_slot if SLOTTED else None
    adt.action = action
    if SLOTTED:
        adt.action_slot = slot if slot is not None else cast(Any, action).slots[0]

    def restore() -> None:
        if created:
            owner.animation_data_clear()
            return
        adt.action = old_action
        if SLOTTED and old_action is not None and old_slot is not None:
            adt.action_slot = old_slot
    return restore


def action_curves(action: bpy.types.Action, owner: Animated | None = None) -> list[bpy.types.FCurve]:
    """All F-curves of an action (for the owner's slot when actions are slotted)."""
    if not SLOTTED:
        return list(action.fcurves)
    slot = None
    if owner is not None and owner.animation_data is not None:
        slot = cast(Any, owner.animation_data).action_slot
    curves: list[bpy.types.FCurve] = []
    for layer in cast(Any, action).layers:
        for strip in layer.strips:
            for bag in strip.channelbags:
                if slot is None or bag.slot == slot:
                    curves.extend(bag.fcurves)
    return curves


def sound_strips(scene: bpy.types.Scene) -> Any:
    """The scene's top-level strips (``sequences`` before 5.0, ``strips`` since; typed Any for that)."""
    editor = scene.sequence_editor or scene.sequence_editor_create()
    return getattr(editor, TOP_STRIPS)


def all_strips(scene: bpy.types.Scene) -> list[Any]:
    editor = scene.sequence_editor
    if editor is None:
        return []
    return list(getattr(editor, ALL_STRIPS))
