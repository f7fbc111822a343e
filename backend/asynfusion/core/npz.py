"""Reproducible .npz files: plain arrays (never pickles) through the one reproducible zip writer, so
the same arrays always give the same bytes. Motion files are stored uncompressed (written on every
generation, read by the add-on at once); the fitted data files the tools ship are deflated."""

from __future__ import annotations

import io
from collections.abc import Iterator, Mapping
from typing import IO

import numpy as np

from .reproducible_zip import write_zip


def _entries(arrays: Mapping[str, np.ndarray]) -> Iterator[tuple[str, bytes]]:
    for key, value in arrays.items():
        buf = io.BytesIO()
        np.lib.format.write_array(buf, np.asarray(value, order="C"), allow_pickle=False)
        yield key + ".npy", buf.getvalue()


def write_npz(file: str | IO[bytes], arrays: Mapping[str, np.ndarray], compress: bool = False) -> None:
    """Write ``arrays`` as ``name.npy`` entries to ``file`` (a path or a binary file object)."""
    write_zip(file, _entries(arrays), compress)
