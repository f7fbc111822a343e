"""What a bake will cost, said before it starts (pure: no scene needed)."""

import json

from asynfusion_blender.bake import cost_estimate

HOUR_KEYS = 108_000 * 323          # an hour at 30 fps on the built-in rig: 55 bones x 4 + root 3 + 100 keys


def test_the_cost_per_keyframe_is_measured_data_and_scales_with_the_keys():
    with open(cost_estimate.DATA_FILE) as f:
        per_key = json.load(f)
    assert per_key["memory_bytes_per_key"] > 0 and per_key["blend_bytes_per_key"] > 0
    assert "bench/bake_cost.py" in per_key["measured_with"]
    one, two = cost_estimate.estimate(1_000_000), cost_estimate.estimate(2_000_000)
    assert abs(two.memory - 2 * one.memory) <= 1 and abs(two.blend - 2 * one.blend) <= 1
    assert one.memory == int(1_000_000 * per_key["memory_bytes_per_key"])


def test_an_hour_is_announced_with_its_cost_and_a_minute_is_not():
    hour = cost_estimate.estimate(HOUR_KEYS)
    assert hour.large and not cost_estimate.estimate(HOUR_KEYS // 60).large
    words = hour.sentence(3600.0)
    assert words.startswith("Baking 60 min of motion writes about 34.9 million keyframes: about ")
    assert "of memory and" in words and words.endswith("in the saved .blend.")


def test_a_bake_that_does_not_fit_in_free_memory_is_refused_in_one_sentence():
    hour = cost_estimate.estimate(HOUR_KEYS)
    words = cost_estimate.refusal(hour, 3600.0, free=hour.memory // 2)
    assert words is not None and words.endswith("parts.") and words.count(". ") == 0
    assert "split the audio" in words
    assert cost_estimate.refusal(hour, 3600.0, free=hour.memory * 2) is None
    assert cost_estimate.refusal(hour, 3600.0, free=None) is None          # no /proc/meminfo: cannot tell
    assert cost_estimate.free_memory() is None or cost_estimate.free_memory() > 0
