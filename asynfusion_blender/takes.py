"""Takes: every bake is a take (its body and face actions) that the panel lists to switch
between, keep or delete.

A take's facts live on its actions, as the custom property ``asynfusion_take`` (id, name, seed,
date, audio, length, start frame, which part, the action's own name), so the .blend holds them
with nothing else to save. Only a kept take has a fake user. Saving keeps every take by default (``hold_for_save``
gives the others a fake user for the save only); with the preference *Save Takes: Kept Only*
a take that is neither kept nor playing is left out of the saved file, and the panel says which
before and when it is saved (``dropped_on_save``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, cast

import bpy

from .bake import action_support
from .bake.rig_reader import shape_keys_of
from .bake.take_facts import facts_of
from .errors import AddonError

HELD = "asynfusion_held"    # set on a take's action only while a save keeps it (saving every take)
GONE = "That take is no longer in the file; pick another one."


@dataclass(frozen=True)
class Take:
    id: str
    name: str
    seed: int                   # -1: not known (a motion file baked as it was)
    date: str                   # when it was baked, ISO 8601 UTC to the microsecond (so takes sort by it)
    seconds: float
    start: int
    actions: tuple[str, ...]    # body and/or face
    kept: bool
    audio: str = ""             # the recording its sound strip plays ("" when it placed none)
    recording: str = ""         # the speech it was generated from ("" for a motion file baked as it was)
    motion: str = ""            # the motion file it was generated into (what a range is regenerated in)

    def label(self) -> str:
        """The row's text: the name less the recording's file name that every take of it starts
        with, which a sidebar at its default width would show instead of what tells the takes
        apart (``speech-seed5-frames100-200`` -> ``seed5-frames100-200``)."""
        stem = os.path.splitext(os.path.basename(self.recording))[0]
        return self.name[len(stem) + 1:] if stem and self.name.startswith(stem + "-") else self.name

    def details(self) -> str:
        """One short line for the panel: seed, length, date."""
        seed = f"seed {self.seed}" if self.seed >= 0 else "file"
        return f"{seed} · {self.seconds:.1f} s · {self.date[:16].replace('T', ' ')}"


def all_takes() -> list[Take]:
    """Every take in the file, newest first."""
    grouped: dict[str, tuple[dict, list[bpy.types.Action]]] = {}
    for action in bpy.data.actions:
        facts = facts_of(action)
        if facts is not None and "id" in facts:
            grouped.setdefault(str(facts["id"]), (facts, []))[1].append(action)
    found = [Take(id=take_id, name=str(facts.get("name", "")), seed=int(facts.get("seed", -1)),
                  date=str(facts.get("date", "")), seconds=float(facts.get("seconds", 0.0)),
                  start=int(facts.get("start", 1)), actions=tuple(sorted(a.name for a in actions)),
                  kept=all(a.use_fake_user for a in actions), audio=str(facts.get("audio", "")),
                  recording=str(facts.get("recording", "")),
                  motion=str(facts.get("motion", "")))
             for take_id, (facts, actions) in grouped.items()]
    return sorted(found, key=lambda t: t.date, reverse=True)


def _actions(take_id: str) -> list[bpy.types.Action]:
    found = [a for a in bpy.data.actions if (facts_of(a) or {}).get("id") == take_id]
    if not found:
        raise AddonError(GONE)
    return found


def find(take_id: str) -> Take:
    """The take with this id, or one sentence saying it is gone."""
    found = [t for t in all_takes() if t.id == take_id]
    if not found:
        raise AddonError(GONE)
    return found[0]


def motion_range(take: Take, first: int, last: int, fps: float, motion_fps: float) -> tuple[int, int]:
    """Scene frames first..last (inclusive, as the timeline's preview range) of a take as motion
    frames [start, end), checked: the range must lie within the take and hold at least one frame."""
    end_of_take = take.start + take.seconds * fps
    if last < first or first < take.start or last >= round(end_of_take):
        raise AddonError(f"Frames {first}-{last} are not inside take {take.name} (frames {take.start}-"
                         f"{round(end_of_take) - 1}); choose frames within it, the first before the last.")
    start = round((first - take.start) / fps * motion_fps)
    end = max(round((last + 1 - take.start) / fps * motion_fps), start + 1)
    return start, min(end, round(take.seconds * motion_fps))


def playing(owners: list[action_support.Animated]) -> set[str]:
    """The ids of the takes these IDs play now."""
    ids = set()
    for owner in owners:
        adt = owner.animation_data
        facts = facts_of(adt.action) if adt is not None and adt.action is not None else None
        if facts is not None:
            ids.add(str(facts.get("id")))
    return ids


def set_kept(take_id: str, keep: bool) -> None:
    for action in _actions(take_id):
        action.use_fake_user = keep


def delete(take_id: str) -> str:
    """Remove the take's actions (whatever plays them stops); returns its name."""
    actions = _actions(take_id)
    name = str((facts_of(actions[0]) or {}).get("name", ""))
    for action in actions:
        bpy.data.actions.remove(action)
    return name


def use(take_id: str, armature: bpy.types.Object, face_mesh: bpy.types.Object | None) -> list[str]:
    """Play the take on the rig (body), the face mesh's shape keys (face) and the other meshes
    that took the face with it (teeth, eyes: each action names its mesh); returns what it could not."""
    skipped = []
    for action in _actions(take_id):
        facts = facts_of(action) or {}
        part = facts.get("part")
        owner: action_support.Animated | None = armature
        if part == "face" and facts.get("mesh"):     # the face on another mesh of the character (teeth, eyes)
            owner = shape_keys_of(bpy.data.objects.get(str(facts["mesh"])))
            if owner is not None:
                action_support.play(owner, action)
            continue
        if part == "face":
            owner = shape_keys_of(face_mesh)
            if owner is None:
                skipped.append("face (choose a face mesh with shape keys)")
                continue
        action_support.play(owner, action)
    return skipped


def dropped_on_save() -> list[Take]:
    """The takes a save would leave out when only kept takes are saved: those with an action
    that nothing uses (neither kept nor playing)."""
    unused = {a.name for a in bpy.data.actions if a.users == 0 and not a.use_fake_user}
    return [t for t in all_takes() if unused.intersection(t.actions)]


def hold_for_save() -> None:
    """Before a save that keeps every take: each take's action that nothing uses gets a fake user,
    marked as held, so that it is written; ``release_held`` takes it back after the save and
    after the file is opened again (the take stays not kept)."""
    for action in bpy.data.actions:
        if facts_of(action) is not None and action.users == 0 and not action.use_fake_user:
            action.use_fake_user = True
            cast(Any, action)[HELD] = True


def release_held() -> None:
    for action in bpy.data.actions:
        if cast(Any, action).get(HELD):
            del cast(Any, action)[HELD]
            action.use_fake_user = False


def saved_motion(dropped: list[Take]) -> list[str]:
    """The motion files of the takes a save writes (every take but ``dropped``)."""
    gone = {t.id for t in dropped}
    return [t.motion for t in all_takes() if t.id not in gone and t.motion]
