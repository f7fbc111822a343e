"""The headless script, run as its own process the way a pipeline would."""

import os
import shutil
import signal
import stat
import subprocess
import sys
import time

import bpy
import numpy as np
import pytest

from conftest import BEAT2, REPO, SPEECH

sys.path.insert(0, os.path.join(REPO, "tests"))
from file_faults import full_folder, read_only_folder  # noqa: E402

from asynfusion_blender.bake.action_support import action_curves  # noqa: E402

SCRIPT = os.path.join(REPO, "asynfusion_blender", "batch.py")
TAKES = ("2_scott_0_1_1", "2_scott_0_2_2")


def run_batch(*args, cwd):
    return subprocess.run([sys.executable, SCRIPT, *args], capture_output=True, text=True, cwd=cwd, timeout=900)


@pytest.mark.shared_data("beat2")
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


@pytest.mark.shared_data("beat2")
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


@pytest.mark.shared_data("beat2")
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


def one_error(done) -> str:
    """A failed run: exit 1 and exactly one line on stderr, no traceback."""
    assert done.returncode == 1, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("asynfusion: error: "), done.stderr
    return lines[0]


@pytest.mark.shared_data("beat2")
def test_an_input_is_never_the_output(tmp_path):
    take = tmp_path / "take.npz"
    shutil.copyfile(os.path.join(BEAT2, TAKES[0] + ".npz"), take)
    speech = tmp_path / "speech.ogg"
    shutil.copyfile(SPEECH, speech)
    before = take.read_bytes(), speech.read_bytes()
    assert "Refusing to write the output take.npz over the input take.npz" in one_error(
        run_batch("--motion", str(take), "--out", str(take), cwd=tmp_path))
    assert "Refusing to write the output speech.ogg" in one_error(
        run_batch("--audio", str(speech), "--out", str(speech), cwd=tmp_path))
    scene = tmp_path / "scene.blend"
    bpy.ops.wm.read_factory_settings(use_empty=True)
    bpy.ops.wm.save_as_mainfile(filepath=str(scene))
    (tmp_path / "link.blend").symlink_to(scene)
    stamp = scene.stat().st_mtime_ns
    assert "Refusing to overwrite the input link.blend" in one_error(
        run_batch("--blend", str(tmp_path / "link.blend"), "--motion", str(take), "--out", str(scene), cwd=tmp_path))
    assert (take.read_bytes(), speech.read_bytes()) == before and scene.stat().st_mtime_ns == stamp
    assert sorted(os.listdir(tmp_path)) == ["link.blend", "scene.blend", "speech.ogg", "take.npz"]


@pytest.mark.shared_data("beat2")
def test_an_output_that_is_a_folder_or_a_pipe_is_refused(tmp_path):
    take = os.path.join(BEAT2, TAKES[0] + ".npz")
    (tmp_path / "out.blend").mkdir()
    assert "is a folder" in one_error(run_batch("--motion", take, "--out", str(tmp_path / "out.blend"), cwd=tmp_path))
    os.mkfifo(tmp_path / "pipe.blend")
    assert "not a regular file" in one_error(
        run_batch("--motion", take, "--out", str(tmp_path / "pipe.blend"), cwd=tmp_path))
    assert stat.S_ISFIFO(os.lstat(tmp_path / "pipe.blend").st_mode)
    assert sorted(os.listdir(tmp_path)) == ["out.blend", "pipe.blend"] and not os.listdir(tmp_path / "out.blend")


@pytest.mark.shared_data("beat2")
def test_a_missing_output_folder_is_refused_alike_for_audio_and_motion(tmp_path):
    out = str(tmp_path / "missing" / "out.blend")
    motion = one_error(run_batch("--motion", os.path.join(BEAT2, TAKES[0] + ".npz"), "--out", out, cwd=tmp_path))
    audio = one_error(run_batch("--audio", SPEECH, "--out", out, cwd=tmp_path))
    assert motion == audio and "does not exist; create it first" in motion
    assert os.listdir(tmp_path) == []


@pytest.mark.shared_data("beat2")
def test_a_damaged_scene_file_is_one_sentence(tmp_path):
    broken = tmp_path / "broken.blend"
    broken.write_bytes(b"BLENDER-v300" + b"\x00" * 100)
    assert "broken.blend cannot be opened" in one_error(
        run_batch("--blend", str(broken), "--motion", os.path.join(BEAT2, TAKES[0] + ".npz"), cwd=tmp_path))
    assert os.listdir(tmp_path) == ["broken.blend"]


@pytest.mark.shared_data("beat2")
def test_a_read_only_output_folder_is_one_sentence(tmp_path):
    folder = tmp_path / "locked"
    folder.mkdir()
    with read_only_folder(folder):
        line = one_error(run_batch("--motion", os.path.join(BEAT2, TAKES[0] + ".npz"),
                                   "--out", str(folder / "out.blend"), cwd=tmp_path))
        assert "out.blend" in line and os.listdir(folder) == []


def test_a_folder_with_one_bad_recording_leaves_no_motion_files_and_no_blend(tmp_path):
    folder = tmp_path / "speech"
    folder.mkdir()
    shutil.copyfile(SPEECH, folder / "a_good.ogg")
    (folder / "b_bad.wav").write_text("not a recording")
    out = tmp_path / "out" / "baked.blend"
    out.parent.mkdir()
    line = one_error(run_batch("--audio", str(folder), "--out", str(out), cwd=tmp_path))
    assert "b_bad.wav" in line
    assert os.listdir(out.parent) == []


def test_ctrl_c_is_one_line_exit_130_and_saves_nothing(tmp_path, long_speech):
    out = tmp_path / "out" / "baked.blend"
    out.parent.mkdir()
    # As from a terminal: a test run started in the background (nohup, `make test &`, some CI
    # runners) inherits SIGINT ignored, and Python then keeps ignoring it in the batch process.
    proc = subprocess.Popen([sys.executable, SCRIPT, "--audio", long_speech, "--out", str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        deadline = time.monotonic() + 300      # generous: this waits on the event, it measures nothing
        while not os.listdir(out.parent) and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)                   # the staging folder appears once generation starts
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    assert err.strip() == "asynfusion: interrupted; nothing was saved."
    assert os.listdir(out.parent) == []


def test_a_folder_of_recordings_keeps_its_motion_files_beside_the_saved_blend(tmp_path):
    out = tmp_path / "baked.blend"
    done = run_batch("--audio", SPEECH, "--out", str(out), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert sorted(os.listdir(tmp_path)) == ["asynfusion", "baked.blend"]
    assert os.listdir(tmp_path / "asynfusion") == ["5703-47212-0000-seed0.npz"]


@pytest.mark.parametrize("change,words", [
    ({"mocap_frame_rate": np.array(np.inf)}, "frame rate of inf"),
    ({"mocap_frame_rate": np.array("fast")}, "frame rate of 'fast'"),
    ({"expressions": np.full((30, 100), np.nan)}, "NaN or infinite values in 'expressions'"),
    ({"trans": np.full((30, 3), np.inf)}, "NaN or infinite values in 'trans'"),
])
def test_broken_motion_is_one_line_and_nothing_is_saved(tmp_path, change, words):
    arrays = {"poses": np.zeros((30, 165)), "expressions": np.zeros((30, 100)), "trans": np.zeros((30, 3))}
    arrays.update(change)
    np.savez(tmp_path / "broken.npz", **arrays)
    assert words in one_error(run_batch("--motion", str(tmp_path / "broken.npz"), cwd=tmp_path))
    assert os.listdir(tmp_path) == ["broken.npz"]


@pytest.mark.shared_data("beat2")
def test_a_full_disk_is_one_line_and_leaves_nothing(tmp_path):
    folder = tmp_path / "small"
    folder.mkdir()
    with full_folder(folder, size="200k"):
        line = one_error(run_batch("--motion", os.path.join(BEAT2, TAKES[0] + ".npz"),
                                   "--out", str(folder / "out.blend"), cwd=tmp_path))
        assert line.startswith("asynfusion: error: Cannot save out.blend in ") and os.listdir(folder) == []


@pytest.mark.shared_data("beat2")
def test_other_characters_by_name_and_through_a_bone_map(tmp_path):
    """--rig takes a Mixamo character (detected); an unknown rig is refused with one line until
    --write-bone-map's template, filled in, is passed with --bone-map."""
    import json

    from foreign_rigs import a_pose_joints, build_rig, profile_names
    from asynfusion_blender.core import skeleton

    bpy.ops.wm.read_factory_settings(use_empty=True)
    build_rig("Armature", profile_names("mixamo.json", "mixamorig:"), a_pose_joints(), y_up_data=True)
    custom = {j: f"B_{n.lower()}" for j, n in profile_names("mixamo.json").items() if j < 22}
    build_rig("Custom", custom, a_pose_joints(), centimetres=False)
    scene = tmp_path / "characters.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(scene))
    take = os.path.join(BEAT2, TAKES[0] + ".npz")

    done = run_batch("--blend", str(scene), "--motion", take, "--rig", "Armature", "--out", str(tmp_path / "a.blend"), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "Rig Armature: Mixamo profile" in done.stdout
    assert "Rig Armature: no mesh with Exp### or ARKit shape keys (see --face), so the face is not baked" in done.stdout
    assert "left_eye_smplhf" not in done.stdout          # the face (eyes) is not asked of a rig without one
    assert f"{TAKES[0]}: warning: Armature 'Armature' (Mixamo) has no bones for jaw; those joints were not baked." in done.stdout

    refused = run_batch("--blend", str(scene), "--motion", take, "--rig", "Custom", "--out", str(tmp_path / "b.blend"), cwd=tmp_path)
    assert refused.returncode == 1 and len(refused.stderr.strip().splitlines()) == 1
    assert "Armature 'Custom' has no bones named like" in refused.stderr and "--bone-map" in refused.stderr
    assert not (tmp_path / "b.blend").exists()

    bone_map = tmp_path / "custom.json"
    written = run_batch("--blend", str(scene), "--write-bone-map", str(bone_map), "--rig", "Custom", cwd=tmp_path)
    assert written.returncode == 0, written.stderr
    data = json.loads(bone_map.read_text())
    data["bones"].update({skeleton.JOINT_NAMES[j]: n for j, n in custom.items()})
    bone_map.write_text(json.dumps(data))
    done = run_batch("--blend", str(scene), "--motion", take, "--rig", "Custom", "--bone-map", str(bone_map),
                     "--parts", "body,root", "--out", str(tmp_path / "c.blend"), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "Rig Custom: Custom bone map profile" in done.stdout
    bpy.ops.wm.open_mainfile(filepath=str(tmp_path / "c.blend"))
    assert bpy.data.objects["Custom"].animation_data.action.name == f"{TAKES[0]} body"
    assert bpy.data.objects["Armature"].animation_data is None


def test_a_large_bake_is_announced_before_it_is_generated(addon, capsys):
    from asynfusion_blender import batch

    scene = bpy.context.scene
    batch._announce(scene, 30.0, None, frozenset({"body", "hands", "root"}))
    assert capsys.readouterr().out == ""                        # half a minute is not large
    batch._announce(scene, 3600.0, None, frozenset({"body", "hands", "root"}))
    out = capsys.readouterr().out
    assert out.startswith("Baking 60 min of motion writes about ") and "of memory" in out


@pytest.mark.shared_data("beat2")
def test_one_bake_drives_a_whole_non_smplx_character_body_and_arkit_face(tmp_path):
    """A Mixamo-named character whose mesh has ARKit-named keys: body and face in one bake,
    the face found on the rig's own mesh without --face."""
    from foreign_rigs import a_pose_joints, build_rig, profile_names

    bpy.ops.wm.read_factory_settings(use_empty=True)
    rig = build_rig("Armature", profile_names("mixamo.json", "mixamorig:"), a_pose_joints(), y_up_data=True)
    mesh = bpy.data.meshes.new("Face")
    mesh.from_pydata([(0, 0, 0), (0.01, 0, 0), (0, 0, 0.01)], [], [(0, 1, 2)])
    face = bpy.data.objects.new("Face", mesh)
    bpy.context.scene.collection.objects.link(face)
    face.parent = rig
    face.modifiers.new("Armature", 'ARMATURE').object = rig
    face.shape_key_add(name="Basis", from_mix=False)
    for k, name in enumerate(("jawOpen", "mouthClose", "eyeBlinkLeft", "eyeBlinkRight")):
        face.shape_key_add(name=name, from_mix=False).data[k % 3].co.y += 0.01
    scene = tmp_path / "character.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(scene))

    done = run_batch("--blend", str(scene), "--motion", os.path.join(BEAT2, TAKES[0] + ".npz"), "--rig", "Armature",
                     "--out", str(tmp_path / "out.blend"), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "Rig Armature: Mixamo profile" in done.stdout and "face is not baked" not in done.stdout
    assert f"{TAKES[0]}: Face 'Face': 4 ARKit keys" in done.stdout
    bpy.ops.wm.open_mainfile(filepath=str(tmp_path / "out.blend"))
    assert bpy.data.objects["Armature"].animation_data.action.name == f"{TAKES[0]} body"
    keys = bpy.data.objects["Face"].data.shape_keys
    curves = {fc.data_path for fc in action_curves(keys.animation_data.action, keys)}
    assert curves == {f'key_blocks["{n}"].value' for n in ("jawOpen", "mouthClose", "eyeBlinkLeft", "eyeBlinkRight")}


def test_regenerate_a_range_of_a_take_into_a_new_take(tmp_path):
    """Real worker and weights: the timeline's frames 81-160 of a baked take (24 fps from frame 1:
    motion frames 100-199) are resampled with a new seed, the take found in the .blend without
    --from; the other frames of the new motion file are the take's bit for bit, and the new take
    is baked where the take starts; a range outside the take is one line, exit 1, nothing saved."""
    a = run_batch("--audio", SPEECH, "--start-frame", "1", "--out", str(tmp_path / "a.blend"), cwd=tmp_path)
    assert a.returncode == 0, a.stderr
    assert "5703-47212-0000-seed0: Baked 356 frames (14.8 s)" in a.stdout       # named as variations are
    take = tmp_path / "asynfusion" / "5703-47212-0000-seed0.npz"
    done = run_batch("--blend", str(tmp_path / "a.blend"), "--audio", SPEECH, "--regenerate", "81", "160",
                     "--seed", "4", "--start-frame", "50", "--out", str(tmp_path / "b.blend"), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "5703-47212-0000-seed4-frames81-160: Baked 356 frames (14.8 s), frames 1-356" in done.stdout
    old = np.load(take)
    new = np.load(tmp_path / "asynfusion" / "5703-47212-0000-seed4-frames81-160.npz")
    for key in ("poses", "expressions", "trans"):
        assert np.array_equal(old[key][:100], new[key][:100]) and np.array_equal(old[key][200:], new[key][200:])
        assert not np.array_equal(old[key][100:200], new[key][100:200])
    bad = run_batch("--audio", SPEECH, "--regenerate", "300", "900", "--from", str(take),
                    "--out", str(tmp_path / "c.blend"), cwd=tmp_path)
    assert one_error(bad).endswith("Frames 300-900 are not inside take 5703-47212-0000-seed0 (frames 1-356); "
                                   "choose frames within it, the first before the last.")
    assert not (tmp_path / "c.blend").exists()
    alone = run_batch("--audio", SPEECH, "--regenerate", "1", "5", "--out", str(tmp_path / "d.blend"), cwd=tmp_path)
    assert "The scene has no take generated from 5703-47212-0000.ogg" in one_error(alone)


def test_variations_are_one_batched_generate_and_one_take_each(tmp_path):
    """Three seeds in one worker request: three motion files, three kept takes, each its seed's."""
    done = run_batch("--audio", SPEECH, "--variations", "3", "--seed", "5", "--out", str(tmp_path / "v.blend"),
                     cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    names = [f"5703-47212-0000-seed{k}" for k in (5, 6, 7)]
    assert sorted(os.listdir(tmp_path / "asynfusion")) == [n + ".npz" for n in names]
    for n in names:
        assert f"{n}: Baked 356 frames (14.8 s)" in done.stdout
    poses = [np.load(tmp_path / "asynfusion" / f"{n}.npz")["poses"] for n in names]
    assert not np.array_equal(poses[0], poses[1]) and not np.array_equal(poses[1], poses[2])
    bpy.ops.wm.open_mainfile(filepath=str(tmp_path / "v.blend"))
    from asynfusion_blender import takes
    assert sorted((t.name, t.seed) for t in takes.all_takes()) == [(n, k) for n, k in zip(names, (5, 6, 7))]
    assert "--variations needs --audio" in one_error(run_batch("--motion", str(tmp_path / "asynfusion"),
                                                               "--variations", "2", cwd=tmp_path))
    assert "a count from 1 to 16" in one_error(run_batch("--audio", SPEECH, "--variations", "17", cwd=tmp_path))
