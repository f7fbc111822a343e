"""Reproducible .npz files: plain arrays (never pickles), one fixed timestamp and mode, entries in
the order given, so the same arrays always give the same bytes. Motion files are stored
uncompressed (written on every generation, read by the add-on at once); the fitted data files
the tools ship are deflated."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Mapping
from typing import IO

import numpy as np

ZIP_TIME = (1980, 1, 1, 0, 0, 0)       # the earliest time a zip can hold
FILE_MODE = 0o644


def write_npz(file: str | IO[bytes], arrays: Mapping[str, np.ndarray], compress: bool = False) -> None:
    """Write ``arrays`` as ``name.npy`` entries to ``file`` (a path or a binary file object)."""
    method = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    with zipfile.ZipFile(file, "w") as zf:
        for key, value in arrays.items():
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.asarray(value, order="C"), allow_pickle=False)
            info = zipfile.ZipInfo(key + ".npy", date_time=ZIP_TIME)
            info.external_attr = FILE_MODE << 16
            zf.writestr(info, buf.getvalue(), compress_type=method, compresslevel=9 if compress else None)
