"""ARKit outputs beside the SMPL-X motion: ``arkit`` arrays in the motion file, a Live Link Face
CSV, and ``asynfusion generate --arkit --livelink`` writing both."""

from __future__ import annotations

import csv
import subprocess

import numpy as np
import pytest

from asynfusion.core import arkit, face_track, livelink
from asynfusion.core.motion_file import Motion, MotionFileError, read_motion, write_motion
from asynfusion.core.quaternions import axis_angle_to_matrix

from .conftest import BEAT2, PYTHON, SPEECH_OGG, cli_env

# The column layout of a Live Link Face take export, spelled out once here as the reference.
LIVE_LINK_HEADER = (
    "Timecode,BlendShapeCount,EyeBlinkLeft,EyeLookDownLeft,EyeLookInLeft,EyeLookOutLeft,EyeLookUpLeft,"
    "EyeSquintLeft,EyeWideLeft,EyeBlinkRight,EyeLookDownRight,EyeLookInRight,EyeLookOutRight,EyeLookUpRight,"
    "EyeSquintRight,EyeWideRight,JawForward,JawRight,JawLeft,JawOpen,MouthClose,MouthFunnel,MouthPucker,"
    "MouthRight,MouthLeft,MouthSmileLeft,MouthSmileRight,MouthFrownLeft,MouthFrownRight,MouthDimpleLeft,"
    "MouthDimpleRight,MouthStretchLeft,MouthStretchRight,MouthRollLower,MouthRollUpper,MouthShrugLower,"
    "MouthShrugUpper,MouthPressLeft,MouthPressRight,MouthLowerDownLeft,MouthLowerDownRight,MouthUpperUpLeft,"
    "MouthUpperUpRight,BrowDownLeft,BrowDownRight,BrowInnerUp,BrowOuterUpLeft,BrowOuterUpRight,CheekPuff,"
    "CheekSquintLeft,CheekSquintRight,NoseSneerLeft,NoseSneerRight,TongueOut,HeadYaw,HeadPitch,HeadRoll,"
    "LeftEyeYaw,LeftEyePitch,LeftEyeRoll,RightEyeYaw,RightEyePitch,RightEyeRoll")


@pytest.fixture(scope="module")
def take() -> Motion:
    m = read_motion(BEAT2 / "2_scott_0_1_1.npz")
    return Motion(m.poses[:300], m.expressions[:300], m.trans[:300], meta={"seed": 4})


@pytest.mark.shared_data("beat2")
def test_old_files_read_without_arkit_and_new_ones_round_trip(take, tmp_path):
    assert read_motion(BEAT2 / "2_scott_0_1_1.npz").arkit is None
    write_motion(tmp_path / "plain.npz", take)
    assert read_motion(tmp_path / "plain.npz").arkit is None
    with_arkit = face_track.with_arkit(Motion(take.poses, take.expressions, take.trans, meta=take.meta))
    write_motion(tmp_path / "a.npz", with_arkit)
    back = read_motion(tmp_path / "a.npz")
    assert back.arkit_names == arkit.ARKIT_NAMES and back.arkit.dtype == np.float32
    assert np.array_equal(back.arkit, face_track.arkit_track(take).astype(np.float32))
    assert back.arkit.min() >= 0.0 and back.arkit.max() <= 1.0
    assert back.arkit[:, arkit.INDEX["jawOpen"]].std() > 0.05
    with np.load(tmp_path / "a.npz", allow_pickle=False) as d:
        assert d["arkit"].shape == (300, 52) and list(d["arkit_names"]) == list(arkit.ARKIT_NAMES)


@pytest.mark.shared_data("beat2")
def test_a_bad_arkit_array_is_one_sentence(take, tmp_path):
    arrays = {"poses": take.poses, "arkit": np.zeros((300, 52), np.float32), "arkit_names": np.array(["jawOpen"])}
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(MotionFileError, match=r"^bad.npz has arkit weights of shape \(300, 52\) for 1 arkit_names"):
        read_motion(tmp_path / "bad.npz")
    broken = Motion(take.poses, take.expressions, take.trans, arkit=np.full((300, 52), np.nan, np.float32),
                    arkit_names=arkit.ARKIT_NAMES)
    with pytest.raises(MotionFileError, match="'arkit' holds NaN"):
        write_motion(tmp_path / "nan.npz", broken)
    assert not (tmp_path / "nan.npz").exists()


@pytest.mark.shared_data("beat2")
def test_livelink_csv_has_the_apps_columns_and_timecodes(take, tmp_path):
    weights = face_track.arkit_track(take)
    path = tmp_path / "face.csv"
    livelink.write_livelink(path, weights, take.joint_rotations(), 30.0)
    rows = list(csv.reader(path.open(newline="")))
    assert ",".join(rows[0]) == LIVE_LINK_HEADER and len(rows) == 301
    assert rows[1][:2] == ["00:00:00:00.000", "61"] and rows[31][0] == "00:00:01:00.000"
    assert rows[300][0] == "00:00:09:29.000"
    values = np.array([[float(v) for v in r[2:]] for r in rows[1:]])
    assert values.shape == (300, 61) and np.all(np.isfinite(values))
    assert np.allclose(values[:, :52], weights, atol=1e-6)
    assert np.abs(values[:, 52:55]).max() > 0.02          # the head moves in a real take


def test_angles_are_yaw_pitch_roll_of_the_head_over_the_chest():
    yaw, pitch, roll = 0.3, -0.2, 0.1
    ry = axis_angle_to_matrix(np.array([0.0, yaw, 0.0]))
    rx = axis_angle_to_matrix(np.array([pitch, 0.0, 0.0]))
    rz = axis_angle_to_matrix(np.array([0.0, 0.0, roll]))
    assert np.allclose(livelink.yaw_pitch_roll(ry @ rx @ rz), [yaw, pitch, roll])
    poses = np.zeros((2, 55, 3))
    poses[:, 15] = [0.0, 0.2, 0.0]                       # the neck turns 0.2 rad to the left
    poses[:, 12] = [0.0, 0.1, 0.0]                       # and the head 0.1 more
    poses[:, 0] = [0.0, 1.0, 0.0]                        # the whole body turning does not count
    poses[1, 23] = [0.15, 0.0, 0.0]                      # left eye looks down
    angles = livelink.head_and_eye_angles(poses)
    assert np.allclose(angles[:, :3], [[0.3, 0.0, 0.0]] * 2)
    assert np.allclose(angles[1, 3:6], [0.0, 0.15, 0.0]) and np.allclose(angles[:, 6:], 0.0)


def test_livelink_refuses_non_finite_values(tmp_path):
    with pytest.raises(ValueError, match="NaN or infinite"):
        livelink.livelink_text(np.full((2, 52), np.nan), np.zeros((2, 9)), 30.0)


def cli(*args):
    return subprocess.run([PYTHON, "-m", "asynfusion.cli", *map(str, args)], capture_output=True,
                          text=True, env=cli_env(), timeout=300)


def test_generate_writes_arkit_arrays_and_a_livelink_csv(random_weights, tmp_path):
    out, sheet = tmp_path / "speech.npz", tmp_path / "speech.csv"
    r = cli("generate", SPEECH_OGG, "-o", out, "--weights", random_weights, "--seed", "5", "--arkit",
            "--livelink", sheet)
    assert r.returncode == 0, r.stderr
    m = read_motion(out)
    assert m.arkit.shape == (m.num_frames, 52) and m.arkit_names == arkit.ARKIT_NAMES
    assert np.array_equal(m.arkit, face_track.arkit_track(m).astype(np.float32))      # seeded by --seed
    lines = sheet.read_text().splitlines()
    assert lines[0] == LIVE_LINK_HEADER and len(lines) == m.num_frames + 1
    assert "ARKit weights added" in r.stdout and "Live Link Face CSV" in r.stdout


def test_a_livelink_path_over_the_output_is_refused_before_generating(random_weights, tmp_path):
    out = tmp_path / "speech.npz"
    r = cli("generate", SPEECH_OGG, "-o", out, "--weights", random_weights, "--livelink", out)
    assert r.returncode == 1 and not out.exists()
    assert r.stderr.strip().splitlines()[-1] == (
        "error: Two outputs of this run are the same file speech.npz; give each output its own name.")
