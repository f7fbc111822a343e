"""Motion matching over the training motion (retrieval.py), on the real BEAT2 takes."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from asynfusion.core.quaternions import axis_angle_to_matrix
from asynfusion import audio
from asynfusion.retrieval import HOP, SEGMENT, MotionDatabase, frame_keys
from asynfusion.training.data import SELF_EXCLUSION, Windows, fit_normaliser, motion_database

pytestmark = pytest.mark.shared_data("beat2")


@pytest.fixture(scope="module")
def database(split):
    return motion_database(split.train, fit_normaliser(split.train)), fit_normaliser(split.train)


def test_retrieval_keys_read_only_the_first_block_of_the_wide_features(split, database):
    db, _ = database
    feats = split.test[0].feats.copy()
    assert feats.shape[1] == audio.WIDE_DIM
    np.testing.assert_array_equal(frame_keys(feats), frame_keys(feats[:, :audio.FEATURE_DIM]))
    scrambled = feats.copy()
    scrambled[:, audio.FEATURE_DIM:] = np.random.default_rng(0).standard_normal(scrambled[:, audio.FEATURE_DIM:].shape)
    np.testing.assert_array_equal(db.match(feats, seed=3), db.match(scrambled, seed=3))


def test_matching_a_takes_own_audio_finds_that_take_unless_it_is_excluded(split, database):
    db, normaliser = database
    take = split.train[0]
    own = normaliser.normalise(*take.branches())[1].numpy()
    found = db.match(take.feats[:600], seed=0, top_k=1)
    assert found.shape == own[:600].shape
    assert np.abs(found - own[:600]).mean() < 0.05              # its own frames, cross-faded into themselves
    excluded = db.match(take.feats[:600], seed=0, top_k=1, exclude=(take.source, take.start, SELF_EXCLUSION))
    assert np.abs(excluded - own[:600]).mean() > 0.3             # something else, as held-out speech gets


def test_seeds_pick_among_the_best_segments_and_the_track_has_no_jumps(split, database):
    db, _ = database
    feats = split.test[0].feats
    a, b = db.match(feats, seed=0), db.match(feats, seed=1)
    assert a.shape == (len(feats), db.body.shape[1]) and np.isfinite(a).all()
    assert not np.allclose(a, b)                                 # top-k choice differs by seed
    step = np.abs(np.diff(a, axis=0)).mean(1)
    # a cut without the cross-fade would show as single-frame jumps far above the typical step
    assert step.max() < 12 * np.median(step)


def test_a_clip_shorter_than_one_segment_still_gets_a_track(split, database):
    db, _ = database
    out = db.match(split.test[0].feats[:10], seed=0)
    assert out.shape == (10, db.body.shape[1]) and np.isfinite(out).all()


def test_database_round_trips_through_safetensors(database, tmp_path):
    db, _ = database
    db.save(tmp_path)
    back = MotionDatabase.load(tmp_path)
    np.testing.assert_array_equal(back.keys, db.keys)
    np.testing.assert_allclose(back.body, db.body, rtol=1e-3, atol=2e-3)   # stored as float16
    np.testing.assert_array_equal(back.starts, db.starts)
    assert not list(tmp_path.glob("*.pkl")) and (tmp_path / "motion_db.safetensors").stat().st_size < 8e6


def test_segments_never_cross_from_one_take_into_the_next(database):
    db, _ = database
    last = db.starts + SEGMENT - 1
    assert (db.source[db.starts] == db.source[last]).all()
    assert (db.frame[last] - db.frame[db.starts] == SEGMENT - 1).all()
    assert HOP < SEGMENT


def test_training_windows_carry_a_retrieved_track_that_is_not_their_own_motion(split, database):
    db, normaliser = database
    ds = Windows(split.train[:1], normaliser, 120, 60, mirror=False, database=db)
    item = ds[3]
    assert item["retrieved"].shape == item["body"].shape
    assert (item["retrieved"] - item["body"]).abs().mean() > 0.3
    assert item["face_weight"].shape == (120,) and float(item["face_weight"].max()) > 1   # a bilabial inside
    tracks = ds.tracks[0]
    assert len({float(t.sum()) for t in tracks}) == len(tracks)  # variants differ (drawn per window)
    assert all(torch.isfinite(t).all() for t in tracks)


@pytest.mark.parametrize("rate", [0.85, 1.15])
def test_time_stretched_takes_replay_the_motion_and_never_retrieve_themselves(split, database, rate):
    db, normaliser = database
    take = split.train[0]
    fast = take.stretch(rate)
    assert fast.frames == int(np.floor((take.frames - 1) / rate)) + 1
    assert fast.feats.shape == (fast.frames, take.feats.shape[1]) and fast.visemes.shape == (fast.frames,)
    # where a stretched frame falls on an original frame, it is that frame (rotations compared as matrices)
    i = np.array([k for k in range(fast.frames) if abs(k * rate - round(k * rate)) < 1e-9])
    src = np.rint(i * rate).astype(int)
    mats = [axis_angle_to_matrix(p.reshape(-1, 55, 3).astype(np.float64)) for p in (fast.poses[i], take.poses[src])]
    assert len(i) > 5 and np.abs(mats[0] - mats[1]).max() < 1e-5
    assert np.allclose(fast.trans[i], take.trans[src], atol=1e-6)
    # frame k of the stretched take sits near original frame k * rate: the exclusion radius covers the drift
    drift = np.abs(np.arange(fast.frames) * (rate - 1.0)).max()
    assert fast.retrieval_radius(0) >= drift
    ds = Windows(split.train[:1], normaliser, 120, 60, mirror=False, database=db, stretch=abs(rate - 1))
    plain = Windows(split.train[:1], normaliser, 120, 60, mirror=False, database=db)
    assert len(ds) > 4 * len(plain)           # four stretched copies next to the take
    item = ds[len(ds) - 3]                       # a window of a stretched copy
    assert (item["retrieved"] - item["body"]).abs().mean() > 0.3
