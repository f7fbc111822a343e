"""Samplers (random weights): step counts per branch, determinism, seams of long audio."""

from collections import Counter
from dataclasses import replace

import numpy as np
import pytest
import torch

from asynfusion import audio, windows
from asynfusion.generate import Generator
from asynfusion.sampling import SamplerSettings, sample
from asynfusion.schedule import Scheduler, async_plan

from .conftest import SPEECH_WAV


def count_branch_evaluations(model) -> Counter:
    calls: Counter = Counter()
    for name, branch in model.branches.items():
        branch.inp.register_forward_hook(lambda *_, n=name: calls.update([n]))
    return calls


LCM = Scheduler("lcm")


@pytest.mark.parametrize("steps_face,steps_body", [(4, 2), (4, 4), (1, 1), (2, 3), (3, 1)])
def test_async_plan_steps_each_branch_exactly_its_list(steps_face, steps_body):
    plan = async_plan(LCM.set_timesteps(steps_face), LCM.set_timesteps(steps_body))
    for name, n in (("face", steps_face), ("body", steps_body)):
        steps = [ev[name] for ev in plan if name in ev]
        assert [t for t, _ in steps] == LCM.set_timesteps(n)
        assert steps[-1][1] == -1                             # ends on clean data
        assert all(a[1] == b[0] for a, b in zip(steps, steps[1:]))
    assert set(plan[0]) == {"face", "body"}


def test_timestep_lists_follow_the_distillation_grid():
    # diffusers' LCMScheduler rule: floor(linspace(0, 50, n, endpoint=False)) into the reversed grid
    assert LCM.set_timesteps(4) == [999, 759, 499, 259]
    assert LCM.set_timesteps(1) == [999]
    assert LCM.set_timesteps(2) == [999, 499]
    assert Scheduler("lcm", origin_steps=100).set_timesteps(4) == [999, 749, 499, 249]   # skip 10
    ddim = Scheduler("ddim")
    assert ddim.set_timesteps(50)[0] == 999 and ddim.set_timesteps(50)[-1] == 0
    assert len(set(ddim.set_timesteps(50))) == 50
    with pytest.raises(ValueError):
        LCM.set_timesteps(51)


def test_an_sdedit_start_visits_only_timesteps_at_or_below_it():
    # the grid below 759 (759, 739, ..., 19: 38 points) at floor(linspace(0, 38, 4, endpoint=False))
    assert LCM.set_timesteps(4, start=759) == [759, 579, 379, 199]
    assert LCM.set_timesteps(2, start=759) == [759, 379]
    assert LCM.set_timesteps(4, start=999) == LCM.set_timesteps(4)
    assert Scheduler("ddim").set_timesteps(3, start=500) == [500, 250, 0]
    for bad in (-1, 1000):
        with pytest.raises(ValueError):
            LCM.set_timesteps(2, start=bad)


def test_random_weights_sdedit_body_starts_from_the_retrieved_track(random_teacher_weights):
    """The teacher here has no retrieval input, so the retrieved track can reach its body only
    through the SDEdit start: with a start the two tracks give two bodies, without one the same."""
    gen = Generator(random_teacher_weights, "cpu")
    feats = torch.randn(150, 66)
    tracks = torch.randn(2, 150, 315)

    def body(track, start):
        settings = SamplerSettings(mode="ddim", steps_face=3, steps_body=2, guidance=1.0, body_start=start)
        return sample(gen.model, gen.scheduler, feats, settings, 0, feats[:1], retrieved=track)["body"]

    assert not torch.allclose(body(tracks[0], 499), body(tracks[1], 499), atol=1e-3)
    assert torch.equal(body(tracks[0], None), body(tracks[1], None))
    with pytest.raises(ValueError, match="retrieved"):
        sample(gen.model, gen.scheduler, feats, SamplerSettings(mode="ddim", steps_face=50, steps_body=50, guidance=2.0, body_start=499), 0, feats[:1])


def test_scheduler_noises_and_steps_consistently():
    sch = Scheduler("ddim")
    x0 = torch.randn(3, 10, 4)
    noise = torch.randn(3, 10, 4)
    t = torch.tensor([0, 500, 999])
    x_t = sch.add_noise(x0, noise, t)
    a = sch.alpha_bar(t)[:, None, None]
    assert torch.allclose(x_t, a.sqrt() * x0 + (1 - a).sqrt() * noise)
    # a DDIM step with the true x0 lands exactly on the same noise at the next timestep
    nxt = torch.tensor([-1, 250, 500])
    stepped = sch.step(x_t, x0, t, nxt)
    assert torch.allclose(stepped[1:], sch.add_noise(x0, noise, nxt)[1:], atol=1e-5)
    assert torch.allclose(stepped[0], x0[0])                         # t_next = -1: clean data
    assert torch.allclose(sch.step(x_t[:1], x0[:1], 0, -1), x0[:1])
    # the LCM rule re-noises x0 with the fresh noise it is given
    fresh = torch.randn(3, 10, 4)
    assert torch.allclose(Scheduler("lcm").step(x_t, x0, t, nxt.clamp(min=0), fresh),
                          sch.add_noise(x0, fresh, nxt.clamp(min=0)), atol=1e-6)


def test_a_student_is_sampled_on_the_grid_saved_with_it_random_weights(tmp_path):
    from asynfusion.random_model import save_random_weights
    from asynfusion.weights import load_weights

    save_random_weights(tmp_path, kind="lcm", width=32, depth=1, heads=2, origin_steps=100)
    w = load_weights(tmp_path)
    assert w.scheduler == Scheduler("lcm", origin_steps=100)
    gen = Generator(tmp_path, "cpu")
    seen = []
    gen.model.branches["face"].time.register_forward_hook(lambda m, i, o: seen.append(int(i[0][0])))
    gen.sample(torch.randn(130, 66), torch.zeros(66), gen.settings(4, 4, None), 0)
    assert seen == [999, 749, 499, 249, 249]      # the last twice: its pass without audio (closing guidance)


@pytest.mark.parametrize("steps_face,steps_body", [(4, 2), (1, 1), (2, 4)])
def test_random_weights_async_sampler_evaluates_each_branch_as_often_as_its_steps(
        random_weights, steps_face, steps_body):
    gen = Generator(random_weights, "cpu")
    calls = count_branch_evaluations(gen.model)
    feats = torch.randn(300, 66)
    settings = SamplerSettings(mode="lcm", steps_face=steps_face, steps_body=steps_body, guidance=2.0, chunk=64)
    out = gen.sample(feats, torch.zeros(66), settings, 0)
    assert calls == Counter(face=steps_face, body=steps_body)   # one chunk: one call per step
    assert out["face"].shape == (300, 106) and out["body"].shape == (300, 315)


def test_random_weights_teacher_ddim_with_guidance_runs_both_halves_in_one_batch(random_teacher_weights):
    gen = Generator(random_teacher_weights, "cpu")
    calls = count_branch_evaluations(gen.model)
    sizes = []
    gen.model.branches["face"].inp.register_forward_hook(lambda m, i, o: sizes.append(i[0].shape[0]))
    settings = gen.settings(steps_face=5, steps_body=5, guidance=2.5)
    assert settings.mode == "ddim"
    gen.sample(torch.randn(200, 66), torch.zeros(66), settings, 0)
    assert calls == Counter(face=5, body=5)
    n_windows = len(windows.plan_windows(200, gen.model.cfg.window, settings.overlap))
    assert sizes == [2 * n_windows] * 5


def test_random_weights_same_seed_same_file_bytes(random_weights, tmp_path):
    gen = Generator(random_weights, "cpu")
    a, b, c = tmp_path / "a.npz", tmp_path / "b.npz", tmp_path / "c.npz"
    gen.generate(SPEECH_WAV, a, seed=7)
    gen.generate(SPEECH_WAV, b, seed=7)
    gen.generate(SPEECH_WAV, c, seed=8)
    assert a.read_bytes() == b.read_bytes()
    assert a.read_bytes() != c.read_bytes()


def test_random_weights_a_model_hears_its_own_prefix_of_the_wide_features(random_weights):
    gen = Generator(random_weights, "cpu")
    assert gen.model.cfg.audio_dim == 66
    wide, settings = torch.randn(130, audio.WIDE_DIM), gen.settings(2, 2, None)
    out = gen.sample(wide, torch.zeros(audio.WIDE_DIM), settings, 0)
    first = gen.sample(wide[:, :66].clone(), torch.zeros(66), settings, 0)
    assert all(torch.equal(out[b], first[b]) for b in out)


def test_random_weights_short_clip_is_padded_and_cropped(random_weights):
    gen = Generator(random_weights, "cpu")
    out = gen.sample(torch.randn(20, 66), torch.zeros(66), gen.settings(None, None, None), 0)
    assert out["face"].shape[0] == 20 and torch.isfinite(out["face"]).all()


def test_windows_cover_and_merge_is_exact_for_consistent_windows():
    for frames in (50, 64, 65, 200, 1001):
        starts = windows.plan_windows(frames, 64, 16)
        covered = np.zeros(max(frames, 64), bool)
        for s in starts:
            covered[s:s + 64] = True
        assert covered.all() and starts[-1] + 64 == max(frames, 64)
        seq = torch.randn(max(frames, 64), 5)
        w = windows.window_weights(starts, 64, 16)
        assert torch.allclose(windows.merge(windows.split(seq, starts, 64), starts, w, len(seq)), seq, atol=1e-6)


def acceleration(x: np.ndarray) -> np.ndarray:
    """Per-frame size of the change in velocity: |x[t+1] - 2x[t] + x[t-1]|."""
    return np.linalg.norm(x[2:] - 2 * x[1:-1] + x[:-2], axis=-1)


def seam_and_inside_acceleration(seq: np.ndarray, frames: int, window: int, overlap: int):
    """Accelerations at the seams, and at frames that only one window covers.

    With fused windows the seam is the centre of each overlap, where the
    sequence passes from one window to the next; the frames around it are compared
    with every frame that only one window covers.
    """
    acc = acceleration(seq)                         # acc[i] is centred on frame i + 1
    starts = windows.plan_windows(frames, window, overlap)
    seams = [(nxt + prev + window - 1) // 2 for prev, nxt in zip(starts, starts[1:])]
    at_seam = np.concatenate([acc[m - 2:m + 1] for m in seams])
    single = np.ones(len(acc), bool)
    for prev, nxt in zip(starts, starts[1:]):
        single[nxt - 1:prev + window] = False
    return at_seam, acc[single]


def test_random_weights_ten_minutes_of_audio_in_batched_windows_without_seams(
        random_weights, long_speech, tmp_path):
    gen = Generator(random_weights, "cpu")
    result = gen.generate(long_speech, tmp_path / "long.npz", seed=3)
    assert result.frames == 600 * 30
    data = np.load(tmp_path / "long.npz")
    assert all(np.isfinite(data[k]).all() for k in ("poses", "expressions", "trans"))
    # Seams are judged on what the windows are fused in: the model's own representation.
    from asynfusion import audio
    wave = audio.normalise_loudness(audio.load_audio(long_speech))
    settings = gen.settings(None, None, None)
    out = gen.sample(*audio.speaker_normalise(audio.audio_features(wave)), settings, 3)
    # A random model's output is rough everywhere, so its largest value at ~500 seam
    # frames is no fairer a test than its largest inside; the bulk of the seam
    # frames must still lie within the inside's 99th percentile, and on average be
    # no rougher than the inside.
    for branch in ("face", "body"):
        seam, inside = seam_and_inside_acceleration(out[branch].numpy(), result.frames,
                                                    gen.model.cfg.window, settings.overlap)
        assert np.percentile(seam, 95) <= np.percentile(inside, 99), branch
        assert seam.mean() <= 1.1 * inside.mean(), branch


def test_smoothing_removes_tremor_and_keeps_slow_motion():
    from asynfusion.smoothing import smooth

    t = torch.arange(300, dtype=torch.float32)[:, None]
    slow = torch.sin(2 * torch.pi * t / 30 * 1.0)              # a 1 Hz gesture
    tremor = 0.3 * torch.randn(300, 1, generator=torch.Generator().manual_seed(0))
    assert torch.equal(smooth(slow + tremor, 0), slow + tremor)
    out = smooth(slow + tremor, 2.0)

    def jerk(x):
        return torch.diff(x, n=3, dim=0).abs().mean()
    assert jerk(out) < 0.1 * jerk(slow + tremor)
    inner = slice(10, -10)
    assert (smooth(slow, 2.0)[inner] - slow[inner]).abs().max() < 0.1   # the 1 Hz gesture keeps > 90 %
    assert torch.allclose(smooth(torch.full((50, 3), 2.5), 1.5), torch.full((50, 3), 2.5))
    assert smooth(torch.randn(1, 4), 2.0).shape == (1, 4)          # one frame: nothing to smooth


def test_sampler_output_is_smoothed_as_its_settings_say_random_weights(random_weights):
    from dataclasses import replace as _replace

    from asynfusion.generate import Generator

    gen = Generator(random_weights, "cpu")
    feats = torch.randn(200, gen.model.cfg.audio_dim)
    plain = gen.settings(None, None, None)
    raw = gen.sample(feats, torch.zeros(66), plain, 1)
    smoothed = gen.sample(feats, torch.zeros(66), _replace(plain, smooth_face=1, smooth_body=2), 1)
    for b in ("face", "body"):
        assert torch.diff(smoothed[b], n=3, dim=0).abs().mean() < torch.diff(raw[b], n=3, dim=0).abs().mean()


def test_body_noise_is_slow_unit_variance_noise_and_the_face_noise_is_white():
    sch = Scheduler("ddim", body_noise_lowpass=2.0)
    g = torch.Generator().manual_seed(0)
    body, face = sch.noise("body", (64, 240, 8), g), sch.noise("face", (64, 240, 8), g)
    assert abs(float(body.std()) - 1) < 0.05 and abs(float(face.std()) - 1) < 0.05

    def high_share(x):             # share of the power above 5 Hz at 30 fps
        spec = torch.fft.rfft(x, dim=1).abs() ** 2
        return float(spec[:, spec.shape[1] // 3:].sum() / spec.sum())
    assert high_share(face) > 0.6 and high_share(body) < 0.05
    again = Scheduler("ddim", body_noise_lowpass=2.0).noise("body", (2, 50, 3), torch.Generator().manual_seed(5))
    assert torch.equal(again, sch.noise("body", (2, 50, 3), torch.Generator().manual_seed(5)))   # seeded


def test_posture_replaces_only_the_spine_chains_slow_motion():
    from asynfusion.posture import POSTURE_PARTS, take_posture
    from asynfusion.representation import BODY_DIM

    cols = POSTURE_PARTS["spine chain"]
    # spine1, spine2, spine3, neck, head: SMPL-X joints 3, 6, 9, 12, 15, at their own index in the body branch
    assert cols == [6 * j + i for j in (3, 6, 9, 12, 15) for i in range(6)]
    t = torch.arange(600, dtype=torch.float32)[:, None]
    g = torch.Generator().manual_seed(0)
    lean_model, lean_track = torch.randn(1, BODY_DIM, generator=g), torch.randn(1, BODY_DIM, generator=g)
    slow = torch.sin(2 * torch.pi * t / 30 * 0.05)                       # a 20 s sway
    nod = 0.5 * torch.sin(2 * torch.pi * t / 30 * 2.0)                   # 2 Hz nods
    body = lean_model * slow + nod
    track = lean_track * slow + torch.sin(2 * torch.pi * t / 30 * 3.0)   # its own fast motion does not come over
    out = take_posture(body, track, 16.0)
    others = [c for c in range(BODY_DIM) if c not in cols]
    assert torch.equal(out[:, others], body[:, others])
    inner = slice(100, -100)
    want = (lean_track * slow + nod)[:, cols]
    assert (out[inner][:, cols] - want[inner]).abs().max() < 0.1
    assert (body[inner][:, cols] - want[inner]).abs().max() > 0.5         # the check can fail
    assert torch.equal(take_posture(body, track, 0.0), body)


def test_posture_parts_name_the_legs_the_heading_and_the_place_on_the_floor_but_not_the_height():
    from asynfusion.posture import POSTURE_PARTS, posture_columns, take_posture
    from asynfusion.representation import BODY_DIM, BODY_ROT_JOINTS

    def rotation(joint):
        return [6 * BODY_ROT_JOINTS.index(joint) + i for i in range(6)]
    assert POSTURE_PARTS["legs"] == [c for j in (1, 2, 4, 5, 7, 8, 10, 11) for c in rotation(j)]   # hips to feet
    assert POSTURE_PARTS["heading"] == rotation(0)                                                # the root's rotation
    assert POSTURE_PARTS["floor position"] == [BODY_DIM - 3, BODY_DIM - 1]                        # x and z, not y
    cols = posture_columns(["spine chain", "legs", "heading", "floor position"])
    assert cols == sorted(set(cols)) and len(cols) == 30 + 48 + 6 + 2
    t = torch.arange(600, dtype=torch.float32)[:, None]
    body = torch.zeros(600, BODY_DIM) + 0.5 * torch.sin(2 * torch.pi * t / 30 * 2.0)
    track = torch.ones(600, BODY_DIM) * torch.sin(2 * torch.pi * t / 30 * 0.05)
    out = take_posture(body, track, 16.0, ["legs", "floor position"])
    moved = (out - body).abs()[100:-100].max(0).values > 0.5
    assert moved.nonzero().flatten().tolist() == posture_columns(["legs", "floor position"])
    assert torch.equal(take_posture(body, track, 16.0), take_posture(body, track, 16.0, ["spine chain"]))


def test_a_sampler_section_names_its_posture_parts_or_takes_the_spine_chain_alone():
    from asynfusion.errors import WeightsError
    from asynfusion.sampling import posture_parts

    assert posture_parts({}) == ("spine chain",)                           # weights before v5.6
    assert posture_parts({"posture_parts": ["legs", "heading"]}) == ("legs", "heading")
    for bad in ("legs", ["arms"], [1], None, []):
        with pytest.raises(WeightsError) as err:
            posture_parts({"posture_parts": bad})
        assert '"floor position"' in str(err.value) and "\n" not in str(err.value)


def test_random_weights_the_sampler_takes_posture_from_the_track_only_when_told(random_weights):
    from dataclasses import replace as _replace

    from asynfusion.posture import posture_columns

    gen = Generator(random_weights, "cpu")
    feats = torch.randn(200, gen.model.cfg.audio_dim)
    settings = gen.settings(None, None, None)
    assert settings.posture_sigma > 0 and "legs" in settings.posture_parts     # the recipe training writes
    own = gen.sample(feats, torch.zeros(66), _replace(settings, posture_sigma=0.0), 3)["body"]
    taken = gen.sample(feats, torch.zeros(66), settings, 3)["body"]
    cols = posture_columns(settings.posture_parts)
    others = [c for c in range(own.shape[1]) if c not in cols]
    assert torch.equal(own[:, others], taken[:, others])
    assert not torch.allclose(own[:, cols], taken[:, cols], atol=1e-3)
    no_track = gen.sample(feats, torch.zeros(66), settings, 3, retrieval=False)["body"]
    plain = _replace(settings, posture_sigma=0.0, body_start=None)
    assert torch.equal(no_track, gen.sample(feats, torch.zeros(66), plain, 3, retrieval=False)["body"])
    with pytest.raises(ValueError, match="retrieved track"):
        sample(gen.model, gen.scheduler, gen.normaliser.normalise_audio(feats), _replace(settings, body_start=None), 3,
               feats[:1])


def test_random_weights_a_regenerated_range_takes_its_posture_from_the_take_at_its_borders(random_weights,
                                                                                          monkeypatch):
    """Inside a regenerated range the posture comes from the new track, but near each border
    from the kept motion: the range's slow posture leaves the take's, not a new seed's."""
    from asynfusion.posture import POSTURE_PARTS
    from asynfusion.sampling import Inpaint, _Known

    gen = Generator(random_weights, "cpu")
    settings = gen.settings(None, None, None)
    frames = 240
    take = 2.0                                    # the kept motion's posture (normalised units)
    inpaint = Inpaint(torch.zeros(frames, gen.model.cfg.face_dim), torch.full((frames, gen.model.cfg.body_dim), take),
                      100, 160)
    feats = torch.randn(frames, gen.model.cfg.audio_dim)

    def axial():
        return gen.sample(feats, torch.zeros(66), settings, 3, inpaint=inpaint)["body"][:, POSTURE_PARTS["spine chain"]]
    kept_reference = axial()
    monkeypatch.setattr(_Known, "posture_reference", lambda self, track: track)
    new_track_only = axial()
    borders = torch.cat([torch.arange(100, 112), torch.arange(148, 160)])
    assert torch.equal(kept_reference[:100], new_track_only[:100])             # the kept frames are the take's
    assert ((kept_reference[borders] - take).abs().mean() < 0.8 * (new_track_only[borders] - take).abs().mean())


def test_random_weights_guidance_steps_the_teacher_from_the_conditional_half_at_w1_and_the_unconditional_at_w0():
    """distill.teacher_step and the sampler share sampling.guided: w = 1 must be the prediction
    with the audio and the retrieved track, w = 0 the one with neither (null audio, zero track);
    each branch is guided at its own scale (a face guidance of its own, distill's w_face)."""
    from asynfusion.model import BRANCHES, AsynFusion
    from asynfusion.model.config import ModelConfig
    from asynfusion.schedule import Scheduler
    from asynfusion.training.distill import teacher_step

    torch.manual_seed(0)
    model = AsynFusion(ModelConfig(width=32, depth=1, heads=2, window=24, retrieval=True)).eval()
    with torch.no_grad():
        for p in model.parameters():          # zero-initialised gates and heads would hide the inputs
            p.add_(0.05 * torch.randn_like(p))
    sched = Scheduler("ddim")
    n, T = 2, 24
    x_t = {"face": torch.randn(n, T, model.cfg.face_dim), "body": torch.randn(n, T, model.cfg.body_dim)}
    t = {b: torch.full((n,), 500) for b in BRANCHES}
    clean = {b: torch.full((n,), -1) for b in BRANCHES}           # t_prev < 0: the step returns x0 itself
    feats = torch.randn(n, T, model.cfg.audio_dim)
    track = torch.randn(n, T, model.cfg.body_dim)

    def alone(drop: bool, retrieved):
        with torch.no_grad():
            ctx = model.encode_audio(feats, torch.full((n,), drop))
            out, _ = model(x_t, t, ctx, retrieved=retrieved)
        return out

    cond, uncond = alone(False, track), alone(True, torch.zeros_like(track))
    for w, want in (({"face": 1.0, "body": 1.0}, cond), ({"face": 0.0, "body": 0.0}, uncond),
                    ({"face": 1.0, "body": 0.0}, {"face": cond["face"], "body": uncond["body"]}),
                    ({"face": 0.0, "body": 1.0}, {"face": uncond["face"], "body": cond["body"]})):
        got = teacher_step(model, sched, x_t, t, clean, feats, {b: torch.full((n,), w[b]) for b in BRANCHES}, track)
        for b in BRANCHES:
            torch.testing.assert_close(got[b], want[b], atol=1e-5, rtol=1e-5)
    assert (alone(False, track)["body"] - alone(False, torch.zeros_like(track))["body"]).abs().max() > 1e-3
    assert (alone(False, track)["face"] - alone(True, track)["face"]).abs().max() > 1e-3


def test_guided_is_uncond_plus_w_times_the_difference():
    from asynfusion.sampling import guided, with_unconditional_track
    cond, unc = torch.full((2, 3), 2.0), torch.full((2, 3), 0.5)
    torch.testing.assert_close(guided(torch.cat([cond, unc]), 2, 3.0), torch.full((2, 3), 0.5 + 3 * 1.5))
    track = torch.ones(2, 4)
    both = with_unconditional_track(track)
    assert both[:2].eq(1).all() and both[2:].eq(0).all()


@pytest.mark.parametrize("steps_face,steps_body", [(4, 4), (2, 4)])
def test_random_weights_face_guidance_pushes_only_the_face_last_estimate_away_from_the_unconditional(
        random_weights, steps_face, steps_body):
    """face_guidance: one extra pass of the face branch alone, without audio, at its last step, and
    the face's estimate there moved linearly in g (cond + (g - 1)(cond - uncond)); every earlier
    step, and the body, as without it. Guidance at any other step would make the face non-linear in g."""
    gen = Generator(random_weights, "cpu")
    feats = torch.randn(300, 66)
    base = SamplerSettings(mode="lcm", steps_face=steps_face, steps_body=steps_body, guidance=2.0, chunk=64)
    plain = gen.sample(feats, torch.zeros(66), base, 0)
    calls = count_branch_evaluations(gen.model)
    ticks: list[float] = []
    out = {g: gen.sample(feats, torch.zeros(66), replace(base, face_guidance=g), 0,
                         progress=ticks.append if g == 2.0 else None) for g in (1.0, 2.0, 3.0)}
    assert calls == Counter(face=3 * steps_face + 2, body=3 * steps_body)
    assert ticks[-1] == pytest.approx(1.0) and ticks == sorted(ticks)
    assert torch.equal(out[1.0]["face"], plain["face"])
    for g in (2.0, 3.0):
        assert torch.equal(out[g]["body"], plain["body"])
    step = out[2.0]["face"] - plain["face"]
    assert step.abs().max() > 1e-3
    torch.testing.assert_close(out[3.0]["face"] - plain["face"], 2 * step, atol=1e-4, rtol=1e-3)


def test_random_weights_closing_guidance_is_the_same_last_pass_guided_harder_beside_the_face(random_weights):
    """closing_guidance: the face's last step's pass without audio gives a second estimate,
    guided at closing_guidance ("face_closing"), exactly the face that face_guidance at that
    value gives; the face itself stays at face_guidance and the body as without either."""
    from asynfusion.sampling import CLOSING

    gen = Generator(random_weights, "cpu")
    feats = torch.randn(300, 66)
    base = SamplerSettings(mode="lcm", steps_face=4, steps_body=4, guidance=2.0, chunk=64)
    plain = gen.sample(feats, torch.zeros(66), base, 0)
    calls = count_branch_evaluations(gen.model)
    both = gen.sample(feats, torch.zeros(66), replace(base, closing_guidance=3.0), 0)
    assert calls == Counter(face=4 + 1, body=4)                  # one pass without audio serves both
    harder = gen.sample(feats, torch.zeros(66), replace(base, face_guidance=3.0), 0)
    assert set(both) == {"face", "body", CLOSING} and set(plain) == set(harder) == {"face", "body"}
    assert torch.equal(both["body"], plain["body"])
    torch.testing.assert_close(both["face"], plain["face"], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(both[CLOSING], harder["face"], atol=1e-5, rtol=1e-5)
    assert (both[CLOSING] - both["face"]).abs().max() > 1e-3
    no_harder = replace(base, face_guidance=3.0, closing_guidance=2.0)
    assert CLOSING not in gen.sample(feats, torch.zeros(66), no_harder, 0)


def test_random_weights_generation_closes_the_mouth_as_far_as_the_closing_estimate(random_weights):
    """Generator.decode takes the closing estimate where it closes further (core/mouth.close_as):
    no frame opens wider than the face guided at face_guidance alone, some close further, and
    the body is the same."""
    from asynfusion.core import mouth
    from asynfusion.core.skeleton import JAW
    from asynfusion.sampling import CLOSING

    gen = Generator(random_weights, "cpu")
    out = gen.sample(torch.randn(300, 66), torch.zeros(66), replace(gen.settings(4, 4, None), closing_guidance=4.0), 0)
    jaw = slice(3 * JAW, 3 * JAW + 3)
    poses, expressions, trans = gen.decode(out)
    free_poses, free_expressions, free_trans = gen.decode({b: v for b, v in out.items() if b != CLOSING})
    r, free = mouth.opening(expressions, poses[:, jaw]), mouth.opening(free_expressions, free_poses[:, jaw])
    assert np.all(r <= free + 1e-5) and (r < free - 0.01).any()
    body = np.ones(poses.shape[1], bool)
    body[jaw] = False
    assert np.array_equal(poses[:, body], free_poses[:, body]) and np.array_equal(trans, free_trans)


@pytest.mark.parametrize("key", ["face_guidance", "closing_guidance"])
def test_face_guidance_is_read_from_the_sampler_section_and_bad_values_are_one_sentence(key):
    from asynfusion.errors import WeightsError
    from asynfusion.sampling import RECIPE, resolve_settings

    sampler = dict(RECIPE["lcm"])
    assert getattr(resolve_settings({"sampler": dict(sampler, **{key: 2.5})}, "lcm"), key) == 2.5
    assert getattr(resolve_settings({"sampler": {k: v for k, v in sampler.items() if k != key}}, "lcm"), key) == 1.0
    for bad in (0.5, 11, "2", True, None):
        with pytest.raises(WeightsError, match=key):
            resolve_settings({"sampler": dict(sampler, **{key: bad})}, "lcm")
