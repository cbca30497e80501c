"""Decoding a bounded excerpt of an audio file: mono float32 at a fixed rate, from the middle.

The one seam for audio decoders, tried in turn:

1. soundfile (libsndfile: WAV, AIFF, FLAC, Ogg Vorbis, Opus, MP3) seeks to the middle and
   reads only the excerpt;
2. where it cannot (M4A/AAC/ALAC, WMA, WavPack, a file it rejects), the ffmpeg command-line
   tool when it is installed: it seeks too and reads every container the scanner accepts;
3. otherwise QtMultimedia's QAudioDecoder, which PySide6 ships with its own FFmpeg, so every
   install can decode those formats: slower (it cannot seek, so it decodes from the start
   to the end of the excerpt), but no extra dependency.

PyAV would do 2 in-process, but is another ~30 MB wheel for the few files soundfile cannot
read. Errors become :class:`DecodeError`, which carries the path and every decoder's reason.
"""

from __future__ import annotations

import logging
import math
import os
import shutil
import subprocess
from dataclasses import dataclass

import numpy as np
import soundfile
import soxr

from player_plugin.domain.errors import SegueError
from player_plugin.domain.paths import PathLike, to_bytes
from player_plugin.qt_app import ensure_qt_app

log = logging.getLogger(__name__)

SAMPLE_RATE = 22_050
EXCERPT_SECONDS = 30.0
MIN_SECONDS = 0.5
FFMPEG_TIMEOUT_S = 120
QT_TIMEOUT_S = 30  # it decodes hundreds of times faster than real time, or it is stuck

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


def _probe_duration(path: bytes) -> float | None:
    ffprobe = shutil.which("ffprobe")
    if ffprobe is None:
        return None
    try:
        out = subprocess.run(
            [
                *(ffprobe, "-v", "error", "-show_entries", "format=duration"),
                *("-of", "csv=p=0", b"file:" + path),
            ],
            capture_output=True,
            timeout=FFMPEG_TIMEOUT_S,
            check=False,
        )
        return float(out.stdout.strip() or "nan")
    except (OSError, ValueError, subprocess.TimeoutExpired):
        return None


def _ffmpeg(path: bytes, seconds: float, sample_rate: int, duration_s: float | None):
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        raise DecodeError(path, "not installed")
    if duration_s is None:
        duration_s = _probe_duration(path)
    start_s, length_s = _window(duration_s, seconds)

    def run(start_s: float):
        command = [ffmpeg, "-nostdin", "-hide_banner", "-loglevel", "error"]
        if start_s:
            command += ["-ss", f"{start_s:.3f}"]
        command += ["-i", b"file:" + path, "-t", f"{length_s:.3f}", "-map", "0:a:0", "-vn"]
        command += ["-ac", "1", "-ar", str(sample_rate), "-f", "f32le", "pipe:1"]
        try:
            return subprocess.run(command, capture_output=True, timeout=FFMPEG_TIMEOUT_S)
        except subprocess.TimeoutExpired as exc:
            raise DecodeError(path, f"timed out after {FFMPEG_TIMEOUT_S} s") from exc
        except OSError as exc:
            raise DecodeError(path, str(exc)) from exc

    done = run(start_s)
    if done.returncode == 0 and not done.stdout and start_s:
        start_s = 0.0  # truncated: the middle the header promised is not there
        done = run(start_s)
    if done.returncode != 0 or not done.stdout:
        lines = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise DecodeError(path, lines[-1] if lines else "no audio")
    usable = len(done.stdout) // 4 * 4
    samples = np.frombuffer(done.stdout[:usable], dtype="<f4")
    return _finish(samples, sample_rate, sample_rate), start_s, duration_s


def _qt_samples(buffer, sample_format) -> np.ndarray:
    """A QAudioBuffer's samples as mono float32."""
    fmt = buffer.format()
    raw = bytes(buffer.constData())
    kinds = {
        sample_format.Float: ("<f4", 1.0),
        sample_format.Int16: ("<i2", 32768.0),
        sample_format.Int32: ("<i4", 2147483648.0),
    }
    if fmt.sampleFormat() in kinds:
        dtype, scale = kinds[fmt.sampleFormat()]
        data = np.frombuffer(raw, dtype=dtype).astype(np.float32) / scale
    else:  # UInt8
        data = (np.frombuffer(raw, dtype=np.uint8).astype(np.float32) - 128.0) / 128.0
    channels = max(1, fmt.channelCount())
    if channels > 1:
        data = data[: len(data) // channels * channels].reshape(-1, channels).mean(axis=1)
    return data


def _qt(path: bytes, seconds: float, sample_rate: int, duration_s: float | None):
    """QtMultimedia's QAudioDecoder (PySide6 ships its own FFmpeg): always at hand, but it
    cannot seek, so it decodes from the start up to the end of the excerpt."""
    try:
        from PySide6.QtCore import QEventLoop, QTimer, QUrl
        from PySide6.QtMultimedia import QAudioDecoder, QAudioFormat
    except ImportError as exc:
        raise DecodeError(path, f"QtMultimedia is not available ({exc})") from exc
    ensure_qt_app()
    start_s, length_s = _window(duration_s, seconds)
    # Without a known length, decode up to 20 minutes and take the middle of that.
    stop_s = start_s + length_s if duration_s else 20 * 60.0
    decoder = QAudioDecoder()
    fmt = QAudioFormat()
    fmt.setSampleRate(sample_rate)
    fmt.setChannelCount(1)
    fmt.setSampleFormat(QAudioFormat.SampleFormat.Float)
    decoder.setAudioFormat(fmt)
    chunks: list[np.ndarray] = []
    state = {"first_s": None, "decoded_s": 0.0, "done": False, "error": None}
    loop = QEventLoop()

    def finish(error: str | None = None) -> None:
        state["done"] = True
        state["error"] = state["error"] or error
        loop.quit()

    def ready() -> None:
        while decoder.bufferAvailable():
            buffer = decoder.read()
            if not buffer.isValid():
                continue
            data = _qt_samples(buffer, QAudioFormat.SampleFormat)
            t0 = buffer.startTime() / 1e6
            end_s = t0 + len(data) / sample_rate
            if end_s >= start_s - 1.0:
                if state["first_s"] is None:
                    state["first_s"] = t0
                chunks.append(data)
            state["decoded_s"] = end_s
            if end_s >= stop_s and not state["done"]:
                decoder.stop()
                finish()

    decoder.bufferReady.connect(ready)
    decoder.finished.connect(finish)
    decoder.error.connect(lambda *_: finish(decoder.errorString() or "cannot decode"))
    QTimer.singleShot(QT_TIMEOUT_S * 1000, lambda: finish(f"timed out after {QT_TIMEOUT_S} s"))
    decoder.setSource(QUrl.fromLocalFile(os.fsdecode(path)))
    decoder.start()
    if decoder.error() != QAudioDecoder.Error.NoError:
        finish(decoder.errorString() or "cannot decode")
    if not state["done"]:
        loop.exec()
    decoder.stop()
    if state["error"] and not chunks:
        raise DecodeError(path, state["error"])
    samples = np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.float32)
    if duration_s:
        skip = max(0, int((start_s - (state["first_s"] or 0.0)) * sample_rate))
        samples = samples[skip : skip + int(length_s * sample_rate)]
    else:
        duration_s = state["decoded_s"]
        start_s, length_s = _window(duration_s, seconds)
        first = int(start_s * sample_rate)
        samples = samples[first : first + int(length_s * sample_rate)]
    return _finish(samples, sample_rate, sample_rate), start_s, duration_s


_DECODERS = {"soundfile": _soundfile, "ffmpeg": _ffmpeg, "qt": _qt}


def available_decoders() -> list[str]:
    """The decoders this machine can use, in the order they are tried."""
    return ["soundfile"] + (["ffmpeg"] if shutil.which("ffmpeg") else []) + ["qt"]


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
    holds less than half a second of audio.
    """
    raw = to_bytes(path)
    if not os.path.isfile(raw):
        raise DecodeError(raw, "no such file")
    reasons = []
    for name in available_decoders():
        try:
            samples, start_s, total_s = _DECODERS[name](raw, seconds, sample_rate, duration_s)
        except DecodeError as exc:
            reasons.append(f"{name}: {exc.reason}")
            continue
        except (soundfile.LibsndfileError, RuntimeError, ValueError, OSError, EOFError) as exc:
            reasons.append(f"{name}: {str(exc).strip() or type(exc).__name__}")
            continue
        if len(samples) < MIN_SECONDS * sample_rate:
            reasons.append(f"{name}: only {len(samples) / sample_rate:.2f} s of audio")
            continue
        return Excerpt(samples, sample_rate, start_s, total_s, name)
    raise DecodeError(raw, "; ".join(reasons))


def try_read_excerpt(path: PathLike, **kwargs) -> Excerpt | DecodeError:
    """:func:`read_excerpt` that returns the error instead of raising it."""
    try:
        return read_excerpt(path, **kwargs)
    except DecodeError as exc:
        log.info("cannot decode %s", exc)
        return exc
