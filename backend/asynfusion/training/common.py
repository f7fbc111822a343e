"""What training and distillation share: devices and DDP, EMA, checkpoints, progress, plots."""

from __future__ import annotations

import json
import math
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.distributed as dist
from safetensors.torch import load_file, save_file

from ..model import AsynFusion
from ..progress import ProgressLine
from ..representation import Normaliser
from ..retrieval import MotionDatabase
from ..schedule import Scheduler
from ..sampling import recipe_sampler
from ..weights import save_weights

STATE_FILE = "train_state.json"
RAW_FILE = "raw.safetensors"        # the un-averaged weights, for resuming
OPT_FILE = "optimizer.safetensors"


@dataclass
class Dist:
    rank: int = 0
    world: int = 1
    device: torch.device = torch.device("cpu")

    @property
    def main(self) -> bool:
        return self.rank == 0


def setup_dist(device: str = "auto") -> Dist:
    """Single process, or torchrun's WORLD_SIZE processes (gloo on CPU, nccl on GPUs)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    cuda = torch.cuda.is_available() and device in ("auto", "cuda")
    if world > 1:
        rank = int(os.environ["RANK"])
        local = int(os.environ.get("LOCAL_RANK", rank))
        if cuda:
            torch.cuda.set_device(local)
        if not dist.is_initialized():
            dist.init_process_group("nccl" if cuda else "gloo")
        return Dist(rank, world, torch.device(f"cuda:{local}" if cuda else "cpu"))
    return Dist(0, 1, torch.device("cuda" if cuda else "cpu"))


def cleanup_dist() -> None:
    """Leave together: rank 0 may still be writing the last checkpoint when the others finish,
    and a rank tearing the group down under it can abort the run (seen with gloo)."""
    if dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def all_mean(x: float, d: Dist) -> float:
    if d.world == 1:
        return x
    t = torch.tensor([x], dtype=torch.float64)
    dist.all_reduce(t)
    return float(t) / d.world


class EMA:
    def __init__(self, model: torch.nn.Module, decay: float) -> None:
        self.decay = decay
        self.shadow = {k: v.detach().clone() for k, v in model.state_dict().items()}

    @torch.no_grad()
    def update(self, model: torch.nn.Module, step: int, warmup: bool = True) -> None:
        """Move the average towards ``model``; ``warmup`` ramps the decay up over the first
        steps (a training EMA), off for a consistency target that must lag at ``decay``."""
        d = min(self.decay, (1 + step) / (10 + step)) if warmup else self.decay
        for k, v in model.state_dict().items():
            if v.dtype.is_floating_point:
                self.shadow[k].mul_(d).add_(v.detach(), alpha=1 - d)
            else:
                self.shadow[k].copy_(v)

    def copy_to(self, model: torch.nn.Module) -> None:
        model.load_state_dict(self.shadow)


def cosine_lr(step: int, total: int, base: float, warmup: int = 200, floor: float = 0.1) -> float:
    """Linear warm-up, then a half cosine from ``base`` down to ``floor`` * ``base``."""
    if step < warmup:
        return base * (step + 1) / warmup
    p = min(1.0, (step - warmup) / max(1, total - warmup))
    return base * (floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * p)))


def save_checkpoint(folder: Path, model: AsynFusion, ema: EMA | None, opt: torch.optim.Optimizer,
                    kind: str, normaliser: Normaliser, scheduler: Scheduler, database: MotionDatabase | None,
                    state: dict, training: dict, guidance: float | None = None) -> None:
    """model.safetensors (EMA weights, what is shipped) + raw weights + optimizer, all safetensors."""
    folder.mkdir(parents=True, exist_ok=True)
    shipped = AsynFusion(model.cfg)
    shipped.load_state_dict(ema.shadow if ema is not None else model.state_dict())
    sampler = recipe_sampler(scheduler.kind, model.cfg.retrieval, guidance)
    save_weights(folder, shipped, kind, normaliser, scheduler, sampler, database, training=training)
    save_file({k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}, str(folder / RAW_FILE))
    tensors = {}
    for i, st in opt.state_dict()["state"].items():
        for name, v in st.items():
            tensors[f"{i}.{name}"] = torch.as_tensor(v).detach().cpu().reshape(-1) if name == "step" else v.detach().cpu()
    if ema is not None:
        tensors.update({f"ema.{k}": v.detach().cpu().contiguous() for k, v in ema.shadow.items()})
    save_file(tensors, str(folder / OPT_FILE))
    tmp = folder / (STATE_FILE + ".tmp")
    tmp.write_text(json.dumps(state) + "\n")
    os.replace(tmp, folder / STATE_FILE)


def load_checkpoint(folder: Path, model: AsynFusion, ema: EMA | None, opt: torch.optim.Optimizer) -> dict:
    model.load_state_dict(load_file(str(folder / RAW_FILE)))
    tensors = load_file(str(folder / OPT_FILE))
    sd = opt.state_dict()
    for i in [p for g in sd["param_groups"] for p in g["params"]]:
        keys = [k for k in tensors if k.startswith(f"{i}.")]
        if keys:
            sd["state"][i] = {k.split(".", 1)[1]: (tensors[k].reshape(()) if k.endswith(".step") else tensors[k])
                              for k in keys}
    opt.load_state_dict(sd)
    if ema is not None:
        for k in ema.shadow:
            ema.shadow[k] = tensors[f"ema.{k}"]
    return json.loads((folder / STATE_FILE).read_text())


class Progress(ProgressLine):
    """A training run's line: step, loss, speed and time left; every ``every`` steps in a log."""

    def __init__(self, total: int, start: int = 0, every: int = 50, stream=None) -> None:
        super().__init__(stream, log_every=every)
        self.total, self.start = total, start
        self.t0 = time.monotonic()

    def __call__(self, step: int, loss: float) -> None:
        rate = (step - self.start) / max(time.monotonic() - self.t0, 1e-9)
        eta = (self.total - step) / max(rate, 1e-9)
        self.update(step / self.total, f"{step}/{self.total} loss {loss:.4f} {rate:.1f} it/s eta {eta / 60:.1f} min",
                    step)


def plot_losses(history: list[list[float]], path: Path, title: str) -> None:
    """history: [[step, loss, ...]] -> a PNG of the (smoothed) loss curve."""
    if not history:
        return
    try:
        import matplotlib
    except ImportError:   # the plot is a convenience: training goes on without it
        print("(no loss plot: matplotlib is not installed; pip install 'asynfusion[train]' adds it)", file=sys.stderr)
        return

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = [h[0] for h in history]
    loss = [h[1] for h in history]
    smooth, acc = [], None
    for v in loss:
        acc = v if acc is None else 0.95 * acc + 0.05 * v
        smooth.append(acc)
    fig, ax = plt.subplots(figsize=(6, 3.5), dpi=100)
    ax.plot(steps, loss, alpha=0.3, label="loss")
    ax.plot(steps, smooth, label="smoothed")
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
