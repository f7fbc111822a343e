"""Planted feet (core/feet.py) and the foot and gesture measures of the take-disjoint ruler.

Pure numpy on the template skeleton: motions built in the test where the answer is known.
"""

from __future__ import annotations

import numpy as np
import pytest

from asynfusion.core import feet as F
from asynfusion.core.kinematics import forward_kinematics, posed_joints
from asynfusion.evaluation import metrics as M
from asynfusion.evaluation import motion_stats as S
from asynfusion.evaluation.folds import earns_place

FPS = 30
LEG_JOINTS = {0, *F.HIPS, *F.KNEES, *F.ANKLES}


def still(n: int) -> tuple[np.ndarray, np.ndarray]:
    return np.zeros((n, 165), np.float32), np.zeros((n, 3), np.float32)


def ball_speed(poses, trans) -> np.ndarray:
    j = forward_kinematics(poses, trans)
    return np.linalg.norm(np.diff(j[:, list(F.BALLS)][:, :, [0, 2]], axis=0), axis=-1) * FPS


def test_contacts_let_go_of_a_lifted_foot_and_keep_the_standing_one():
    poses, trans = still(90)
    poses[30:60, 3 * 1] = -1.0          # left hip flexed ~57 degrees: the left foot leaves the floor
    c = F.contacts(forward_kinematics(poses, trans))
    assert c[:, 1].all()                                  # the right foot never lifts
    assert not c[30:60, 0].any() and c[:30, 0].all() and c[60:, 0].all()


def test_a_body_gliding_over_the_floor_with_both_feet_down_stands_still_after_planting():
    poses, trans = still(240)
    t = np.arange(240) / FPS
    trans[:, 2] = 0.15 * np.sin(2 * np.pi * t / 2.0)      # the v5.1 failure: the whole body slides 30 cm and back
    before = ball_speed(poses, trans)
    assert np.median(before) > 0.1
    p, tr = F.plant_feet(poses, trans)
    after = ball_speed(p, tr)
    assert np.median(after) < 0.005 and (after > S.SLIDE_SPEED).mean() < 0.05
    assert np.ptp(tr[:, 2]) < 0.3 * np.ptp(trans[:, 2])   # the root stopped gliding rather than the legs stretching


def test_a_planted_foot_stays_put_while_the_leg_twists_and_the_rest_of_the_pose_is_untouched():
    poses, trans = still(120)
    t = np.arange(120) / FPS
    poses[:, 3 * 1 + 1] = 0.3 * np.sin(2 * np.pi * t)     # left hip yaw: the left foot swings over the floor
    poses[:, 3 * 1 + 2] = 0.1 * np.sin(2 * np.pi * t)
    poses[:, 3 * 16: 3 * 16 + 3] = 0.2                   # a shoulder pose that must survive untouched
    p, tr = F.plant_feet(poses, trans)
    assert np.median(ball_speed(poses, trans)[:, 0]) > 0.05
    assert np.median(ball_speed(p, tr)[:, 0]) < 0.01
    changed = {j for j in range(55) if not np.allclose(p[:, 3 * j:3 * j + 3], poses[:, 3 * j:3 * j + 3], atol=1e-6)}
    assert changed <= LEG_JOINTS and changed                  # only the legs move to hold the foot
    _, r_before = posed_joints(poses, trans)
    _, r_after = posed_joints(p, tr)
    np.testing.assert_allclose(r_after[:, 7], r_before[:, 7], atol=1e-5)   # the foot keeps its orientation


def test_two_bone_ik_puts_the_ankle_on_a_reachable_target_and_keeps_the_bone_lengths():
    rng = np.random.default_rng(0)
    poses, trans = still(50)
    poses[:, 3:6] = rng.normal(0, 0.3, (50, 3))
    poses[:, 12:15] = np.c_[rng.uniform(0.2, 1.0, 50), np.zeros((50, 2))]      # left knee bent
    j, rot = posed_joints(poses, trans)
    other = poses.copy()                     # targets any leg can reach: another pose's ankle
    other[:, 3:6] += rng.normal(0, 0.2, (50, 3))
    other[:, 12] = rng.uniform(0.3, 1.2, 50)
    target = forward_kinematics(other, trans)[:, 7]
    swing, bend = F.two_bone_ik(j[:, 1], j[:, 4], j[:, 7], rot[:, 4][:, :, 0], target)
    r_hip, r_knee = swing @ rot[:, 1], swing @ bend @ rot[:, 4]
    rest_thigh = np.linalg.inv(rot[:, 1]) @ (j[:, 4] - j[:, 1])[..., None]
    rest_shin = np.linalg.inv(rot[:, 4]) @ (j[:, 7] - j[:, 4])[..., None]
    knee = j[:, 1] + (r_hip @ rest_thigh)[..., 0]
    ankle = knee + (r_knee @ rest_shin)[..., 0]
    np.testing.assert_allclose(ankle, target, atol=1e-6)


def test_foot_stats_read_a_glide_and_a_still_stance():
    poses, trans = still(120)
    j = forward_kinematics(poses, trans)
    assert S.foot_stats(j)["foot_speed"] == 0 and S.foot_stats(j)["stance_glide"] == 0
    trans[:, 0] = np.arange(120) * 0.2 / FPS                  # 20 cm/s over the floor
    moving = S.foot_stats(forward_kinematics(poses, trans))
    assert moving["foot_speed"] == pytest.approx(0.2, rel=1e-3)
    assert moving["foot_sliding"] == 1.0 and moving["stance_glide"] == pytest.approx(0.2, rel=1e-3)
    assert moving["foot_path"] == pytest.approx(0.2 * 60, rel=1e-3)


def test_leg_jerk_reads_a_smooth_swing_as_calm_and_a_knee_that_jumps_as_a_snap():
    poses, _ = still(120)
    t = np.arange(120) / FPS
    poses[:, 3 * 4] = 0.3 + 0.2 * np.sin(2 * np.pi * 0.5 * t)     # the left knee bends slowly
    calm = S.leg_jerk(poses)
    assert calm["knee_snaps"] == 0 and calm["leg_jerk"] < 0.01
    poses[60:, 3 * 4] += 0.4                                      # and jumps 0.4 rad in one frame
    snapped = S.leg_jerk(poses)
    assert snapped["knee_snaps"] > 0 and snapped["leg_jerk"] > calm["leg_jerk"]
    assert S.leg_jerk(poses[:3]) == {"leg_jerk": 0.0, "knee_snaps": 0.0}


def test_gesture_windows_see_where_the_arms_go_and_not_their_frame_to_frame_texture():
    rng = np.random.default_rng(1)
    n = 600
    t = np.arange(n) / FPS
    poses, trans = still(n)
    poses[:, 3 * 16 + 2] = -0.6 + 0.4 * np.sin(2 * np.pi * 0.7 * t)         # a left-arm gesture
    textured = poses.copy()
    textured[:, 3 * 16 + 2] += rng.normal(0, 0.02, n)                        # 1 degree of frame jitter
    lowered = poses.copy()
    lowered[:, 3 * 16 + 2] -= 0.5                                             # the same gesture, arm lower
    fd = lambda a: M.frechet_distance(S.gesture_windows(forward_kinematics(a, trans), a),          # noqa: E731
                                      S.gesture_windows(forward_kinematics(poses, trans), poses))
    assert fd(poses) < 1e-9
    assert fd(lowered) > 50 * fd(textured)


def test_a_metric_earns_its_place_only_where_real_motion_beats_every_baseline():
    rows = {"capture": {"d": 0.0, "amp": 1.0}, "other take": {"d": 2.0, "amp": 1.1},
            "matching": {"d": 3.0, "amp": 0.7}, "static": {"d": 9.0, "amp": 0.0}}
    assert earns_place(rows, "d", "low", "other") and earns_place(rows, "amp", "gt", "other")
    rows["matching"]["d"] = 1.5                             # a baseline closer than real motion
    rows["matching"]["amp"] = 1.05
    assert not earns_place(rows, "d", "low", "other") and not earns_place(rows, "amp", "gt", "other")
    rows["capture"]["v"], rows["other take"]["v"], rows["matching"]["v"], rows["static"]["v"] = 0.7, 0.3, 0.25, 0.25
    assert earns_place(rows, "v", "high", "capture")
    rows["other take"]["v"] = 0.8                            # the wrong speech's face reads out better
    assert not earns_place(rows, "v", "high", "capture")


def test_ik_bends_a_bent_or_straight_knee_forward():
    poses, trans = still(40)
    poses[:20, 12] = 0.0                          # left knee straight
    poses[20:, 12] = 0.4                          # and an ordinarily bent knee
    j, rot = posed_joints(poses, trans)
    target = j[:, 7] + np.array([0.0, 0.05, 0.0])   # the ankle 5 cm up: the knee must bend more
    swing, bend = F.two_bone_ik(j[:, 1], j[:, 4], j[:, 7], rot[:, 4][:, :, 0], target)
    r_hip, r_knee = swing @ rot[:, 1], swing @ bend @ rot[:, 4]
    local_knee = np.einsum("fji,fjk->fik", r_hip, r_knee)       # hip^T knee
    flexion = np.arctan2(local_knee[:, 2, 1], local_knee[:, 1, 1])   # rotation about the knee's x axis
    assert (flexion > 0.2).all(), flexion                          # flexed forward, not hyperextended
    rest_shin = np.linalg.inv(rot[:, 4]) @ (j[:, 7] - j[:, 4])[..., None]
    rest_thigh = np.linalg.inv(rot[:, 1]) @ (j[:, 4] - j[:, 1])[..., None]
    ankle = j[:, 1] + (r_hip @ rest_thigh)[..., 0] + (r_knee @ rest_shin)[..., 0]
    np.testing.assert_allclose(ankle, target, atol=1e-6)


def test_contacts_hold_through_a_small_lift_and_ignore_a_foot_that_never_comes_down():
    h = np.full((60, 2), 0.02)
    h[20:30, 0] = 0.02 + 0.055          # between the touch margin (5 cm) and the release (6 cm): stays planted
    h[40:50, 0] = 0.02 + 0.08           # a real lift
    c = F.contacts_from_heights(h)
    assert c[20:30, 0].all() and not c[40:50, 0].any() and c[:, 1].all()
    h[:, 1] = 0.30                      # the right foot held up the whole clip
    assert not F.contacts_from_heights(h)[:, 1].any()


def test_a_held_spot_moves_on_only_past_the_reach_in_the_balls_own_units():
    path = np.c_[np.linspace(0, 0.3, 300), np.zeros(300), np.zeros(300)]      # 30 cm slowly, metres
    frames, shift = F.hold_shift(path, np.ones(300, bool), np.array([0.0, 1.0, 0.0]))
    held = path[frames] + shift
    assert len(np.unique(np.round(held[10:-10, 0], 4))) < 60          # a few spots, not a slide
    frames_cm, shift_cm = F.hold_shift(path * 100, np.ones(300, bool), np.array([0.0, 1.0, 0.0]),
                                       reach=F.MAX_REACH * 100)
    np.testing.assert_allclose(shift_cm[10:-10], shift[10:-10] * 100, atol=0.2)   # the same hold in cm (± a frame)


def test_a_foot_is_taken_to_its_spot_in_the_air_and_stands_still_from_touch_down_to_lift_off():
    """Easing inside the contact let the planted foot slide at touch-down and lift-off, and two
    frames of easing snapped the knee; the hold now eases in and out over AIR_EASE airborne frames."""
    n = 200
    path = np.c_[np.linspace(0, 0.2, n), np.zeros(n), np.zeros(n)]            # drifting 20 cm, metres
    planted = np.zeros(n, bool)
    planted[60:140] = True
    frames, shift = F.hold_shift(path, planted, np.array([0.0, 1.0, 0.0]))
    held = path.copy()
    held[frames] += shift
    inside = held[60:140, 0]
    assert np.ptp(inside) < 1e-9                                              # still from first to last frame
    steps = np.abs(np.diff(held[:, 0]))
    assert steps.max() < 2 * 0.2 / n + abs(shift).max() * np.pi / (2 * (F.AIR_EASE + 1))   # a half cosine, no jump
    assert set(range(60 - F.AIR_EASE, 60)) <= set(frames) and set(range(140, 140 + F.AIR_EASE)) <= set(frames)
    assert 60 - F.AIR_EASE - 1 not in set(frames) and 140 + F.AIR_EASE not in set(frames)   # beyond: untouched
