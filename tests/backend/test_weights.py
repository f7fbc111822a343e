"""Weights: safetensors + config, checked names and shapes, one-sentence errors."""

import json
import shutil

import pytest
import torch
from safetensors.torch import load_file, save_file

from asynfusion.errors import WeightsError
from asynfusion.schedule import KINDS as SCHEDULER_KINDS, WEIGHTS_KIND, sampler_kind
from asynfusion.weights import KINDS, load_weights


def test_random_weights_round_trip(random_weights):
    w = load_weights(random_weights)
    assert w.kind == "lcm" and w.config["format_version"] == 2 and w.scheduler.kind == "lcm"
    saved = load_file(str(random_weights / "model.safetensors"))
    assert all(torch.equal(saved[k], v) for k, v in w.model.state_dict().items())
    assert w.normaliser.face_mean.shape == (106,)
    assert w.database is not None and w.database.body.shape[1] == w.model.cfg.body_dim


def test_retrieval_model_without_its_motion_database_is_refused(random_weights, tmp_path):
    shutil.copytree(random_weights, tmp_path / "w")
    (tmp_path / "w" / "motion_db.safetensors").unlink()
    with pytest.raises(WeightsError, match="motion database .* missing"):
        load_weights(tmp_path / "w")


def test_missing_weights_say_how_to_get_them(tmp_path):
    with pytest.raises(WeightsError, match="No model weights found .* train your own"):
        load_weights(tmp_path)


def test_wrong_shapes_and_names_are_listed(random_weights, tmp_path):
    shutil.copytree(random_weights, tmp_path / "w")
    tensors = load_file(str(tmp_path / "w" / "model.safetensors"))
    tensors["audio.inp.weight"] = torch.zeros(3, 3)
    tensors["surprise"] = torch.zeros(1)
    del tensors["branches.face.out.bias"]
    save_file(tensors, str(tmp_path / "w" / "model.safetensors"))
    with pytest.raises(WeightsError) as err:
        load_weights(tmp_path / "w")
    msg = str(err.value)
    assert "missing branches.face.out.bias" in msg and "unexpected surprise" in msg
    assert "wrong shape for audio.inp.weight (3, 3)" in msg


def test_pickle_file_is_refused_not_loaded(random_weights, tmp_path):
    shutil.copytree(random_weights, tmp_path / "w")
    torch.save({"x": torch.zeros(1)}, tmp_path / "w" / "model.safetensors")  # a pickle in disguise
    with pytest.raises(WeightsError, match="not a readable safetensors file"):
        load_weights(tmp_path / "w")


def test_future_format_and_broken_config(random_weights, tmp_path):
    shutil.copytree(random_weights, tmp_path / "w")
    cfg_path = tmp_path / "w" / "config.json"
    cfg = json.loads(cfg_path.read_text())
    cfg["format_version"] = 99
    cfg_path.write_text(json.dumps(cfg))
    with pytest.raises(WeightsError, match="format 99"):
        load_weights(tmp_path / "w")
    cfg_path.write_text("{")
    with pytest.raises(WeightsError, match="not a valid AsynFusion config"):
        load_weights(tmp_path / "w")


@pytest.mark.parametrize("damage,words", [
    (lambda c: c["normalisation"].update(face_mean=c["normalisation"]["face_mean"][:50]),
     "face normalisation statistics of length 50 for a model of 106"),
    (lambda c: c["normalisation"]["body_std"].__setitem__(3, float("nan")), "body normalisation statistics .* NaN"),
    (lambda c: c["normalisation"]["audio_std"].__setitem__(0, 0.0), "audio normalisation statistics .* non-positive"),
    (lambda c: c["architecture"].update(width=10 ** 7), "width must be a whole number from 8 to 4096"),
    (lambda c: c["architecture"].update(heads=3), "not divisible by heads 3"),
    (lambda c: c["architecture"].update(depth=-1), "depth must be"),
])
def test_a_damaged_config_is_one_sentence_before_anything_is_built(random_weights, tmp_path, damage, words):
    shutil.copytree(random_weights, tmp_path / "w")
    cfg_path = tmp_path / "w" / "config.json"
    cfg = json.loads(cfg_path.read_text())
    damage(cfg)
    cfg_path.write_text(json.dumps(cfg))
    with pytest.raises(WeightsError, match=words) as err:
        load_weights(tmp_path / "w")
    assert "\n" not in str(err.value) and str(err.value).endswith(".")


def test_random_weights_sample_with_the_settings_their_config_names_and_nothing_else(random_weights, tmp_path):
    """One source of generation defaults: the weights' own "sampler" section (no silent fallback)."""
    from asynfusion.generate import Generator

    folder = tmp_path / "w"
    shutil.copytree(random_weights, folder)
    cfg = json.loads((folder / "config.json").read_text())
    cfg["sampler"].update(steps_face=3, steps_body=5, body_start=600, posture_sigma=8.0)
    (folder / "config.json").write_text(json.dumps(cfg))
    s = Generator(folder, "cpu").settings(None, None, None)
    assert (s.steps_face, s.steps_body, s.body_start, s.posture_sigma) == (3, 5, 600, 8.0)
    assert Generator(folder, "cpu").settings(2, None, None).steps_face == 2          # the caller's choice wins
    del cfg["sampler"]["guidance"]
    (folder / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(WeightsError, match='"sampler" section'):
        Generator(folder, "cpu").settings(None, None, None)


def test_a_student_with_guidance_built_in_takes_it_from_its_sampler_section(random_weights, tmp_path):
    from asynfusion.errors import UserError
    from asynfusion.generate import Generator

    folder = tmp_path / "w"
    shutil.copytree(random_weights, folder)
    cfg = json.loads((folder / "config.json").read_text())
    cfg["architecture"]["guidance_embed"] = False
    cfg["sampler"]["guidance"] = 3.5
    (folder / "config.json").write_text(json.dumps(cfg))
    state = load_file(folder / "model.safetensors")
    save_file({k: v for k, v in state.items() if ".guidance." not in k}, folder / "model.safetensors")
    gen = Generator(folder, "cpu")
    assert gen.baked_guidance == 3.5 and gen.settings(None, None, None).guidance == 3.5
    with pytest.raises(UserError, match="built in"):
        gen.settings(None, None, 2.0)


def test_the_cli_help_names_the_shipped_weights_own_steps():
    from asynfusion.cli import build_parser
    from asynfusion.shipped import shipped_sampler

    saved = shipped_sampler()
    assert saved, "the shipped weights/config.json has a sampler section"
    sub = build_parser()._subparsers._group_actions[0].choices["generate"]
    text = " ".join(sub.format_help().split())         # argparse wraps lines
    assert f"{saved['steps_face']:g} for the shipped ones" in text and f"{saved['guidance']:g} for the shipped" in text


def test_the_model_kind_has_one_spelling_map_and_a_config_that_contradicts_it_is_refused(random_weights, tmp_path):
    assert {k: sampler_kind(k) for k in KINDS} == {"teacher": "ddim", "lcm": "lcm"}      # config.json as shipped
    assert all(sampler_kind(WEIGHTS_KIND[s]) == s for s in SCHEDULER_KINDS)
    shutil.copytree(random_weights, tmp_path / "w")
    cfg_path = tmp_path / "w" / "config.json"
    cfg = json.loads(cfg_path.read_text())
    cfg["kind"] = "teacher"                       # a DDIM teacher's kind on a student's LCM scheduler
    cfg_path.write_text(json.dumps(cfg))
    with pytest.raises(WeightsError, match="names a teacher model with a lcm scheduler; a teacher model samples "
                                           "with ddim"):
        load_weights(tmp_path / "w")
