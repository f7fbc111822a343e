"""A small motion autoencoder whose encoder features the Fréchet distance (FGD) is taken on.

Why our own: EMAGE's FGD network is a pickled torch checkpoint we can neither ship nor load
(weights here are safetensors only), and a Fréchet distance only means something next to the
ground truth's own value on the same features. So we train one on the training split, ship
it in ``weights/motion_ae/`` and report generated and ground-truth numbers side by side.

Input per frame: the 55 joints' rotations in 6D (330 numbers, as EMAGE's FGD network
reads), normalised by training-split statistics. Root translation is left out: FGD judges
the gesture, not where the speaker walks. The network is fully convolutional over time:
a per-frame linear layer, then two stride-2 convolutions, so it encodes a sequence of any
length into one latent vector per 4 frames (133 ms); those vectors are the FGD features.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..core.skeleton import NUM_JOINTS
from ..errors import WeightsError
from ..model.config import JSONConfig
from ..rot6d import axis_angle_to_rot6d
from ..weights import model_files, read_state, write_model

AE_FORMAT_VERSION = 1          # the autoencoder's own file format (the generator's is weights.py's)

KIND = "motion_ae"
FEATURE_DIM = NUM_JOINTS * 6
DOWNSAMPLE = 4
_STD_FLOOR = 1e-3


@dataclass(frozen=True)
class AEConfig(JSONConfig):
    in_dim: int = FEATURE_DIM
    hidden: int = 96
    latent: int = 32


def motion_features(poses: np.ndarray | torch.Tensor) -> torch.Tensor:
    """(N, 165) axis-angle poses -> (N, 330) 6D rotations of the 55 joints."""
    p = torch.as_tensor(np.asarray(poses, np.float32))
    return axis_angle_to_rot6d(p.reshape(p.shape[0], NUM_JOINTS, 3)).reshape(p.shape[0], -1)


class MotionAE(nn.Module):
    def __init__(self, cfg: AEConfig = AEConfig(), mean: torch.Tensor | None = None,
                 std: torch.Tensor | None = None) -> None:
        super().__init__()
        self.cfg = cfg
        h, z = cfg.hidden, cfg.latent
        self.register_buffer("mean", torch.zeros(cfg.in_dim) if mean is None else mean.float().clone())
        self.register_buffer("std", torch.ones(cfg.in_dim) if std is None else std.float().clone())
        self.inp = nn.Linear(cfg.in_dim, h)
        self.encoder = nn.Sequential(
            nn.GELU(), nn.Conv1d(h, h, 3, padding=1),
            nn.GELU(), nn.Conv1d(h, h, 4, stride=2, padding=1),
            nn.GELU(), nn.Conv1d(h, z, 4, stride=2, padding=1),
        )
        self.decoder = nn.Sequential(
            nn.ConvTranspose1d(z, h, 4, stride=2, padding=1), nn.GELU(),
            nn.ConvTranspose1d(h, h, 4, stride=2, padding=1), nn.GELU(),
            nn.Conv1d(h, h, 3, padding=1), nn.GELU(),
        )
        self.out = nn.Linear(h, cfg.in_dim)

    def normalise(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T, in_dim) normalised, T a multiple of 4 -> (B, T/4, latent)."""
        return self.encoder(self.inp(x).transpose(1, 2)).transpose(1, 2)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.out(self.decoder(z.transpose(1, 2)).transpose(1, 2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x))

    @torch.no_grad()
    def features(self, poses: np.ndarray) -> np.ndarray:
        """(N, 165) poses of one sequence -> (N // 4, latent) FGD feature vectors."""
        n = (len(poses) // DOWNSAMPLE) * DOWNSAMPLE
        if n == 0:
            return np.zeros((0, self.cfg.latent))
        x = self.normalise(motion_features(poses[:n]).to(self.mean.device))[None]
        return self.encode(x)[0].double().cpu().numpy()


def reconstruction_loss(model: MotionAE, x: torch.Tensor, noisy: torch.Tensor | None = None) -> torch.Tensor:
    """Smooth-L1 on the normalised features plus the same on their frame-to-frame change,
    so the latent keeps how the motion moves, not only the poses it passes through.
    ``noisy``: a corrupted copy of x to encode instead (denoising training)."""
    y = model(x if noisy is None else noisy)
    vel = nn.functional.smooth_l1_loss(torch.diff(y, dim=1), torch.diff(x, dim=1))
    return nn.functional.smooth_l1_loss(y, x) + vel


def save_motion_ae(folder: str | os.PathLike, model: MotionAE, training: dict | None = None) -> None:
    """model.safetensors + config.json, as the generator's weights (never pickle)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    write_model(folder, model, {"format_version": AE_FORMAT_VERSION, "kind": KIND,
                                "architecture": model.cfg.to_dict(), "training": training or {}})


def load_motion_ae(folder: str | os.PathLike, device: str | torch.device = "cpu") -> MotionAE:
    folder = Path(folder)
    how = "train one with 'asynfusion train-ae DATA -o FOLDER' or use the shipped weights/motion_ae"
    cfg_path, w_path = model_files(folder, "motion autoencoder", how)
    try:
        config = json.loads(cfg_path.read_text())
        if config["kind"] != KIND:
            raise ValueError(f"kind is {config['kind']!r}, not {KIND!r}")
        if config["format_version"] != AE_FORMAT_VERSION:
            raise ValueError(f"format {config['format_version']}, this version reads {AE_FORMAT_VERSION}")
        cfg = AEConfig.from_dict(config["architecture"])
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as err:
        raise WeightsError(f"{cfg_path} is not a motion autoencoder config ({err}); {how}.") from None
    return read_state(MotionAE(cfg), w_path, how).to(device).eval()


@dataclass
class AETrainConfig:
    steps: int = 1000
    batch: int = 32
    window: int = 64
    lr: float = 1e-3
    hidden: int = 96
    latent: int = 32
    mirror: bool = True
    noise: float = 0.0          # std of Gaussian input corruption (normalised units): denoising AE
    seed: int = 0


def _windows(seqs: list[torch.Tensor], window: int, batch: int, gen: torch.Generator) -> torch.Tensor:
    """A batch of random crops; takes are drawn in proportion to their length."""
    lengths = torch.tensor([len(s) - window + 1 for s in seqs], dtype=torch.float64)
    take = torch.multinomial(lengths, batch, replacement=True, generator=gen)
    out = []
    for k in take.tolist():
        a = int(torch.randint(0, len(seqs[k]) - window + 1, (1,), generator=gen))
        out.append(seqs[k][a:a + window])
    return torch.stack(out)


def train_motion_ae(pose_seqs: list[np.ndarray], cfg: AETrainConfig, log=None) -> tuple[MotionAE, list[list[float]]]:
    """Train on (N_i, 165) pose sequences of the training split -> (model, [[step, loss]])."""
    from ..training.augment import mirror_poses
    from ..training.common import cosine_lr

    torch.manual_seed(cfg.seed)
    gen = torch.Generator().manual_seed(cfg.seed)
    seqs = [np.asarray(p, np.float32) for p in pose_seqs if len(p) >= cfg.window]
    if not seqs:
        raise ValueError(f"no training sequence is as long as one window ({cfg.window} frames)")
    if cfg.mirror:
        seqs = seqs + [mirror_poses(p) for p in seqs]
    feats = [motion_features(p) for p in seqs]
    allf = torch.cat(feats).double()
    mean, std = allf.mean(0).float(), allf.std(0).clamp_min(_STD_FLOOR).float()
    model = MotionAE(AEConfig(hidden=cfg.hidden, latent=cfg.latent), mean, std)
    normed = [model.normalise(f) for f in feats]
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=1e-4)
    history: list[list[float]] = []
    t0 = time.monotonic()
    for step in range(1, cfg.steps + 1):
        for g in opt.param_groups:
            g["lr"] = cosine_lr(step, cfg.steps, cfg.lr, warmup=0, floor=0.05)
        x = _windows(normed, cfg.window, cfg.batch, gen)
        noisy = x + cfg.noise * torch.randn(x.shape, generator=gen) if cfg.noise > 0 else None
        loss = reconstruction_loss(model, x, noisy)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        history.append([step, loss.item()])
        if log is not None and (step % 100 == 0 or step == cfg.steps):
            log(f"step {step}/{cfg.steps} loss {history[-1][1]:.4f} ({time.monotonic() - t0:.0f} s)")
    return model.eval(), history


@torch.no_grad()
def evaluate_loss(model: MotionAE, pose_seqs: list[np.ndarray]) -> float:
    """Mean reconstruction loss over whole sequences (cropped to a multiple of 4 frames)."""
    losses, weights = [], []
    for p in pose_seqs:
        n = (len(p) // DOWNSAMPLE) * DOWNSAMPLE
        if n < DOWNSAMPLE * 2:
            continue
        x = model.normalise(motion_features(p[:n]))[None]
        losses.append(float(reconstruction_loss(model, x)))
        weights.append(n)
    return float(np.average(losses, weights=weights)) if losses else float("nan")


def run(args) -> int:
    """``asynfusion train-ae``: train on the training split of DATA, save to --out."""
    import sys

    from ..training.common import plot_losses
    from ..training.data import load_split

    if args.threads:
        torch.set_num_threads(args.threads)
    split = load_split(args.data, holdout=args.holdout, cache=args.cache, heldout_take=args.heldout_take)
    cfg = AETrainConfig(steps=args.steps, batch=args.batch, window=args.window, lr=args.lr,
                        hidden=args.hidden, latent=args.latent, mirror=args.mirror, noise=args.noise,
                        seed=args.seed)
    log = lambda msg: print(msg, file=sys.stderr, flush=True)  # noqa: E731
    log(f"motion autoencoder: {sum(t.frames for t in split.train)} training frames ({split.description})")
    model, history = train_motion_ae([t.poses for t in split.train], cfg, log)
    held_out = evaluate_loss(model, [t.poses for t in split.test])
    train_loss = evaluate_loss(model, [t.poses for t in split.train])
    training = {"data": str(args.data), "split": split.description,
                "train_frames": int(sum(t.frames for t in split.train)),
                "config": asdict(cfg), "final_batch_loss": history[-1][1],
                "train_loss": train_loss, "held_out_loss": held_out,
                "parameters": int(sum(p.numel() for p in model.parameters()))}
    save_motion_ae(args.out, model, training)
    plot_losses(history, Path(args.out) / "loss.png", "motion autoencoder")
    log(f"saved {args.out}: train loss {train_loss:.4f}, held-out loss {held_out:.4f}")
    return 0
