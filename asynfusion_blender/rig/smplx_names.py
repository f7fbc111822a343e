"""Which bone of a rig plays which SMPL-X joint.

Rigs differ only in names: the MPI "SMPL-X for Blender" add-on uses SMPL-X's own names
(eyes ``*_eye_smplhf``), Meshcapade's add-on calls the eyes ``left_eye``/``right_eye``, and
both add a ``root`` bone above ``pelvis``; exporters sometimes prefix every bone
(``SMPLX-male_pelvis``, ``mixamorig:...``). Baking maps names here and never assumes one rig.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from ..core import skeleton
from ..errors import AddonError

# Alternative names a rig may use for a joint, tried after the SMPL-X name.
ALIASES: dict[str, tuple[str, ...]] = {
    "left_eye_smplhf": ("left_eye", "eye_left"),
    "right_eye_smplhf": ("right_eye", "eye_right"),
}


class RigMappingError(AddonError):
    """A rig that cannot take the bake; the message is one sentence for a person."""


def _candidates(joint: str) -> tuple[str, ...]:
    return (joint,) + ALIASES.get(joint, ())


def _common_prefix(bone_names: Iterable[str]) -> str:
    """A prefix such as 'SMPLX-neutral_' or 'rig:' put in front of the pelvis name."""
    for name in bone_names:
        low = name.lower()
        if low.endswith("pelvis") and low != "pelvis":
            return name[: len(name) - len("pelvis")]
    return ""


def map_bones(bone_names: Iterable[str]) -> dict[int, str]:
    """Joint index -> bone name for every SMPL-X joint this rig has (case-insensitive)."""
    names = list(bone_names)
    prefix = _common_prefix(names).lower()
    by_key: dict[str, str] = {}
    for name in names:
        low = name.lower()
        by_key.setdefault(low, name)
        if prefix and low.startswith(prefix):
            by_key.setdefault(low[len(prefix):], name)
    found: dict[int, str] = {}
    for j, joint in enumerate(skeleton.JOINT_NAMES):
        for cand in _candidates(joint):
            if cand in by_key:
                found[j] = by_key[cand]
                break
    return found


def require_bones(mapping: Mapping[int, str], joints: Iterable[int], rig_name: str) -> None:
    """Raise one sentence naming every joint the chosen parts need but the rig lacks."""
    missing = [skeleton.JOINT_NAMES[j] for j in joints if j not in mapping]
    if missing:
        listed = ", ".join(missing)
        raise RigMappingError(
            f"Armature '{rig_name}' lacks {len(missing)} SMPL-X bone{'s' if len(missing) > 1 else ''} "
            f"needed for this bake: {listed}."
        )


def check_hierarchy(mapping: Mapping[int, str], bone_parents: Mapping[str, str | None],
                    joints: Iterable[int], rig_name: str) -> None:
    """Each baked bone must hang under its SMPL-X parent's bone, or rotations compose wrongly.

    Unmapped bones between the two (like the MPI ``root`` above ``pelvis``) are fine only
    above the root joint.
    """
    for j in joints:
        p = skeleton.PARENTS[j]
        if p < 0 or p not in mapping:
            continue
        actual = bone_parents.get(mapping[j])
        if actual != mapping[p]:
            raise RigMappingError(
                f"In armature '{rig_name}' bone '{mapping[j]}' hangs under "
                f"'{actual or 'nothing'}' instead of '{mapping[p]}', so it is not an SMPL-X skeleton."
            )
