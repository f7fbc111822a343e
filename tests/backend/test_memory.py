"""A recording too long for this machine's memory is refused in one sentence before any work."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile

from asynfusion import memory
from asynfusion.errors import UserError

from .test_cli import cli


def test_the_estimate_grows_with_length_and_variations_and_refuses_only_past_what_is_free():
    assert memory.needed_bytes(600) > memory.needed_bytes(60) > memory.BASE_BYTES
    assert memory.needed_bytes(600, variations=4) > memory.needed_bytes(600)
    memory.check(60, "speech.wav", available=2e9)                       # a minute fits in 2 GB
    with pytest.raises(UserError) as e:
        memory.check(3 * 3600, "speech.wav", available=6e9)              # the attack's 3 h under 6 GB
    text = str(e.value)
    assert text.startswith("speech.wav is 3.0 h long and needs about") and "GB is free" in text
    assert text.count(".") >= 3 and "\n" not in text
    longest = float(text.split("at most ")[1].split(" ")[0])
    unit = text.split("at most ")[1].split(" ")[1].rstrip(".")
    seconds = longest * {"h": 3600, "min": 60, "s": 1}[unit]
    assert memory.needed_bytes(seconds) <= 6e9 * 1.05                   # the advice fits


def test_a_recording_longer_than_memory_allows_is_one_line_and_nothing_is_read_or_written(tmp_path):
    """A real 30-hour WAV (at 1 sample a second, so it is small on disk) through the CLI."""
    path = tmp_path / "thirty_hours.wav"
    soundfile.write(path, np.zeros(30 * 3600, np.int16), 1, subtype="PCM_16")
    before = path.read_bytes()
    out = tmp_path / "out.npz"
    r = cli("generate", path, "-o", out)
    assert r.returncode == 1 and not out.exists() and path.read_bytes() == before
    last = r.stderr.strip().splitlines()[-1]
    assert last.startswith("error: thirty_hours.wav is 30.0 h long and needs about") and "Traceback" not in r.stderr

