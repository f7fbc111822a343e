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



def test_a_tiny_headroom_asks_to_close_programs_not_to_split_into_zero_second_pieces():
    with pytest.raises(UserError) as e:
        memory.check(15, "speech.ogg", available=0.1e9)
    assert "close other programs" in str(e.value) and "pieces" not in str(e.value)


def test_a_library_that_cannot_map_memory_counts_as_out_of_memory_and_other_import_errors_do_not():
    assert memory.is_out_of_memory(MemoryError())
    assert memory.is_out_of_memory(ImportError("libtorch_cpu.so: failed to map segment from shared object"))
    assert memory.is_out_of_memory(OSError(12, "Cannot allocate memory"))
    assert not memory.is_out_of_memory(ImportError("No module named 'torch'"))
    assert not memory.is_out_of_memory(OSError(2, "No such file or directory"))


def _limited(megabytes: int):
    import resource

    limit = megabytes * 10**6
    return lambda: resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def test_an_address_space_limit_below_what_loading_needs_is_refused_before_the_load(monkeypatch):
    monkeypatch.setattr(memory, "_address_limit", lambda: None)
    memory.check_address_space(used=1e12)                                 # no limit: nothing to say
    memory.check_address_space(limit=2e9, used=0.2e9)                     # room for the load
    with pytest.raises(UserError) as e:
        memory.check_address_space(limit=0.6e9, used=0.2e9)
    text = str(e.value)
    assert text.startswith("this process may map only 0.6 GB") and "ulimit -v" in text and "\n" not in text
    assert f"needs about {(0.2e9 + memory.LOAD_ADDRESS_BYTES) / 1e9:.1f} GB" in text


@pytest.mark.parametrize("megabytes", [300, 600])
def test_a_process_without_the_memory_to_start_is_one_line_not_a_traceback(tmp_path, megabytes):
    """The attack's address-space limits. Left to `import torch`, 300 MB ended in an ImportError
    and 600 MB sometimes in a Python fatal error (exit -6, a C stack dump) that no handler can
    catch; the limit is read before the import, so both are the same sentence every time."""
    import subprocess

    from .conftest import PYTHON, SPEECH_OGG, cli_env

    out = tmp_path / "out.npz"
    r = subprocess.run([PYTHON, "-m", "asynfusion.cli", "generate", str(SPEECH_OGG), "-o", str(out)],
                       capture_output=True, text=True, env=cli_env(), timeout=300, preexec_fn=_limited(megabytes))
    assert r.returncode == 1 and not out.exists() and "Traceback" not in r.stderr, r.stderr
    last = r.stderr.strip().splitlines()[-1]
    assert last.startswith(f"error: this process may map only {megabytes / 1000:.1f} GB") and "raise the limit" in last


def test_a_worker_without_the_memory_to_load_says_so_in_the_protocol_and_exits():
    import json
    import subprocess

    from .conftest import PYTHON, cli_env

    r = subprocess.run([PYTHON, "-m", "asynfusion.worker", "--device", "cpu"], input="", capture_output=True,
                       text=True, env=cli_env(), timeout=300, preexec_fn=_limited(300))
    messages = [json.loads(line) for line in r.stdout.splitlines()]
    errors = [m for m in messages if m["type"] == "error"]
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
    assert len(errors) == 1 and errors[0]["message"].startswith("This process may map only 0.3 GB")
