"""Audio in: every format a user has, found from the content; bad input gets a sentence."""

import sys

import numpy as np
import pytest
import soundfile
import soxr
import torch

from asynfusion import audio
from asynfusion.errors import AudioError

from .conftest import REPO, SPEECH_OGG, SPEECH_WAV

sys.path.insert(0, str(REPO / "tests"))
from file_faults import unreadable_file  # noqa: E402


@pytest.mark.parametrize("fmt,subtype,rate,channels", [
    ("WAV", "PCM_16", 16000, 1),
    ("WAV", "PCM_24", 44100, 2),
    ("WAV", "PCM_32", 48000, 1),
    ("WAV", "FLOAT", 22050, 2),
    ("FLAC", "PCM_16", 32000, 1),
    ("OGG", "VORBIS", 24000, 2),
    ("MP3", "MPEG_LAYER_III", 44100, 1),
])
def test_every_format_rate_and_layout_decodes_to_16k_mono(tmp_path, speech, fmt, subtype, rate, channels):
    wave, sr = speech
    x = soxr.resample(wave, sr, rate).astype(np.float32)
    if channels == 2:
        x = np.stack([x, x], 1)
    path = tmp_path / "speech.bin"          # no telling extension: the content decides
    soundfile.write(path, x, rate, format=fmt, subtype=subtype)
    got = audio.load_audio(path)
    assert got.dtype == np.float32 and got.ndim == 1
    assert abs(len(got) - len(wave)) <= 0.02 * 16000 + 1200   # mp3 adds encoder padding
    n = min(len(got), len(wave))
    if fmt != "MP3":   # mp3 shifts samples; the lossless ones must match the original closely
        corr = np.corrcoef(got[:n], wave[:n])[0, 1]
        assert corr > 0.95


def test_flac_content_in_a_wav_named_file_is_read(tmp_path, speech):
    path = tmp_path / "actually_flac.wav"
    soundfile.write(path, speech[0], speech[1], format="FLAC")
    assert len(audio.load_audio(path)) == len(speech[0])


def test_real_ogg_vorbis_at_22k(speech):
    got = audio.load_audio(SPEECH_OGG)
    assert abs(len(got) / 16000 - 14.8) < 0.1


@pytest.mark.parametrize("make,words", [
    (lambda p: None, "does not exist"),
    (lambda p: p.write_bytes(b""), "is empty"),
    (lambda p: p.write_text("these are words, not sound\n" * 50), "not an audio file"),
    (lambda p: p.write_bytes(np.random.default_rng(0).bytes(5000)), "not an audio file"),
    (lambda p: soundfile.write(p, np.zeros(4000, np.float32), 16000), "at least 0.5 s"),
    (lambda p: soundfile.write(p, np.zeros((0, 1), np.float32), 16000), "holds no samples"),
])
def test_bad_input_gets_one_sentence(tmp_path, make, words):
    path = tmp_path / "input.wav"
    make(path)
    with pytest.raises(AudioError) as err:
        audio.load_audio(path)
    message = str(err.value)
    assert words in message and "\n" not in message and message.endswith(".")


def test_a_folder_and_an_unreadable_file_are_named_as_such(tmp_path):
    (tmp_path / "speech.wav").mkdir()
    with pytest.raises(AudioError, match="^Audio file speech.wav is a folder, not a file; choose a recording.$"):
        audio.load_audio(tmp_path / "speech.wav")
    with unreadable_file(SPEECH_WAV.read_bytes(), "locked.wav") as path:
        with pytest.raises(AudioError, match=r"^Audio file locked.wav cannot be read \(permission denied\)"):
            audio.load_audio(path)


def test_features_have_one_row_per_motion_frame_and_follow_loudness(speech):
    wave = audio.load_audio(SPEECH_WAV)
    feats = audio.audio_features(wave)
    assert feats.shape == (audio.num_frames(len(wave)), audio.WIDE_DIM)
    assert feats.shape[0] == int(len(wave) / 16000 * 30)
    energy = feats[:, audio.FEATURE_DIM - 1].numpy()
    frame_rms = np.array([np.sqrt(np.mean(wave[int(i * 16000 / 30):int((i + 1) * 16000 / 30)] ** 2) + 1e-12)
                          for i in range(len(energy))])
    assert np.corrcoef(energy, np.log(frame_rms))[0, 1] > 0.85


def test_onset_strength_follows_librosa_and_mel_matches_librosa(speech):
    import librosa

    wave = audio.load_audio(SPEECH_WAV)
    assert np.allclose(audio.mel_filterbank(), librosa.filters.mel(sr=16000, n_fft=512, n_mels=64,
                                                                   fmin=40, fmax=7600), atol=1e-7)
    ours = audio.audio_features(wave)[:, audio.N_MELS].numpy()
    ref = librosa.onset.onset_strength(y=wave, sr=16000, hop_length=160, n_fft=512, n_mels=64,
                                       fmin=40, fmax=7600)
    ref30 = np.interp(np.arange(len(ours)) * 100 / 30, np.arange(len(ref)), ref)
    assert np.corrcoef(ours, ref30)[0, 1] > 0.8


def test_subframes_are_the_analysis_frames_under_each_motion_frame_as_they_are(speech):
    wave = audio.load_audio(SPEECH_WAV)
    feats, analysis = audio.audio_features(wave), audio.analysis_features(wave)
    d = audio.FEATURE_DIM
    for t in (0, 1, 2, 3, 50, feats.shape[0] - 1):
        first = t * 100 // 30 - 1            # motion frame t starts at analysis frame 10 t / 3
        for k in range(audio.SUBFRAMES):
            col = min(max(first + k, 0), analysis.shape[1] - 1)
            assert torch.equal(feats[t, d * (1 + k): d * (2 + k)], analysis[:, col]), (t, k)
    # the first block is the interpolation at the frame's time: between its 2nd and 3rd sub-frames
    t = 50
    lo, hi = feats[t, 2 * d: 3 * d], feats[t, 3 * d: 4 * d]
    assert torch.all(feats[t, :d] >= torch.minimum(lo, hi) - 1e-4)
    assert torch.all(feats[t, :d] <= torch.maximum(lo, hi) + 1e-4)


def test_speaker_normalisation_removes_the_first_blocks_offset_from_every_block(speech):
    feats = audio.audio_features(audio.load_audio(SPEECH_WAV))
    out, offset = audio.speaker_normalise(feats)
    d = audio.FEATURE_DIM
    first, _ = audio.speaker_normalise(feats[:, :d])
    assert torch.allclose(out[:, :d], first)
    assert offset.shape == (audio.WIDE_DIM,) and float(offset[:audio.N_MELS].abs().sum()) > 0
    for k in range(1, 1 + audio.SUBFRAMES):
        assert torch.equal(offset[k * d: (k + 1) * d], offset[:d])
    assert float(offset[audio.N_MELS]) == 0.0       # onset strength is left alone
    assert not offset[audio.SPECTRAL_DIM:].any()     # so are the frication cues


def test_frication_cues_tell_noise_from_a_voiced_tone_whatever_the_level_and_sit_after_the_subframes(speech):
    rng = np.random.default_rng(0)
    t = np.arange(16000) / 16000
    tone = sum(np.sin(2 * np.pi * 120 * k * t) / k for k in range(1, 30)).astype(np.float32) * 0.1  # a vowel's buzz
    noise = (rng.standard_normal(16000) * 0.02).astype(np.float32)                                  # an /f/'s hiss
    cues = {name: audio.frication_features(w)[:, 10:-10].mean(1) for name, w in (("tone", tone), ("noise", noise))}
    flat, low, high, zcr = 0, 1, 4, 5
    assert cues["noise"][flat] > cues["tone"][flat] + 1.0
    assert cues["noise"][high] > cues["tone"][high] + 1.0 and cues["noise"][low] < cues["tone"][low]
    assert cues["noise"][zcr] > 3 * cues["tone"][zcr]
    quiet = audio.frication_features(noise * 0.1)[:, 10:-10].mean(1)
    torch.testing.assert_close(quiet, cues["noise"], atol=1e-3, rtol=1e-3)
    # in the wide features: the cues of each motion frame's sub-frames, after the spectral blocks
    wave = audio.load_audio(SPEECH_WAV)
    feats, analysis = audio.audio_features(wave), audio.frication_features(wave)
    c = audio.FRICATION_DIM
    for frame in (0, 50, feats.shape[0] - 1):
        for k in range(audio.SUBFRAMES):
            col = min(max(frame * 100 // 30 - 1 + k, 0), analysis.shape[1] - 1)
            got = feats[frame, audio.SPECTRAL_DIM + c * k: audio.SPECTRAL_DIM + c * (k + 1)]
            assert torch.equal(got, analysis[:, col]), (frame, k)


def test_silence_is_not_amplified_and_gives_finite_features():
    silent = np.zeros(16000, np.float32)
    assert np.array_equal(audio.normalise_loudness(silent), silent)
    feats = audio.audio_features(silent)
    assert torch.isfinite(feats).all() and feats[:, audio.N_MELS].abs().max() == 0


def test_loudness_normalisation_makes_quiet_and_loud_alike():
    wave = audio.load_audio(SPEECH_WAV)
    quiet, loud = audio.normalise_loudness(0.05 * wave), audio.normalise_loudness(wave)
    assert np.allclose(quiet, loud, atol=1e-4)
