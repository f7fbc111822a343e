"""The dual-branch DiT (random weights): CoSync coupling, own timesteps, caches."""

import pytest
import torch

from asynfusion.model import AsynFusion, ModelConfig
from asynfusion.random_model import randomise
from asynfusion.schedule import Scheduler

B, T = 2, 48


def make(gates_open: bool, **kw) -> AsynFusion:
    torch.manual_seed(0)
    arch = dict(width=64, depth=2, heads=2, window=T) | kw
    model = randomise(AsynFusion(ModelConfig(**arch)))
    if not gates_open:
        for g in model.cosync_gates():
            g.data.zero_()
    return model.eval()


def inputs(seed=0):
    g = torch.Generator().manual_seed(seed)
    x = {"face": torch.randn(B, T, 106, generator=g), "body": torch.randn(B, T, 315, generator=g)}
    t = {"face": torch.tensor([10, 500]), "body": torch.tensor([900, 20])}
    audio = torch.randn(B, T, 66, generator=g)
    return x, t, audio


def run(model, x, t, audio):
    with torch.no_grad():
        out, _ = model(x, t, model.encode_audio(audio))
    return out


def test_random_weights_gate_closed_branches_are_independent():
    model = make(gates_open=False)
    x, t, audio = inputs()
    base = run(model, x, t, audio)
    x2 = {"face": x["face"], "body": x["body"] + torch.randn_like(x["body"])}
    t2 = {"face": t["face"], "body": torch.tensor([5, 999])}
    other = run(model, x2, t2, audio)
    assert torch.equal(base["face"], other["face"])
    assert not torch.allclose(base["body"], other["body"])


def test_random_weights_gate_open_couples_the_branches_both_ways():
    model = make(gates_open=True)
    x, t, audio = inputs()
    base = run(model, x, t, audio)
    body_changed = run(model, {"face": x["face"], "body": x["body"] + 1.0}, t, audio)
    face_changed = run(model, {"face": x["face"] + 1.0, "body": x["body"]}, t, audio)
    assert (base["face"] - body_changed["face"]).abs().max() > 1e-4
    assert (base["body"] - face_changed["body"]).abs().max() > 1e-4


def test_random_weights_cosync_is_local_in_time():
    # One block: face frame i sees the body only through CoSync, within +-4 frames.
    model = make(gates_open=True, cosync_window=4, depth=1)
    x, t, audio = inputs()
    base = run(model, x, t, audio)
    moved = dict(x, body=x["body"].clone())
    moved["body"][:, 40:] += 3.0
    out = run(model, moved, t, audio)
    near = (out["face"][:, :36] - base["face"][:, :36]).abs().max()
    far = (out["face"][:, 36:] - base["face"][:, 36:]).abs().max()
    assert near < 1e-4 < 100 * near < far   # beyond the band: rounding only


def test_random_weights_each_branch_follows_its_own_timestep():
    model = make(gates_open=False)
    x, t, audio = inputs()
    base = run(model, x, t, audio)
    out = run(model, x, {"face": t["face"] + 100, "body": t["body"]}, audio)
    assert not torch.allclose(base["face"], out["face"])
    assert torch.equal(base["body"], out["body"])


def test_decoupled_training_timesteps_reach_the_model():
    g = torch.Generator().manual_seed(0)
    t_face, t_body = Scheduler().training_timesteps(4000, decoupled=0.5, generator=g)
    differ = (t_face != t_body).float().mean().item()
    assert 0.45 < differ < 0.52          # independent draws coincide with probability 1/1000
    # the model conditions each branch on its own value within one batch
    model = make(gates_open=False)
    x, _, audio = inputs()
    t = {"face": torch.tensor([100, 100]), "body": torch.tensor([100, 800])}
    out = run(model, x, t, audio)
    same = run(model, x, {"face": t["face"], "body": torch.tensor([100, 100])}, audio)
    assert torch.equal(out["body"][0], same["body"][0])
    assert not torch.allclose(out["body"][1], same["body"][1])


def test_random_weights_one_branch_with_cached_keys_equals_the_joint_pass():
    model = make(gates_open=True)
    x, t, audio = inputs()
    ctx = model.encode_audio(audio)
    with torch.no_grad():
        joint, cache = model(x, t, ctx)
        face_only, _ = model({"face": x["face"]}, {"face": t["face"]}, ctx, cache)
    assert torch.allclose(joint["face"], face_only["face"], atol=1e-6)
    with pytest.raises(ValueError):
        model({"face": x["face"]}, {"face": t["face"]}, ctx, None)


def test_audio_dropout_replaces_the_audio_with_the_learned_null():
    model = make(gates_open=False)
    _, _, audio = inputs()
    drop = torch.tensor([True, False])
    ctx = model.encode_audio(audio, drop)
    null = model.encode_audio(torch.randn_like(audio), torch.tensor([True, True]))
    assert torch.allclose(ctx[0], null[0]) and not torch.allclose(ctx[1], null[1])


def test_random_weights_dropout_acts_in_training_only():
    """Trained with dropout, the network samples as if it had none (eval mode is what generation
    uses): the same outputs as the same weights without it; in training two passes differ."""
    dropped, plain = make(gates_open=True, dropout=0.3), make(gates_open=True)
    plain.load_state_dict(dropped.state_dict())
    x, t, audio = inputs()
    a, b = run(dropped, x, t, audio), run(plain, x, t, audio)
    assert all(torch.equal(a[k], b[k]) for k in a)
    dropped.train()
    torch.manual_seed(1)
    first = run(dropped, x, t, audio)
    torch.manual_seed(2)
    second = run(dropped, x, t, audio)
    assert all(not torch.allclose(first[k], second[k]) for k in first)
    with pytest.raises(ValueError, match="dropout"):
        ModelConfig(dropout=1.0)


def test_random_weights_face_only_dropout_leaves_the_body_branch_deterministic():
    """With the branches uncoupled, training passes differ in the face and not in the body."""
    model = make(gates_open=False, dropout=0.3, dropout_face_only=True).train()
    x, t, audio = inputs()
    torch.manual_seed(1)
    first = run(model, x, t, audio)
    torch.manual_seed(2)
    second = run(model, x, t, audio)
    assert not torch.allclose(first["face"], second["face"])
    assert torch.equal(first["body"], second["body"])


def test_random_weights_the_body_branch_reads_the_retrieved_track_and_the_face_does_not_directly():
    model = make(gates_open=True, retrieval=True)
    x, t, audio = inputs()
    ctx = model.encode_audio(audio)
    track = torch.randn_like(x["body"])
    with torch.no_grad():
        with_track, _ = model(x, t, ctx, retrieved=track)
        other, _ = model(x, t, ctx, retrieved=2 * track)
        none, _ = model(x, t, ctx)
        zeros, _ = model(x, t, ctx, retrieved=torch.zeros_like(track))
    assert not torch.allclose(with_track["body"], other["body"])
    assert torch.equal(none["body"], zeros["body"])       # "no track" is the normalised mean
    assert model.branches["body"].inp.in_features == 2 * model.cfg.body_dim
    assert model.branches["face"].inp.in_features == model.cfg.face_dim


def test_random_weights_a_band_limited_body_output_has_no_frame_to_frame_tremor():
    sharp, smooth = make(gates_open=True), make(gates_open=True, body_lowpass=1.5)
    smooth.load_state_dict(sharp.state_dict())               # same weights, only the output filter differs
    x, t, audio = inputs()

    def high_band(y):            # power above ~7.5 Hz (the top half of the spectrum at 30 fps)
        spec = torch.fft.rfft(y - y.mean(1, keepdim=True), dim=1).abs() ** 2
        return spec[:, spec.shape[1] // 2:].sum() / spec.sum()
    a, b = run(sharp, x, t, audio), run(smooth, x, t, audio)
    assert high_band(b["body"]) < 0.05 * high_band(a["body"])
    assert torch.equal(a["face"], b["face"])                 # the face is not filtered
