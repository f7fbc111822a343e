"""The SMPL-X skeleton: the one place that names the 55 joints and their order.

The order is SMPL-X's full-pose order (root, 21 body, jaw, 2 eyes, 15 left-hand,
15 right-hand joints); ``poses`` arrays in motion files are laid out as
``poses[:, 3*j:3*j+3]`` = axis-angle of joint ``j`` relative to its parent.
"""

_BODY = [
    "pelvis", "left_hip", "right_hip", "spine1", "left_knee", "right_knee",
    "spine2", "left_ankle", "right_ankle", "spine3", "left_foot", "right_foot",
    "neck", "left_collar", "right_collar", "head", "left_shoulder",
    "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
]
_FINGERS = ["index", "middle", "pinky", "ring", "thumb"]


def _hand(side: str) -> list[str]:
    return [f"{side}_{finger}{k}" for finger in _FINGERS for k in (1, 2, 3)]


JOINT_NAMES: tuple[str, ...] = tuple(
    _BODY + ["jaw", "left_eye_smplhf", "right_eye_smplhf"] + _hand("left") + _hand("right")
)
NUM_JOINTS = 55
assert len(JOINT_NAMES) == NUM_JOINTS

PARENTS: tuple[int, ...] = (
    -1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19,
    15, 15, 15, 20, 25, 26, 20, 28, 29, 20, 31, 32, 20, 34, 35, 20, 37, 38,
    21, 40, 41, 21, 43, 44, 21, 46, 47, 21, 49, 50, 21, 52, 53,
)

ROOT = 0
BODY_JOINTS = tuple(range(1, 22))        # 21 body joints below the root
JAW = 22
EYES = (23, 24)
LEFT_HAND = tuple(range(25, 40))
RIGHT_HAND = tuple(range(40, 55))
HANDS = LEFT_HAND + RIGHT_HAND

# Body parts as the amplitude statistics group them (evaluation/motion_stats.py) and the
# amplitude gains scale them (amplitude.py); the root's own turning is the part "heading".
BODY_PARTS: dict[str, tuple[int, ...]] = {
    "legs": (1, 2, 4, 5, 7, 8, 10, 11),
    "spine": (3, 6, 9),
    "head": (12, 15),
    "arms": (13, 14, 16, 17, 18, 19, 20, 21),
    "hands": HANDS,
}

# The 13 upper-body joints whose speed drives BEAT2/EMAGE's Beat Consistency metric.
UPPER_BODY = (3, 6, 9, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21)


def _mirror_index() -> tuple[int, ...]:
    """Index of each joint's left/right counterpart (itself for centre joints)."""
    index = {name: i for i, name in enumerate(JOINT_NAMES)}
    out = []
    for name in JOINT_NAMES:
        if name.startswith("left_"):
            out.append(index["right_" + name[5:]])
        elif name.startswith("right_"):
            out.append(index["left_" + name[6:]])
        else:
            out.append(index[name])
    return tuple(out)


MIRROR = _mirror_index()
