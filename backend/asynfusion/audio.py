"""Audio in: decode any speech file to 16 kHz mono, and features at 30 fps.

Decoding sniffs the container from the bytes (libsndfile reads WAV of any
width, FLAC, Ogg and MP3 whatever the file is called). Features are computed
with torch so they run on the model's device: log-mel, onset strength (spectral
flux, as librosa defines it) and energy, interpolated onto motion frame times,
followed by the 100-fps analysis frames under each motion frame side by side
(a 30-fps frame is 33 ms; a /p/ burst is shorter, and the interpolation blurs it),
and last the frication cues of those analysis frames (``frication_features``).
"""

from __future__ import annotations

import os
from functools import lru_cache

import numpy as np
import soundfile
import torch

from .core.output import check_input
from .errors import AudioError

SAMPLE_RATE = 16000
MOTION_FPS = 30
MIN_SECONDS = 0.5
N_FFT = 512
HOP = 160                      # 10 ms at 16 kHz
N_MELS = 64
FEATURE_DIM = N_MELS + 2       # log-mel, onset strength, energy: one block
SUBFRAMES = 4                  # analysis frames beside each motion frame, from the one before its start
SPECTRAL_DIM = FEATURE_DIM * (1 + SUBFRAMES)   # [interpolated block | SUBFRAMES blocks]
FRICATION_DIM = 6              # frication cues per analysis frame (frication_features)
WIDE_DIM = SPECTRAL_DIM + SUBFRAMES * FRICATION_DIM   # [spectral blocks | frication cues]; a model reads a prefix
_FRICATION_BANDS = ((0.0, 1000.0), (1000.0, 2500.0), (2500.0, 4500.0), (4500.0, 7800.0))   # Hz
_FLAT_BAND = (2000.0, 7800.0)  # where /f v th s/ noise is spread
_ZCR_WINDOW = 400              # samples (25 ms) per zero-crossing count
_LOG_FLOOR = 1e-5
_SILENCE_PEAK = 1e-3           # quieter than this is treated as silence, not rescaled
_TARGET_RMS = 0.05             # loudness that speech is normalised to
_VOICED_RANGE = 4.6            # natural log of power: 20 dB below the loudest frame
_AUDIBLE_ENERGY = -9.0         # log energy of a frame with anything audible (silence: -11.5)


def load_audio(path: str | os.PathLike) -> np.ndarray:
    """Decode ``path`` to float32 mono at 16 kHz, or raise AudioError with a sentence."""
    name = os.path.basename(os.fspath(path))
    check_input(path, "Audio file", AudioError, "choose a recording")   # missing, a folder, a pipe, a device
    try:
        open(path, "rb").close()
    except PermissionError:
        raise AudioError(f"Audio file {name} cannot be read (permission denied); check its permissions.") from None
    if os.path.getsize(path) == 0:
        raise AudioError(f"Audio file {name} is empty; choose a recording with speech in it.")
    try:
        data, rate = soundfile.read(os.fspath(path), dtype="float32", always_2d=True)
    except Exception:
        raise AudioError(
            f"{name} is not an audio file we can read; use WAV, FLAC, Ogg or MP3."
        ) from None
    if data.size == 0:
        raise AudioError(f"Audio file {name} holds no samples; choose a recording with speech in it.")
    mono = data.mean(axis=1)
    if rate != SAMPLE_RATE:
        import soxr  # a librosa dependency: fast, high-quality resampling

        mono = soxr.resample(mono, rate, SAMPLE_RATE).astype(np.float32)
    if not np.all(np.isfinite(mono)):
        raise AudioError(f"{name} contains invalid samples (NaN); re-export the recording.")
    seconds = len(mono) / SAMPLE_RATE
    if seconds < MIN_SECONDS:
        raise AudioError(
            f"{name} is only {seconds:.2f} s long; give at least {MIN_SECONDS} s of speech."
        )
    return mono


def normalise_loudness(wave: np.ndarray) -> np.ndarray:
    """Scale speech to a standard level so quiet and loud recordings look alike.

    Silence stays silence: a near-silent clip is not amplified into noise.
    """
    peak = float(np.max(np.abs(wave))) if wave.size else 0.0
    if peak < _SILENCE_PEAK:
        return wave
    frame = 400
    usable = len(wave) // frame * frame
    rms = np.sqrt(np.mean(wave[:usable].reshape(-1, frame) ** 2, axis=1) + 1e-12)
    voiced = rms[rms > 0.1 * rms.max()]
    level = float(np.median(voiced)) if voiced.size else float(rms.max())
    gain = min(_TARGET_RMS / max(level, 1e-6), 0.99 / peak)
    return (wave * gain).astype(np.float32)


def num_frames(num_samples: int) -> int:
    """Motion frames (30 fps) that cover ``num_samples`` of 16 kHz audio."""
    return max(1, int(num_samples * MOTION_FPS // SAMPLE_RATE))


def _hz_to_mel(hz: np.ndarray | float) -> np.ndarray:
    """Slaney's mel scale (librosa's default): linear below 1 kHz, log above."""
    hz = np.asarray(hz, dtype=np.float64)
    lin = hz / (200.0 / 3)
    log = 15.0 + np.log(np.maximum(hz, 1e-10) / 1000.0) / (np.log(6.4) / 27.0)
    return np.where(hz >= 1000.0, log, lin)


def _mel_to_hz(mel: np.ndarray) -> np.ndarray:
    mel = np.asarray(mel, dtype=np.float64)
    lin = mel * (200.0 / 3)
    log = 1000.0 * np.exp((np.log(6.4) / 27.0) * (mel - 15.0))
    return np.where(mel >= 15.0, log, lin)


def mel_filterbank(n_mels: int = N_MELS, fmin: float = 40.0, fmax: float = 7600.0) -> np.ndarray:
    """(n_mels, N_FFT//2+1) Slaney-normalised triangles, equal to librosa.filters.mel.

    Written out so that computing features does not import librosa (a second of
    start-up that the CLI would pay on every run).
    """
    fft_hz = np.linspace(0, SAMPLE_RATE / 2, 1 + N_FFT // 2)
    mel_hz = _mel_to_hz(np.linspace(_hz_to_mel(fmin), _hz_to_mel(fmax), n_mels + 2))
    widths = np.diff(mel_hz)
    ramps = mel_hz[:, None] - fft_hz[None, :]
    rising = -ramps[:-2] / widths[:-1, None]
    falling = ramps[2:] / widths[1:, None]
    weights = np.maximum(0.0, np.minimum(rising, falling))
    weights *= (2.0 / (mel_hz[2:] - mel_hz[:-2]))[:, None]
    return weights.astype(np.float32)


@lru_cache(maxsize=4)
def _mel_basis(device: str) -> torch.Tensor:
    return torch.from_numpy(mel_filterbank()).to(device)


def audio_features(wave: np.ndarray, device: str | torch.device = "cpu") -> torch.Tensor:
    """(T, WIDE_DIM) features for T = num_frames(len(wave)) motion frames: the analysis
    features interpolated to the frame's time, then SUBFRAMES analysis frames as they are,
    then those frames' frication cues. Retrieval and the baselines read the first block; a
    model reads its ``audio_dim``."""
    x = _samples(wave, torch.device(device))
    power = _power(x)                                            # one STFT for both kinds
    feats = _analysis(power)
    frames = num_frames(len(wave))
    first = (torch.arange(frames, device=feats.device) * SAMPLE_RATE // (HOP * MOTION_FPS)) - 1
    cols = (first[:, None] + torch.arange(SUBFRAMES, device=feats.device)[None]).clamp(0, feats.shape[1] - 1)
    sub = feats[:, cols].permute(1, 2, 0).reshape(frames, SUBFRAMES * FEATURE_DIM)
    cues = _frication(x, power)[:, cols].permute(1, 2, 0).reshape(frames, SUBFRAMES * FRICATION_DIM)
    return torch.cat([_to_motion_rate(feats, frames).T, sub, cues], 1).contiguous()


def analysis_features(wave: np.ndarray, device: str | torch.device = "cpu") -> torch.Tensor:
    """(66, S) log-mel, onset strength and energy at the 100-fps analysis rate, before the
    interpolation to motion frames."""
    return _analysis(_power(_samples(wave, torch.device(device))))


def _analysis(power: torch.Tensor) -> torch.Tensor:
    """analysis_features from the (F, S) power spectrum."""
    mel = _mel_basis(str(power.device)) @ power
    log_mel = torch.log(mel + _LOG_FLOOR)                        # (M, S)
    onset = _onset_strength(mel)
    energy = torch.log(power.sum(0) / N_FFT + _LOG_FLOOR)
    return torch.cat([log_mel, onset[None], energy[None]], 0)


def _samples(wave: np.ndarray, device: torch.device) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(wave, dtype=np.float32)).to(device)


def _power(x: torch.Tensor) -> torch.Tensor:
    """(N_FFT // 2 + 1, S) power spectrum of centred, Hann-windowed frames every HOP samples."""
    spec = torch.stft(x, N_FFT, HOP, window=torch.hann_window(N_FFT, device=x.device), center=True,
                      return_complex=True)
    return spec.real**2 + spec.imag**2


def frication_features(wave: np.ndarray, device: str | torch.device = "cpu") -> torch.Tensor:
    """(FRICATION_DIM, S) cues at the analysis rate that tell a weak fricative from a vowel or
    a pause: the log spectral flatness of 2-7.8 kHz, the log share of four bands in the
    frame's power, and the zero-crossing rate. /f v/ are quiet, flat, high noise; in 64 log-mel
    bands of one minute of speech a linear classifier hardly hears them (bench/viseme_ceiling.py).
    Ratios and rates only, so loudness and microphone gain do not move them."""
    x = _samples(wave, torch.device(device))
    return _frication(x, _power(x))


def _frication(x: torch.Tensor, power: torch.Tensor) -> torch.Tensor:
    """frication_features from the samples and their (F, S) power spectrum."""
    power = power + 1e-10
    hz = torch.linspace(0, SAMPLE_RATE / 2, power.shape[0], device=x.device)
    flat_band = power[(hz >= _FLAT_BAND[0]) & (hz <= _FLAT_BAND[1])]
    flatness = flat_band.log().mean(0) - flat_band.mean(0).log()   # log(geometric / arithmetic mean)
    total = power.sum(0).log()
    shares = [power[(hz >= lo) & (hz < hi)].sum(0).log() - total for lo, hi in _FRICATION_BANDS]
    padded = torch.nn.functional.pad(x, (_ZCR_WINDOW // 2, _ZCR_WINDOW))
    frames = padded.unfold(0, _ZCR_WINDOW, HOP)[: power.shape[1]]   # (S, window), centred as the STFT's frames
    zcr = (torch.diff(torch.sign(frames), dim=1).abs() > 0).float().mean(1)
    return torch.stack([flatness, *shares, zcr], 0)


def _onset_strength(mel: torch.Tensor) -> torch.Tensor:
    """Mean positive rise of the mel spectrum in dB, aligned as librosa aligns it."""
    db = 10 * torch.log10(mel.clamp_min(1e-10))
    db = torch.maximum(db, db.max() - 80.0)
    flux = torch.clamp(db[:, 1:] - db[:, :-1], min=0).mean(0)
    lead = 1 + N_FFT // (2 * HOP)      # the lag plus the centring offset of the frames
    return torch.cat([flux.new_zeros(lead), flux])[: mel.shape[1]]


def _to_motion_rate(feats: torch.Tensor, frames: int) -> torch.Tensor:
    """Linear interpolation from 100 fps analysis frames to motion frame times."""
    steps = feats.shape[1]
    pos = torch.arange(frames, device=feats.device, dtype=torch.float32) * (SAMPLE_RATE / HOP / MOTION_FPS)
    lo = pos.floor().long().clamp(max=steps - 1)
    hi = (lo + 1).clamp(max=steps - 1)
    w = (pos - lo.float()).clamp(0, 1)
    return feats[:, lo] * (1 - w) + feats[:, hi] * w


def speaker_normalise(feats: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-clip spectral mean removal: (T, k * 66) features -> (features, the offset removed).

    The mean log-mel spectrum and log energy of the clip's voiced frames (within 20 dB of
    its loudest) are subtracted, as cepstral mean normalisation does, so another voice,
    microphone or room shifts the features far less than it would otherwise; onset
    strength and the frication cues (ratios already) are left as they are. A clip with
    nothing audible is left as it is (silence must still look like silence). The offset is
    measured on the first block and removed from every spectral block. Apply the same offset
    to anything padded onto the clip.
    """
    energy = feats[:, FEATURE_DIM - 1]
    offset = feats.new_zeros(FEATURE_DIM)
    if feats.shape[0] and float(energy.max()) > _AUDIBLE_ENERGY:
        voiced = energy > energy.max() - _VOICED_RANGE
        offset[:N_MELS] = feats[voiced, :N_MELS].mean(0)
        offset[-1] = feats[voiced, FEATURE_DIM - 1].mean()
    blocks = min(feats.shape[1], SPECTRAL_DIM) // FEATURE_DIM
    offset = torch.cat([offset.repeat(blocks), offset.new_zeros(feats.shape[1] - blocks * FEATURE_DIM)])
    return feats - offset, offset


def silence_features(frames: int) -> torch.Tensor:
    """The features of digital silence, used to pad clips shorter than one window."""
    return audio_features(np.zeros(frames * SAMPLE_RATE // MOTION_FPS + HOP, np.float32))[:frames]


def file_digest(path: str | os.PathLike) -> str:
    """SHA-256 of the audio file, recorded in the motion file's metadata."""
    import hashlib

    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
