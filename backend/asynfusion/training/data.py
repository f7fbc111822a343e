"""BEAT2 data: takes, train/held-out split, cached audio features, windows.

Two layouts are read:

* BEAT2 as published: ``beat_english_v2.0.0/`` (or that folder itself) holding
  ``smplxflame_30/*.npz``, ``wave16k/*.wav`` and ``train_test_split.csv``
  (columns ``id,type``; type train / val / test / additional).
* A plain folder of ``name.npz`` + ``name.wav`` pairs (as in ../shared/data/beat2):
  there is no published split, so the last ``holdout`` fraction of every take
  is held out for evaluation and the rest trains.

Normalisation statistics are fitted on the training part only. Audio features are
speaker-normalised per part (each training or held-out part on its own frames, as a
user's clip is at generation time). Where a take has a TextGrid beside it (or in
``textgrid/`` of the published layout), its phones give per-frame mouth-shape classes.
"""

from __future__ import annotations

import csv
import hashlib
import os
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

from .. import audio
from ..core.motion_file import read_motion
from ..representation import Normaliser, motion_to_branches, stage_centred
from ..retrieval import MotionDatabase
from . import phones as P
from .args import DEFAULT_HOLDOUT
from .augment import mirror_motion, resample_linear, resample_poses, stretch_positions
from .foot_contact import take_contacts
from .voice_augment import degrade


def _sample(frame: int) -> int:
    """The audio sample at which motion frame ``frame`` starts (16000 / 30 is not a whole number)."""
    return (frame * audio.SAMPLE_RATE + audio.MOTION_FPS // 2) // audio.MOTION_FPS


@dataclass
class Take:
    name: str
    poses: np.ndarray          # (N, 165)
    expressions: np.ndarray    # (N, 100)
    trans: np.ndarray          # (N, 3)
    feats: np.ndarray          # (N, WIDE_DIM) audio features, aligned to the motion frames
    wave: np.ndarray | None = None   # 16 kHz loudness-normalised audio covering the frames (eval)
    start: int = 0             # first frame of this part within the original take
    mirrored: bool = False
    visemes: np.ndarray | None = None   # (N,) int8 mouth-shape class per frame (phones.py), if aligned
    source: int = 0            # index of the original take (a mirror shares it)
    rate: float = 1.0          # time-stretch: this part plays the original ``rate`` times as fast

    @property
    def frames(self) -> int:
        return int(self.poses.shape[0])

    def crop(self, a: int, b: int) -> "Take":
        s0 = _sample(self.start)  # positions on the take's own timeline: 533.33 samples a frame
        wave = None if self.wave is None else self.wave[_sample(self.start + a) - s0: _sample(self.start + b) - s0]
        return replace(self, poses=self.poses[a:b], expressions=self.expressions[a:b],
                       trans=self.trans[a:b], feats=self.feats[a:b], wave=wave, start=self.start + a,
                       visemes=None if self.visemes is None else self.visemes[a:b])

    def speaker_normalised(self) -> "Take":
        """The features normalised on this part's own audio (audio.speaker_normalise)."""
        return replace(self, feats=audio.speaker_normalise(torch.from_numpy(self.feats))[0].numpy())

    def mirror(self) -> "Take":
        p, e, t = mirror_motion(self.poses, self.expressions, self.trans)
        return replace(self, poses=p, expressions=e, trans=t, mirrored=not self.mirrored)

    def stretch(self, rate: float) -> "Take":
        """Speech and motion played ``rate`` times as fast together (training augmentation: the
        same gestures on faster and slower speech; the audio features are resampled as a
        pitch-preserving time-stretch would move them). Frame positions (``start``) stay those
        of the original take, so ``retrieval_radius`` widens to cover the drift."""
        pos = stretch_positions(self.frames, rate)
        nearest = np.rint(pos).astype(int)
        return replace(self, poses=resample_poses(self.poses, pos),
                       expressions=resample_linear(self.expressions, pos), trans=resample_linear(self.trans, pos),
                       feats=resample_linear(self.feats, pos), wave=None, rate=self.rate * rate,
                       visemes=None if self.visemes is None else self.visemes[nearest])

    def recorded_elsewhere(self, seed: int) -> "Take":
        """The same motion with its speech degraded as another room, microphone or line would
        (voice_augment.degrade); features recomputed and speaker-normalised as generation does."""
        if self.wave is None:
            raise ValueError(f"{self.name} has no audio to degrade (a time-stretched copy keeps none)")
        wave = audio.normalise_loudness(degrade(self.wave, np.random.default_rng(seed)))
        feats = audio.speaker_normalise(audio.audio_features(wave))[0].numpy()
        feats = np.concatenate([feats, np.repeat(feats[-1:], max(0, self.frames - len(feats)), 0)])
        return replace(self, feats=feats[: self.frames].astype(np.float32), wave=wave)

    def retrieval_radius(self, radius: int) -> int:
        """Frames around a query within which its own take is excluded, widened for a
        stretched take (its frame i sits near original frame i * rate, not i)."""
        return radius + int(np.ceil(abs(self.rate - 1.0) * self.frames))

    def branches(self) -> tuple[torch.Tensor, torch.Tensor]:
        return motion_to_branches(torch.from_numpy(self.poses), torch.from_numpy(self.expressions),
                                  torch.from_numpy(stage_centred(self.trans)))


def _pairs(root: Path) -> tuple[list[tuple[str, Path, Path]], dict[str, str] | None]:
    """-> [(name, npz, wav)], split {name: type} or None for a plain folder."""
    for cand in (root / "beat_english_v2.0.0", root):
        if (cand / "smplxflame_30").is_dir() and (cand / "wave16k").is_dir():
            split = {}
            csv_path = cand / "train_test_split.csv"
            if csv_path.is_file():
                with open(csv_path, newline="") as f:
                    for row in csv.DictReader(f):
                        split[row["id"].strip()] = row["type"].strip()
            pairs = [(p.stem, p, cand / "wave16k" / (p.stem + ".wav"))
                     for p in sorted((cand / "smplxflame_30").glob("*.npz"))]
            return [x for x in pairs if x[2].is_file()], split
    pairs = [(p.stem, p, p.with_suffix(".wav")) for p in sorted(root.glob("*.npz"))]
    return [x for x in pairs if x[2].is_file()], None


def _features(wav: Path, cache: Path | None) -> tuple[np.ndarray, np.ndarray]:
    """(loudness-normalised wave, (S, WIDE_DIM) features), cached as .npy by file digest and width."""
    wave = audio.normalise_loudness(audio.load_audio(wav))
    if cache is not None:
        digest = hashlib.sha256(wav.read_bytes()).hexdigest()[:16]
        path = cache / f"{wav.stem}-{digest}-{audio.WIDE_DIM}.npy"
        if path.is_file():
            return wave, np.load(path, allow_pickle=False)
    feats = audio.audio_features(wave).numpy().astype(np.float32)
    if cache is not None:
        cache.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp.npy")  # torchrun ranks fill the cache at once
        np.save(tmp, feats)
        os.replace(tmp, path)
    return wave, feats


def _textgrid(npz: Path) -> Path | None:
    for cand in (npz.with_suffix(".TextGrid"), npz.parent.parent / "textgrid" / (npz.stem + ".TextGrid")):
        if cand.is_file():
            return cand
    return None


def load_take(name: str, npz: Path, wav: Path, cache: Path | None = None, source: int = 0) -> Take:
    m = read_motion(npz)
    if abs(m.fps - audio.MOTION_FPS) > 1e-3:
        raise ValueError(f"{npz.name} is at {m.fps} fps; training expects {audio.MOTION_FPS}")
    wave, feats = _features(wav, cache)
    n = min(m.num_frames, feats.shape[0])
    grid = _textgrid(npz)
    visemes = None if grid is None else P.frame_visemes(P.read_phones(grid), n, audio.MOTION_FPS)
    return Take(name, np.asarray(m.poses[:n], np.float32), np.asarray(m.expressions[:n], np.float32),
                np.asarray(m.trans[:n], np.float32), feats[:n], wave[: _sample(n)], visemes=visemes,
                source=source)


@dataclass
class Split:
    train: list[Take]
    test: list[Take]
    description: str


def load_split(root: str | os.PathLike, holdout: float = DEFAULT_HOLDOUT, cache: str | os.PathLike | None = None,
               limit: int | None = None, heldout_take: str | None = None) -> Split:
    """Train and held-out takes from either layout; ``heldout_take``: that whole take is held
    out and every other take trains whole (a take-disjoint fold: nothing of the held-out
    recording, not even its speaker's habits within that take, reaches training)."""
    root = Path(root)
    pairs, split = _pairs(root)
    if limit:
        pairs = pairs[:limit]
    if not pairs:
        raise FileNotFoundError(f"no motion/audio pairs found in {root}")
    cache_dir = Path(cache) if cache else None
    train, test = [], []
    if heldout_take is not None:
        names = [name for name, _, _ in pairs]
        if heldout_take not in names:
            raise ValueError(f"--heldout-take {heldout_take!r} is not a take in {root} (takes: {', '.join(names)})")
        if len(names) < 2:
            raise ValueError(f"{root} has one take; a take-disjoint fold needs another to train on")
        for k, (name, npz, wav) in enumerate(pairs):
            (test if name == heldout_take else train).append(load_take(name, npz, wav, cache_dir, k))
        desc = f"take-disjoint fold: {heldout_take} held out whole, {len(train)} other take(s) train"
    elif split:  # the published split
        for k, (name, npz, wav) in enumerate(pairs):
            kind = split.get(name, "train")
            if kind in ("train", "additional"):
                train.append(load_take(name, npz, wav, cache_dir, k))
            elif kind == "test":
                test.append(load_take(name, npz, wav, cache_dir, k))
        desc = "BEAT2 train_test_split.csv: train+additional for training, test held out"
    else:
        for k, (name, npz, wav) in enumerate(pairs):
            take = load_take(name, npz, wav, cache_dir, k)
            cut = int(round(take.frames * (1 - holdout)))
            train.append(take.crop(0, cut))
            test.append(take.crop(cut, take.frames))
        desc = (f"last {holdout:.0%} of every take held out for evaluation, the rest trains" if holdout > 0
                else "every take whole, nothing held out (evaluated on take-disjoint folds instead)")
    return Split([t.speaker_normalised() for t in train], [t.speaker_normalised() for t in test], desc)


def fit_normaliser(takes: list[Take], audio_dim: int = audio.FEATURE_DIM) -> Normaliser:
    """Statistics of the training motion and of the first ``audio_dim`` audio features."""
    faces, bodies = zip(*(t.branches() for t in takes))
    feats = [torch.from_numpy(t.feats[:, :audio_dim]) for t in takes]
    return Normaliser.fit(list(faces), list(bodies), feats)


def with_mirrors(takes: list[Take], mirror: bool) -> list[Take]:
    return list(takes) + ([t.mirror() for t in takes if not t.mirrored] if mirror else [])


def stretch_rates(stretch: float) -> tuple[float, ...]:
    """The time-stretched copies a training set gets: 1 ± stretch and 1 ± stretch/2."""
    return () if stretch <= 0 else (1 - stretch, 1 - stretch / 2, 1 + stretch / 2, 1 + stretch)


def with_stretches(takes: list[Take], stretch: float) -> list[Take]:
    return list(takes) + [t.stretch(r) for t in takes for r in stretch_rates(stretch)]


def with_voices(takes: list[Take], copies: int) -> list[Take]:
    """The takes and ``copies`` degraded recordings of each (a fixed seed per copy)."""
    return list(takes) + [t.recorded_elsewhere(1009 * k + c) for k, t in enumerate(takes) for c in range(copies)]


def motion_database(takes: list[Take], normaliser: Normaliser, with_face: bool = False) -> MotionDatabase:
    """The training motion (mirrors included) as the body branch's retrieval database;
    ``with_face``: face and body side by side (the motion-matching baseline)."""
    parts = []
    for t in takes:
        face, body = normaliser.normalise(*t.branches())
        motion = torch.cat([face, body], -1) if with_face else body
        parts.append((t.feats, motion.numpy(), t.source, t.start))
    return MotionDatabase.build(parts)


# Training tracks must not retrieve the window itself: segments of the same take starting
# within this many frames of the query are excluded (held-out speech has no copy either).
SELF_EXCLUSION = 150
RETRIEVAL_VARIANTS = 4       # retrieved tracks per take (different seeds), one drawn per window


class Windows(torch.utils.data.Dataset):
    """Normalised windows of ``length`` frames every ``stride`` frames over the takes.

    Items: face, body, audio, face_weight (per-frame face-loss weight from the phones),
    viseme (the frame's mouth-shape class, phones.NONE where none applies), contact (the
    capture's planted feet, left and right: foot_contact.take_contacts) and, with a
    motion database, retrieved (a motion-matched body track of the window's audio that
    never comes from the window's own neighbourhood).
    """

    def __init__(self, takes: list[Take], normaliser: Normaliser, length: int, stride: int,
                 mirror: bool = True, database: MotionDatabase | None = None, stretch: float = 0.0,
                 voices: int = 0) -> None:
        all_takes = with_stretches(with_voices(with_mirrors(takes, mirror), voices), stretch)
        self.face, self.body, self.audio, self.weight, self.tracks, self.index = [], [], [], [], [], []
        self.visemes: list[torch.Tensor] = []
        self.contact: list[torch.Tensor] = []
        self.phonetic: list[torch.Tensor] = []     # cross-fitted probe scores, when set (train.phonetic_probe)
        for k, take in enumerate(all_takes):
            face, body = take.branches()
            face, body = normaliser.normalise(face, body)
            self.face.append(face)
            self.body.append(body)
            self.audio.append(normaliser.normalise_audio(torch.from_numpy(take.feats)))
            vis = take.visemes if take.visemes is not None else np.full(take.frames, P.NONE, np.int8)
            self.weight.append(torch.from_numpy(P.loss_weights(vis)))
            self.visemes.append(torch.from_numpy(vis.astype(np.int64)))
            self.contact.append(torch.from_numpy(take_contacts(take.poses, take.trans)))
            if database is not None:
                exclude = (take.source, take.start, take.retrieval_radius(SELF_EXCLUSION))
                self.tracks.append([torch.from_numpy(database.match(take.feats, seed=1000 * k + v, exclude=exclude))
                                    for v in range(RETRIEVAL_VARIANTS)])
            for s in range(0, take.frames - length + 1, stride):
                self.index.append((k, s))
        self.length = length
        self.draw = 0
        if not self.index:
            raise ValueError(f"no take is as long as one window ({length} frames)")

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        k, s = self.index[i]
        sl = slice(s, s + self.length)
        item = {"face": self.face[k][sl], "body": self.body[k][sl], "audio": self.audio[k][sl],
                "face_weight": self.weight[k][sl], "viseme": self.visemes[k][sl], "contact": self.contact[k][sl]}
        if self.phonetic:
            item["phonetic"] = self.phonetic[k][sl]
        if self.tracks:
            self.draw += 1
            item["retrieved"] = self.tracks[k][(i + self.draw) % RETRIEVAL_VARIANTS][sl]
        return item
