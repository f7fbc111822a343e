"""The built-in character's head data: the trimming script reproduces the shipped file from the
ICT-FaceKit data, and the trimmed head keeps what the add-on relies on."""

from __future__ import annotations

import numpy as np
import pytest

from asynfusion.tools import make_ict_head as M

from .conftest import REPO, SHARED

SHIPPED = REPO / "asynfusion_blender" / "data" / "ict_facekit"


@pytest.mark.shared_data("ict_facekit")
def test_the_script_reproduces_the_shipped_head_and_its_licence(tmp_path):
    assert M.main(["--data", str(SHARED), "--out", str(tmp_path)]) == 0
    for name in (M.FILE, "LICENSE", "CREDITS.md"):
        assert (tmp_path / name).read_bytes() == (SHIPPED / name).read_bytes(), name


@pytest.mark.shared_data("ict_facekit")
def test_the_trimmed_head_keeps_the_lips_eyes_and_shapes():
    with np.load(SHIPPED / M.FILE, allow_pickle=False) as d:
        head = {k: d[k] for k in d.files}
    with np.load(SHARED / "ict_facekit" / "ict_facekit_expressions.npz", allow_pickle=False) as d:
        neutral, deltas, names = d["neutral_vertices"], d["expression_deltas"], d["expression_names"]
    assert list(head["names"]) == list(names) and len(names) == 53
    source = head["source_index"]
    assert np.array_equal(head["vertices"], neutral[source])
    assert list(source[head["lip_vertices"]]) == [M.UPPER_LIP, M.LOWER_LIP]
    assert (head["vertex_eye"] == 1).sum() == (head["vertex_eye"] == 2).sum() == 1570
    parts = list(head["part_names"])
    for part in ("iris", "pupil", "teeth", "mouth", "brows"):
        assert (head["polygon_parts"] == parts.index(part)).sum() > 20, part
    assert head["polygon_vertices"].max() < len(source) and head["polygon_sizes"].sum() == len(head["polygon_vertices"])
    # every shape, back to dense: within float16's rounding of the upstream deltas (cm)
    k = list(names).index("jawOpen")
    a, b = head["key_offsets"][k], head["key_offsets"][k + 1]
    dense = np.zeros((len(source), 3))
    dense[head["key_vertices"][a:b]] = head["key_deltas"][a:b]
    assert np.abs(dense - deltas[k][source]).max() < 2e-3
    assert np.all(np.isfinite(head["key_deltas"].astype(np.float32)))
