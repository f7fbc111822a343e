"""A take's facts on its actions: what the bake writes (``new_take``, ``stamp``) and how an
action is told to be one of a take's own (``facts_of``, ``is_take``). The take list
(``takes.py``) reads the same facts to switch between takes, keep and delete them."""

from __future__ import annotations

import datetime
import uuid
from typing import Any, cast

import bpy

KEY = "asynfusion_take"


def new_take(name: str, seed: int | None, audio: str | None, seconds: float, start: int,
             generated: tuple[str, str] | None = None) -> dict:
    """The facts of a take about to be baked (each of its actions gets them, with its part);
    ``generated``: (recording, motion file) of a generated take, so a range of it can be regenerated."""
    recording, motion = generated or ("", "")
    # the seed as decimal text: ID property integers are 32-bit signed, seeds run to 2^32 - 1
    # (protocol.MAX_SEED); int() reads it back, and the plain integers of older files too
    return {"id": uuid.uuid4().hex[:12], "name": name, "seed": str(-1 if seed is None else int(seed)),
            "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "audio": audio or "", "seconds": round(float(seconds), 3), "start": int(start),
            "recording": recording, "motion": motion}


def stamp(action: bpy.types.Action, facts: dict) -> None:
    """Give a new action its take's facts and its own name, which tells it from later copies."""
    cast(Any, action)[KEY] = {**facts, "action": action.name}


def facts_of(action: bpy.types.Action) -> dict | None:
    """The facts of one of a take's own actions; None for any other action. A copy
    (``action.copy()``, Shift+D duplicating the action) carries them under another name than
    the one stamped, and so is the user's own action, as is one they renamed: keeping,
    playing or deleting the take never touches it. (Takes from before the stamp have no name.)"""
    value = cast(Any, action).get(KEY)
    facts = value.to_dict() if hasattr(value, "to_dict") else None
    return facts if facts is not None and facts.get("action", action.name) == action.name else None


def is_take(action: bpy.types.Action | None) -> bool:
    return action is not None and facts_of(action) is not None
