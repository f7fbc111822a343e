"""Zips that are the same bytes whenever their files are: one fixed timestamp, fixed permissions,
fixed compression, entries in the order given. The extension (build_addon.py), the backend wheel
(the add-on's setup/wheel.py) and every .npz we write (core/npz.py) are written here.

Standard library only and no relative imports: build_addon.py loads this file on its own, without
the add-on's package (which imports bpy).
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterable
from typing import IO

ZIP_TIME = (1980, 1, 1, 0, 0, 0)       # the earliest time a zip can hold
FILE_MODE = 0o644


def write_zip(file: str | IO[bytes], entries: Iterable[tuple[str, bytes]], compress: bool = True) -> None:
    """Write ``(archive name, data)`` entries, in that order, to ``file`` (a path or a binary file
    object): deflated at level 9, or stored (``compress=False``) where writing speed matters more."""
    method = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    with zipfile.ZipFile(file, "w") as zf:
        for name, data in entries:
            info = zipfile.ZipInfo(name, date_time=ZIP_TIME)
            info.create_system = 3                          # unix, so the mode below is read
            info.external_attr = (0o100000 | FILE_MODE) << 16
            zf.writestr(info, data, compress_type=method, compresslevel=9 if compress else None)
