"""Issue 24 in real Blender: no option writes over an input (batch.py and the panel), one seed
range and take tags that hold all of it, special files refused by type without blocking, bone
maps with a byte-order mark read and malformed ones refused in one sentence, and a failed
bake of several takes leaves the scene as it was."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import bpy
import numpy as np
import pytest

from conftest import SPEECH, TAKE, TAKE_WAV, scene_state
from test_batch import SCRIPT, one_error, run_batch

MAX_SEED = 2**32 - 1


def snapshot(folder):
    """Every file under ``folder`` with its bytes (links as links), to compare before/after."""
    found = {}
    for root, _dirs, names in os.walk(folder):
        for name in names:
            path = os.path.join(root, name)
            found[os.path.relpath(path, folder)] = (os.readlink(path) if os.path.islink(path)
                                                    else open(path, "rb").read())
    return found


@pytest.fixture
def inputs(tmp_path):
    """A run's inputs: a saved scene with an armature and a recording it reads, a motion file with
    its recording beside it, a take to regenerate, a filled-in bone map."""
    shutil.copyfile(SPEECH, tmp_path / "speech.ogg")
    shutil.copyfile(TAKE, tmp_path / "a.npz")
    shutil.copyfile(TAKE, tmp_path / "take.npz")
    shutil.copyfile(TAKE, tmp_path / "rec.npz")
    shutil.copyfile(TAKE_WAV, tmp_path / "rec.wav")
    (tmp_path / "map.json").write_text(json.dumps({"bones": {"pelvis": "Root"}}))
    bpy.ops.wm.read_factory_settings(use_empty=True)
    rig = bpy.data.objects.new("Rig", bpy.data.armatures.new("Rig"))
    bpy.context.scene.collection.objects.link(rig)
    bpy.data.sounds.load(str(tmp_path / "speech.ogg")).use_fake_user = True
    bpy.ops.wm.save_as_mainfile(filepath=str(tmp_path / "scene.blend"))
    return tmp_path


# (arguments, with {d} for the folder) of batch.py runs that would each write over one of their inputs
OVERWRITES = {
    "preview over the --blend scene": "--blend {d}/scene.blend --motion {d}/a.npz --out {d}/o.blend "
                                      "--preview {d}/scene.blend",
    "preview over the --from take": "--audio {d}/speech.ogg --regenerate 1 5 --from {d}/take.npz --out {d}/o.blend "
                                    "--preview {d}/take.npz",
    "preview over the --bone-map": "--motion {d}/a.npz --bone-map {d}/map.json --out {d}/o.blend "
                                   "--preview {d}/map.json",
    "out over the --bone-map": "--motion {d}/a.npz --bone-map {d}/map.json --out {d}/map.json",
    "out over the recording beside the motion": "--motion {d}/rec.npz --out {d}/rec.wav",
    "write-bone-map over the open scene": "--blend {d}/scene.blend --write-bone-map {d}/scene.blend",
    "write-bone-map over a recording the scene plays": "--blend {d}/scene.blend --write-bone-map {d}/speech.ogg",
    "write-bone-map over the --bone-map": "--blend {d}/scene.blend --bone-map {d}/map.json "
                                          "--write-bone-map {d}/map.json",
    "motion published over the --from take": "--audio {d}/speech.ogg --regenerate 1 5 --from "
                                             "{d}/asynfusion/speech-seed3-frames1-5.npz --seed 3 --out {d}/o.blend",
}


@pytest.mark.shared_data("beat2")
@pytest.mark.parametrize("case", sorted(OVERWRITES))
def test_no_option_writes_over_an_input(inputs, case):
    os.mkdir(inputs / "asynfusion")
    shutil.copyfile(TAKE, inputs / "asynfusion" / "speech-seed3-frames1-5.npz")
    before = snapshot(inputs)
    line = one_error(run_batch(*OVERWRITES[case].format(d=inputs).split(), cwd=inputs))
    assert "Refusing to write the output" in line and "; choose another output file." in line
    assert snapshot(inputs) == before


@pytest.mark.shared_data("beat2")
def test_the_open_scene_is_overwritten_only_as_the_out_with_overwrite(inputs):
    done = run_batch("--blend", str(inputs / "scene.blend"), "--motion", str(inputs / "a.npz"), "--parts", "body",
                     "--out", str(inputs / "scene.blend"), "--overwrite", cwd=inputs)
    assert done.returncode == 0, done.stderr
    refused = run_batch("--blend", str(inputs / "scene.blend"), "--motion", str(inputs / "a.npz"), "--parts", "body",
                        "--out", str(inputs / "scene.blend"), "--overwrite", "--preview", str(inputs / "scene.blend"),
                        cwd=inputs)
    assert "Two outputs of this run are the same file scene.blend" in one_error(refused)


@pytest.mark.shared_data("beat2")
def test_write_bone_map_template_from_the_panel_never_writes_over_an_input(addon, inputs):
    bpy.ops.wm.open_mainfile(filepath=str(inputs / "scene.blend"))
    settings = bpy.context.scene.asynfusion
    settings.armature = bpy.data.objects["Rig"]
    settings.audio_file = str(inputs / "rec.wav")
    from asynfusion_blender import operators
    before = snapshot(inputs)
    for target, name in (("scene.blend", "scene.blend"), ("rec.wav", "rec.wav"), ("speech.ogg", "speech.ogg")):
        with pytest.raises(RuntimeError, match=f"Refusing to write the output {name} over the input"):
            bpy.ops.asynfusion.write_bone_map(filepath=str(inputs / target))
        assert operators.JOB.error.startswith(f"Refusing to write the output {name}")
    assert snapshot(inputs) == before
    assert bpy.ops.asynfusion.write_bone_map(filepath=str(inputs / "rig_map.json")) == {'FINISHED'}
    assert json.loads((inputs / "rig_map.json").read_text())["bones"]["pelvis"] == ""
    assert sorted(set(os.listdir(inputs)) - set(before)) == ["rig_map.json"]


@pytest.mark.parametrize("seed,variations", [("-1", "1"), (str(2**32), "1"), (str(MAX_SEED), "2"),
                                             (str(2**64), "1")])
def test_a_seed_outside_the_range_is_one_line_before_any_work(tmp_path, seed, variations):
    line = one_error(run_batch("--audio", SPEECH, "--seed", seed, "--variations", variations,
                               "--out", str(tmp_path / "o.blend"), cwd=tmp_path))
    assert f"Seeds are whole numbers from 0 to {MAX_SEED}" in line
    assert os.listdir(tmp_path) == []


def test_a_take_tag_holds_the_largest_seed_and_a_failed_bake_of_several_takes_changes_nothing(scene, short_take,
                                                                                               tmp_path):
    from asynfusion_blender import generation, takes
    from asynfusion_blender.bake import bake

    armature, body = scene
    options = [bake.BakeOptions(parts=frozenset({"body", "face"}), start_frame=1, name=f"v{k}", seed=MAX_SEED - k,
                                keep=False) for k in range(2)]
    generation.bake_motion_files(bpy.context.scene, [short_take, short_take], armature, body, options)
    assert sorted(t.seed for t in takes.all_takes()) == [MAX_SEED - 1, MAX_SEED]
    before = scene_state()
    broken = tmp_path / "broken.npz"
    np.savez(broken, poses=np.zeros((30, 165)), asynfusion_meta=np.array("[1, 2]"))
    with pytest.raises(Exception, match="not a JSON object"):
        generation.bake_motion_files(bpy.context.scene, [short_take, str(broken)], armature, body, options)
    assert scene_state() == before and len(takes.all_takes()) == 2


def test_motion_metadata_that_is_not_an_object_is_one_sentence_in_the_panel(scene, tmp_path):
    from asynfusion_blender import operators

    path = tmp_path / "odd.npz"
    np.savez(path, poses=np.zeros((30, 165)), asynfusion_meta=np.array("null"))
    before = scene_state()
    with pytest.raises(RuntimeError, match="odd.npz has metadata"):
        bpy.ops.asynfusion.bake_motion(filepath=str(path))
    assert operators.JOB.error == ("odd.npz has metadata ('asynfusion_meta') that is not a JSON object; "
                                   "regenerate the file or remove that entry.")
    assert scene_state() == before


@pytest.mark.shared_data("beat2")
@pytest.mark.parametrize("where", ["--bone-map", "--from", "--motion folder", "--audio"])
def test_a_pipe_given_as_an_input_is_refused_by_its_type_without_blocking(tmp_path, where):
    pipe = tmp_path / ("pipe.json" if where == "--bone-map" else "pipe.wav" if where == "--audio" else "pipe.npz")
    os.mkfifo(pipe)
    args = {"--bone-map": ["--motion", TAKE, "--bone-map", str(pipe)],
            "--from": ["--audio", SPEECH, "--regenerate", "1", "5", "--from", str(pipe)],
            "--motion folder": ["--motion", str(tmp_path)],
            "--audio": ["--audio", str(pipe)]}[where]
    line = one_error(run_batch(*args, "--out", str(tmp_path / "o.blend"), cwd=tmp_path))
    assert f"{pipe.name} is a pipe or a device, not a regular file" in line
    assert os.listdir(tmp_path) == [pipe.name]


@pytest.mark.parametrize("device", ["/dev/null", "/dev/zero"])
def test_a_device_as_audio_is_named_as_such(tmp_path, device):
    line = one_error(run_batch("--audio", device, "--out", str(tmp_path / "o.blend"), cwd=tmp_path))
    assert line == (f"asynfusion: error: Audio file {os.path.basename(device)} is a pipe or a device, "
                    "not a regular file; choose a recording.")


def test_a_bone_map_saved_with_a_byte_order_mark_reads(addon, tmp_path):
    from asynfusion_blender.rig import profiles

    path = tmp_path / "notepad.json"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps({"bones": {"pelvis": "Hips", "spine1": ["Spine", "Spine1"]},
                                                   "absorbed": ["spine2"]}).encode())
    profile = profiles.load_profile(str(path))
    assert profile.bones == {0: ("Hips",), 3: ("Spine", "Spine1")} and profile.absorbed == frozenset({6})


@pytest.mark.parametrize("text,words", [
    ('{"bones": {"pelvis": "Hips"}, "absorbed": 5}', "gives 'absorbed' something other than a list"),
    ('{"bones": {"pelvis": "Hips"}, "absorbed": [[1]]}', "gives 'absorbed' something other than a list"),
    ('[[1]]', "is not a JSON object of SMPL-X joint names"),
    ('{"bones": {"pelvis": "Hips"}, "properties": {"torso": 5}}', "gives 'properties' something other than"),
    ("[" * 100000 + "]" * 100000, "is nested too deeply to be a bone map"),
])
def test_a_malformed_bone_map_is_one_sentence(addon, tmp_path, text, words):
    from asynfusion_blender.rig import profiles

    path = tmp_path / "map.json"
    path.write_text(text)
    with pytest.raises(profiles.BoneMapError) as err:
        profiles.load_profile(str(path))
    message = str(err.value)
    assert message.startswith("Bone map map.json ") and words in message and "\n" not in message


@pytest.mark.shared_data("beat2")
def test_a_malformed_bone_map_is_one_line_in_batch(tmp_path):
    (tmp_path / "map.json").write_text('{"bones": {"pelvis": "Hips"}, "absorbed": 5}')
    line = one_error(run_batch("--motion", TAKE, "--bone-map", str(tmp_path / "map.json"),
                               "--out", str(tmp_path / "o.blend"), cwd=tmp_path))
    assert "Bone map map.json gives 'absorbed' something other than a list of SMPL-X joint names." in line
    assert sorted(os.listdir(tmp_path)) == ["map.json"]


@pytest.mark.shared_data("beat2")
def test_a_killed_runs_staging_folder_is_removed_by_the_next_run(tmp_path):
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()                                         # a process id that no longer runs
    dead = tmp_path / f".asynfusion-{gone.pid}-0123abcd.part"
    dead.mkdir()
    (dead / "speech-seed0.npz").write_bytes(b"half")
    alive = tmp_path / f".asynfusion-{os.getpid()}-0123abcd.part"      # a run still going: not touched
    alive.mkdir()
    done = run_batch("--motion", TAKE, "--parts", "body", "--out", str(tmp_path / "o.blend"), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert sorted(os.listdir(tmp_path)) == [alive.name, "o.blend"]


def test_sigterm_is_one_line_and_leaves_nothing(tmp_path, long_speech):
    out = tmp_path / "out" / "baked.blend"
    out.parent.mkdir()
    proc = subprocess.Popen([sys.executable, SCRIPT, "--audio", long_speech, "--out", str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path)
    try:
        deadline = time.monotonic() + 300      # waits on the event, measures nothing
        while not os.listdir(out.parent) and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)                   # the staging folder appears once generation starts
        proc.terminate()
        _, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 128 + signal.SIGTERM, err
    assert err.strip() == "asynfusion: terminated; nothing was saved."
    assert os.listdir(out.parent) == []


def test_a_backend_python_that_is_not_there_is_one_line(tmp_path):
    line = one_error(run_batch("--audio", SPEECH, "--python", "/nope/python", "--out", str(tmp_path / "o.blend"),
                               cwd=tmp_path))
    assert line == "asynfusion: error: The backend Python /nope/python is not an executable file; check --python."
    assert os.listdir(tmp_path) == []
