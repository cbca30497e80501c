"""Decoding a bounded excerpt of an audio file: mono float32 at a fixed rate, from the middle.

The one seam for audio decoders, tried in turn, both in-process:

1. soundfile (libsndfile: WAV, AIFF, FLAC, Ogg Vorbis, Opus, MP3) seeks to the middle and
   reads only the excerpt;
2. where it cannot (M4A/AAC/ALAC, WMA, APE, Musepack, WavPack, a file it rejects), PyAV,
   whose wheels bundle FFmpeg's libraries: it seeks to the excerpt too (to the nearest
   packet before it, then drops what comes before the start).

No subprocess, no system ffmpeg, no Qt. A file neither can read fails at once with one
:class:`DecodeError` carrying the path and the reason (the last decoder's, in plain words).
"""

from __future__ import annotations

import logging
import math
import os
import time
from dataclasses import dataclass

import av
import numpy as np
import soundfile
import soxr

from player_plugin.domain.errors import SegueError
from player_plugin.domain.paths import PathLike, to_bytes

log = logging.getLogger(__name__)

SAMPLE_RATE = 22_050
EXCERPT_SECONDS = 30.0
MIN_SECONDS = 0.5
DECODE_TIMEOUT_S = 60.0  # an excerpt decodes in well under a second, or the file is pathological
# Extensions libsndfile never reads: go straight to PyAV (soundfile would only say so).
_NOT_SNDFILE = frozenset(
    {b".m4a", b".m4b", b".mp4", b".alac", b".aac", b".wma", b".asf", b".ape", b".mpc", b".wv"}
)
_INT_SCALE = {"u8": 128.0, "s16": 32768.0, "s32": 2147483648.0, "s64": 9.223372036854776e18}

__all__ = [
    "EXCERPT_SECONDS",
    "SAMPLE_RATE",
    "DecodeError",
    "Excerpt",
    "available_decoders",
    "read_excerpt",
    "try_read_excerpt",
]


class DecodeError(SegueError):
    """The file's audio cannot be decoded; ``reason`` says why, for people."""

    path: bytes

    def __init__(self, path: PathLike, reason: str) -> None:
        super().__init__(reason, to_bytes(path))


@dataclass(frozen=True)
class Excerpt:
    """Mono float32 samples at ``sample_rate``, taken from ``start_s`` into the file."""

    samples: np.ndarray
    sample_rate: int
    start_s: float
    duration_s: float | None  # of the whole file, when known
    decoder: str

    @property
    def seconds(self) -> float:
        return len(self.samples) / self.sample_rate


def _window(duration_s: float | None, seconds: float) -> tuple[float, float]:
    """Start and length of the excerpt: *seconds* centred in the file (all of a short one)."""
    if duration_s is None or not math.isfinite(duration_s) or duration_s <= seconds:
        return 0.0, seconds
    return (duration_s - seconds) / 2, seconds


def _finish(samples: np.ndarray, rate: int, sample_rate: int) -> np.ndarray:
    if samples.ndim == 2:
        samples = samples.mean(axis=1)
    samples = np.ascontiguousarray(samples, dtype=np.float32)
    if rate != sample_rate and len(samples):
        samples = soxr.resample(samples, rate, sample_rate, quality="HQ").astype(np.float32)
    return np.nan_to_num(samples, nan=0.0, posinf=0.0, neginf=0.0)


def _soundfile(path: bytes, seconds: float, sample_rate: int, duration_s: float | None):
    if os.path.splitext(path)[1].lower() in _NOT_SNDFILE:
        raise DecodeError(path, "not a libsndfile format")
    with soundfile.SoundFile(os.fsdecode(path)) as f:
        rate = f.samplerate
        frames = f.frames if 0 < f.frames < 2**62 else None
        total_s = frames / rate if frames else duration_s
        start_s, length_s = _window(total_s, seconds)
        start = int(start_s * rate)
        if start and f.seekable():
            f.seek(start)
        elif start:
            f.read(start, dtype="float32")  # not seekable: decode up to the excerpt
        samples = f.read(int(length_s * rate), dtype="float32", always_2d=True)
        if len(samples) < MIN_SECONDS * rate and start and f.seekable():
            # A truncated file whose header promised more: analyse what is there.
            f.seek(0)
            samples = f.read(int(length_s * rate), dtype="float32", always_2d=True)
            start_s = 0.0
    return _finish(samples, rate, sample_rate), start_s, total_s


def _frame_mono(frame: av.AudioFrame) -> np.ndarray:
    """One decoded frame as mono float32 at its own rate (channels averaged)."""
    data = frame.to_ndarray()
    name = frame.format.name.rstrip("p")
    if name in _INT_SCALE:
        offset = 128.0 if name == "u8" else 0.0
        data = (data.astype(np.float32) - offset) / _INT_SCALE[name]
    channels = max(1, len(frame.layout.channels))
    if frame.format.is_planar:
        return data.mean(axis=0, dtype=np.float32)
    flat = data.reshape(-1)
    return flat[: len(flat) // channels * channels].reshape(-1, channels).mean(axis=1)


def _pyav_read(container, stream, start_s: float, length_s: float) -> tuple[np.ndarray, int]:
    """*length_s* seconds of *stream* from *start_s*, seeking when it can; (samples, rate)."""
    if start_s > 0:
        container.seek(int(start_s / stream.time_base), stream=stream, backward=True)
    chunks: list[np.ndarray] = []
    rate = stream.codec_context.sample_rate or 0
    have = 0
    position: float | None = None  # seconds at the end of the last frame
    deadline = time.monotonic() + DECODE_TIMEOUT_S
    for frame in container.decode(stream):
        rate = frame.sample_rate or rate
        mono = _frame_mono(frame)
        begin = float(frame.time) if frame.time is not None else (position or 0.0)
        position = begin + len(mono) / rate
        if position <= start_s:
            continue
        if begin < start_s:
            mono = mono[int((start_s - begin) * rate) :]
        chunks.append(mono)
        have += len(mono)
        if have >= length_s * rate:
            break
        if time.monotonic() > deadline:
            raise DecodeError(b"", f"decoding took longer than {DECODE_TIMEOUT_S:.0f} s")
    samples = np.concatenate(chunks) if chunks else np.zeros(0, np.float32)
    return samples[: int(length_s * rate)], rate


_AV_REASONS = {
    av.error.InvalidDataError: "not an audio file Segue can read, or damaged",
    av.error.EOFError: "ends before any audio",
}


def _pyav(path: bytes, seconds: float, sample_rate: int, duration_s: float | None):
    try:
        with (
            open(path, "rb") as handle,
            av.open(handle, mode="r", metadata_errors="ignore") as container,
        ):
            stream = next((s for s in container.streams if s.type == "audio"), None)
            if stream is None:
                raise DecodeError(path, "no audio stream")
            total_s = duration_s
            if total_s is None and container.duration:
                total_s = container.duration / av.time_base
            start_s, length_s = _window(total_s, seconds)
            samples, rate = _pyav_read(container, stream, start_s, length_s)
            if len(samples) < MIN_SECONDS * rate and start_s:
                # A truncated file whose header promised more: analyse what is there.
                start_s = 0.0
                container.seek(0, stream=stream)
                samples, rate = _pyav_read(container, stream, 0.0, length_s)
    except av.error.FFmpegError as exc:
        reason = next((r for k, r in _AV_REASONS.items() if isinstance(exc, k)), None)
        raise DecodeError(path, reason or exc.strerror or str(exc)) from exc
    except DecodeError as exc:
        raise DecodeError(path, exc.reason) from exc
    if not rate:
        raise DecodeError(path, "no audio")
    return _finish(samples, rate, sample_rate), start_s, total_s


_DECODERS = {"soundfile": _soundfile, "pyav": _pyav}


def available_decoders() -> list[str]:
    """The decoders this machine can use, in the order they are tried."""
    return list(_DECODERS)


def decoder_versions() -> dict[str, str]:
    """Each decoder with the library behind it and its version (for `segue doctor`)."""
    ffmpeg = av.library_versions.get("libavcodec", (0, 0, 0))
    return {
        "soundfile": f"libsndfile {soundfile.__libsndfile_version__}",
        "pyav": f"PyAV {av.__version__} (libavcodec {'.'.join(map(str, ffmpeg))})",
    }


def read_excerpt(
    path: PathLike,
    *,
    seconds: float = EXCERPT_SECONDS,
    sample_rate: int = SAMPLE_RATE,
    duration_s: float | None = None,
) -> Excerpt:
    """Up to *seconds* of mono audio from the middle of *path*, at *sample_rate*.

    *duration_s* (the file's length, from its tags) lets a decoder that cannot tell the
    length seek anyway. Raises :class:`DecodeError` when no decoder can read the file or it
    holds less than half a second of audio; its reason is the last decoder's (each one's is
    logged at debug level).
    """
    raw = to_bytes(path)
    if not os.path.isfile(raw):
        raise DecodeError(raw, "no such file")
    reason = "no decoder"
    for name, decoder in _DECODERS.items():
        try:
            samples, start_s, total_s = decoder(raw, seconds, sample_rate, duration_s)
        except DecodeError as exc:
            reason = exc.reason
        except (soundfile.LibsndfileError, RuntimeError, ValueError, OSError, EOFError) as exc:
            reason = str(exc).strip() or type(exc).__name__
        else:
            if len(samples) >= MIN_SECONDS * sample_rate:
                return Excerpt(samples, sample_rate, start_s, total_s, name)
            reason = f"only {len(samples) / sample_rate:.2f} s of audio"
        log.debug("%s cannot decode %r: %s", name, raw, reason)
    raise DecodeError(raw, reason)


def try_read_excerpt(path: PathLike, **kwargs) -> Excerpt | DecodeError:
    """:func:`read_excerpt` that returns the error instead of raising it."""
    try:
        return read_excerpt(path, **kwargs)
    except DecodeError as exc:
        log.info("cannot decode %s", exc)
        return exc
