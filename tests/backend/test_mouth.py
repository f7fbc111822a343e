"""Mouth strength per character (issue 22 item 4): a jawOpen shape's lip gap measured from its
deltas, the factor that makes it open as far as the built-in head's (the capture's), and the
ARKit mouth keys scaled by it, never past 1 and never to a non-finite number; an Exp### (FLAME)
face's mouth scaled by the strength along the directions the read-out reads the mouth from."""

from __future__ import annotations

import math

import numpy as np
import pytest

from asynfusion.core import arkit, mouth
from asynfusion.tools import make_ict_head

from .conftest import REPO

ICT = REPO / "asynfusion_blender" / "data" / "ict_facekit" / make_ict_head.FILE
Z_UP = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])    # ICT's Y-up -> Blender's Z-up


@pytest.fixture(scope="module")
def ict_jaw():
    """The shipped built-in head: rest vertices and its jawOpen offsets (cm, Y up), and its lips."""
    with np.load(ICT, allow_pickle=False) as d:
        k = list(d["names"]).index("jawOpen")
        a, b = d["key_offsets"][k], d["key_offsets"][k + 1]
        rest = d["vertices"].astype(np.float64)
        delta = np.zeros_like(rest)
        delta[d["key_vertices"][a:b]] = d["key_deltas"][a:b].astype(np.float64)
        return rest, delta, tuple(int(i) for i in d["lip_vertices"])


def mouth_sheet(gap=1.0, seam=0.0, drift=(0.0, 0.0, 0.0), welded=False):
    """A lower face in centimetres, Z up: an upper-lip row and a lower-lip row ``seam`` apart at the
    mouth's line (z = 0), a chin below; jawOpen moves the lower lip and chin down by ``gap`` (and
    everything by ``drift``). ``welded``: one row of vertices at the line, as a mouth without a seam."""
    xs = np.linspace(-2.5, 2.5, 11)
    upper = [(x, 0.0, z) for x in xs for z in (0.0 + seam / 2, 0.5, 1.0)]
    lower = [(x, 0.0, z) for x in xs for z in (-seam / 2, -0.5, -1.0, -2.0)]
    if welded:
        lower = [p for p in lower if p[2] < -0.1]
    rest = np.array(upper + lower)
    delta = np.zeros_like(rest)
    delta[len(upper):, 2] = -gap
    if welded:
        delta[:len(xs) * 3:3, 2] = -gap / 2          # the one row at the line stretches half way
    return rest, delta + np.asarray(drift)


def test_the_reference_is_the_built_in_heads_own_gap(ict_jaw):
    """lip_gap finds what parts on the shipped head: its teeth and lips, whose midline vertices
    (make_ict_head's UPPER_LIP/LOWER_LIP) part 3.28 cm; the reference is that measurement, the same
    in metres and Blender's Z-up frame as in ICT's centimetres."""
    rest, delta, (upper, lower) = ict_jaw
    gap = mouth.lip_gap(rest, delta, up=(0.0, 1.0, 0.0))
    assert gap == pytest.approx(mouth.REFERENCE_GAP_CM, abs=1e-3)
    lips = (delta[upper] - delta[lower])[1]
    assert lips == pytest.approx(3.28, abs=0.01) and abs(gap - lips) / lips < 0.1
    assert 100 * mouth.lip_gap(0.01 * rest @ Z_UP.T, 0.01 * delta @ Z_UP.T) == pytest.approx(gap, rel=1e-6)
    assert mouth.calibration(gap) == 1.0                       # the built-in head stays as it is


@pytest.mark.parametrize("scale", [0.3, 0.6, 1.7])
def test_a_weaker_or_stronger_copy_of_the_head_is_brought_to_the_capture(ict_jaw, scale):
    rest, delta, _ = ict_jaw
    gap = mouth.lip_gap(rest, scale * delta, up=(0.0, 1.0, 0.0))
    assert gap == pytest.approx(scale * mouth.REFERENCE_GAP_CM, rel=0.02)     # which teeth touch moves a little
    assert mouth.calibration(gap) == pytest.approx(1.0 / scale, rel=0.02)


def test_the_gap_is_the_seams_parting_not_the_whole_keys_drift():
    rest, delta = mouth_sheet(gap=1.2)
    assert mouth.lip_gap(rest, delta) == pytest.approx(1.2)
    rest, delta = mouth_sheet(gap=1.2, seam=0.05, drift=(0.3, 0.2, -0.4))   # the whole face sinks too
    assert mouth.lip_gap(rest, delta) == pytest.approx(1.2)
    rest, delta = mouth_sheet(gap=0.4)
    assert mouth.lip_gap(rest, delta) == pytest.approx(0.4)
    assert mouth.calibration(0.4) == mouth.CALIBRATION_RANGE[1]      # 8.8x, clipped


def test_nothing_to_measure_leaves_the_mouth_as_it_is():
    rest, delta = mouth_sheet(gap=1.0, welded=True)            # stretched, never parted
    assert mouth.lip_gap(rest, delta) is None
    rest, delta = mouth_sheet(gap=1.0)
    assert mouth.lip_gap(rest, np.zeros_like(delta)) is None   # a key that does not move
    assert mouth.lip_gap(rest, delta, up=(1.0, 0.0, 0.0)) is None     # nothing parts sideways
    bad = delta.copy()
    bad[3, 2] = np.nan
    assert mouth.lip_gap(rest, bad) is None
    assert mouth.lip_gap(rest[:0], delta[:0]) is None
    for gap in (None, 0.0, -1.0, math.nan, math.inf):
        assert mouth.calibration(gap) == 1.0


def test_calibration_is_clipped_and_leaves_near_misses_alone():
    ref = mouth.REFERENCE_GAP_CM
    assert mouth.calibration(ref * 1.04) == 1.0 and mouth.calibration(ref / 1.04) == 1.0
    assert mouth.calibration(ref / 2) == pytest.approx(2.0)
    assert mouth.calibration(0.01) == mouth.CALIBRATION_RANGE[1]
    assert mouth.calibration(100.0) == mouth.CALIBRATION_RANGE[0]


def test_the_mouth_keys_are_scaled_and_clipped_the_rest_untouched():
    rng = np.random.default_rng(0)
    track = rng.uniform(0.0, 1.0, (200, arkit.NUM_ARKIT))
    jaw, close = arkit.INDEX["jawOpen"], arkit.INDEX["mouthClose"]
    track[:, close] = track[:, jaw] * rng.uniform(0.0, 1.0, 200)          # mouthClose <= jawOpen
    scaled = mouth.scale_mouth(track, 2.5)
    mouth_cols = [arkit.INDEX[n] for n in arkit.ARKIT_NAMES if n == "jawOpen" or n.startswith("mouth")]
    assert sorted(mouth.MOUTH_COLUMNS) == sorted(mouth_cols) and len(mouth_cols) == 24
    others = [i for i in range(arkit.NUM_ARKIT) if i not in mouth_cols]
    assert np.array_equal(scaled[:, others], track[:, others])
    assert np.allclose(scaled[:, mouth_cols], np.minimum(track[:, mouth_cols] * 2.5, 1.0))
    assert scaled.max() <= 1.0 and scaled.min() >= 0.0 and np.all(np.isfinite(scaled))
    assert np.all(scaled[:, close] <= scaled[:, jaw])          # the lips still never pass each other
    assert np.allclose(mouth.scale_mouth(track, 0.5)[:, jaw], 0.5 * track[:, jaw])
    assert not np.any(mouth.scale_mouth(track, 0.0)[:, mouth_cols])
    for factor in (math.nan, math.inf, -1.0, 1.0):
        assert np.array_equal(mouth.scale_mouth(track, factor), track)


def test_the_strength_is_a_number_in_range():
    assert mouth.check_strength(1.2) == 1.2 and mouth.check_strength(0) == 0.0 and mouth.check_strength(3) == 3.0
    for bad in (-0.1, 3.5, math.nan, math.inf, "1.2", None):
        with pytest.raises(ValueError, match="from 0 to 3"):
            mouth.check_strength(bad)


def test_the_sentence_says_what_was_done():
    assert mouth.sentence(mouth.REFERENCE_GAP_CM, 1.0, 1.0) is None
    said = mouth.sentence(0.9, mouth.calibration(0.9) * 1.2, 1.2)
    assert said == "Its jawOpen parts the lips 0.9 cm against the built-in head's 3.5 cm, so the mouth " \
                   "keys are scaled x4.69 (mouth strength 1.2)."
    assert mouth.sentence(None, 1.5, 1.5).startswith("Its jawOpen shape parts no vertices")
    assert mouth.sentence(None, 0.5, 0.5, has_jaw_open=False) == \
        "The face has no jawOpen key to calibrate the mouth from; the mouth keys are scaled x0.50 (mouth strength 0.5)."


def test_a_measured_gap_is_remembered_for_the_same_shape_and_measured_again_for_an_edited_one(monkeypatch):
    rest, delta = mouth_sheet(gap=1.0)
    calls = []
    real = mouth.lip_gap
    monkeypatch.setattr(mouth, "lip_gap", lambda *a: calls.append(1) or real(*a))
    mouth._MEASURED.clear()
    first = mouth.measured_lip_gap(rest, delta)
    assert mouth.measured_lip_gap(rest.copy(), delta.copy()) == first == real(rest, delta) and len(calls) == 1
    wider = mouth.measured_lip_gap(rest, delta * 2.0)            # the shape edited: measured again
    assert len(calls) == 2 and wider == pytest.approx(2 * first)


def flame_frames(count=200, width=100, seed=5):
    """FLAME inputs spread as the captures' (the read-out's std), about the neutral face."""
    fit = arkit.load_fit()
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(count, arkit.FACE_INPUTS)) * fit.std
    return x[:, :width], x[:, 100:]


def mouth_readout(expressions, jaw):
    """The read-out's mouth shapes before their clip, less what it reads from the neutral face."""
    fit = arkit.load_fit()
    cols = [arkit.INDEX[n] for n in fit.fitted]
    return (arkit.face_inputs(expressions, jaw) / fit.std) @ fit.matrix[:, cols]


@pytest.mark.parametrize("factor", [0.0, 0.5, 2.0, 3.0])
def test_an_exp_face_mouth_is_scaled_as_the_readout_reads_it_and_nothing_across_it(factor):
    e, jaw = flame_frames()
    e2, jaw2 = mouth.scale_flame_mouth(e, jaw, factor)
    assert e2.shape == e.shape and jaw2.shape == jaw.shape
    assert np.allclose(mouth_readout(e2, jaw2), factor * mouth_readout(e, jaw), atol=1e-9)
    fit = arkit.load_fit()
    cols = [arkit.INDEX[n] for n in fit.fitted]
    across = np.random.default_rng(1).normal(size=(arkit.FACE_INPUTS, 20))    # directions the mouth is not read along
    across -= fit.matrix[:, cols] @ np.linalg.lstsq(fit.matrix[:, cols], across, rcond=None)[0]
    before, after = arkit.face_inputs(e, jaw) / fit.std, arkit.face_inputs(e2, jaw2) / fit.std
    assert np.allclose(after @ across, before @ across, atol=1e-5)     # lstsq leaves ~1e-8 of the mouth in them
    assert not np.allclose(e2, e) or factor == 1.0


def test_an_exp_face_keeps_its_jaw_turn_in_proportion():
    """Measured in spreads, the jaw (a spread of about a degree) is not turned tens of degrees to
    carry the mouth: at strength 2 no frame turns past twice the widest the inputs had, plus one spread."""
    e, jaw = flame_frames(500)
    _, jaw2 = mouth.scale_flame_mouth(e, jaw, 2.0)
    spread = np.linalg.norm(arkit.load_fit().std[100:])
    assert np.linalg.norm(jaw2, axis=1).max() < 2.0 * np.linalg.norm(jaw, axis=1).max() + spread


def test_an_exp_face_at_strength_one_or_a_bad_factor_is_left_alone():
    e, jaw = flame_frames(width=50)
    for factor in (1.0, math.nan, -1.0, math.inf):
        e2, jaw2 = mouth.scale_flame_mouth(e, jaw, factor)
        assert np.array_equal(e2, e) and np.array_equal(jaw2, jaw)
    e2, _ = mouth.scale_flame_mouth(e, jaw, 2.0)
    assert e2.shape == (200, 50)                   # fewer coefficients than FLAME's 100 come back as many
    assert mouth.flame_sentence(1.0) is None
    assert mouth.flame_sentence(1.5) == "Mouth strength 1.5: its Exp### mouth moves 1.5 times as far as the capture's."


def _wide_faces(n: int = 400, width: int = 100) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    return rng.normal(0.0, 0.8, (n, width)), rng.normal(0.0, 0.12, (n, 3))


@pytest.mark.parametrize("width", [100, 50])
def test_a_generated_mouth_opens_no_wider_than_the_ceiling_and_below_the_knee_is_untouched(width):
    """limit_opening: the opening follows arkit.soft_ceiling exactly (order kept, never past the
    ceiling), frames below the knee keep every input, and what changes is only along the
    read-out's jawOpen direction (in spreads), so nothing across it moves."""
    e, j = _wide_faces(width=width)
    r = mouth.opening(e, j)
    knee, ceiling = np.percentile(r, 80), np.percentile(r, 95)
    e2, j2 = mouth.limit_opening(e, j, knee, ceiling)
    r2 = mouth.opening(e2, j2)
    np.testing.assert_allclose(r2, arkit.soft_ceiling(r, knee, ceiling), atol=1e-9)
    assert r2.max() < ceiling and (r > ceiling).any()
    assert np.all(np.diff(r2[np.argsort(r)]) >= -1e-12)                 # the widest stay the widest
    low = r <= knee
    assert np.array_equal(e2[low], e[low]) and np.array_equal(j2[low], j[low])
    fit = arkit.load_fit()
    moved = (arkit.face_inputs(e2, j2) - arkit.face_inputs(e, j)) / fit.std
    m = fit.matrix[:, arkit.INDEX["jawOpen"]].copy()
    m[width:100] = 0.0                                                  # coefficients the face lacks
    across = moved - np.outer(moved @ m / (m @ m), m)
    assert np.abs(across).max() < 1e-9 and np.abs(moved).max() > 0.1
    assert e2.shape == e.shape and j2.shape == j.shape


def test_the_range_is_the_captures_99th_percentile_and_widest_opening():
    r = np.r_[np.linspace(0.0, 1.0, 1001), 1.4]
    fitted = mouth.opening_range(r)
    assert fitted["ceiling"] == 1.4 and fitted["knee"] == pytest.approx(np.percentile(r, 99), abs=1e-4)
    with pytest.raises(ValueError, match="no spread"):
        mouth.opening_range(np.full(10, 0.3))


def test_generation_bends_the_mouth_into_the_weights_range_and_a_bad_range_is_one_sentence(tmp_path):
    """The shipped weights with a mouth range set below their widest opening on a clip (same
    seed, same noise): the opening never passes the ceiling, frames below the knee are as
    before, and the motion file says the range it used."""
    import json
    import shutil

    from asynfusion.core.motion_file import read_motion
    from asynfusion.core.skeleton import JAW
    from asynfusion.errors import WeightsError
    from asynfusion.generate import Generator
    from asynfusion.weights import default_weights_dir

    from .conftest import SPEECH_WAV

    folder = tmp_path / "weights"
    shutil.copytree(default_weights_dir(), folder, ignore=shutil.ignore_patterns("*.png", "MODEL_CARD.md"))
    cfg = json.loads((folder / "config.json").read_text())
    cfg["sampler"].pop("mouth_range", None)
    (folder / "config.json").write_text(json.dumps(cfg))
    Generator(folder, "cpu").generate(SPEECH_WAV, tmp_path / "free.npz", seed=2)
    free = read_motion(tmp_path / "free.npz")
    jaw = slice(3 * JAW, 3 * JAW + 3)
    r = mouth.opening(free.expressions, free.poses[:, jaw])
    knee, ceiling = float(np.percentile(r, 70)), float(np.percentile(r, 90))
    cfg["sampler"]["mouth_range"] = {"knee": knee, "ceiling": ceiling}
    (folder / "config.json").write_text(json.dumps(cfg))
    Generator(folder, "cpu").generate(SPEECH_WAV, tmp_path / "held.npz", seed=2)
    held = read_motion(tmp_path / "held.npz")
    r2 = mouth.opening(held.expressions, held.poses[:, jaw])
    assert r2.max() < ceiling + 1e-5 and ceiling < r.max() - 0.05            # float32 in the file
    low = r < knee - 1e-3
    np.testing.assert_allclose(held.expressions[low], free.expressions[low], atol=1e-5)
    assert held.meta["mouth_range"] == [knee, ceiling] and free.meta["mouth_range"] is None
    for bad in ({"knee": 0.9, "ceiling": 0.5}, {"knee": "low", "ceiling": 1.0}, [0.5, 1.0], {"knee": float("nan"), "ceiling": 1.0}):
        cfg["sampler"]["mouth_range"] = bad
        (folder / "config.json").write_text(json.dumps(cfg))
        with pytest.raises(WeightsError, match="mouth_range.*calibrate"):
            Generator(folder, "cpu")


def test_a_face_closes_as_far_as_its_closing_estimate_and_opens_only_as_far_as_itself():
    """close_as: frames where the harder-guided estimate opens as wide or wider keep every input;
    where it closes CLOSING_EASE further or more, they are that estimate; between, between."""
    e, j = _wide_faces()
    rng = np.random.default_rng(8)
    ce, cj = e + rng.normal(0.0, 0.3, e.shape), j + rng.normal(0.0, 0.05, j.shape)
    r, rc = mouth.opening(e, j), mouth.opening(ce, cj)
    e2, j2 = mouth.close_as(e, j, ce, cj)
    r2 = mouth.opening(e2, j2)
    wider, far = rc >= r, r - rc >= mouth.CLOSING_EASE
    between = ~wider & ~far
    assert wider.any() and far.any() and between.any()
    assert np.array_equal(e2[wider], e[wider]) and np.array_equal(j2[wider], j[wider])
    np.testing.assert_allclose(e2[far], ce[far], atol=1e-12)
    np.testing.assert_allclose(j2[far], cj[far], atol=1e-12)
    assert np.all(r2[between] < r[between]) and np.all(r2[between] > rc[between])
    assert np.all(r2 <= r + 1e-12)
