"""The motion file contract: real BEAT2 files read, our files round-trip, writes are atomic."""

import os
import signal
import subprocess
import sys

import numpy as np
import pytest

from asynfusion.core.motion_file import Motion, MotionFileError, read_motion, write_motion

from .conftest import BEAT2, PYTHON, REPO, cli_env

sys.path.insert(0, str(REPO / "tests"))
from file_faults import full_folder, read_only_folder, unreadable_file  # noqa: E402


@pytest.mark.shared_data("beat2")
def test_real_beat2_take_reads_with_full_layout():
    m = read_motion(BEAT2 / "2_scott_0_1_1.npz")
    assert m.poses.shape == (1906, 165) and m.expressions.shape == (1906, 100)
    assert m.fps == 30 and m.betas.shape == (300,) and m.gender == "neutral"


@pytest.mark.shared_data("beat2")
def test_round_trip_and_reproducible_bytes(tmp_path):
    src = read_motion(BEAT2 / "2_scott_0_2_2.npz")
    src.meta = {"seed": 3}
    write_motion(tmp_path / "a.npz", src)
    write_motion(tmp_path / "b.npz", src)
    assert (tmp_path / "a.npz").read_bytes() == (tmp_path / "b.npz").read_bytes()
    back = read_motion(tmp_path / "a.npz")
    assert np.array_equal(back.poses, src.poses) and np.allclose(back.trans, src.trans)
    assert back.meta == {"seed": 3} and back.fps == 30
    with np.load(tmp_path / "a.npz", allow_pickle=False) as d:   # readable by anyone's np.load
        assert d["mocap_frame_rate"].shape == () and d["poses"].dtype == np.float32
    mask = os.umask(0o022)
    os.umask(mask)
    assert (tmp_path / "a.npz").stat().st_mode & 0o777 == 0o666 & ~mask   # an ordinary file, not mkstemp's 0600


def test_other_spellings_and_fewer_expressions(tmp_path):
    n = 12
    np.savez(tmp_path / "emage.npz", poses=np.zeros((n, 165)), expressions=np.ones((n, 50)),
             trans=np.zeros((n, 3)), mocap_framerate=np.array(60))
    m = read_motion(tmp_path / "emage.npz")
    assert m.fps == 60 and m.expressions.shape == (n, 100)
    assert np.all(m.expressions[:, :50] == 1) and np.all(m.expressions[:, 50:] == 0)


@pytest.mark.parametrize("arrays,words", [
    ({"trans": np.zeros((3, 3))}, "no 'poses'"),
    ({"poses": np.zeros((3, 10))}, "expected (frames, 165)"),
    ({"poses": np.full((3, 165), np.nan)}, "NaN"),
    ({"poses": np.zeros((3, 165)), "expressions": np.zeros((4, 100))}, "expressions of shape"),
])
def test_bad_motion_files_get_a_sentence(tmp_path, arrays, words):
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(MotionFileError) as err:
        read_motion(tmp_path / "bad.npz")
    assert words in str(err.value)


def test_not_an_npz_gets_a_sentence(tmp_path):
    (tmp_path / "x.npz").write_text("hello")
    with pytest.raises(MotionFileError, match="not a readable motion file"):
        read_motion(tmp_path / "x.npz")


def test_failed_write_leaves_the_old_file_and_no_debris(tmp_path):
    target = tmp_path / "out.npz"
    target.write_bytes(b"previous")
    bad = Motion(poses=np.zeros((5, 100), np.float32), expressions=np.zeros((5, 100), np.float32),
                 trans=np.zeros((5, 3), np.float32))
    with pytest.raises(MotionFileError):
        write_motion(target, bad)
    assert target.read_bytes() == b"previous"
    assert os.listdir(tmp_path) == ["out.npz"]


def _arrays(n=4, **changes):
    arrays = {"poses": np.zeros((n, 165)), "expressions": np.zeros((n, 100)), "trans": np.zeros((n, 3)),
              "betas": np.zeros(10)}
    arrays.update(changes)
    return arrays


@pytest.mark.parametrize("arrays,words", [
    (_arrays(expressions=np.full((4, 100), np.nan)), "NaN or infinite values in 'expressions'"),
    (_arrays(trans=np.full((4, 3), np.inf)), "NaN or infinite values in 'trans'"),
    (_arrays(betas=np.array([0.0, np.nan])), "NaN or infinite values in 'betas'"),
    (_arrays(mocap_frame_rate=np.array(np.inf)), "frame rate of inf"),
    (_arrays(mocap_frame_rate=np.array(0)), "frame rate of 0"),
    (_arrays(fps=np.array("thirty")), "frame rate of 'thirty'"),
    (_arrays(mocap_frame_rate=np.array([30, 60])), "frame rate of an array of shape (2,)"),
])
def test_every_array_and_the_frame_rate_are_checked(tmp_path, arrays, words):
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(MotionFileError) as err:
        read_motion(tmp_path / "bad.npz")
    assert words in str(err.value) and "\n" not in str(err.value)


def test_a_folder_is_not_a_motion_file(tmp_path):
    (tmp_path / "take.npz").mkdir()
    with pytest.raises(MotionFileError, match="is a folder, not a file"):
        read_motion(tmp_path / "take.npz")


def test_non_finite_motion_is_not_written(tmp_path):
    bad = Motion(poses=np.zeros((5, 165), np.float32), expressions=np.zeros((5, 100), np.float32),
                 trans=np.full((5, 3), np.nan, np.float32))
    with pytest.raises(MotionFileError, match="'trans' holds NaN"):
        write_motion(tmp_path / "out.npz", bad)
    assert os.listdir(tmp_path) == []


KILLED_WRITER = """
import os, signal, sys
import numpy as np
from asynfusion.core.motion_file import Motion, write_motion
os.fsync = lambda fd: os.kill(os.getpid(), signal.SIGKILL)     # killed in the middle of the write
write_motion(sys.argv[1], Motion(poses=np.zeros((5, 165), np.float32),
             expressions=np.zeros((5, 100), np.float32), trans=np.zeros((5, 3), np.float32)))
"""


@pytest.mark.shared_data("beat2")
def test_a_write_killed_midway_leaves_the_old_file_and_the_next_write_clears_its_debris(tmp_path):
    target = tmp_path / "out.npz"
    target.write_bytes(b"previous")
    killed = subprocess.run([PYTHON, "-c", KILLED_WRITER, str(target)], env=cli_env(), capture_output=True)
    assert killed.returncode == -signal.SIGKILL
    assert target.read_bytes() == b"previous" and len(os.listdir(tmp_path)) == 2   # the killed writer's debris
    write_motion(target, read_motion(BEAT2 / "2_scott_0_2_2.npz"))
    assert os.listdir(tmp_path) == ["out.npz"] and read_motion(target).num_frames > 0


def test_a_read_only_folder_is_a_sentence(tmp_path):
    from asynfusion.core.output import OutputError

    motion = Motion(poses=np.zeros((5, 165), np.float32), expressions=np.zeros((5, 100), np.float32),
                    trans=np.zeros((5, 3), np.float32))
    with read_only_folder(tmp_path):
        with pytest.raises(OutputError, match="Cannot write out.npz in"):
            write_motion(tmp_path / "out.npz", motion)
        assert os.listdir(tmp_path) == []


@pytest.mark.shared_data("beat2")
def test_a_full_disk_is_a_sentence_and_leaves_nothing(tmp_path):
    from asynfusion.core.output import OutputError

    folder = tmp_path / "small"
    folder.mkdir()
    with full_folder(folder):
        with pytest.raises(OutputError, match="^Cannot write out.npz in .*: No space left on device.$"):
            write_motion(folder / "out.npz", read_motion(BEAT2 / "2_scott_0_2_2.npz"))
        assert os.listdir(folder) == []


@pytest.mark.shared_data("beat2")
def test_an_unreadable_motion_file_says_permission():
    with unreadable_file((BEAT2 / "2_scott_0_2_2.npz").read_bytes(), "locked.npz") as path:
        with pytest.raises(MotionFileError, match=r"^Motion file locked.npz cannot be read \(permission denied\)"):
            read_motion(path)
