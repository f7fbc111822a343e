"""Bake speed: 60 s of motion (1,800 frames, 55 bones + root, 100 shape keys) onto the built-in rig.

The add-on's bake (numpy curves, one keyframe_points.add + foreach_set per F-curve) is timed
end to end, median of RUNS runs, next to the same keys written the naive way, one
keyframe_insert per key, in the same process. Run with a Blender Python, e.g.
    .venv-blender-42/bin/python bench/bake_speed.py
"""

import os
import platform
import statistics
import sys
import time

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, REPO)

import bpy  # noqa: E402

from asynfusion_blender import targets  # noqa: E402
from asynfusion_blender.bake import bake, curve_math, rig_reader  # noqa: E402
from asynfusion_blender.core import motion_file, quaternions  # noqa: E402

TAKE = os.path.join(REPO, "..", "shared", "data", "beat2", "2_scott_0_1_1.npz")
FRAMES = 1800
RUNS = int(os.environ.get("RUNS", "5"))


def fresh_scene():
    bpy.ops.wm.read_factory_settings(use_empty=True)
    bpy.context.scene.render.fps = 30
    return targets.create_builtin_rig(bpy.context)


def sixty_seconds() -> motion_file.Motion:
    m = motion_file.read_motion(TAKE)
    return motion_file.Motion(poses=m.poses[:FRAMES], expressions=m.expressions[:FRAMES],
                              trans=m.trans[:FRAMES], fps=30.0, betas=m.betas)


def bulk(motion) -> tuple[float, int]:
    armature, body = fresh_scene()
    t0 = time.perf_counter()
    summary = bake.bake_motion(bpy.context.scene, motion, armature, body, bake.BakeOptions())
    elapsed = time.perf_counter() - t0
    keys = sum(len(fc.keyframe_points) for owner in (armature, body.data.shape_keys)
               for fc in bake.action_support.action_curves(owner.animation_data.action, owner))
    assert summary.frames == FRAMES
    return elapsed, keys


def per_key(motion) -> tuple[float, int]:
    """Same values, written with one keyframe_insert per key (numpy work excluded)."""
    armature, body = fresh_scene()
    rig = rig_reader.rig_frame(armature, list(range(55)), True)
    i0, t = curve_math.resample_positions(motion.num_frames, motion.fps, 30.0)
    q = quaternions.axis_angle_to_quat(motion.joint_rotations())
    curves = curve_math.body_curves(q, motion.trans, rig, list(range(55)), True, i0, t)
    names = [kb.name for kb in body.data.shape_keys.key_blocks if kb.name.startswith("Exp")]
    face = curve_math.expression_curves(motion.expressions, names, i0, t)
    armature.animation_data_create().action = bpy.data.actions.new("per-key body")
    body.data.shape_keys.animation_data_create().action = bpy.data.actions.new("per-key face")
    keys = 0
    t0 = time.perf_counter()
    for owner, group in ((armature, curves), (body.data.shape_keys, face)):
        for c in group:
            prop_owner = owner.path_resolve(c.data_path.rsplit(".", 1)[0])
            prop = c.data_path.rsplit(".", 1)[1]
            for f, value in enumerate(c.values):
                if prop == "value":
                    setattr(prop_owner, prop, float(value))
                    index = -1                       # a scalar property takes no index
                else:
                    getattr(prop_owner, prop)[c.index] = float(value)
                    index = c.index
                owner.keyframe_insert(c.data_path, index=index, frame=1 + f, group=c.group)
                keys += 1
    return time.perf_counter() - t0, keys


def main() -> None:
    motion = sixty_seconds()
    runs = [bulk(motion) for _ in range(RUNS)]
    bulk_median = statistics.median(r[0] for r in runs)
    slow, slow_keys = per_key(motion)
    print(f"Blender {bpy.app.version_string}, Python {platform.python_version()}, "
          f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs")
    print(f"bulk bake (add + foreach_set): median {bulk_median:.3f} s of {RUNS} runs "
          f"{[round(r[0], 3) for r in runs]}, {runs[0][1]} keys")
    print(f"keyframe_insert per key:       {slow:.2f} s, {slow_keys} keys")
    print(f"speed-up: {slow / bulk_median:.0f}x")


if __name__ == "__main__":
    main()
