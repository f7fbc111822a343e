"""The headless script, run as its own process the way a pipeline would."""

import os
import subprocess
import sys

import bpy

from conftest import BEAT2, REPO

SCRIPT = os.path.join(REPO, "asynfusion_blender", "batch.py")
TAKES = ("2_scott_0_1_1", "2_scott_0_2_2")


def run_batch(*args, cwd):
    return subprocess.run([sys.executable, SCRIPT, *args], capture_output=True, text=True, cwd=cwd, timeout=300)


def test_bakes_a_folder_into_one_action_per_file(tmp_path):
    folder = tmp_path / "takes"
    folder.mkdir()
    for take in TAKES:
        for ext in (".npz", ".wav"):
            os.symlink(os.path.join(BEAT2, take + ext), folder / (take + ext))
    out = tmp_path / "out.blend"
    done = run_batch("--motion", str(folder), "--out", str(out), "--start-frame", "10", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    lines = [line for line in done.stdout.splitlines() if line.startswith(("2_scott", "Saved"))]
    baked = [line for line in lines if "Baked" in line]
    assert len(baked) == 2 and baked[0].startswith("2_scott_0_1_1: Baked 1525 frames (63.5 s), frames 10-1534")
    assert lines[-1] == f"Saved {out}"
    bpy.ops.wm.open_mainfile(filepath=str(out))
    names = {a.name for a in bpy.data.actions}
    assert {f"{t} {part}" for t in TAKES for part in ("body", "face")} <= names
    armature = bpy.data.objects["AsynFusion"]                 # the built-in rig was created
    assert sorted(o.type for o in bpy.data.objects) == ["ARMATURE", "MESH"]   # in an empty scene: no startup cube
    assert armature.animation_data.action.name == "2_scott_0_2_2 body"
    assert bpy.data.actions["2_scott_0_1_1 body"].use_fake_user
    assert bpy.data.actions["2_scott_0_1_1 body"].frame_range[0] == 10


def test_bad_file_fails_cleanly_with_one_line(tmp_path):
    folder = tmp_path / "takes"
    folder.mkdir()
    os.symlink(os.path.join(BEAT2, TAKES[0] + ".npz"), folder / "a.npz")
    (folder / "b.npz").write_bytes(b"garbage")
    out = tmp_path / "out.blend"
    done = run_batch("--motion", str(folder), "--out", str(out), cwd=tmp_path)
    assert done.returncode == 1
    assert done.stderr.strip() == (
        "asynfusion: error: b.npz is not a readable motion file; "
        "choose an .npz with 'poses' and 'expressions' arrays.")
    assert not out.exists()


def test_never_overwrites_the_input_blend_unless_asked(tmp_path):
    scene = tmp_path / "scene.blend"
    bpy.ops.wm.read_factory_settings(use_empty=True)
    bpy.ops.wm.save_as_mainfile(filepath=str(scene))
    stamp = scene.stat().st_mtime_ns
    take = os.path.join(BEAT2, TAKES[0] + ".npz")
    done = run_batch("--blend", str(scene), "--motion", take, "--out", str(scene), cwd=tmp_path)
    assert done.returncode == 1 and "Refusing to overwrite the input scene.blend" in done.stderr
    assert scene.stat().st_mtime_ns == stamp
    done = run_batch("--blend", str(scene), "--motion", take, "--parts", "body,root", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "scene_baked.blend").exists() and scene.stat().st_mtime_ns == stamp
    done = run_batch("--motion", take, "--rig", "Nobody", cwd=tmp_path)
    assert done.returncode == 1 and done.stderr.strip() == "asynfusion: error: The scene has no armature called 'Nobody'."
