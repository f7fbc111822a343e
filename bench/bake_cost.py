"""What a bake costs per keyframe: Blender's memory and the saved .blend, fitted on real bakes.

Bakes a real BEAT2 take, repeated to several lengths, onto the built-in rig (55 bones + root,
100 shape keys), each in a fresh Blender process, and measures the keyframes written, the
process's peak memory over what it held before the bake (arrays and keyframes together: what
must be free), and the size of the saved .blend. A straight line through
the points (bytes per keyframe) is what the add-on uses to say what a long bake will cost
before it starts (``asynfusion_blender/bake/cost_estimate.py``); ``--write`` stores it as data in
``asynfusion_blender/data/bake_cost.json``. Run with a Blender Python:

    .venv-blender-50/bin/python bench/bake_cost.py [--write]
"""

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile

import numpy as np

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, REPO)

import bpy  # noqa: E402

from asynfusion_blender import targets  # noqa: E402
from asynfusion_blender.bake import bake, cost_estimate  # noqa: E402
from asynfusion_blender.core import motion_file  # noqa: E402

TAKE = os.path.join(REPO, "..", "shared", "data", "beat2", "2_scott_0_1_1.npz")
MINUTES = (1, 5, 10)


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def peak_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024     # Linux reports KiB


def motion_of(minutes: float) -> motion_file.Motion:
    m = motion_file.read_motion(TAKE)
    n = int(minutes * 60 * 30)
    reps = n // m.num_frames + 1
    tile = lambda a: np.concatenate([a] * reps)[:n]  # noqa: E731
    return motion_file.Motion(poses=tile(m.poses), expressions=tile(m.expressions), trans=tile(m.trans),
                              fps=30.0, betas=m.betas)


def one_bake(minutes: float, folder: str) -> dict:
    bpy.ops.wm.read_factory_settings(use_empty=True)
    bpy.context.scene.render.fps = 30
    armature, body = targets.create_builtin_rig(bpy.context)
    motion = motion_of(minutes)
    before = max(rss_bytes(), peak_bytes())
    bake.bake_motion(bpy.context.scene, motion, armature, body, bake.BakeOptions())
    after = peak_bytes()
    keys = sum(len(fc.keyframe_points) for owner in (armature, body.data.shape_keys)
               for fc in bake.action_support.action_curves(owner.animation_data.action, owner))
    path = os.path.join(folder, f"bake_{minutes:g}.blend")
    bpy.ops.wm.save_as_mainfile(filepath=path)
    return {"minutes": minutes, "keys": keys, "memory": after - before, "blend": os.path.getsize(path)}


def fit(rows: list[dict], what: str) -> float:
    """Bytes per keyframe: least squares through the points (with an intercept, reported apart)."""
    keys = np.array([r["keys"] for r in rows], float)
    y = np.array([r[what] for r in rows], float)
    slope, _ = np.polyfit(keys, y, 1)
    return float(slope)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--write", action="store_true", help=f"store the fit in {cost_estimate.DATA_FILE}")
    p.add_argument("--one", type=float, default=None, help=argparse.SUPPRESS)   # child: one length
    p.add_argument("--folder", default=None, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.one is not None:
        print(json.dumps(one_bake(args.one, args.folder)))
        return 0
    with tempfile.TemporaryDirectory() as folder:
        rows = [json.loads(subprocess.run([sys.executable, __file__, "--one", str(m), "--folder", folder],
                                          check=True, capture_output=True, text=True).stdout.splitlines()[-1])
                for m in MINUTES]
    per_key = {"memory_bytes_per_key": fit(rows, "memory"), "blend_bytes_per_key": fit(rows, "blend")}
    print(f"Blender {bpy.app.version_string}, {platform.machine()}, {os.cpu_count()} CPUs; built-in rig\n")
    print("| minutes | keyframes | memory MB | .blend MB |")
    print("|---|---|---|---|")
    for r in rows:
        print(f"| {r['minutes']:g} | {r['keys']:,} | {r['memory'] / 1e6:.0f} | {r['blend'] / 1e6:.0f} |")
    print(f"\nper keyframe: {per_key['memory_bytes_per_key']:.0f} B of memory, "
          f"{per_key['blend_bytes_per_key']:.0f} B of .blend")
    if args.write:
        record = dict(per_key, measured_with=f"Blender {bpy.app.version_string}, bench/bake_cost.py",
                      minutes=list(MINUTES))
        with open(cost_estimate.DATA_FILE, "w") as f:
            json.dump(record, f, indent=1)
            f.write("\n")
        print(f"written to {cost_estimate.DATA_FILE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
