"""Output files: where a result may go, and writing it so that nothing the user had is lost.

``check_output`` refuses, before any work is done, an output that is one of the inputs (links
resolved), a folder, something that is not a regular file (a device, a pipe) or that sits in
a folder that does not exist. ``replacing`` writes next to the target and renames over it at
the end, so a failure, a cancel or a kill leaves the old file or none, never half a file; the
debris of a writer that was killed is removed by the next write to the same target.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

_PART = ".part"


class OutputError(ValueError):
    """An output that cannot be written; the message is one sentence for a person."""


def check_output(path: str | os.PathLike, inputs: Iterable[str | os.PathLike | None] = ()) -> str:
    """The absolute path to write ``path`` to, or OutputError saying why it may not be written."""
    out = os.path.abspath(os.fspath(path))
    name = os.path.basename(out) or out
    real = os.path.realpath(out)
    for source in inputs:
        if source and os.path.realpath(os.fspath(source)) == real:
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


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _remove_dead_debris(folder: str, name: str) -> None:
    """Temp files of earlier writes of ``name`` whose writer no longer runs (it was killed)."""
    prefix = f".{name}."
    for entry in os.listdir(folder):
        pid = entry[len(prefix):].split("-", 1)[0] if entry.startswith(prefix) else ""
        if pid.isdigit() and _PART in entry and not _pid_alive(int(pid)):
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
    tmp = os.path.join(folder, f".{name}.{os.getpid()}-{secrets.token_hex(4)}{_PART}")
    try:
        _remove_dead_debris(folder, name)
        yield tmp                    # created by the caller, so with the usual permissions
        os.replace(tmp, target)
    except OSError as err:
        raise OutputError(f"Cannot write {name} in {folder}: {err.strerror or err}.") from None
    finally:
        if os.path.lexists(tmp):
            os.unlink(tmp)
