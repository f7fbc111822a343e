"""Input and output files: what a run may read and write, and writing so that nothing the user had is lost.

The one rule for what may be written: every run (``asynfusion generate``, ``batch.py``, a worker
request, a panel operator) collects all of its inputs (recordings, motion files and the recording
found beside one, ``--from``, bone maps, the open .blend, the weights) and passes them with all
of its outputs to ``check_outputs``, before any work is done: an output may not be any input nor
another output (links resolved), a folder, something that is not a regular file (a device, a
pipe) or sit in a folder that does not exist. ``check_input`` refuses, by its type and without
opening it, an input that would block or never end (a pipe, a device). ``replacing`` writes next to the target and renames over it at
the end, so a failure, a cancel or a kill leaves the old file or none, never half a file; the
debris of a writer that was killed is removed by the next write to the same target.
"""

from __future__ import annotations

import os
import secrets
import stat
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

_PART = ".part"


class OutputError(ValueError):
    """An output that cannot be written; the message is one sentence for a person."""


def check_output(path: str | os.PathLike, inputs: Iterable[str | os.PathLike | None] = ()) -> str:
    """The absolute path to write ``path`` to, or OutputError saying why it may not be written."""
    if "\0" in os.fspath(path):
        raise OutputError(f"The output name {os.fspath(path)!r} holds a NUL byte; choose another output file.")
    out = os.path.abspath(os.fspath(path))
    name = os.path.basename(out) or out
    real = os.path.realpath(out)
    for source in inputs:
        if source and "\0" not in os.fspath(source) and os.path.realpath(os.fspath(source)) == real:
            raise OutputError(f"Refusing to write the output {name} over the input "
                              f"{os.path.basename(os.fspath(source))}; choose another output file.")
    if os.path.isdir(real):
        raise OutputError(f"The output {name} is a folder, not a file; give a file name.")
    if os.path.lexists(out) and not os.path.isfile(real):
        raise OutputError(f"The output {name} exists and is not a regular file; choose another output file.")
    folder = os.path.dirname(real)
    if not os.path.isdir(folder):
        raise OutputError(f"The folder {folder} for {name} does not exist; create it first.")
    if not os.access(folder, os.W_OK):
        raise OutputError(f"The folder {folder} is read-only; choose another place for {name}.")
    return out


def check_outputs(outputs: Iterable[str | os.PathLike], inputs: Iterable[str | os.PathLike | None]) -> list[str]:
    """The one rule for what a run may write: each of ``outputs`` checked by ``check_output``
    against all of ``inputs`` and against every other output. Returns their absolute paths, in order."""
    sources = [os.fspath(source) for source in inputs if source]
    checked: list[str] = []
    for path in outputs:
        out = check_output(path, sources)
        twin = next((other for other in checked if os.path.realpath(other) == os.path.realpath(out)), None)
        if twin is not None:
            raise OutputError(f"Two outputs of this run are the same file {os.path.basename(out)}; "
                              "give each output its own name.")
        checked.append(out)
    return checked


def folder_files(folder: str | os.PathLike | None) -> list[str]:
    """Every file under ``folder`` (the weights, say), as inputs no output may replace."""
    if not folder or not os.path.isdir(folder):
        return [os.fspath(folder)] if folder else []
    return [os.path.join(root, name) for root, _dirs, names in os.walk(os.fspath(folder)) for name in names]


def check_input(path: str | os.PathLike, what: str, error: type[Exception] = ValueError,
                choose: str = "choose a file") -> str:
    """``path`` if it is a regular file (links resolved), else ``error`` in one sentence that
    begins with ``what`` ("Audio file", "Bone map") and ends with ``choose``. Decided from its
    type, never by opening it, so a pipe or a device is refused at once instead of blocking or
    reading forever."""
    path = os.fspath(path)
    name = os.path.basename(path) or path
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise error(f"{what} {name} does not exist; check the path.") from None
    except (OSError, ValueError) as err:    # ValueError: a NUL byte in the path
        raise error(f"{what} {name} cannot be read ({getattr(err, 'strerror', None) or err}); "
                    "check the path.") from None
    if stat.S_ISDIR(mode):
        raise error(f"{what} {name} is a folder, not a file; {choose}.")
    if not stat.S_ISREG(mode):
        raise error(f"{what} {name} is a pipe or a device, not a regular file; {choose}.")
    return path


def pid_alive(pid: int) -> bool:
    """Whether a process with this id runs (a writer whose temporary files are not debris)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _temp_prefix(name: str) -> str:
    """'.<name>.', the name cut so that the temporary name (with the process id, a random part
    and '.part') stays within the 255 bytes a file name may have, whatever the target's length."""
    return f".{name.encode()[:200].decode(errors='ignore')}."


def _remove_dead_debris(folder: str, name: str) -> None:
    """Temp files of earlier writes of ``name`` whose writer no longer runs (it was killed)."""
    prefix = _temp_prefix(name)
    for entry in os.listdir(folder):
        pid = entry[len(prefix):].split("-", 1)[0] if entry.startswith(prefix) else ""
        if pid.isdigit() and _PART in entry and not pid_alive(int(pid)):
            os.unlink(os.path.join(folder, entry))


@contextmanager
def replacing(path: str | os.PathLike) -> Iterator[str]:
    """Yield a path to write the whole result to; on success it replaces ``path`` in one rename.

    The temporary file sits beside the target (same folder: the rename is atomic, and a .blend's
    relative paths stay right), named after the target and this process; any failure removes
    it, and a write after a killed one removes what the killed one left. Errors of the file
    system (read-only folder, disk full) become OutputError.
    """
    target = os.path.realpath(os.fspath(path))
    folder, name = os.path.split(target)
    tmp = os.path.join(folder, f"{_temp_prefix(name)}{os.getpid()}-{secrets.token_hex(4)}{_PART}")
    try:
        _remove_dead_debris(folder, name)
        yield tmp                    # created by the caller, so with the usual permissions
        os.replace(tmp, target)
    except OSError as err:
        raise OutputError(f"Cannot write {name} in {folder}: {err.strerror or err}.") from None
    finally:
        if os.path.lexists(tmp):
            os.unlink(tmp)
