"""Training on the real BEAT2 takes (issue 4): loader, motion layout, mirror
augmentation, a short teacher run, resume, distillation, and torchrun with two
gloo processes. Real files and real torch throughout; models are tiny (width 32,
depth 1) so the whole file runs in about a minute on two CPU cores.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file
from torch.optim.optimizer import register_optimizer_step_post_hook

from asynfusion import audio
from asynfusion.core.motion_file import read_motion
from asynfusion.core.skeleton import EYES, JOINT_NAMES, MIRROR, NUM_JOINTS
from asynfusion.model import BRANCHES, AsynFusion, ModelConfig
from asynfusion.representation import (BODY_DIM, FACE_DIM, Normaliser, branches_to_motion, decode, decode_face,
                                      motion_to_branches)
from asynfusion.rot6d import axis_angle_to_matrix
from asynfusion.sampling import SamplerSettings, sample
from asynfusion.schedule import Scheduler
from asynfusion.training import common
from asynfusion.training.args import DEFAULT_HOLDOUT, DistillConfig, TrainConfig
from asynfusion.training.data import Windows, fit_normaliser, load_split, load_take
from asynfusion.training.distill import distill
from asynfusion.training.train import Denoiser, train, warp_voice
from asynfusion.weights import load_weights

from .conftest import BEAT2, PYTHON, cli_env

pytestmark = pytest.mark.shared_data("beat2")

WINDOW = 60
TAKES = sorted(p.stem for p in BEAT2.glob("*.npz") if p.with_suffix(".wav").is_file())
JOINT = {name: i for i, name in enumerate(JOINT_NAMES)}
TEACHER_STEPS = 60


@pytest.fixture(scope="session")
def feature_cache(tmp_path_factory) -> Path:
    """One audio feature cache for the session: features are computed once."""
    return tmp_path_factory.mktemp("feature_cache")


@pytest.fixture(scope="session")
def split(feature_cache):
    return load_split(BEAT2, DEFAULT_HOLDOUT, cache=feature_cache)


@pytest.fixture(scope="session")
def one_thread():
    """Training here shares two cores with others: one torch thread, restored afterwards."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def teacher_config(out: Path, cache: Path) -> TrainConfig:
    # lr 1e-2: the schedule warms up over 200 steps, so a 60-step run peaks at 3e-3.
    return TrainConfig(data=str(BEAT2), out=str(out), steps=TEACHER_STEPS, batch=8, lr=1e-2, width=32, depth=1,
                       heads=2, window=WINDOW, save_every=30, device="cpu", cache=str(cache), threads=1,
                       subframes=audio.SUBFRAMES, foot_weight=1.0)


@pytest.fixture(scope="session")
def teacher(tmp_path_factory, feature_cache, one_thread) -> Path:
    """A tiny teacher trained for 60 steps on the real takes (shared: read it, do not write into it)."""
    out = tmp_path_factory.mktemp("teacher")
    assert train(teacher_config(out, feature_cache)) == out
    return out


def read_state(folder: Path) -> dict:
    return json.loads((folder / common.STATE_FILE).read_text())


# ---------------------------------------------------------------- loader


def test_loader_reads_both_real_takes_and_holds_out_the_last_15_percent_of_each(split):
    assert len(TAKES) == 2
    assert [t.name for t in split.train] == TAKES and [t.name for t in split.test] == TAKES
    assert "15%" in split.description
    for tr, te in zip(split.train, split.test):
        m = read_motion(BEAT2 / f"{tr.name}.npz")
        total = m.num_frames
        cut = int(round(total * (1 - DEFAULT_HOLDOUT)))
        assert tr.frames + te.frames == total               # the audio covers the whole take
        assert (tr.start, tr.frames) == (0, cut)
        assert te.start == cut and tr.start + tr.frames <= te.start   # no training frame is held out
        assert abs(te.frames / total - DEFAULT_HOLDOUT) < 1 / total
        for field in ("poses", "expressions", "trans"):
            full = np.asarray(getattr(m, field), np.float32)
            np.testing.assert_array_equal(getattr(tr, field), full[:cut])
            np.testing.assert_array_equal(getattr(te, field), full[cut:])
        assert not tr.mirrored and not te.mirrored


def test_audio_features_and_wave_are_aligned_to_the_motion_frames(split, feature_cache):
    for tr, te in zip(split.train, split.test):
        whole = load_take(tr.name, BEAT2 / f"{tr.name}.npz", BEAT2 / f"{tr.name}.wav", feature_cache)
        for part in (tr, te):
            assert part.feats.shape == (part.frames, audio.WIDE_DIM)
            # each part's features are speaker-normalised on that part's own audio
            own = audio.speaker_normalise(torch.from_numpy(whole.feats[part.start: part.start + part.frames]))[0]
            np.testing.assert_allclose(part.feats, own.numpy(), atol=1e-5)
            # the wave covers exactly the part's frames at 16000/30 samples a frame (533.33, not 533)
            first = round(part.start * audio.SAMPLE_RATE / audio.MOTION_FPS)
            last = round((part.start + part.frames) * audio.SAMPLE_RATE / audio.MOTION_FPS)
            assert len(part.wave) == last - first
            np.testing.assert_array_equal(part.wave, whole.wave[first:last])
        # features recomputed from the held-out wave alone line up with the stored ones frame for frame
        again = audio.speaker_normalise(audio.audio_features(te.wave))[0].numpy()
        assert again.shape[0] >= te.frames - 1
        inner = slice(5, min(te.frames, again.shape[0]) - 5)
        cols = list(range(audio.N_MELS)) + [audio.FEATURE_DIM - 1]     # log-mel + energy
        err = {s: np.abs(again[inner][:, cols] - te.feats[inner.start + s: inner.stop + s][:, cols]).mean()
               for s in (-1, 0, 1)}
        assert err[0] < 0.05 and err[0] < 0.3 * min(err[-1], err[1]), err


def test_windows_have_the_shapes_the_model_takes(split, one_thread):
    normaliser = fit_normaliser(split.train)
    ds = Windows(split.train, normaliser, WINDOW, 5, mirror=True)
    per_take = sum((t.frames - WINDOW) // 5 + 1 for t in split.train)
    assert len(ds) == 2 * per_take                        # the takes and their mirror images
    cfg = ModelConfig(width=32, depth=1, heads=2, window=WINDOW)
    item = ds[len(ds) - 1]
    assert item["face"].shape == (WINDOW, cfg.face_dim) == (WINDOW, FACE_DIM)
    assert item["body"].shape == (WINDOW, cfg.body_dim) == (WINDOW, BODY_DIM)
    assert item["audio"].shape == (WINDOW, cfg.audio_dim)
    assert all(v.dtype == torch.float32 and torch.isfinite(v).all() for k, v in item.items() if k != "viseme")
    assert item["viseme"].shape == (WINDOW,) and item["viseme"].dtype == torch.int64
    assert item["contact"].shape == (WINDOW, 2)
    # a standing speaker's feet are planted most of the time, not always; the mirror swaps them
    planted = ds.contact[0].mean(0)
    assert ((planted > 0.5) & (planted < 0.99)).all()
    mirrored = ds.contact[len(split.train)]
    assert (mirrored == ds.contact[0].flip(-1)).float().mean() > 0.99
    labels = torch.cat(ds.visemes)
    assert set(labels.unique().tolist()) == {-1, 0, 1, 2, 3}     # every mouth shape, and frames with none
    # the windows are normalised with the training statistics
    face = torch.cat(ds.face[: len(split.train)])
    assert face.mean().abs() < 0.1 and 0.8 < face.std() < 1.2
    batch = {k: torch.stack([ds[i][k] for i in (0, 7, len(ds) // 2)]) for k in item}
    t = {b: torch.tensor([10, 500, 999]) for b in BRANCHES}
    out = Denoiser(AsynFusion(cfg))({b: batch[b] for b in BRANCHES}, t, batch["audio"], None)
    assert out["face"].shape == batch["face"].shape and out["body"].shape == batch["body"].shape


def test_the_voice_warp_moves_the_mel_axis_of_every_block_alike_and_leaves_onset_energy_and_frication():
    d, n = audio.FEATURE_DIM, audio.N_MELS
    wide = torch.randn(3, 40, audio.WIDE_DIM)
    warped = warp_voice(wide, 0.2, torch.Generator().manual_seed(1))
    for k in range(1 + audio.SUBFRAMES):
        block = warp_voice(wide[..., k * d: (k + 1) * d], 0.2, torch.Generator().manual_seed(1))
        torch.testing.assert_close(warped[..., k * d: (k + 1) * d], block)
        torch.testing.assert_close(block[..., n:], wide[..., k * d + n: (k + 1) * d])
    assert not torch.allclose(warped[..., :n], wide[..., :n])
    assert torch.equal(warped[..., audio.SPECTRAL_DIM:], wide[..., audio.SPECTRAL_DIM:])


def test_a_take_recorded_elsewhere_keeps_its_motion_and_phones_and_only_its_speech_changes(split, one_thread):
    take = split.train[0].crop(0, 300)
    copy = take.recorded_elsewhere(3)
    for name in ("poses", "expressions", "trans", "visemes"):
        assert np.array_equal(getattr(copy, name), getattr(take, name)), name
    assert copy.feats.shape == take.feats.shape and np.isfinite(copy.feats).all()
    assert np.abs(copy.feats - take.feats).mean() > 0.1
    assert np.array_equal(take.recorded_elsewhere(3).feats, copy.feats)        # seeded
    normaliser = fit_normaliser(split.train)
    plain = Windows(split.train, normaliser, WINDOW, 5, mirror=False)
    voiced = Windows(split.train, normaliser, WINDOW, 5, mirror=False, voices=2)
    assert len(voiced) == 3 * len(plain)


def test_motion_layout_round_trips_on_a_real_take():
    m = read_motion(BEAT2 / f"{TAKES[0]}.npz")
    poses, expr, trans = (torch.from_numpy(np.asarray(a, np.float32)) for a in (m.poses, m.expressions, m.trans))
    assert float(trans.max(0).values.sub(trans.min(0).values).max()) > 0.01   # the root really moves
    face, body = motion_to_branches(poses, expr, trans)
    assert face.shape == (m.num_frames, FACE_DIM) and body.shape == (m.num_frames, BODY_DIM)
    p2, e2, t2 = branches_to_motion(face, body)
    aa, aa2 = poses.reshape(-1, NUM_JOINTS, 3), p2.reshape(-1, NUM_JOINTS, 3)
    kept = [j for j in range(NUM_JOINTS) if j not in EYES]
    torch.testing.assert_close(aa2[:, kept], aa[:, kept], atol=2e-4, rtol=0)
    assert torch.count_nonzero(aa2[:, list(EYES)]) == 0      # eyes are not generated (documented)
    torch.testing.assert_close(e2, expr, atol=0, rtol=0)
    torch.testing.assert_close(t2, trans, atol=0, rtol=0)     # absolute: nothing is integrated
    # batched windows go through the same way
    fb, bb = motion_to_branches(poses[:120].reshape(2, 60, -1), expr[:120].reshape(2, 60, -1),
                                trans[:120].reshape(2, 60, 3))
    torch.testing.assert_close(fb.reshape(120, -1)[:60], face[:60])
    torch.testing.assert_close(bb[1, :, -3:], body[60:120, -3:])


# ---------------------------------------------------------------- mirror augmentation


def test_mirror_twice_is_exactly_the_identity_on_a_real_take(split):
    take = split.train[0]
    back = take.mirror().mirror()
    assert not back.mirrored and take.mirror().mirrored
    for field in ("poses", "expressions", "trans", "feats"):
        a, b = getattr(take, field), getattr(back, field)
        assert a.dtype == b.dtype and np.array_equal(a, b), field


def test_mirror_swaps_left_and_right_wrists_with_the_axis_angle_sign_flip(split):
    take = split.train[0]
    once = take.mirror()
    aa = take.poses.reshape(-1, NUM_JOINTS, 3)
    mm = once.poses.reshape(-1, NUM_JOINTS, 3)
    flip = np.array([1, -1, -1], np.float32)        # (x, y, z) -> (x, -y, -z), augment.py's docstring
    lw, rw = JOINT["left_wrist"], JOINT["right_wrist"]
    assert not np.allclose(aa[:, lw], aa[:, rw] * flip, atol=1e-2)    # the swap is visible on this take
    np.testing.assert_array_equal(mm[:, rw], aa[:, lw] * flip)
    np.testing.assert_array_equal(mm[:, lw], aa[:, rw] * flip)
    li, ri = JOINT["left_index1"], JOINT["right_index1"]
    np.testing.assert_array_equal(mm[:, ri], aa[:, li] * flip)
    np.testing.assert_array_equal(mm[:, JOINT["spine1"]], aa[:, JOINT["spine1"]] * flip)
    assert [MIRROR[lw], MIRROR[rw]] == [rw, lw]
    np.testing.assert_array_equal(once.trans[:, 0], -take.trans[:, 0])
    np.testing.assert_array_equal(once.trans[:, 1:], take.trans[:, 1:])
    np.testing.assert_array_equal(once.expressions, take.expressions)
    # the sign flip is the reflection x -> -x of the rotation: R' = M R M with M = diag(-1, 1, 1)
    m = torch.diag(torch.tensor([-1.0, 1.0, 1.0]))
    r_left = axis_angle_to_matrix(torch.from_numpy(aa[:, lw]))
    r_mirrored_right = axis_angle_to_matrix(torch.from_numpy(mm[:, rw]))
    torch.testing.assert_close(r_mirrored_right, m @ r_left @ m, atol=1e-5, rtol=0)


# ---------------------------------------------------------------- teacher training


def test_short_training_run_on_real_data_lowers_the_loss_and_writes_loadable_weights(teacher, split):
    state = read_state(teacher)
    assert state["step"] == TEACHER_STEPS
    history = state["history"]
    assert [h[0] for h in history] == list(range(1, TEACHER_STEPS + 1))
    loss = np.array([h[1] for h in history])
    assert np.isfinite(loss).all()
    first, last = loss[:10].mean(), loss[-10:].mean()
    assert last < 0.85 * first, (first, last)

    w = load_weights(teacher)
    model, kind, normaliser, config = w.model, w.kind, w.normaliser, w.config
    assert kind == "teacher" and config["kind"] == "teacher" and w.scheduler == Scheduler("ddim", body_noise_lowpass=2.0)
    assert model.cfg.retrieval and w.database is not None       # the body reads retrieved motion
    assert (model.cfg.width, model.cfg.depth, model.cfg.heads, model.cfg.window) == (32, 1, 2, WINDOW)
    assert not model.cfg.guidance_embed
    assert model.cfg.audio_dim == audio.SPECTRAL_DIM      # it hears the sub-frames (not the frication cues)
    assert config["training"]["steps"] == TEACHER_STEPS
    assert "CC BY-NC" in config["training"]["licence"]
    # the shipped file holds the EMA weights, not the raw ones kept for resuming
    raw = load_file(str(teacher / common.RAW_FILE))
    shipped = load_file(str(teacher / "model.safetensors"))
    assert raw.keys() == shipped.keys()
    assert any(not torch.equal(raw[k], shipped[k]) for k in raw)
    # normalisation statistics come from the training split (and its mirror image) only
    expected = fit_normaliser(split.train + [t.mirror() for t in split.train], audio.SPECTRAL_DIM)
    with_test = fit_normaliser(split.train + split.test + [t.mirror() for t in split.train + split.test],
                               audio.SPECTRAL_DIM)
    for name in ("face_mean", "face_std", "body_mean", "body_std", "audio_mean", "audio_std"):
        torch.testing.assert_close(getattr(normaliser, name), getattr(expected, name), atol=1e-5, rtol=1e-5)
    assert not torch.allclose(normaliser.body_std, with_test.body_std, atol=1e-4, rtol=1e-4)

    png = (teacher / "loss.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000


def test_resume_continues_from_the_saved_step(teacher, feature_cache, tmp_path, capsys):
    out = tmp_path / "resumed"
    shutil.copytree(teacher, out)
    before = read_state(out)
    assert before["step"] == TEACHER_STEPS
    steps_taken = []
    # the model's optimiser only (the viseme readout is fitted once by its own LBFGS step)
    hook = register_optimizer_step_post_hook(
        lambda opt, *_: steps_taken.append(1) if isinstance(opt, torch.optim.AdamW) else None)
    try:
        train(replace(teacher_config(out, feature_cache), steps=TEACHER_STEPS + 6, resume=True))
    finally:
        hook.remove()
    assert f"at step {TEACHER_STEPS}" in capsys.readouterr().out
    assert len(steps_taken) == 6                           # only the new steps ran
    after = read_state(out)
    assert after["step"] == TEACHER_STEPS + 6
    assert [h[0] for h in after["history"]] == list(range(1, TEACHER_STEPS + 7))
    assert after["history"][:TEACHER_STEPS] == before["history"]
    opt = load_file(str(out / common.OPT_FILE))            # Adam's own step count carried on
    assert int(opt["0.step"].item()) == TEACHER_STEPS + 6
    w = load_weights(out)
    assert w.kind == "teacher" and w.config["training"]["steps"] == TEACHER_STEPS + 6


# ---------------------------------------------------------------- distillation


def test_distillation_makes_an_lcm_student_with_guidance_embedding_that_samples(teacher, split, feature_cache,
                                                                                tmp_path):
    out = tmp_path / "student"
    cfg = DistillConfig(data=str(BEAT2), teacher=str(teacher), out=str(out), steps=4, batch=4, save_every=4,
                        device="cpu", cache=str(feature_cache), threads=1, w_min=1.0, w_max=3.0)
    assert distill(cfg) == out
    state = read_state(out)
    assert state["step"] == 4 and len(state["history"]) == 4
    assert all(np.isfinite(h[1]) for h in state["history"])
    assert (out / "loss.png").is_file()

    sw, tw = load_weights(out), load_weights(teacher)
    student, kind, normaliser, config = sw.model, sw.kind, sw.normaliser, sw.config
    assert kind == "lcm" and student.cfg.guidance_embed
    # saved with the grid it was distilled on and the teacher's noise
    assert sw.scheduler == Scheduler("lcm", origin_steps=50, body_noise_lowpass=tw.scheduler.body_noise_lowpass)
    assert replace(student.cfg, guidance_embed=False) == tw.model.cfg
    torch.testing.assert_close(normaliser.body_std, tw.normaliser.body_std)
    np.testing.assert_array_equal(sw.database.body, tw.database.body)   # the teacher's motion database
    assert config["training"]["distillation"]["steps"] == 4
    for b in BRANCHES:   # the zero-initialised guidance embedding has been trained
        assert student.branches[b].guidance.mlp[2].weight.abs().sum() > 0

    te = split.test[0]
    feats = normaliser.normalise_audio(torch.from_numpy(te.feats))
    pad = normaliser.normalise_audio(audio.silence_features(1))
    settings = SamplerSettings(mode="lcm", steps_face=4, steps_body=2, guidance=2.0)
    track = torch.from_numpy(sw.database.match(te.feats, seed=0))
    x = sample(student, sw.scheduler, feats, settings, seed=0, pad_features=pad, retrieved=track)
    assert x["face"].shape == (te.frames, FACE_DIM) and x["body"].shape == (te.frames, BODY_DIM)
    assert all(torch.isfinite(v).all() for v in x.values())
    poses, expr, trans = decode(normaliser, x["face"], x["body"])
    assert poses.shape == (te.frames, 165) and expr.shape == (te.frames, 100) and trans.shape == (te.frames, 3)
    again = sample(student, sw.scheduler, feats, settings, seed=0, pad_features=pad, retrieved=track)
    assert torch.equal(again["face"], x["face"])
    other = sample(student, sw.scheduler, feats, replace(settings, guidance=3.0), seed=0, pad_features=pad,
                   retrieved=track)
    assert not torch.equal(other["body"], x["body"])       # the guidance scale is an input of the student


def test_the_face_decoded_alone_is_the_face_of_the_whole_decode():
    gen = torch.Generator().manual_seed(0)
    face, body = torch.randn(20, FACE_DIM, generator=gen), torch.randn(20, BODY_DIM, generator=gen)
    norm = replace(Normaliser.identity(8), face_mean=torch.randn(FACE_DIM, generator=gen),
                   face_std=torch.rand(FACE_DIM, generator=gen) + 0.5)
    poses, expressions, _ = decode(norm, face, body)
    alone = decode_face(norm, face)
    np.testing.assert_array_equal(alone[0], expressions)
    np.testing.assert_array_equal(alone[1], poses[:, 66:69])


def test_distillation_at_one_guidance_scale_bakes_it_in(teacher, feature_cache, tmp_path):
    from asynfusion.errors import UserError
    from asynfusion.generate import Generator

    out = tmp_path / "fixed"
    distill(DistillConfig(data=str(BEAT2), teacher=str(teacher), out=str(out), steps=2, batch=4, save_every=2,
                          device="cpu", cache=str(feature_cache), threads=1, w_min=2.5, w_max=2.5))
    gen = Generator(out, "cpu")
    assert gen.kind == "lcm" and not gen.model.cfg.guidance_embed
    assert not any(".guidance." in k for k in gen.model.state_dict())
    assert gen.baked_guidance == 2.5 and gen.settings(None, None, None).guidance == 2.5
    assert gen.settings(None, None, 2.5).guidance == 2.5
    with pytest.raises(UserError, match="distilled with guidance 2.5 built in"):
        gen.settings(None, None, 4.0)


def test_the_phonetic_probe_is_fitted_on_the_training_takes_and_the_student_keeps_it(split, feature_cache,
                                                                                      tmp_path, one_thread):
    from asynfusion import phonetic
    from asynfusion.errors import UserError
    from asynfusion.generate import Generator
    from asynfusion.training import phones as P

    cfg = replace(teacher_config(tmp_path / "teacher", feature_cache), steps=2, save_every=2, phonetic=1,
                  mirror=False, subframes=0, retrieval=False)     # a small probe, no motion database: quick
    train(cfg)
    tw = load_weights(tmp_path / "teacher")
    assert tw.model.cfg.phonetic_classes == len(P.VISEME_NAMES)
    ds = Windows(split.train, tw.normaliser, WINDOW, 5, mirror=False)
    probe, _, _ = phonetic.fit([a.numpy() for a in ds.audio], [v.numpy() for v in ds.visemes], len(P.VISEME_NAMES))
    assert torch.allclose(tw.model.audio.probe_weight, probe.weight) and probe.weight.abs().max() > 0
    distill(DistillConfig(data=str(BEAT2), teacher=str(tmp_path / "teacher"), out=str(tmp_path / "student"),
                          steps=2, batch=4, save_every=2, device="cpu", cache=str(feature_cache), threads=1,
                          w_min=3.0, w_max=3.0, mirror=False))
    gen = Generator(tmp_path / "student", "cpu")
    assert torch.equal(gen.model.audio.probe_weight, tw.model.audio.probe_weight)   # never trained
    with pytest.raises(UserError, match="other takes"):   # its scores would not be the teacher's
        distill(DistillConfig(data=str(BEAT2), teacher=str(tmp_path / "teacher"), out=str(tmp_path / "other"),
                              steps=2, batch=4, device="cpu", cache=str(feature_cache), threads=1, w_min=3.0,
                              w_max=3.0, mirror=False, heldout_take=TAKES[0]))
    # copies of a piece's speech would sit in the probe that scores it
    with pytest.raises(UserError, match="--no-mirror"):
        train(replace(cfg, out=str(tmp_path / "mirrored"), mirror=True))
    # the frication cues sit after all four sub-frames: a model hearing fewer cannot read them as a prefix
    with pytest.raises(UserError, match="--subframes 4"):
        train(replace(cfg, out=str(tmp_path / "cues"), frication=1))
    # takes without phone alignments: one sentence, not a traceback
    bare = tmp_path / "bare"
    bare.mkdir()
    for ext in (".npz", ".wav"):
        (bare / (TAKES[0] + ext)).symlink_to(BEAT2 / (TAKES[0] + ext))
    with pytest.raises(UserError, match="TextGrid.*--phonetic 0"):
        train(replace(cfg, data=str(bare), out=str(tmp_path / "bare_out")))


# ---------------------------------------------------------------- torchrun


def test_torchrun_with_two_cpu_processes_trains(tmp_path):
    out = tmp_path / "ddp"
    env = cli_env()
    env["OMP_NUM_THREADS"] = "1"
    # no --cache: both ranks fill OUT/feature_cache at the same time, as a user's first run does
    cmd = [PYTHON, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "asynfusion.cli", "train", str(BEAT2), "-o", str(out), "--steps", "4", "--batch", "4",
           "--width", "32", "--depth", "1", "--heads", "2", "--window", str(WINDOW), "--save-every", "4",
           "--device", "cpu", "--threads", "1"]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-4000:]
    state = read_state(out)
    assert state["step"] == 4 and [h[0] for h in state["history"]] == [1, 2, 3, 4]
    assert all(np.isfinite(h[1]) for h in state["history"])
    # rank 0 alone reports and writes: one final progress line, one checkpoint, no leftovers
    assert log.count("4/4 loss") == 1, log[-4000:]
    assert sorted(p.name for p in out.iterdir()) == sorted(
        ["config.json", "model.safetensors", common.RAW_FILE, common.OPT_FILE, common.STATE_FILE, "loss.png",
         "feature_cache", "motion_db.safetensors"])
    assert sorted(p.name for p in (out / "feature_cache").iterdir()) == sorted(
        p.name for p in (out / "feature_cache").glob("*.npy") if ".tmp" not in p.name)
    assert len(list((out / "feature_cache").glob("*.npy"))) == 2
    w = load_weights(out)
    assert w.kind == "teacher" and w.config["training"]["steps"] == 4
    assert w.config["training"]["config"]["batch"] == 4


def test_the_shipped_recipe_is_what_the_shipped_weights_were_trained_with_and_the_cli_default():
    """One source for the training defaults: the recipe file; flags still win over it."""
    from asynfusion.cli import build_parser
    from asynfusion.training.args import DistillConfig, TrainConfig, config_from, load_recipe
    from asynfusion.weights import default_weights_dir

    record = json.loads((default_weights_dir() / "config.json").read_text())["training"]
    for section, cls, shipped in (("train", TrainConfig, record["config"]),
                                  ("distill", DistillConfig, record["distillation"])):
        for key, value in load_recipe("shipped", section, cls).items():
            assert shipped[key] == value, (section, key)
    parser = build_parser()
    cfg = config_from(parser.parse_args(["train", "data", "-o", "out"]), TrainConfig)
    assert (cfg.steps, cfg.batch, cfg.mirror, cfg.recipe) == (record["config"]["steps"], 24, False, "shipped")
    cfg = config_from(parser.parse_args(["train", "data", "-o", "out", "--steps", "7", "--mirror"]), TrainConfig)
    assert (cfg.steps, cfg.mirror) == (7, True)
    cfg = config_from(parser.parse_args(["distill", "data", "--teacher", "t", "-o", "out"]), DistillConfig)
    assert (cfg.steps, cfg.w_min, cfg.w_max) == (400, 3.0, 3.0)


def test_a_recipe_file_of_ones_own_sets_the_defaults_and_a_wrong_one_is_one_sentence(tmp_path):
    from asynfusion.cli import build_parser
    from asynfusion.errors import UserError
    from asynfusion.training.args import TrainConfig, config_from

    mine = tmp_path / "mine.json"
    mine.write_text(json.dumps({"train": {"steps": 12, "viseme_weight": 0.5}, "distill": {}}))
    args = build_parser().parse_args(["train", "data", "-o", "out", "--recipe", str(mine)])
    cfg = config_from(args, TrainConfig)
    assert (cfg.steps, cfg.viseme_weight, cfg.batch) == (12, 0.5, TrainConfig.batch)   # unnamed: the code's
    mine.write_text(json.dumps({"train": {"stepz": 12}}))
    with pytest.raises(UserError, match="stepz"):
        config_from(args, TrainConfig)
    args = build_parser().parse_args(["train", "data", "-o", "out", "--recipe", "no-such-recipe"])
    with pytest.raises(UserError, match="no-such-recipe"):
        config_from(args, TrainConfig)
