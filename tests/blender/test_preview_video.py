"""batch.py --preview-video: an MP4 of the bake (body and face side by side), the speech as its sound,
read back with Blender's own FFmpeg (a movie clip for the frames, Audaspace for the sound)."""

import os
import re
import subprocess
import sys
import wave

import bpy
import numpy as np

from conftest import BEAT2, REPO

SCRIPT = os.path.join(REPO, "asynfusion_blender", "batch.py")


def _speech_beside(take, seconds=2.0):
    """The first ``seconds`` of a BEAT2 recording (16-bit PCM) as the WAV beside the two-second take."""
    path = os.path.splitext(take)[0] + ".wav"
    with wave.open(os.path.join(BEAT2, "2_scott_0_2_2.wav")) as r, wave.open(path, "wb") as w:
        w.setparams(r.getparams())
        w.writeframes(r.readframes(int(seconds * r.getframerate())))
    return path


def _batch(*args, cwd):
    return subprocess.run([sys.executable, SCRIPT, *args], capture_output=True, text=True, cwd=cwd, timeout=600)


def test_preview_video_has_every_frame_and_the_speech(short_take, tmp_path):
    _speech_beside(short_take)
    out, movie = tmp_path / "out.blend", tmp_path / "take.mp4"
    done = _batch("--motion", short_take, "--out", str(out), "--preview-video", str(movie), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    frames = int(re.search(r"Baked (\d+) frames", done.stdout).group(1))
    assert f"Preview video {movie}" in done.stdout
    assert re.search(rf"Preview video: frame {frames}/{frames}$", done.stderr, re.M)   # the progress line
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".part")]               # written whole
    clip = bpy.data.movieclips.load(str(movie))
    try:
        assert clip.frame_duration == frames
        assert tuple(clip.size) == (720, 480)                                           # two views side by side
    finally:
        bpy.data.movieclips.remove(clip)
    if not bpy.app.build_options.audaspace:                                            # the 4.2 wheel
        assert "(without sound: this Blender is built without audio)" in done.stdout
        return
    import aud
    sound = aud.Sound(str(movie))
    rate, _channels = sound.specs
    samples = sound.data()
    assert abs(len(samples) / rate - frames / 24) < 0.1                                # the audio stream, as long
    assert float(np.sqrt(np.mean(samples ** 2))) > 0.01                                # and not silence


def test_preview_video_is_never_an_input_nor_another_output(short_take, tmp_path):
    speech = _speech_beside(short_take)
    for movie, said in ((speech, "input"), (short_take, "input"), (str(tmp_path / "out.blend"), "")):
        done = _batch("--motion", short_take, "--out", str(tmp_path / "out.blend"), "--preview-video", movie,
                      cwd=tmp_path)
        assert done.returncode == 1 and done.stderr.startswith("asynfusion: error:"), done.stderr
        assert said in done.stderr
    assert not (tmp_path / "out.blend").exists()
