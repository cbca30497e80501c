"""Audio descriptors of one excerpt: tempo, loudness, energy, brightness, timbre, key.

The only module that imports librosa and pyloudnorm. One STFT (2048/512 at 22.05 kHz) feeds
every spectral feature: a mel spectrogram gives the onset envelope (tempo) and the MFCCs;
the power spectrum gives chroma (key), centroid, roll-off, flatness and RMS. Loudness is
ITU-R BS.1770 / EBU R128 integrated loudness (pyloudnorm) of the mono excerpt.

Tempo: the autocorrelation tempogram of the onset envelope, averaged over the excerpt; its
peaks are refined to a fraction of a frame (parabolic), weighted by a log-normal prior
around 120 BPM, and the pulse twice as fast is taken when it is about as strong (a click
every 0.33 s is 180 BPM, not 90; eighth-note hi-hats over a 90 BPM beat stay 90).

Key: Krumhansl–Schmuckler — the mean chroma (chroma_stft, tuning estimated) correlated with
the 24 rotated Krumhansl–Kessler major and minor profiles.

The named results are descriptors in people's units; :func:`to_vector` maps them to the
fixed layout in :mod:`player_plugin.store.features` (version ``EXTRACTOR_VERSION``).
"""

from __future__ import annotations

import functools
import logging
import math
import time
from dataclasses import dataclass

import librosa
import numpy as np
import pyloudnorm

from player_plugin.domain.errors import SegueError
from player_plugin.domain.paths import PathLike, display, to_bytes
from player_plugin.library.decode import (
    EXCERPT_SECONDS,
    SAMPLE_RATE,
    read_excerpt,
)
from player_plugin.library.one_at_a_time import one_at_a_time
from player_plugin.store.features import N_MFCC, PITCH_CLASSES, VECTOR_SIZE

log = logging.getLogger(__name__)

N_FFT = 2048
HOP = 512
TEMPO_RANGE = (40.0, 210.0)  # BPM
TEMPO_PRIOR_CENTRE = 120.0
TEMPO_PRIOR_OCTAVES = 1.0
DOUBLE_TEMPO_RATIO = 0.95  # take the pulse twice as fast when about as strong
SILENCE_LUFS = -70.0
_SMOOTH = np.exp(-0.5 * np.arange(-3, 4) ** 2)
_SMOOTH /= _SMOOTH.sum()
_warm = False  # this process has run warm_up

# Krumhansl & Kessler (1982) key profiles, tonic first.
MAJOR_PROFILE = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
MINOR_PROFILE = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])

__all__ = [
    "Analysis",
    "AnalysisError",
    "analyse_file",
    "analyse_signal",
    "estimate_key",
    "to_vector",
    "warm_up",
]


class AnalysisError(SegueError):
    """The audio was decoded but could not be analysed; ``reason`` says why."""

    path: bytes

    def __init__(self, path: PathLike, reason: str) -> None:
        super().__init__(reason, to_bytes(path))


@dataclass(frozen=True)
class Analysis:
    descriptors: dict
    vector: np.ndarray  # float32, VECTOR_SIZE


def _tempo(onset_env: np.ndarray, sr: int) -> tuple[float | None, float]:
    """(BPM, pulse clarity in [0, 1]) from an onset envelope; (None, 0) without a pulse."""
    win = min(384, len(onset_env))
    if win < 16 or not np.any(onset_env > 0):
        return None, 0.0
    # Smooth by a Gaussian of one frame: an onset that falls between frames then still
    # lines up with the lag nearest its period, so fast pulses are not under-counted.
    # Less its mean, so a steady flux (noise, pads) does not read as a pulse at every lag.
    onset_env = np.convolve(onset_env - onset_env.mean(), _SMOOTH, mode="same")
    gram = librosa.feature.tempogram(
        onset_envelope=onset_env, sr=sr, hop_length=HOP, win_length=win
    )
    ac = np.nan_to_num(gram.mean(axis=1))
    i = np.arange(1, len(ac) - 1)
    peaks = i[(ac[i] >= ac[i - 1]) & (ac[i] > ac[i + 1]) & (ac[i] > 0)]
    if not len(peaks):
        return None, 0.0
    left, mid, right = ac[peaks - 1], ac[peaks], ac[peaks + 1]
    curve = left - 2 * mid + right
    shift = np.where(curve < 0, 0.5 * (left - right) / np.where(curve < 0, curve, 1.0), 0.0)
    height = mid - 0.25 * (left - right) * shift
    bpm = 60.0 * sr / (HOP * (peaks + shift))
    ok = (bpm >= TEMPO_RANGE[0]) & (bpm <= TEMPO_RANGE[1])
    if not ok.any():
        return None, 0.0
    prior = np.exp(-0.5 * (np.log2(bpm / TEMPO_PRIOR_CENTRE) / TEMPO_PRIOR_OCTAVES) ** 2)
    best = int(np.argmax(np.where(ok, height * prior, -np.inf)))
    double = np.flatnonzero(
        ok
        & (np.abs(bpm / (2 * bpm[best]) - 1) < 0.03)
        & (height >= DOUBLE_TEMPO_RATIO * height[best])
    )
    if len(double):
        best = int(double[np.argmax(height[double])])
    return float(bpm[best]), float(np.clip(height[best], 0.0, 1.0))


def estimate_key(chroma: np.ndarray) -> tuple[int, str, float] | None:
    """(tonic pitch class 0-11, "major"/"minor", correlation) of a 12-bin chroma vector by
    Krumhansl–Schmuckler; None for a flat or empty chroma."""
    chroma = np.asarray(chroma, dtype=np.float64)
    if chroma.shape != (12,) or np.ptp(chroma) <= 1e-9:
        return None
    best: tuple[int, str, float] | None = None
    for mode, profile in (("major", MAJOR_PROFILE), ("minor", MINOR_PROFILE)):
        for tonic in range(12):
            r = float(np.corrcoef(chroma, np.roll(profile, tonic))[0, 1])
            if best is None or r > best[2]:
                best = (tonic, mode, r)
    return best


def _loudness_range(power: np.ndarray, sr: int) -> float:
    """Spread of 3-second levels (dB) in the excerpt: the 95th minus the 10th percentile,
    gated like EBU Tech 3342 (absolute -70 dB, relative -20 dB). Unweighted."""
    frames_per_s = sr / HOP
    win, step = int(3 * frames_per_s), int(frames_per_s)
    if len(power) < win:
        win, step = len(power), len(power)
    starts = range(0, len(power) - win + 1, max(step, 1))
    levels = np.array([10 * np.log10(power[s : s + win].mean() + 1e-12) for s in starts])
    levels = levels[levels > -70.0]
    if len(levels) == 0:
        return 0.0
    mean_level = 10 * np.log10(np.mean(10 ** (levels / 10)))
    levels = levels[levels > mean_level - 20.0]
    return float(np.percentile(levels, 95) - np.percentile(levels, 10))


def _loudness(y: np.ndarray, sr: int) -> float:
    if len(y) < 0.4 * sr:
        y = np.pad(y, (0, int(0.4 * sr) - len(y) + 1))
    with np.errstate(divide="ignore"):
        value = pyloudnorm.Meter(sr).integrated_loudness(y.astype(np.float64))
    return max(float(value), SILENCE_LUFS) if math.isfinite(value) else SILENCE_LUFS


@functools.cache
def _mel_basis(sr: int) -> np.ndarray:
    return librosa.filters.mel(sr=sr, n_fft=N_FFT, n_mels=128)


def _onset_envelope(mel_db: np.ndarray, sr: int) -> np.ndarray:
    return librosa.onset.onset_strength(S=mel_db, sr=sr)


def _sig(value: float) -> float:
    """*value* to four significant digits (for JSON people read)."""
    return float(f"{value:.4g}")


def analyse_signal(y: np.ndarray, sr: int = SAMPLE_RATE) -> dict:
    """The named descriptors of mono signal *y* (people's units; see the module doc)."""
    warm_up()
    return _descriptors(y, sr)


def _descriptors(y: np.ndarray, sr: int) -> dict:
    y = np.ascontiguousarray(y, dtype=np.float32)
    magnitude = np.abs(librosa.stft(y, n_fft=N_FFT, hop_length=HOP))
    power = magnitude**2
    # The mel filter bank as one matrix product (librosa's einsum path is several times
    # slower here), then dB: what librosa.feature.melspectrogram + power_to_db compute.
    mel_db = librosa.power_to_db(_mel_basis(sr) @ power)
    loudness = _loudness(y, sr)
    # Nothing above the -70 LUFS gate (digital silence, or a codec's hiss): no beat, no key.
    silent = loudness <= SILENCE_LUFS or not np.any(power > 1e-10)
    tempo, beat_strength = (None, 0.0) if silent else _tempo(_onset_envelope(mel_db, sr), sr)

    mfcc = librosa.feature.mfcc(S=mel_db, n_mfcc=N_MFCC)
    rms = librosa.feature.rms(S=magnitude, frame_length=N_FFT)[0]
    centroid = librosa.feature.spectral_centroid(S=magnitude, sr=sr)[0]
    rolloff = librosa.feature.spectral_rolloff(S=magnitude, sr=sr, roll_percent=0.85)[0]
    flatness = librosa.feature.spectral_flatness(S=magnitude)[0]
    if silent:
        chroma_mean = np.zeros(12)
    else:
        # Tuning from every 4th frame: the same estimate (to a few cents) at a quarter of
        # the cost; then chroma_stft as usual.
        tuning = librosa.estimate_tuning(S=power[:, ::4], sr=sr, n_fft=N_FFT)
        chroma = librosa.feature.chroma_stft(
            S=power, sr=sr, n_fft=N_FFT, hop_length=HOP, tuning=tuning
        )
        chroma_mean = chroma.mean(axis=1)
        chroma_mean = chroma_mean / max(chroma_mean.sum(), 1e-12)
    key = None if silent else estimate_key(chroma_mean)

    def stat(values: np.ndarray) -> float:
        return float(np.mean(values)) if len(values) else 0.0

    return {
        "tempo_bpm": None if tempo is None else round(tempo, 2),
        "beat_strength": round(beat_strength, 4),
        "loudness_lufs": round(loudness, 2),
        "dynamic_range_db": round(_loudness_range(rms**2, sr), 2),
        "energy": _sig(stat(rms)),
        "brightness": round(0.0 if silent else stat(centroid), 1),
        "rolloff_hz": round(0.0 if silent else stat(rolloff), 1),
        "flatness": _sig(stat(flatness)),
        "mfcc_mean": [round(float(v), 3) for v in mfcc.mean(axis=1)],
        "mfcc_std": [round(float(v), 3) for v in mfcc.std(axis=1)],
        "chroma": [round(float(v), 4) for v in chroma_mean],
        "key": None if key is None else f"{PITCH_CLASSES[key[0]]} {key[1]}",
        "key_tonic": None if key is None else key[0],
        "mode": None if key is None else key[1],
        "key_strength": 0.0 if key is None else round(key[2], 4),
    }


def to_vector(d: dict) -> np.ndarray:
    """The float32 vector of descriptors *d*, in ``VECTOR_FIELDS`` order and scaling."""
    tempo = d.get("tempo_bpm")
    key_tonic, mode, strength = d.get("key_tonic"), d.get("mode"), d.get("key_strength", 0.0)
    if key_tonic is None:
        key_cos = key_sin = 0.0
        major = 0.5
    else:
        relative_major = key_tonic if mode == "major" else (key_tonic + 3) % 12
        angle = 2 * math.pi * ((relative_major * 7) % 12) / 12  # position on the fifths
        weight = max(strength, 0.0)
        key_cos, key_sin = weight * math.cos(angle), weight * math.sin(angle)
        major = 1.0 if mode == "major" else 0.0
    values = [
        0.0 if not tempo else math.log2(tempo / 120.0),
        d["beat_strength"],
        (d["loudness_lufs"] + 20.0) / 10.0,
        d["dynamic_range_db"] / 10.0,
        (20 * math.log10(d["energy"] + 1e-6) + 20.0) / 10.0,
        math.log2(max(d["brightness"], 20.0) / 2000.0),
        math.log2(max(d["rolloff_hz"], 20.0) / 4000.0),
        math.log10(d["flatness"] + 1e-6) / 3.0,
        *(v / 50.0 for v in d["mfcc_mean"]),
        *(v / 50.0 for v in d["mfcc_std"]),
        *d["chroma"],
        key_cos,
        key_sin,
        major,
        strength,
    ]
    vector = np.asarray(values, dtype=np.float32)
    assert vector.shape == (VECTOR_SIZE,), vector.shape
    return np.nan_to_num(vector, nan=0.0, posinf=0.0, neginf=0.0)


def analyse_file(
    path: PathLike, *, duration_ms: int | None = None, seconds: float = EXCERPT_SECONDS
) -> Analysis:
    """Decode up to *seconds* from the middle of *path* and analyse it.

    Raises :class:`~player_plugin.library.decode.DecodeError` or :class:`AnalysisError`.
    """
    start = time.perf_counter()
    excerpt = read_excerpt(
        path, seconds=seconds, duration_s=None if duration_ms is None else duration_ms / 1000
    )
    try:
        descriptors = analyse_signal(excerpt.samples, excerpt.sample_rate)
        vector = to_vector(descriptors)
    except (ValueError, FloatingPointError, ZeroDivisionError) as exc:
        raise AnalysisError(path, f"analysis failed: {exc}") from exc
    descriptors["excerpt_start_s"] = round(excerpt.start_s, 2)
    descriptors["excerpt_seconds"] = round(excerpt.seconds, 2)
    descriptors["decoder"] = excerpt.decoder
    log.debug("analysed %s in %.2f s", display(path), time.perf_counter() - start)
    return Analysis(descriptors, vector)


def warm_up() -> None:
    """Run the analysis once per process on a short synthetic signal: librosa's first call
    loads lazily and compiles its numba functions or loads them from their cache (about a
    second); a worker pays that before its first track. One process at a time
    (:func:`one_at_a_time`): two workers warming up together on a first run once wrote
    numba's cache in librosa's ``__pycache__`` at the same moment, and every later analysis,
    in every process, died of a segmentation fault."""
    global _warm
    if _warm:
        return
    with one_at_a_time("librosa-numba-cache"):
        rng = np.random.default_rng(0)
        _descriptors((0.1 * rng.standard_normal(SAMPLE_RATE * 4)).astype(np.float32), SAMPLE_RATE)
    _warm = True
