"""Press Generate -> last keyframe written, in real Blender, with a cold and a warm worker.

Runs under a Blender Python (the bpy wheel): builds the built-in rig, then for each clip
length times the same calls the modal operator makes (GenerateRun, a 0.1 s timer tick of
``step()``, ``finish()`` = the bake). "Cold" starts a new worker process (interpreter,
torch import, weights); "warm" reuses it, as the second Generate in a session does.
Clips are real speech (the BEAT2 takes in ../shared/data, cut to length). Median of
``--runs`` warm runs; cold is measured ``--cold-runs`` times with a fresh worker each.

    ASYNFUSION_BACKEND_PYTHON=.venv/bin/python .venv-blender-50/bin/python bench/generate_to_bake.py
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
import types

import bpy

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)
BEAT2 = os.path.join(REPO, "..", "shared", "data", "beat2", "2_scott_0_2_2.wav")   # 16-bit PCM

from asynfusion_blender import client, operators, targets  # noqa: E402


def make_clip(seconds: int, folder: str) -> str:
    """The first ``seconds`` of a real BEAT2 recording (repeated if needed), with the stdlib."""
    import wave

    with wave.open(BEAT2) as src:
        rate, width, channels = src.getframerate(), src.getsampwidth(), src.getnchannels()
        raw = src.readframes(src.getnframes())
    need = seconds * rate * channels * width
    raw = (raw * (need // len(raw) + 1))[:need]
    path = os.path.join(folder, f"speech_{seconds}s.wav")
    with wave.open(path, "wb") as dst:
        dst.setnchannels(channels)
        dst.setsampwidth(width)
        dst.setframerate(rate)
        dst.writeframes(raw)
    return path


def press_generate(audio: str) -> float:
    """Seconds from the button press to the bake's end, through the modal operator's calls."""
    settings = bpy.context.scene.asynfusion
    settings.audio_file = audio
    for action in list(bpy.data.actions):
        bpy.data.actions.remove(action)
    op = types.SimpleNamespace(report=lambda kinds, message: None)
    t0 = time.perf_counter()
    run = operators.GenerateRun(bpy.context)
    while (reply := run.step()) is None:
        time.sleep(0.1)                                 # the modal timer's interval
    if run.finish(bpy.context, reply, op) != {'FINISHED'}:
        raise SystemExit(f"generation failed: {operators.JOB.error}")
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lengths", type=int, nargs="+", default=[10, 60])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--cold-runs", type=int, default=2)
    args = parser.parse_args()

    import asynfusion_blender
    bpy.ops.wm.read_factory_settings(use_empty=True)
    asynfusion_blender.register()
    armature, body = targets.create_builtin_rig(bpy.context)
    settings = bpy.context.scene.asynfusion
    settings.armature, settings.face_mesh = armature, body
    print(f"# generate_to_bake — Blender {bpy.app.version_string}, {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} cores")
    print(f"{'clip':>5} {'cold s (median)':>16} {'warm s (median)':>16} {'warm min':>9} {'cold/warm':>10}")
    with tempfile.TemporaryDirectory() as tmp:
        for seconds in args.lengths:
            clip = make_clip(seconds, tmp)
            cold = []
            for _ in range(args.cold_runs):
                client.shutdown()
                cold.append(press_generate(clip))
            warm = [press_generate(clip) for _ in range(args.runs)]
            c, w = statistics.median(cold), statistics.median(warm)
            print(f"{seconds:>4}s {c:>16.2f} {w:>16.2f} {min(warm):>9.2f} {c / w:>9.1f}x", flush=True)
    client.shutdown()
    asynfusion_blender.unregister()
    sys.stdout.flush()
    os._exit(0)    # the 4.2 bpy wheel crashes during interpreter teardown


if __name__ == "__main__":
    main()
