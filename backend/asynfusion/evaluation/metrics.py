"""Evaluation metrics for co-speech face + body motion (numpy arrays in, numbers out).

What each metric is for:

* **Beat Consistency (BC)**, as BEAT2/EMAGE define it: do the body's motion beats (the
  moments a joint slows to a local minimum of speed) fall on the speech's audio onsets?
* **L1 diversity**: EMAGE's L1div (how far the frames of one sequence spread around its
  mean pose) and, across seeds of the same audio, the mean pairwise L1 distance (does the
  sampler produce different motions, or one motion for every seed?).
* **Face MSE and LVD** on the FLAME expression + jaw parameters: how close the face is to
  the captured one, in value and in velocity (lip motion is judged by how it moves).
* **Jitter**: mean jerk magnitude of the joints; noise and seams show up as jerk.
* **Fréchet distance** between two sets of feature vectors (FGD when the features come from
  the motion autoencoder in motion_ae.py): does the generated motion *look like* motion?
* **Face–body synchrony** (our design, see ``face_body_sync``): do mouth accents and
  gesture accents coincide, as they do in the captured data? This is what AsynFusion's
  CoSync module is for, and none of the metrics above measures it.

Joint positions come from ``JointSource``: forward kinematics on the shared rest-joint
template (core.rest_pose), or the ``smplx`` package with a user's SMPL-X model file for
numbers comparable with published ones. The source's ``label`` says which was used.
"""

from __future__ import annotations

import os
from itertools import combinations
from pathlib import Path

import numpy as np
from scipy.ndimage import gaussian_filter1d
from scipy.signal import argrelextrema, find_peaks

from ..audio import MOTION_FPS, SAMPLE_RATE
from ..core.motion_file import NUM_EXPRESSIONS
from ..core.kinematics import forward_kinematics
from ..core.skeleton import JAW, NUM_JOINTS, UPPER_BODY
from ..errors import UserError

BC_SIGMA = 0.3          # seconds: tolerance of the beat match (EMAGE)
BC_TRIM = 2.0           # seconds trimmed at each end before BC (EMAGE's align_mask of 60 frames)
BC_ORDER = 7            # frames each side a speed minimum must undercut (EMAGE)
BC_MIN_SPEED = 0.1      # normalised speed a minimum must exceed to count as a beat (EMAGE)
ONSET_HOP = 512         # librosa onset detection hop on 16 kHz audio (EMAGE)


# --------------------------------------------------------------------------- joints

class JointSource:
    """Where joint positions come from: template FK, or an SMPL-X model file via ``smplx``."""

    def __init__(self, smplx_model: str | os.PathLike | None = None) -> None:
        self.model_path = Path(smplx_model) if smplx_model else None
        self._model = None
        self._betas = 0
        if self.model_path is not None and not self.model_path.is_file():
            raise FileNotFoundError(f"SMPL-X model file {self.model_path} does not exist")

    @property
    def label(self) -> str:
        if self.model_path is None:
            return "template FK (core.rest_pose, not SMPL-X's mean body)"
        return f"smplx package with {self.model_path.name}"

    def joints(self, poses: np.ndarray, trans: np.ndarray, betas: np.ndarray | None = None,
               expressions: np.ndarray | None = None, chunk: int = 256) -> np.ndarray:
        """(N, 55, 3) joints. Through ``smplx``: full-pose axis-angle (no hand PCA, flat hand mean)
        with the motion's betas and expressions, so shape-dependent bone lengths match the
        published metrics' skeleton."""
        if self.model_path is None:
            return forward_kinematics(poses, trans)
        import torch

        model = self._load(betas)
        n = len(poses)
        f32 = lambda a: torch.as_tensor(np.asarray(a, np.float32))  # noqa: E731
        betas_t = torch.zeros(1, self._betas) if betas is None else f32(betas[: self._betas])[None]
        if betas_t.shape[1] < self._betas:
            betas_t = torch.nn.functional.pad(betas_t, (0, self._betas - betas_t.shape[1]))
        expr = np.zeros((n, NUM_EXPRESSIONS), np.float32) if expressions is None else expressions
        out = []
        with torch.no_grad():
            for a in range(0, n, chunk):
                p, b = f32(poses[a:a + chunk]), min(n, a + chunk) - a
                res = model(betas=betas_t.expand(b, -1), expression=f32(expr[a:a + chunk]),
                            transl=f32(trans[a:a + chunk]), global_orient=p[:, :3], body_pose=p[:, 3:66],
                            jaw_pose=p[:, 66:69], leye_pose=p[:, 69:72], reye_pose=p[:, 72:75],
                            left_hand_pose=p[:, 75:120], right_hand_pose=p[:, 120:165])
                out.append(res.joints[:, :NUM_JOINTS].double().numpy())
        return np.concatenate(out)

    def _load(self, betas):
        if self._model is None:
            try:
                import smplx
            except ImportError:
                raise UserError("--smplx-model needs the smplx package: pip install 'asynfusion[eval]'.") from None

            with np.load(self.model_path) as d:
                available = d["shapedirs"].shape[-1] - NUM_EXPRESSIONS
            self._betas = min(available, len(betas) if betas is not None else 10)
            self._model = smplx.SMPLX(str(self.model_path), num_betas=self._betas,
                                      num_expression_coeffs=NUM_EXPRESSIONS, use_pca=False,
                                      flat_hand_mean=True, batch_size=1)
        return self._model


def face_params(poses: np.ndarray, expressions: np.ndarray) -> np.ndarray:
    """(N, 103): the 100 FLAME expression coefficients + jaw axis-angle, what face metrics compare."""
    jaw = np.asarray(poses)[:, 3 * JAW: 3 * JAW + 3]
    return np.concatenate([np.asarray(expressions)[:, :NUM_EXPRESSIONS], jaw], 1).astype(np.float64)


def joint_speed(joints: np.ndarray, fps: float = MOTION_FPS) -> np.ndarray:
    """(N, J, 3) -> (N, J) speed in m/s: central differences inside, one-sided at the ends (EMAGE)."""
    v = np.gradient(np.asarray(joints, np.float64), 1.0 / fps, axis=0)
    return np.linalg.norm(v, axis=-1)


# --------------------------------------------------------------------------- beat consistency

def audio_onsets(wave: np.ndarray, sr: int = SAMPLE_RATE) -> np.ndarray:
    """Onset times (s) of speech, by librosa's onset detector on the 16 kHz audio (as EMAGE)."""
    import librosa

    y = np.asarray(wave, np.float32)
    if len(y) < ONSET_HOP * 4:
        return np.zeros(0)
    return librosa.onset.onset_detect(y=y, sr=sr, hop_length=ONSET_HOP, units="time")


def motion_beats(speed: np.ndarray, order: int = BC_ORDER, min_speed: float = BC_MIN_SPEED) -> list[np.ndarray]:
    """(N, J) normalised speed -> per joint, the frames of its motion beats.

    A beat is a local minimum of speed over ``order`` frames each side (the end of a stroke,
    where a gesture 'lands'), kept only where the joint is still moving (speed above
    ``min_speed`` mean speeds), so a resting joint's noise does not count. EMAGE compares the
    threshold with the speed at an absolute frame index while the minima are indexed inside
    the trimmed range; we compare at the same frame, which is what it means to do.
    """
    out = []
    for j in range(speed.shape[1]):
        idx = argrelextrema(speed[:, j], np.less, order=order)[0]
        out.append(idx[speed[idx, j] > min_speed])
    return out


def beat_alignment(onsets: np.ndarray, beat_times: list[np.ndarray], sigma: float = BC_SIGMA) -> float:
    """EMAGE's BC from onset times and per-joint beat times (s).

    Per joint: the mean over audio onsets of exp(-d^2 / (2 sigma^2)), d = distance from the
    onset to the joint's nearest beat; a joint with no beat scores 0. Averaged over joints.
    """
    onsets = np.asarray(onsets, np.float64)
    if len(onsets) == 0:
        return float("nan")
    scores = []
    for beats in beat_times:
        if len(beats) == 0:
            scores.append(0.0)
            continue
        d = np.min(np.abs(onsets[:, None] - np.asarray(beats, np.float64)[None, :]), axis=1)
        scores.append(float(np.mean(np.exp(-d ** 2 / (2 * sigma ** 2)))))
    return float(np.mean(scores))


def beat_consistency(joints: np.ndarray, wave: np.ndarray | None, mean_vel: np.ndarray, fps: float = MOTION_FPS,
                     sr: int = SAMPLE_RATE, sigma: float = BC_SIGMA, trim: float = BC_TRIM,
                     onsets: np.ndarray | None = None) -> float:
    """BC of one sequence: joints (N, 55, 3) and the 16 kHz audio that starts with frame 0.

    Speed is normalised per joint by ``mean_vel`` (BEAT2's mean_vel_smplxflame_30.npy),
    ``trim`` seconds are dropped at each end of both audio and motion, beats are taken over the
    13 upper-body joints (core.skeleton.UPPER_BODY). NaN when the trimmed audio has no onset.
    ``onsets`` (from ``trimmed_onsets``) saves detecting them again for every sample of the
    same audio; then ``wave`` is not read.
    """
    speed = joint_speed(joints, fps) / np.asarray(mean_vel, np.float64)[None, :]
    a = int(round(trim * fps))
    b = joints.shape[0] - a
    if b - a < 2 * BC_ORDER + 1:
        return float("nan")
    if onsets is None:
        onsets = trimmed_onsets(wave, joints.shape[0], fps, sr, trim)
    beats = motion_beats(speed[a:b][:, list(UPPER_BODY)])
    return beat_alignment(onsets, [x / fps for x in beats], sigma)


def trimmed_onsets(wave: np.ndarray, frames: int, fps: float = MOTION_FPS, sr: int = SAMPLE_RATE,
                   trim: float = BC_TRIM) -> np.ndarray:
    """Audio onsets (s) of the part of ``wave`` that BC scores for a ``frames``-long motion,
    measured from the start of that part."""
    a = int(round(trim * fps))
    b = frames - a
    return audio_onsets(np.asarray(wave)[int(round(a / fps * sr)): int(round(b / fps * sr))], sr)


# --------------------------------------------------------------------------- diversity, face, jitter

def l1div(joints: np.ndarray) -> float:
    """EMAGE's L1div of one sequence: mean over frames of the L1 distance (summed over all
    joint coordinates) from the sequence's mean pose. Still motion scores 0."""
    x = np.asarray(joints, np.float64).reshape(len(joints), -1)
    return float(np.abs(x - x.mean(0)).sum() / len(x))


def l1_diversity(samples: np.ndarray) -> float:
    """Across samples of the same audio (S, N, J, 3): the mean pairwise L1 distance between
    them (summed over joint coordinates, averaged over frames and pairs). Identical samples
    score 0; NaN with fewer than two samples."""
    samples = np.asarray(samples, np.float64)
    if len(samples) < 2:
        return float("nan")
    flat = samples.reshape(len(samples), samples.shape[1], -1)
    pairs = [np.abs(flat[i] - flat[k]).sum(-1).mean() for i, k in combinations(range(len(flat)), 2)]
    return float(np.mean(pairs))


def face_mse(pred: np.ndarray, target: np.ndarray) -> float:
    """Mean squared error of the face parameters (expression + jaw), per element."""
    return float(np.mean((np.asarray(pred, np.float64) - np.asarray(target, np.float64)) ** 2))


def lvd(pred: np.ndarray, target: np.ndarray) -> float:
    """Velocity difference of the face parameters (EMAGE's LVD on parameters instead of
    vertices): mean |d pred/dt - d target/dt| per element per frame."""
    dp, dt = np.diff(np.asarray(pred, np.float64), axis=0), np.diff(np.asarray(target, np.float64), axis=0)
    return float(np.mean(np.abs(dp - dt)))


def jitter(joints: np.ndarray, fps: float = MOTION_FPS) -> float:
    """Mean jerk magnitude (m/s^3) over frames and joints: third finite difference * fps^3."""
    x = np.asarray(joints, np.float64)
    if len(x) < 4:
        return float("nan")
    jerk = np.diff(x, n=3, axis=0) * fps ** 3
    return float(np.linalg.norm(jerk, axis=-1).mean())


# --------------------------------------------------------------------------- Fréchet distance

def _sqrt_psd(m: np.ndarray) -> np.ndarray:
    w, v = np.linalg.eigh((m + m.T) / 2)
    return (v * np.sqrt(np.clip(w, 0, None))) @ v.T


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Fréchet distance between Gaussians fitted to two sets of feature vectors (M, D), (K, D).

    ||mu_a - mu_b||^2 + tr(S_a) + tr(S_b) - 2 tr((S_a S_b)^1/2), with the trace of the matrix
    square root taken as sum sqrt(eig(S_a^1/2 S_b S_a^1/2)): the same eigenvalues, but of a
    symmetric PSD matrix, so it stays real and stable where sqrtm of S_a S_b would not.
    """
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if len(a) < 2 or len(b) < 2:
        return float("nan")
    mu = a.mean(0) - b.mean(0)
    sa, sb = np.atleast_2d(np.cov(a, rowvar=False)), np.atleast_2d(np.cov(b, rowvar=False))
    ra = _sqrt_psd(sa)
    cross = np.sqrt(np.clip(np.linalg.eigvalsh(ra @ sb @ ra), 0, None)).sum()
    return float(max(mu @ mu + np.trace(sa) + np.trace(sb) - 2 * cross, 0.0))


# --------------------------------------------------------------------------- face-body synchrony

SYNC_SMOOTH = 2.0        # frames: Gaussian smoothing of the activity curves (67 ms)
SYNC_TOLERANCE = 0.2     # seconds: a gesture accent is matched by a mouth accent this close
SYNC_MIN_GAP = 0.25      # seconds between two accents of the same stream
SYNC_PROMINENCE = 0.5    # an accent stands this many standard deviations above its surroundings
SYNC_MAX_LAG = 0.5       # seconds: cross-correlation lags searched
SYNC_SHIFTS = 20         # circular shifts that estimate the chance level


def mouth_activity(face: np.ndarray, fps: float = MOTION_FPS) -> np.ndarray:
    """(N, 103) face parameters -> (N,) their speed (parameter units per second)."""
    return np.linalg.norm(np.gradient(np.asarray(face, np.float64), 1.0 / fps, axis=0), axis=-1)


def gesture_activity(joints: np.ndarray, mean_vel: np.ndarray, fps: float = MOTION_FPS) -> np.ndarray:
    """(N, 55, 3) joints -> (N,) mean normalised speed of the 13 upper-body joints (as BC)."""
    speed = joint_speed(joints, fps) / np.asarray(mean_vel, np.float64)[None, :]
    return speed[:, list(UPPER_BODY)].mean(1)


def accents(activity: np.ndarray, fps: float = MOTION_FPS) -> np.ndarray:
    """Frames of accents: prominent peaks of the smoothed activity, at least SYNC_MIN_GAP apart.
    Prominence is measured in the curve's own standard deviations, so the detector does not
    depend on units or on how much a given model moves overall."""
    x = gaussian_filter1d(np.asarray(activity, np.float64), SYNC_SMOOTH)
    sd = x.std()
    if sd < 1e-12:
        return np.zeros(0, int)
    peaks, _ = find_peaks(x, distance=max(1, int(round(SYNC_MIN_GAP * fps))), prominence=SYNC_PROMINENCE * sd)
    return peaks


def _hit_rate(gesture: np.ndarray, mouth: np.ndarray, tol: float) -> float:
    if len(gesture) == 0:
        return float("nan")
    if len(mouth) == 0:
        return 0.0
    d = np.min(np.abs(gesture[:, None] - mouth[None, :]), axis=1)
    return float(np.mean(d <= tol + 1e-9))


def face_body_sync(face: np.ndarray, joints: np.ndarray, mean_vel: np.ndarray, fps: float = MOTION_FPS) -> dict:
    """Do mouth accents and gesture accents coincide? Our measure; report it for generated
    motion *and* the ground truth, and read the generated value against the ground truth's.

    Two activity curves per sequence: the mouth's (speed of the expression + jaw parameters)
    and the gestures' (mean speed of the 13 upper-body joints, normalised per joint as in BC).
    Accents are prominent peaks of each (``accents``). Returned:

    * ``sync_hit``: the fraction of gesture accents with a mouth accent within
      ±SYNC_TOLERANCE (0.2 s, about a syllable).
    * ``sync_chance``: the same fraction with the mouth accents circularly shifted by
      SYNC_SHIFTS offsets spread over [1 s, T - 1 s]: what the accent densities alone give,
      since speech makes mouth accents several times a second.
    * ``sync`` = sync_hit - sync_chance: coincidence above chance. Independent streams
      score about 0; the captured speaker's own value is the target, not 1.
    * ``sync_xcorr`` and ``sync_lag``: the peak of the normalised cross-correlation of the two
      smoothed curves within ±SYNC_MAX_LAG and its lag in seconds (positive: gestures after
      the mouth). A threshold-free view of the same coupling.
    * ``sync_accents``: how many gesture accents the rates rest on (to pool segments).

    On the two BEAT2 takes in ../shared/data the captured speaker's accent coincidence is
    close to chance at this tolerance (2 minutes of one speaker is little evidence either
    way), so the ground truth's own value, not 0 or 1, is what a model should reproduce; a
    model whose branches ignore each other lands near 0, one that locks the body to the
    mouth lands well above the ground truth.
    """
    m = mouth_activity(face, fps)
    g = gesture_activity(joints, mean_vel, fps)
    n = len(m)
    ma, ga = accents(m, fps) / fps, accents(g, fps) / fps
    hit = _hit_rate(ga, ma, SYNC_TOLERANCE)
    duration = n / fps
    chance = []
    if duration > 2.0 and len(ga):
        for s in np.linspace(1.0, duration - 1.0, SYNC_SHIFTS):
            chance.append(_hit_rate(ga, np.sort((ma + s) % duration), SYNC_TOLERANCE))
    chance_rate = float(np.mean(chance)) if chance else float("nan")

    xm = gaussian_filter1d(m, SYNC_SMOOTH)
    xg = gaussian_filter1d(g, SYNC_SMOOTH)
    xm, xg = xm - xm.mean(), xg - xg.mean()
    denom = np.sqrt((xm ** 2).sum() * (xg ** 2).sum())
    best, lag = float("nan"), float("nan")
    if denom > 1e-12:
        max_lag = min(int(round(SYNC_MAX_LAG * fps)), n - 1)
        corr = [(float((xm[: n - k] * xg[k:]).sum() if k >= 0 else (xm[-k:] * xg[: n + k]).sum()) / denom, k)
                for k in range(-max_lag, max_lag + 1)]
        best, k = max(corr)
        lag = k / fps
    return {"sync": hit - chance_rate, "sync_hit": hit, "sync_chance": chance_rate,
            "sync_xcorr": best, "sync_lag": lag, "sync_accents": int(len(ga))}
