"""Rig profiles: which bone of a Rigify, Mixamo, VRoid/VRM or user-mapped rig plays which SMPL-X joint.

Profiles are data (``data/rigs/*.json``), not code paths, so a new skeleton is one JSON file:

    {"name": "Mixamo", "strip_namespace": true,
     "bones": {"pelvis": "Hips", "left_shoulder": "LeftArm", ...},   # a list = alternatives
     "absorbed": ["spine1"],          # joints other bones' world rotations already carry
     "properties": {"torso": {"neck_follow": 1.0}}}   # switches set for the bake (Rigify FK)

A user's ``--bone-map`` file has the same layout (only ``bones`` is needed). The rig's own
SMPL-X names (smplx_names) come first; otherwise the profile whose root bone is present and
that names the most body joints wins, among those whose chains make sense where the bones
stand (``fits_geometry``: pelvis below spine below neck below head, legs hanging down, left
limbs on the left), so that names alone never pick a wrong profile. No bpy here: names and
rest-pose heads in, names out.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from . import smplx_names
from ..core import skeleton
from ..core.output import check_input
from ..errors import AddonError

RIGS_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "data", "rigs")
SMPLX = "SMPL-X"
MIN_BODY_JOINTS = 6          # fewer recognised body joints than this is not a match
_JOINT_INDEX = {n: j for j, n in enumerate(skeleton.JOINT_NAMES)}
_BODY = range(22)
_CENTRE = (0, 3, 6, 9, 12, 15)            # pelvis, spine1-3, neck, head: bottom to top
_UP = (12, 15, 9, 6)                      # neck, else head, spine3, spine2: which way is up
_PAIRS = ((1, 2), (16, 17), (13, 14), (4, 5), (7, 8), (18, 19), (20, 21), (10, 11))
_LEGS = ((1, 4, 7), (2, 5, 8))            # hip, knee, ankle: each below the one before
_SIDE_JOINTS = {1: (1, 4, 7, 10, 16, 18, 20), -1: (2, 5, 8, 11, 17, 19, 21)}   # left / right limbs
_TOES = ((7, 10), (8, 11))                # ankle -> ball of the foot points forward
_SLACK = 0.02                             # of the pelvis->top height: joints this close count as level


class BoneMapError(AddonError):
    """A bone map file that cannot be used; one sentence for a person."""


@dataclass(frozen=True)
class Profile:
    name: str
    bones: dict[int, tuple[str, ...]]          # joint -> candidate bone names, first found wins
    strip_namespace: bool = False
    absorbed: frozenset[int] = frozenset()
    properties: dict[str, dict[str, float]] = field(default_factory=dict)


@dataclass
class RigMatch:
    """The profile picked for an armature and what it maps."""
    profile: str
    mapping: dict[int, str]                    # joint -> bone name in the armature
    absorbed: frozenset[int] = frozenset()
    properties: dict[str, dict[str, float]] = field(default_factory=dict)

    @property
    def is_smplx(self) -> bool:
        return self.profile == SMPLX

    def skipped(self, joints: Iterable[int]) -> list[int]:
        """Joints among ``joints`` that this rig has no bone for (absorbed ones are not missing)."""
        return [j for j in joints if j not in self.mapping and j not in self.absorbed]


def _profile_from(data: object, source: str) -> Profile:
    if not isinstance(data, dict) or not isinstance(data.get("bones", data), dict):
        raise BoneMapError(f"Bone map {source} is not a JSON object of SMPL-X joint names to bone names.")
    raw = data.get("bones", data)
    bones: dict[int, tuple[str, ...]] = {}
    for joint, value in raw.items():
        if joint.startswith("_") or joint in ("name", "about"):
            continue
        if joint not in _JOINT_INDEX:
            raise BoneMapError(f"Bone map {source} names '{joint}', which is not an SMPL-X joint "
                               f"(they are {skeleton.JOINT_NAMES[0]}, {skeleton.JOINT_NAMES[1]}, ...).")
        names = (value,) if isinstance(value, str) else tuple(value) if isinstance(value, list) else None
        if names is None or not all(isinstance(n, str) for n in names):
            raise BoneMapError(f"Bone map {source} gives '{joint}' something other than a bone name.")
        names = tuple(n for n in names if n)
        if names:
            bones[_JOINT_INDEX[joint]] = names
    absorbed = data.get("absorbed", [])
    if not isinstance(absorbed, list) or not all(isinstance(n, str) for n in absorbed):
        raise BoneMapError(f"Bone map {source} gives 'absorbed' something other than a list of SMPL-X joint names.")
    props = data.get("properties", {})
    if not isinstance(props, dict) or not all(
            isinstance(values, dict) and all(isinstance(v, (int, float)) and not isinstance(v, bool)
                                             for v in values.values()) for values in props.values()):
        raise BoneMapError(f"Bone map {source} gives 'properties' something other than bone names to "
                           "{property: number} objects.")
    return Profile(name=str(data.get("name", source)), bones=bones,
                   strip_namespace=bool(data.get("strip_namespace", False)),
                   absorbed=frozenset(_JOINT_INDEX[n] for n in absorbed if n in _JOINT_INDEX), properties=props)


def load_profile(path: str) -> Profile:
    """A profile or user bone map from a JSON file; BoneMapError in one sentence if unusable."""
    name = os.path.basename(path)
    check_input(path, "Bone map", BoneMapError, "choose a .json file")    # a pipe would block open()
    try:
        with open(path, encoding="utf-8-sig") as fh:      # -sig: also as Windows Notepad saves it, with a BOM
            data = json.load(fh)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        raise BoneMapError(f"Bone map {name} is not readable JSON.") from None
    except RecursionError:
        raise BoneMapError(f"Bone map {name} is nested too deeply to be a bone map; write it as the "
                           "template (Write Bone Map Template) is laid out.") from None
    return _profile_from(data, name)


def builtin_profiles() -> list[Profile]:
    """The shipped profiles, in name order (ties in detection go to the first)."""
    return [load_profile(os.path.join(RIGS_DIR, f)) for f in sorted(os.listdir(RIGS_DIR)) if f.endswith(".json")]


def _bare(name: str) -> str:
    """'mixamorig:Hips' -> 'Hips' (exporters put a namespace before every bone)."""
    return name.rsplit(":", 1)[-1]


def apply_profile(profile: Profile, bone_names: Iterable[str]) -> dict[int, str]:
    """Joint -> armature bone for every joint whose bone the armature has; a bone is used once."""
    names = list(bone_names)
    lookup = {n: n for n in names}
    if profile.strip_namespace:
        for n in names:
            lookup.setdefault(_bare(n), n)
    found: dict[int, str] = {}
    used: set[str] = set()
    for j in sorted(profile.bones):
        bone = next((lookup[c] for c in profile.bones[j] if c in lookup and lookup[c] not in used), None)
        if bone is not None:
            found[j] = bone
            used.add(bone)
    return found


def _smplx_match(names: list[str]) -> RigMatch | None:
    mapping = smplx_names.map_bones(names)
    if 0 in mapping and sum(j in mapping for j in _BODY) >= len(_BODY) - 4:
        return RigMatch(SMPLX, mapping)
    return None


def fits_geometry(mapping: dict[int, str], heads: Mapping[str, Sequence[float]]) -> bool:
    """Whether a profile's chains make sense where the rig's bones stand (rest heads, any units
    and axes): the pelvis, an up bone (neck, head or chest) and a left/right pair are there; the
    spine rises from pelvis to head; each leg hangs hip > knee > ankle; every left limb joint is
    on the side of the left hip (or shoulder) and every right one on the other; and, where the
    toes say which way the rig faces, that side is the character's left. A profile that names
    bones of other chains (a VRM 'spine' as the Rigify metarig's pelvis) fails here."""
    pos = {j: np.asarray(heads[name], np.float64) for j, name in mapping.items() if name in heads}
    top = next((j for j in _UP if j in pos), None)
    pair = next(((a, b) for a, b in _PAIRS if a in pos and b in pos), None)
    if 0 not in pos or top is None or pair is None:
        return False
    up = pos[top] - pos[0]
    height = float(np.linalg.norm(up))
    if not np.isfinite(height) or height < 1e-9:
        return False
    up /= height
    slack = _SLACK * height
    level = {j: float((p - pos[0]) @ up) for j, p in pos.items()}
    centre = [level[j] for j in _CENTRE if j in level]
    if any(b < a - slack for a, b in zip(centre, centre[1:])) or level[top] <= slack:
        return False
    for chain in _LEGS:
        legs = [level[j] for j in chain if j in level]
        if any(b > a - slack for a, b in zip(legs, legs[1:])):
            return False
    left = pos[pair[0]] - pos[pair[1]]
    left -= (left @ up) * up
    if np.linalg.norm(left) < 1e-9:
        return False
    left /= np.linalg.norm(left)
    for sign, joints in _SIDE_JOINTS.items():
        if any(sign * float((pos[j] - pos[0]) @ left) <= 0.0 for j in joints if j in pos):
            return False
    ahead = [pos[toe] - pos[ankle] for ankle, toe in _TOES if ankle in pos and toe in pos]
    if ahead:
        forward = np.mean(ahead, axis=0)
        forward -= (forward @ up) * up
        if np.linalg.norm(forward) > 1e-3 * height and float(np.cross(up, forward) @ left) <= 0.0:
            return False            # left and right swapped: the character's left is the other side
    return True


def detect(bone_names: Iterable[str], profiles: list[Profile] | None = None,
           heads: Mapping[str, Sequence[float]] | None = None) -> RigMatch | None:
    """The rig's profile from its bone names, or None when nothing fits.

    SMPL-X names win when nearly the whole body has them; a rig with an SMPL-X pelvis that no
    profile fits stays SMPL-X too, so the bake can name the SMPL-X bones it lacks. With the
    bones' rest ``heads`` (name -> armature-space head), a profile must also fit the rig's
    geometry (fits_geometry); the best-named one that does wins.
    """
    names = list(bone_names)
    smplx = _smplx_match(names)
    if smplx is not None:
        return smplx
    best: tuple[int, Profile, dict[int, str]] | None = None
    for profile in builtin_profiles() if profiles is None else profiles:
        mapping = apply_profile(profile, names)
        score = sum(j in mapping for j in _BODY)
        if (0 in mapping and score >= MIN_BODY_JOINTS and (best is None or score > best[0])
                and (heads is None or fits_geometry(mapping, heads))):
            best = (score, profile, mapping)
    if best is None:
        mapping = smplx_names.map_bones(names)
        return RigMatch(SMPLX, mapping) if 0 in mapping else None
    return RigMatch(best[1].name, best[2], best[1].absorbed, best[1].properties)


def match_user_map(profile: Profile, bone_names: Iterable[str], rig_name: str, source: str) -> RigMatch:
    """A user's bone map applied to an armature; every bone it names must exist there."""
    names = set(bone_names)
    absent = sorted({c for cands in profile.bones.values() for c in cands if c not in names})
    if absent:
        shown = ", ".join(absent[:5]) + (", ..." if len(absent) > 5 else "")
        raise BoneMapError(f"Bone map {source} names {len(absent)} bone{'s' if len(absent) > 1 else ''} "
                           f"that armature '{rig_name}' lacks: {shown}.")
    mapping = apply_profile(profile, names)
    if 0 not in mapping:
        raise BoneMapError(f"Bone map {source} gives no bone for 'pelvis'; the bake needs the rig's root bone there.")
    return RigMatch(profile.name, mapping, profile.absorbed, profile.properties)


def unknown_rig_sentence(rig_name: str, named_like: str | None = None) -> str:
    """``named_like``: the profile its names match although its bones do not stand as that profile's do."""
    what = (f"has bones named like {named_like} that do not stand as {named_like}'s do (pelvis below spine "
            "below neck below head, left limbs on the left)" if named_like else
            "has no bones named like SMPL-X, Rigify, Mixamo or VRoid/VRM")
    return (f"Armature '{rig_name}' {what}; write a bone map for it (AsynFusion: Write Bone Map Template) "
            "and pass it with --bone-map or the panel's Bone Map field.")


def describe_skipped(joints: list[int]) -> str:
    """'neck, left and right fingers, jaw': groups whole hands so the line stays short."""
    missing = set(joints)
    parts: list[str] = []
    hands = {"left": set(skeleton.LEFT_HAND), "right": set(skeleton.RIGHT_HAND)}
    whole = [side for side, hand in hands.items() if hand <= missing]
    for j in sorted(missing):
        side = "left" if j in hands["left"] else "right" if j in hands["right"] else None
        if side is None or side not in whole:
            parts.append(skeleton.JOINT_NAMES[j])
    if len(whole) == 2:
        parts.append("left and right fingers")
    elif whole:
        parts.append(f"{whole[0]} fingers")
    return ", ".join(parts)


def template(bone_names: Iterable[str], rig_name: str,
             heads: Mapping[str, Sequence[float]] | None = None) -> dict:
    """A bone map to fill in for an armature: every SMPL-X joint, pre-filled where a profile fits
    (with ``heads``, only a profile whose chains fit the rig's geometry: never a bone of another chain)."""
    names = list(bone_names)
    match = detect(names, heads=heads)
    mapping = match.mapping if match is not None else {}
    return {
        "name": f"{rig_name} bone map",
        "_help": "Give each SMPL-X joint the bone of your rig that plays it; leave \"\" where the rig "
                 "has none (that joint is skipped). 'pelvis' is required: it takes the root motion. "
                 "Bake with --bone-map THIS_FILE (or the panel's Bone Map field).",
        "_matched_profile": match.profile if match is not None else None,
        "bones": {n: mapping.get(j, "") for j, n in enumerate(skeleton.JOINT_NAMES)},
        "_armature_bones": names,
    }
