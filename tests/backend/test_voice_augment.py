"""Degraded recordings for training: each condition does what it says, on real speech."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile
from scipy.signal import welch

from asynfusion.audio import SAMPLE_RATE, load_audio
from asynfusion.training import voice_augment as V

from .conftest import SPEECH_WAV


@pytest.fixture(scope="module")
def speech() -> np.ndarray:
    return load_audio(SPEECH_WAV).astype(np.float64)


def _band_db(x: np.ndarray, lo: float, hi: float) -> float:
    f, p = welch(x, fs=SAMPLE_RATE, nperseg=1024)
    return 10 * np.log10(p[(f >= lo) & (f < hi)].mean() + 1e-30)


def test_coloured_noise_has_unit_rms_and_the_slope_its_exponent_asks_for():
    rng = np.random.default_rng(0)
    for exponent, slope in ((0.0, 0.0), (1.0, -3.0), (2.0, -6.0)):      # dB per octave
        noise = V.coloured_noise(SAMPLE_RATE * 4, exponent, rng)
        assert abs(np.sqrt(np.mean(noise ** 2)) - 1) < 1e-6
        measured = _band_db(noise, 1000, 1100) - _band_db(noise, 500, 550)
        assert abs(measured - slope) < 1.0, (exponent, measured)


def test_noise_is_added_at_the_requested_signal_to_noise_ratio(speech):
    noisy = V.add_noise(speech, 15.0, 1.0, np.random.default_rng(1))
    snr = 10 * np.log10(np.mean(speech ** 2) / np.mean((noisy - speech) ** 2))
    assert abs(snr - 15.0) < 0.05


def test_room_impulse_decays_sixty_db_in_its_reverberation_time():
    rt60 = 0.5
    ir = V.room_impulse(rt60, np.random.default_rng(2))
    assert ir[0] == 1.0 and len(ir) == int(rt60 * SAMPLE_RATE)
    energy = np.convolve(ir[1:] ** 2, np.ones(400) / 400, "valid")     # 25 ms windows
    early, late = energy[int(0.05 * SAMPLE_RATE)], energy[int(0.45 * SAMPLE_RATE)]
    decay_db = 10 * np.log10(early / late)                              # 0.4 s of a 60 dB / 0.5 s decay
    assert 42 < decay_db < 54, decay_db


def test_reverberation_keeps_length_and_loudness_and_rings_on_after_a_sound(speech):
    wet = V.reverberate(speech, 0.6, np.random.default_rng(3))
    assert wet.shape == speech.shape
    assert abs(np.sqrt(np.mean(wet ** 2)) / np.sqrt(np.mean(speech ** 2)) - 1) < 1e-6
    burst = np.zeros(SAMPLE_RATE)
    burst[:3200] = np.random.default_rng(4).standard_normal(3200)     # 0.2 s of sound, then silence
    ring = V.reverberate(burst, 0.6, np.random.default_rng(5))
    level = lambda a, b: 10 * np.log10(np.mean(ring[int(a * SAMPLE_RATE):int(b * SAMPLE_RATE)] ** 2))  # noqa: E731
    assert level(0.0, 0.2) - level(0.25, 0.3) < 30          # the room still sounds after the burst
    assert level(0.25, 0.3) > level(0.55, 0.6) + 15          # and dies away


def test_telephone_removes_what_lies_outside_its_band_and_keeps_what_is_inside(speech):
    line = V.telephone(speech)
    assert line.shape == speech.shape and np.isfinite(line).all()
    inside = _band_db(line, 800, 2000) - _band_db(speech, 800, 2000)
    below = _band_db(line, 40, 120) - _band_db(speech, 40, 120)
    above = _band_db(line, 5000, 7000) - _band_db(speech, 5000, 7000)
    assert abs(inside) < 1.5, inside
    assert below < -20 and above < -20, (below, above)
    assert len(np.unique(np.round(line / np.max(np.abs(line)), 6))) <= 255   # 8-bit mu-law levels


def test_degrade_is_seeded_finite_and_always_changes_the_speech(speech, tmp_path):
    a = V.degrade(speech, np.random.default_rng(7))
    b = V.degrade(speech, np.random.default_rng(7))
    c = V.degrade(speech, np.random.default_rng(8))
    assert a.dtype == np.float32 and a.shape == speech.shape and np.isfinite(a).all()
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    for seed in range(8):                       # at least one condition every time
        d = V.degrade(speech, np.random.default_rng(seed))
        assert np.abs(d - speech).max() > 1e-3
    soundfile.write(tmp_path / "degraded.wav", a, SAMPLE_RATE)    # a real file a person can listen to
    assert load_audio(tmp_path / "degraded.wav").shape == a.shape
