"""Phones, face read-out, body statistics and the baselines, on the real BEAT2 takes."""

from __future__ import annotations

import numpy as np
import pytest

from asynfusion.core.kinematics import FLOAT_TOLERANCE, floor_height, ground, lowest_foot
from asynfusion.evaluation import articulation as A
from asynfusion.evaluation import motion_stats as S
from asynfusion.evaluation.baselines import Baselines
from asynfusion.evaluation.metrics import face_params, forward_kinematics
from asynfusion.training import phones as P

from .conftest import BEAT2

pytestmark = pytest.mark.shared_data("beat2")


@pytest.fixture(scope="module")
def probe(split):
    return A.FaceProbe.fit([face_params(t.poses, t.expressions) for t in split.train],
                           [t.visemes for t in split.train])


def test_textgrid_phones_become_frame_classes():
    phones = P.read_phones(BEAT2 / "2_scott_0_1_1.TextGrid")
    assert phones[0][2] == "" and ("M" in {p for _, _, p in phones})     # stress digits are gone
    assert all(a <= b for a, b, _ in phones)
    vis = P.frame_visemes(phones, 1906)
    counts = np.bincount(vis[vis >= 0], minlength=4)
    assert counts[P.CLOSED] > 100 and (counts > 0).all()
    # a frame inside the first /m/ is "closed"
    start, end, _ = next(p for p in phones if p[2] == "M")
    assert vis[int((start + end) / 2 * 30)] == P.CLOSED
    w = P.loss_weights(vis)
    assert w[vis == P.CLOSED].min() == P.LOSS_WEIGHT["closed"] and w[vis < 0].max() == 1.0


def test_the_probe_reads_held_out_capture_and_not_a_still_face(split, probe):
    held = sum(probe.readout_counts(face_params(t.poses, t.expressions), t.visemes) for t in split.test)
    assert A.balanced_accuracy(held) > 0.6                       # captured faces say their visemes
    still = sum(probe.readout_counts(np.zeros((t.frames, 103)), t.visemes) for t in split.test)
    assert A.balanced_accuracy(still) == pytest.approx(0.25)     # one class for every frame: chance
    rng = np.random.default_rng(0)
    shuffled = sum(probe.readout_counts(face_params(t.poses, t.expressions)[rng.permutation(t.frames)], t.visemes)
                   for t in split.test)
    assert A.balanced_accuracy(shuffled) < 0.45                 # right shapes at the wrong time


def test_captured_lips_close_on_bilabials_and_a_halved_face_closes_half_as_deep(split, probe):
    take = split.test[0]
    face = face_params(take.poses, take.expressions)
    depth = A.closure_depths(probe.openness(face), take.visemes)
    assert len(depth) >= 5 and depth.mean() > 0
    mean = probe.mean
    half = mean + 0.5 * (face - mean)
    assert A.closure_depths(probe.openness(half), take.visemes).mean() == pytest.approx(0.5 * depth.mean())
    assert A.expression_amplitude(0.5 * take.expressions) == pytest.approx(0.5 * A.expression_amplitude(take.expressions))


def test_body_statistics_tell_capture_from_still_and_shaking_motion(split):
    take = split.test[0]
    joints = forward_kinematics(take.poses, take.trans)
    amp = S.group_amplitudes(joints, take.poses)
    assert all(v > 0 for v in amp.values()) and amp["hands"] > amp["spine"]
    still = np.repeat(take.poses[:1], take.frames, 0)
    assert max(S.group_amplitudes(forward_kinematics(still, take.trans[:1].repeat(take.frames, 0)), still).values()) < 1e-9
    bands = S.wrist_band_power(joints)
    rng = np.random.default_rng(1)
    shaky = take.poses + 0.02 * rng.standard_normal(take.poses.shape).astype(np.float32)
    shaky_bands = S.wrist_band_power(forward_kinematics(shaky, take.trans))
    assert shaky_bands["tremor"] > 3 * bands["tremor"]
    assert S.root_stats(joints)["drift"] < 1.0


def _scaled_band(x: np.ndarray, lo: float, hi: float, gain: float) -> np.ndarray:
    f = np.fft.rfftfreq(len(x), 1 / 30.0)
    spectrum = np.fft.rfft(x, axis=0)
    spectrum[(f >= lo) & (f <= hi)] *= gain
    return np.fft.irfft(spectrum, n=len(x), axis=0)


def test_the_wobble_counts_the_wrists_own_3_to_6_hz_where_the_speed_band_counts_the_strokes(split):
    """A real take: its wrists' positions halved in 3-6 Hz lower the wobble (velocity, axis by
    axis) to under half and the speed's 3-6 Hz power hardly at all; its arms' strokes (1-2.5 Hz
    of their rotations) halved lower the speed's 3-6 Hz power and leave the wobble."""
    from asynfusion.core.skeleton import BODY_PARTS

    take = max(split.train, key=lambda t: t.frames)
    joints = forward_kinematics(take.poses, take.trans)
    wobble, speed = S.wrist_wobble(joints), S.wrist_band_power(joints)["tremor"]
    shaken = joints.copy()
    shaken[:, list(S.WRISTS)] = _scaled_band(joints[:, list(S.WRISTS)], 3.0, 6.0, 0.5)
    assert S.wrist_wobble(shaken) < 0.5 * wobble and S.wrist_band_power(shaken)["tremor"] > 0.8 * speed
    arms = [3 * j + k for part in ("arms", "hands") for j in BODY_PARTS[part] for k in range(3)]
    calmer = take.poses.astype(np.float64)
    calmer[:, arms] = _scaled_band(calmer[:, arms], 1.0, 2.5, 0.5)
    strokes = forward_kinematics(calmer, take.trans)
    assert S.wrist_band_power(strokes)["tremor"] < 0.8 * speed and abs(S.wrist_wobble(strokes) / wobble - 1) < 0.1


def test_the_root_sway_counts_a_pelvis_bobbing_at_a_gestures_pace_not_a_slow_step(split):
    """A real take's pelvis barely moves on the floor at 1-3 Hz; a 1 cm bob at 1.5 Hz added to
    its translation shows as about 7 mm RMS more, a 20 cm step over 4 s hardly at all."""
    take = max(split.train, key=lambda t: t.frames)
    real = S.root_stats(forward_kinematics(take.poses, take.trans))["root_sway"]
    assert 0 < real < 0.006
    t = np.arange(take.frames) / 30.0
    bob, step = take.trans.astype(np.float64), take.trans.astype(np.float64)
    bob[:, 0] += 0.01 * np.sin(2 * np.pi * 1.5 * t)
    step[:, 2] += 0.2 * np.clip((t - t[-1] / 2) / 4.0, 0.0, 1.0)
    bobbing = S.root_stats(forward_kinematics(take.poses, bob))["root_sway"]
    assert abs(np.sqrt(bobbing ** 2 - real ** 2) - 0.01 / np.sqrt(2)) < 0.001
    assert S.root_stats(forward_kinematics(take.poses, step))["root_sway"] < real + 0.001


def test_band_spread_puts_a_slow_lean_in_the_posture_band_and_nods_in_theirs():
    t = np.arange(300) / 30.0                                       # 10 s, like a held-out segment
    lean = np.linspace(0.0, 1.0, 300)                               # a lean that does not come back
    nods = 0.3 * np.sin(2 * np.pi * 2.0 * t)
    spread = S.band_spread(np.stack([lean + nods, nods], 1))
    assert spread["posture"] > 0.25 and spread["gesture"] > 0.2
    assert spread["sway"] < 0.05 and spread["fast"] < 0.03          # little of a 2 Hz nod leaks into other bands
    total = np.var(np.stack([lean + nods, nods], 1), 0).sum()
    assert abs(sum(v ** 2 for v in spread.values()) - total) < 1e-3 * total    # the bands split the variance
    assert max(S.band_spread(np.full((300, 3), 2.0)).values()) == 0.0


def test_grounding_keeps_captured_motion_and_puts_sinking_or_floating_feet_on_the_floor(split):
    take = split.train[0]
    kept = ground(take.poses, take.trans)
    assert np.abs(kept - take.trans).max() < 0.03              # the capture's feet already stand
    for shift in (-0.5, 0.4):
        moved = take.trans + np.array([0, shift, 0], np.float32)
        low = lowest_foot(take.poses, ground(take.poses, moved))
        assert low.min() >= floor_height() - 1e-6
        assert low.max() <= floor_height() + FLOAT_TOLERANCE + 0.01
    # horizontal position is never touched
    np.testing.assert_array_equal(ground(take.poses, take.trans + [0, 1, 0])[:, [0, 2]], take.trans[:, [0, 2]])


def test_baselines_give_real_motion_a_matched_track_and_a_still_pose(split):
    base = Baselines(split.train)
    seg = type("Seg", (), {"take": split.test[0], "frames": split.test[0].frames})()
    poses, expr, trans = base.matching(seg, 0)
    assert poses.shape == (seg.frames, 165) and np.isfinite(poses).all() and expr.std(0).mean() > 0.05
    other = base.matching(seg, 1)[0]
    assert not np.allclose(other, poses)
    p2, _, _ = base.mismatched(seg, 0)
    assert not np.allclose(p2[: seg.frames], seg.take.poses)      # real motion, another take's
    p3, e3, t3 = base.static(seg, 0)
    assert np.ptp(p3, 0).max() == 0 and np.ptp(e3, 0).max() == 0
    low = lowest_foot(p3, t3)
    assert floor_height() - 1e-6 <= low.min() <= floor_height() + FLOAT_TOLERANCE + 1e-6
