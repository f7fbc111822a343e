"""The mouth-shape probe (phonetic.py): its fit, its cross-fitting, and how the model hears it."""

import numpy as np
import pytest
import torch

from asynfusion import phonetic
from asynfusion.model import AsynFusion, ModelConfig
from asynfusion.random_model import randomise

K, D, T = 4, 12, 600


def takes(seed: int, signal: float, n: int = 2):
    """Features whose class shows one frame *later* (so the probe needs its context), plus noise;
    ``signal`` 0: features that say nothing about the class."""
    rng = np.random.default_rng(seed)
    feats, classes = [], []
    for _ in range(n):
        c = np.repeat(rng.integers(0, K, T // 6), 6)
        c[rng.random(T) < 0.2] = -1                    # unlabelled frames
        f = rng.normal(size=(T, D))
        f[1:, :K] += signal * np.eye(K)[np.maximum(c[:-1], 0)] * (c[:-1] >= 0)[:, None]
        feats.append(f.astype(np.float32))
        classes.append(c)
    return feats, classes


def test_the_probe_reads_classes_from_context_and_its_convolution_is_the_regression_it_fitted():
    feats, classes = takes(0, signal=2.0)
    probe, crossfit, report = phonetic.fit(feats, classes, K)
    assert set(report) == set(phonetic.ALPHAS)
    new_feats, new_classes = takes(1, signal=2.0, n=1)
    s = phonetic.scores(probe.weight, probe.bias, torch.from_numpy(new_feats[0])[None])[0].numpy()
    assert phonetic.balanced_accuracy(s.argmax(1), new_classes[0]) > 0.8            # chance: 0.25
    # the convolution's layout: frame t's score reads frames t - reach .. t + reach, ends repeated
    ctx = phonetic.context(new_feats[0].astype(np.float64), probe.reach)
    w = probe.weight.numpy().transpose(2, 1, 0).reshape(-1, K)
    np.testing.assert_allclose(s, ctx @ w + probe.bias.numpy(), atol=1e-3)
    assert [c.shape for c in crossfit] == [(T, K)] * 2


def test_cross_fitted_scores_do_not_know_their_own_labels(monkeypatch):
    """On features that say nothing about the class, scores from a probe fitted on the same
    frames read their labels well above chance; the cross-fitted ones do not."""
    monkeypatch.setattr(phonetic, "ALPHAS", (30.0,))      # a weak ridge: the in-sample fit memorises
    feats, classes = takes(2, signal=0.0)
    probe, crossfit, _ = phonetic.fit(feats, classes, K)
    own = [phonetic.scores(probe.weight, probe.bias, torch.from_numpy(f)[None])[0].numpy() for f in feats]
    in_sample = phonetic.balanced_accuracy(np.concatenate(own).argmax(1), np.concatenate(classes))
    crossed = phonetic.balanced_accuracy(np.concatenate(crossfit).argmax(1), np.concatenate(classes))
    assert in_sample > 0.35 and crossed < 0.32, (in_sample, crossed)


def test_the_ridge_strength_is_the_one_whose_cross_fitted_scores_read_best():
    feats, classes = takes(3, signal=0.7)
    probe, crossfit, report = phonetic.fit(feats, classes, K)
    best = max(report, key=report.get)
    read = phonetic.balanced_accuracy(np.concatenate(crossfit).argmax(1), np.concatenate(classes))
    assert read == pytest.approx(report[best])


def test_a_class_the_takes_never_show_is_an_error():
    feats, classes = takes(4, signal=1.0)
    with pytest.raises(ValueError, match="every mouth-shape class"):
        phonetic.fit(feats, [np.where(c == 3, -1, c) for c in classes], K)


def probe_model() -> AsynFusion:
    torch.manual_seed(0)
    model = randomise(AsynFusion(ModelConfig(width=32, depth=1, heads=2, window=48, audio_dim=D,
                                             phonetic_classes=K, phonetic_reach=2)))
    model.audio.probe_weight.normal_()
    model.audio.probe_bias.normal_()
    return model.eval()


def test_random_weights_the_encoder_hears_the_probe_or_the_scores_it_is_given_and_no_scores_without_audio():
    model = probe_model()
    feats = torch.randn(2, 48, D)
    with torch.no_grad():
        own = phonetic.scores(model.audio.probe_weight, model.audio.probe_bias, feats)
        heard = model.encode_audio(feats)
        assert torch.allclose(heard, model.encode_audio(feats, None, own), atol=1e-5)
        assert not torch.allclose(heard, model.encode_audio(feats, None, torch.zeros_like(own)), atol=1e-3)
        drop = torch.tensor([True, False])
        dropped = model.encode_audio(feats, drop, own)
        null = model.encode_audio(torch.randn_like(feats), torch.tensor([True, True]))
        assert torch.allclose(dropped[0], null[0], atol=1e-6) and torch.allclose(dropped[1], heard[1], atol=1e-5)
    assert {"audio.probe_weight", "audio.probe_bias"} <= set(model.state_dict())
    assert not any("probe" in name for name, _ in model.named_parameters())     # frozen: never trained
