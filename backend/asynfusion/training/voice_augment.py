"""Other rooms, microphones and lines: degraded copies of the training speech, motion kept.

BEAT2 is studio speech from one close microphone; users bring laptop recordings, rooms
and phone calls. A copy of a take gets, each with probability one half (at least one):
coloured background noise at 10–30 dB SNR, the reverberation of a synthetic room
(exponentially decaying noise, RT60 0.15–0.8 s), and a telephone line (300–3400 Hz band,
8-bit mu-law). Pitch and formants are varied separately, per batch, by the mel-axis warp
of ``train.warp_voice``; loudness needs no copy, because generation normalises it away
(``audio.normalise_loudness``) before any feature is computed.
"""

from __future__ import annotations

import numpy as np
from scipy.signal import butter, fftconvolve, sosfiltfilt

from ..audio import SAMPLE_RATE

SNR_DB = (10.0, 30.0)
NOISE_COLOUR = (0.0, 2.0)     # spectral exponent: 0 white, 1 pink, 2 brown
RT60_S = (0.15, 0.8)
PHONE_BAND_HZ = (300.0, 3400.0)
MU = 255.0


def coloured_noise(n: int, exponent: float, rng: np.random.Generator) -> np.ndarray:
    """Unit-RMS noise whose power falls as 1 / f**exponent."""
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.fft.rfftfreq(n)
    f[0] = f[1] if n > 1 else 1.0
    noise = np.fft.irfft(spec / f ** (exponent / 2), n)
    return noise / (np.sqrt(np.mean(noise ** 2)) + 1e-12)


def add_noise(wave: np.ndarray, snr_db: float, exponent: float, rng: np.random.Generator) -> np.ndarray:
    """Noise ``snr_db`` below the speech's RMS."""
    rms = np.sqrt(np.mean(wave.astype(np.float64) ** 2))
    return wave + coloured_noise(len(wave), exponent, rng) * rms * 10 ** (-snr_db / 20)


def room_impulse(rt60: float, rng: np.random.Generator, sr: int = SAMPLE_RATE) -> np.ndarray:
    """A direct path followed by a diffuse tail that decays by 60 dB in ``rt60`` seconds."""
    n = int(rt60 * sr)
    t = np.arange(n) / sr
    tail = rng.standard_normal(n) * np.exp(-6.9078 * t / rt60)     # ln(1000): 60 dB of amplitude
    tail[: int(0.002 * sr)] = 0.0                                  # the first reflection arrives after 2 ms
    ir = 0.3 * tail / (np.sqrt(np.sum(tail ** 2)) + 1e-12)
    ir[0] = 1.0
    return ir


def reverberate(wave: np.ndarray, rt60: float, rng: np.random.Generator) -> np.ndarray:
    """The speech as heard in the room, at its original RMS and length."""
    wet = fftconvolve(wave, room_impulse(rt60, rng))[: len(wave)]
    return wet * np.sqrt(np.mean(wave ** 2) / (np.mean(wet ** 2) + 1e-20))


def telephone(wave: np.ndarray) -> np.ndarray:
    """A narrow-band line: band-pass, then 8-bit mu-law companding."""
    sos = butter(4, PHONE_BAND_HZ, btype="bandpass", fs=SAMPLE_RATE, output="sos")
    band = sosfiltfilt(sos, wave)
    peak = np.max(np.abs(band)) + 1e-12
    x = band / peak
    mu = np.sign(x) * np.log1p(MU * np.abs(x)) / np.log1p(MU)
    q = np.round(mu * 127) / 127
    return np.sign(q) * np.expm1(np.abs(q) * np.log1p(MU)) / MU * peak


def degrade(wave: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One random recording condition: reverb, then noise, then the line (as a call goes)."""
    use = rng.random(3) < 0.5
    if not use.any():
        use[rng.integers(3)] = True
    x = np.asarray(wave, np.float64)
    if use[0]:
        x = reverberate(x, rng.uniform(*RT60_S), rng)
    if use[1]:
        x = add_noise(x, rng.uniform(*SNR_DB), rng.uniform(*NOISE_COLOUR), rng)
    if use[2]:
        x = telephone(x)
    return x.astype(np.float32)
