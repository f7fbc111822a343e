"""How much memory a recording needs to generate from, checked before any work starts.

A three-hour recording under a 6 GB limit used to die deep inside the audio features; now the
length is read from the file's header and compared with the memory this process may still use,
so the answer is one sentence and nothing is decoded.
"""

from __future__ import annotations

import errno
import os
import resource

from .errors import UserError

# Peak RSS of a CLI generate on a 2-core CPU (bench/RESULTS.md, v5.1): 60 s of speech 391 MB,
# 600 s 1,023 MB; the line through them, with a margin for the decoded audio at its own rate.
BASE_BYTES = 400e6
BYTES_PER_SECOND = 1.4e6
VARIATION_SHARE = 0.5        # each further variation in the same batch, of the per-second part
MIN_PIECE_SECONDS = 5.0      # shorter pieces than this are not worth advising
# Address space that loading torch and the weights adds to a process from where the CLI checks
# (CPU torch, 2 threads: VmSize 151 MB there, after the CLI's own imports; 654 MB after `import
# torch`, 663 MB with the weights loaded; check() then answers for the recording). Under a limit
# this low the start fails inside `import torch`, sometimes as an ImportError and sometimes as a
# Python fatal error that no handler can catch, so it is refused before the import.
LOAD_ADDRESS_BYTES = 0.6e9


def needed_bytes(seconds: float, variations: int = 1) -> float:
    return BASE_BYTES + BYTES_PER_SECOND * seconds * (1 + VARIATION_SHARE * (max(variations, 1) - 1))


def _read_number(path: str) -> float | None:
    try:
        with open(path) as f:
            text = f.read().strip()
    except OSError:
        return None
    return float(text) if text.isdigit() else None


def _field_bytes(path: str, field: str) -> float | None:
    """A "Name:   N kB" line of a /proc file, in bytes."""
    try:
        with open(path) as f:
            for line in f:
                if line.startswith(field):
                    return float(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def available_bytes() -> float | None:
    """What this process may still use: the least of the machine's available memory, the
    container's (cgroup v2) headroom and the address-space limit's; None when none is known."""
    found = []
    machine = _field_bytes("/proc/meminfo", "MemAvailable:")
    if machine is not None:
        found.append(machine)
    limit, used = _read_number("/sys/fs/cgroup/memory.max"), _read_number("/sys/fs/cgroup/memory.current")
    if limit is not None and used is not None:
        found.append(limit - used)
    limit = _address_limit()
    if limit is not None:
        found.append(limit - (_field_bytes("/proc/self/status", "VmSize:") or 0.0))
    return min(found) if found else None


def _address_limit() -> float | None:
    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    return None if soft == resource.RLIM_INFINITY else float(soft)


def check_address_space(limit: float | None = None, used: float | None = None) -> None:
    """Raise UserError with one sentence when this process's address-space limit (``ulimit -v``)
    leaves less than loading the model needs (``limit`` and ``used``: measured when None)."""
    limit = _address_limit() if limit is None else limit
    if limit is None:
        return
    used = (_field_bytes("/proc/self/status", "VmSize:") or 0.0) if used is None else used
    if limit - used >= LOAD_ADDRESS_BYTES:
        return
    raise UserError(f"this process may map only {limit / 1e9:.1f} GB of memory (its address-space limit, "
                    f"ulimit -v) and loading the model needs about {(used + LOAD_ADDRESS_BYTES) / 1e9:.1f} GB; "
                    "raise the limit and try again; nothing was written.")


def check(seconds: float, name: str, variations: int = 1, available: float | None = None) -> None:
    """Raise UserError with one sentence when generating ``seconds`` of speech would need more
    memory than is available (``available``: measured when None)."""
    free = available_bytes() if available is None else available
    need = needed_bytes(seconds, variations)
    if free is None or need <= free:
        return
    longest = (free - BASE_BYTES) / BYTES_PER_SECOND / (1 + VARIATION_SHARE * (max(variations, 1) - 1))
    head = (f"{name} is {_length(seconds)} long and needs about {need / 1e9:.1f} GB of memory to generate from, "
            f"but about {max(free, 0) / 1e9:.1f} GB is free")
    if longest < MIN_PIECE_SECONDS:   # even a short piece would not fit: splitting is no advice
        raise UserError(f"{head}; close other programs (or raise this process's memory limit) and try again.")
    raise UserError(f"{head}; split it into pieces of at most "
                    f"{_length(longest)}{' or make fewer variations' if variations > 1 else ''}.")


OUT_OF_MEMORY = ("this machine ran out of memory before the motion was written, so nothing was written; "
                 "close other programs, or split the recording into shorter pieces.")


def is_out_of_memory(err: BaseException) -> bool:
    """True for MemoryError and for the ways a library fails to load when the process may not map
    more memory (an address-space limit makes ``import torch`` raise ImportError, not MemoryError)."""
    if isinstance(err, MemoryError):
        return True
    if isinstance(err, OSError) and err.errno == errno.ENOMEM:
        return True
    text = str(err)
    return isinstance(err, (ImportError, OSError)) and ("failed to map segment" in text
                                                       or "Cannot allocate memory" in text)


def _length(seconds: float) -> str:
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} h"
    if seconds >= 60:
        return f"{seconds / 60:.0f} min"
    return f"{seconds:.0f} s"


def recording_seconds(path: str | os.PathLike) -> float | None:
    """The length a recording's header gives, without decoding it (None when it gives none)."""
    import soundfile

    try:
        info = soundfile.info(os.fspath(path))
    except Exception:
        return None
    return info.frames / info.samplerate if info.samplerate > 0 and info.frames > 0 else None
