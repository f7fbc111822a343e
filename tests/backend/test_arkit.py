"""FLAME -> ARKit: names in every spelling, the shipped fit, and its read-out on held-out capture."""

from __future__ import annotations

import numpy as np
import pytest

from asynfusion.core import arkit
from asynfusion.tools import fit_flame_arkit as F

from .conftest import SHARED


@pytest.mark.parametrize("key,name", [
    ("jawOpen", "jawOpen"), ("JawOpen", "jawOpen"), ("jaw_open", "jawOpen"), ("JAW_OPEN", "jawOpen"),
    ("mouthSmile_L", "mouthSmileLeft"), ("mouthSmileLeft", "mouthSmileLeft"),
    ("MouthSmile_R", "mouthSmileRight"), ("mouth_smile_right", "mouthSmileRight"),
    ("eyeBlink_l", "eyeBlinkLeft"), ("EyeBlinkRight", "eyeBlinkRight"), ("mouthLeft", "mouthLeft"),
    ("browInnerUp_L", "browInnerUp"), ("cheekPuff_R", "cheekPuff"), ("browInnerUp", "browInnerUp"),
    ("Exp000", None), ("Basis", None), ("mouthSmile", None), ("", None), ("jawOpenness", None),
])
def test_arkit_names_in_common_spellings(key, name):
    assert arkit.canonical_name(key) == name


def test_a_mesh_with_split_and_joined_keys_maps_each_key_once():
    keys = ["Basis", "jawOpen", "mouthSmile_L", "mouthSmileRight", "browInnerUp_L", "browInnerUp_R", "Key 7"]
    found = arkit.arkit_keys(keys)
    assert found == {"jawOpen": "jawOpen", "mouthSmile_L": "mouthSmileLeft", "mouthSmileRight": "mouthSmileRight",
                     "browInnerUp_L": "browInnerUp", "browInnerUp_R": "browInnerUp"}
    assert len(arkit.ARKIT_NAMES) == 52 and len(set(arkit.ARKIT_NAMES)) == 52


def test_the_shipped_fit_is_finite_licensed_and_drives_the_mouth_shapes():
    fit = arkit.load_fit()
    assert "CC BY-NC 4.0" in fit.about["licence"]
    for a in (fit.mean, fit.std, fit.matrix, fit.bias):
        assert np.all(np.isfinite(a))
    wanted = {"jawOpen", "mouthClose", "mouthFunnel", "mouthPucker", "mouthPressLeft", "mouthRollLower",
              "mouthRollUpper", "mouthStretchLeft", "mouthSmileRight", "mouthLowerDownLeft", "mouthUpperUpRight"}
    assert wanted <= set(fit.fitted)
    driven = {arkit.ARKIT_NAMES[c] for c in np.flatnonzero(np.abs(fit.matrix).sum(0) > 0)}
    assert driven == set(fit.fitted) and "eyeBlinkLeft" not in driven


@pytest.fixture(scope="module")
def takes():
    return {t: F.load_take(str(SHARED), t) for t in F.TAKES}


@pytest.mark.shared_data("beat2", "ict_facekit")
def test_held_out_take_bilabials_close_and_open_vowels_open(takes):
    """Fit on one take, read the other: /p b m/ above /aa ae ah/ on mouthClose in >= 85 % of frame
    pairs, and the ICT head's lips within 2 mm at most closures, 8 mm apart at open vowels."""
    lips = F.ict_lip_deltas(str(SHARED))
    for held in F.TAKES:
        train = [t for t in F.TAKES if t != held]
        fit = F.fit([takes[t][0] for t in train], [takes[t][1] for t in train], 1e5)
        result = F.evaluate(fit, *takes[held], lips)
        assert result["mouthClose_pbm_over_open_pairs"] >= 0.85, (held, result)
        assert result["lip_gap_mm_per_closure_min_median"] <= 2.0 and result["closures_at_most_2mm"] >= 0.8
        assert result["lip_gap_mm_per_open_vowel_max_median"] >= 8.0
        # the read-out follows the capture: the same map on time-reversed faces loses the phones
        x, phones = takes[held]
        shuffled = F.evaluate(fit, x[::-1], phones, lips)
        assert shuffled["mouthClose_pbm_over_open_pairs"] < 0.7


@pytest.mark.shared_data("beat2")
def test_readout_range_and_the_jaw_never_below_mouth_close(takes):
    x, _ = takes[F.TAKES[0]]
    w = arkit.flame_to_arkit(x[:, :100], x[:, 100:])
    assert w.shape == (len(x), 52) and np.all(np.isfinite(w))
    assert w.min() >= 0.0 and w.max() <= 1.0
    assert np.all(w[:, arkit.INDEX["jawOpen"]] >= w[:, arkit.INDEX["mouthClose"]])
    assert w[:, arkit.INDEX["jawOpen"]].std() > 0.05          # it moves with the speech
    neutral = arkit.flame_to_arkit(np.zeros((1, 100)), np.zeros((1, 3)))
    assert np.all(np.isfinite(neutral))


@pytest.mark.shared_data("beat2", "ict_facekit")
def test_the_fit_script_reproduces_the_shipped_file(tmp_path):
    out = tmp_path / "fit.npz"
    assert F.main(["--data", str(SHARED), "--out", str(out), "--plot", str(tmp_path / "p.png")]) == 0
    assert out.read_bytes() == open(arkit.FIT_PATH, "rb").read()
    assert (tmp_path / "p.png").stat().st_size > 10000


def _blinks(curve: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(onset frames, lengths in s) of the runs where the eyelid is not fully open."""
    edges = np.flatnonzero(np.diff(np.r_[0, (curve > 0).astype(int), 0]))
    return edges[::2], (edges[1::2] - edges[::2]) / 30.0


@pytest.mark.shared_data("beat2")
def test_blinks_saccades_and_brows_like_a_speaker_and_the_same_for_a_seed(takes):
    from asynfusion.core import face_motion as FM
    x, _ = takes[F.TAKES[1]]
    w = arkit.flame_to_arkit(x[:, :100], x[:, 100:])
    minutes = len(w) / 30.0 / 60.0
    pause_share, at_pause = [], []
    for seed in range(6):
        out = FM.procedural_face(w, 30.0, seed)
        left, right = out[:, arkit.INDEX["eyeBlinkLeft"]], out[:, arkit.INDEX["eyeBlinkRight"]]
        assert np.array_equal(left, right)                                   # both eyes together
        onsets, lengths = _blinks(left)
        assert 8 <= len(onsets) / minutes <= 30
        assert lengths.min() >= 0.1 and lengths.max() <= 0.4
        assert left.max() > 0.99 and out.min() >= 0.0 and out.max() <= 1.0
        look = out[:, [arkit.INDEX[n] for n in ("eyeLookOutLeft", "eyeLookInLeft", "eyeLookUpLeft")]]
        assert 0.05 < look.max() <= FM.GAZE_REACH + 1e-9 and len(np.unique(look[:, 0])) > 5   # small jumps
        assert out[:, arkit.INDEX["browInnerUp"]].max() > 0.2
        # the mouth shapes are left as the read-out made them
        fitted = [arkit.INDEX[n] for n in ("jawOpen", "mouthClose", "mouthFunnel")]
        assert np.array_equal(out[:, fitted], w[:, fitted])
        assert np.array_equal(out, FM.procedural_face(w, 30.0, seed))
        pauses = FM.speech_pauses(w[:, arkit.INDEX["jawOpen"]], 30.0)
        pause_share.append(pauses.mean())
        at_pause.append(pauses[onsets].mean())
    assert np.mean(at_pause) > np.mean(pause_share)        # blinks gather at pauses
    assert not np.array_equal(FM.procedural_face(w, 30.0, 0), FM.procedural_face(w, 30.0, 1))


def test_the_jaw_bends_towards_fully_open_instead_of_clipping_and_other_shapes_still_clip():
    assert arkit.soft_ceiling(np.array([0.3]))[0] == 0.3
    wide = arkit.soft_ceiling(np.array([0.9, 1.0, 1.3, 5.0]))
    assert (np.diff(wide) > 0).all() and wide[-1] <= 1.0 and wide[1] < 0.95      # order kept, 1.0 no longer full
    fit = arkit.load_fit()
    x = np.tile(fit.mean, (3, 1))
    x[:, :] += np.outer([0.0, 4.0, 8.0], fit.std * np.sign(fit.matrix[:, arkit.INDEX["jawOpen"]]))
    w = arkit.raw_readout(fit, x)
    jaw = w[:, arkit.INDEX["jawOpen"]]
    assert jaw[2] > jaw[1] and jaw[2] < 1.0                               # wider still reads wider, never pinned
    assert ((w >= 0) & (w <= 1)).all()
