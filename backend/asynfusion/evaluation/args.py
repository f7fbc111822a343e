"""Command-line arguments of ``eval``, ``train-ae`` and bench/ablations.py (no torch import: the CLI starts fast)."""

from __future__ import annotations

import argparse

from ..training.args import DEFAULT_HOLDOUT


def eval_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("data", help="BEAT2 folder; its held-out part is evaluated")
    p.add_argument("--weights", default=None, help="weights folder (default: the shipped weights/)")
    p.add_argument("--fid-model", default=None, help="motion autoencoder folder for the Frechet distance "
                   "(default: weights/motion_ae)")
    p.add_argument("--steps-face", type=int, default=None)
    p.add_argument("--steps-body", type=int, default=None)
    p.add_argument("--guidance", type=float, default=None)
    p.add_argument("--sync", action="store_true", help="synchronous sampling (both branches every step)")
    p.add_argument("--no-cosync", action="store_true", help="CoSync gates zeroed at inference (ablation)")
    p.add_argument("--seeds", type=int, default=2, help="samples per take (diversity needs two or more)")
    p.add_argument("--holdout", type=float, default=DEFAULT_HOLDOUT)
    p.add_argument("--json", default=None, help="write the results here as JSON")
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    _eval_common(p)


def _eval_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--smplx-model", default=None, help="SMPL-X model file (SMPLX_NEUTRAL*.npz): joints from "
                   "the smplx package with the takes' betas instead of FK on the built-in template")
    p.add_argument("--mean-vel", default=None, help="per-joint mean speed normaliser of Beat Consistency "
                   "(default: DATA/mean_vel_smplxflame_30.npy)")
    p.add_argument("--cache", default=None, help="audio feature cache folder")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")


def ablation_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("data", help="BEAT2 folder; its held-out part is evaluated")
    p.add_argument("-o", "--out", required=True, help="markdown table to write")
    p.add_argument("--weights", default=None, help="LCM student weights folder (default: the shipped weights/)")
    p.add_argument("--teacher", default=None, help="DDIM teacher weights folder (default: a 'teacher' folder "
                   "inside or beside the student's)")
    p.add_argument("--fid-model", default=None, help="motion autoencoder folder (default: weights/motion_ae)")
    p.add_argument("--seeds", type=int, default=2)
    p.add_argument("--teacher-steps", type=int, default=50)
    p.add_argument("--holdout", type=float, default=DEFAULT_HOLDOUT)
    p.add_argument("--json", default=None, help="also write the rows as JSON")
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    _eval_common(p)


def ae_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("data", help="BEAT2 folder, as for train; only its training split is used")
    p.add_argument("-o", "--out", required=True, help="folder for model.safetensors + config.json")
    p.add_argument("--steps", type=int, default=1000, help="(default 1000: on two BEAT2 takes the held-out "
                   "reconstruction is best there; longer runs overfit)")
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--window", type=int, default=64, help="frames per training crop (a multiple of 4)")
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--hidden", type=int, default=96)
    p.add_argument("--latent", type=int, default=32, help="feature size of the Frechet distance")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--holdout", type=float, default=DEFAULT_HOLDOUT)
    p.add_argument("--noise", type=float, default=0.0, help="input corruption std (denoising training)")
    p.add_argument("--heldout-take", default=None, metavar="NAME",
                   help="hold this take out whole and train on the others (a take-disjoint fold's features)")
    p.add_argument("--no-mirror", dest="mirror", action="store_false", help="no mirror augmentation")
    p.add_argument("--cache", default=None, help="audio feature cache folder")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
