"""Retarget bake speed: 60 s of motion onto a Rigify rig next to the same bake on the built-in rig.

Both bakes write the body, hands, jaw and root (no face shape keys, which a Rigify rig has not),
so the difference is the retarget alone: profile detection, reading the rig's rest frames and
anchors, the world-space numpy transfer, and one bulk write per F-curve on a 700-bone rig.
The Rigify rig is generated from Blender's human metarig once, before timing. Median of RUNS
alternating runs in one process. Run with a Blender Python, e.g.
    .venv-blender-42/bin/python bench/retarget_speed.py
"""

import os
import platform
import statistics
import sys
import time

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, REPO)

import bpy  # noqa: E402  (first: it puts Blender's own modules such as addon_utils on the path)
import addon_utils  # noqa: E402

from asynfusion_blender import targets  # noqa: E402
from asynfusion_blender.bake import bake  # noqa: E402
from bake_speed import sixty_seconds  # noqa: E402

RUNS = int(os.environ.get("RUNS", "5"))
PARTS = frozenset({"body", "hands", "jaw", "root"})


def scene_with_both_rigs() -> tuple[bpy.types.Object, bpy.types.Object]:
    bpy.ops.wm.read_factory_settings(use_empty=True)
    bpy.context.scene.render.fps = 30
    addon_utils.enable("rigify", default_set=True)
    bpy.ops.object.armature_human_metarig_add()
    metarig = bpy.context.object
    bpy.ops.pose.rigify_generate()
    rigify = next(o for o in bpy.data.objects if o.type == 'ARMATURE' and o is not metarig)
    bpy.data.objects.remove(metarig)
    builtin, _ = targets.create_builtin_rig(bpy.context)
    return builtin, rigify


def timed(motion, armature) -> float:
    t0 = time.perf_counter()
    summary = bake.bake_motion(bpy.context.scene, motion, armature, None, bake.BakeOptions(parts=PARTS))
    elapsed = time.perf_counter() - t0
    assert summary.frames == len(motion.poses)
    return elapsed


def main() -> None:
    motion = sixty_seconds()
    builtin, rigify = scene_with_both_rigs()
    timed(motion, builtin)          # first allocations and imports, not counted
    timed(motion, rigify)
    smplx, retarget = [], []
    for _ in range(RUNS):
        smplx.append(timed(motion, builtin))
        retarget.append(timed(motion, rigify))
    a, b = statistics.median(smplx), statistics.median(retarget)
    print(f"Blender {bpy.app.version_string}, Python {platform.python_version()}, "
          f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs; "
          f"Rigify rig of {len(rigify.data.bones)} bones")
    print(f"built-in SMPL-X rig: median {a:.3f} s of {RUNS} {[round(t, 3) for t in smplx]}")
    print(f"Rigify rig:          median {b:.3f} s of {RUNS} {[round(t, 3) for t in retarget]}")
    print(f"ratio: {b / a:.2f}x")


if __name__ == "__main__":
    main()
