"""Decoding the excerpt: every format, from the middle, and clear errors for bad files."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from audio_fixtures import PYAV_CODECS, encode_pyav

from player_plugin.library.decode import (
    SAMPLE_RATE,
    DecodeError,
    Excerpt,
    available_decoders,
    read_excerpt,
    try_read_excerpt,
)

SOUNDFILE = {"wav": ("WAV", "PCM_16"), "flac": ("FLAC", "PCM_16"), "ogg": ("OGG", "VORBIS")}
SOUNDFILE["mp3"] = ("MP3", "MPEG_LAYER_III")


def three_parts(seconds: float = 2.0, rate: int = 44100) -> np.ndarray:
    """Stereo: 300 Hz, then 1200 Hz, then 300 Hz, *seconds* each."""
    t = np.arange(int(seconds * rate)) / rate
    low, high = np.sin(2 * np.pi * 300 * t), np.sin(2 * np.pi * 1200 * t)
    mono = 0.3 * np.concatenate([low, high, low])
    return np.repeat(mono[:, None], 2, axis=1).astype(np.float32)


def write(path: Path, fmt: str, data: np.ndarray, rate: int = 44100) -> Path:
    path = path.with_suffix("." + fmt)
    if fmt in SOUNDFILE:
        container, subtype = SOUNDFILE[fmt]
        with sf.SoundFile(str(path), "w", rate, data.shape[1], subtype, format=container) as f:
            for start in range(0, len(data), 8192):
                f.write(data[start : start + 8192])
    else:
        path = path.with_suffix(".m4a" if fmt == "alac" else "." + fmt)
        encode_pyav(path, fmt, data, rate)
    return path


def dominant_hz(excerpt: Excerpt) -> float:
    spectrum = np.abs(np.fft.rfft(excerpt.samples * np.hanning(len(excerpt.samples))))
    return float(np.argmax(spectrum) * excerpt.sample_rate / len(excerpt.samples))


@pytest.mark.parametrize(
    ("fmt", "decoder"),
    [
        ("wav", "soundfile"),
        ("flac", "soundfile"),
        ("ogg", "soundfile"),
        ("mp3", "soundfile"),
        *((fmt, "pyav") for fmt in PYAV_CODECS),
    ],
)
def test_reads_the_middle_as_mono_at_22khz(tmp_path, fmt, decoder):
    path = write(tmp_path / "three", fmt, three_parts())
    excerpt = read_excerpt(path, seconds=2.0)
    assert excerpt.decoder == decoder
    assert excerpt.sample_rate == SAMPLE_RATE and excerpt.samples.ndim == 1
    assert excerpt.samples.dtype == np.float32
    assert excerpt.seconds == pytest.approx(2.0, abs=0.1)
    assert excerpt.start_s == pytest.approx(2.0, abs=0.1)
    assert dominant_hz(excerpt) == pytest.approx(1200, abs=15)


def test_pyav_uses_the_duration_from_tags_when_given(tmp_path):
    path = write(tmp_path / "three", "m4a", three_parts())
    excerpt = read_excerpt(path, seconds=2.0, duration_s=6.0)
    assert excerpt.duration_s == 6.0 and dominant_hz(excerpt) == pytest.approx(1200, abs=15)


def test_short_file_is_read_whole(tmp_path):
    path = write(tmp_path / "short", "flac", three_parts(seconds=0.5))
    excerpt = read_excerpt(path, seconds=30.0)
    assert excerpt.start_s == 0.0 and excerpt.seconds == pytest.approx(1.5, abs=0.01)


def test_non_utf8_file_name(tmp_path):
    path = write(tmp_path / "tone", "flac", three_parts(seconds=0.5))
    odd = os.fsencode(tmp_path) + b"/caf\xe9 \xff.flac"
    os.rename(path, odd)
    assert read_excerpt(odd, seconds=1.0).seconds == pytest.approx(1.0, abs=0.01)


@pytest.mark.parametrize("name", ["noise.mp3", "noise.m4a", "noise.wma", "noise.bin"])
def test_garbage_fails_fast_with_one_clear_reason(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(np.random.default_rng(0).bytes(200_000))
    start = time.perf_counter()
    with pytest.raises(DecodeError) as caught:
        read_excerpt(path)
    assert time.perf_counter() - start < 1.0
    assert caught.value.path == os.fsencode(path)
    reason = caught.value.reason
    assert reason and "\n" not in reason and ";" not in reason
    assert not any(f"{name}:" in reason for name in available_decoders())


@pytest.mark.parametrize("fmt", ["flac", "ogg", "mp3"])
def test_truncated_files_decode_partly_or_fail_clearly(tmp_path, fmt):
    path = write(tmp_path / "cut", fmt, three_parts())
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 3])
    result = try_read_excerpt(path, seconds=2.0)
    assert isinstance(result, Excerpt | DecodeError)
    if isinstance(result, Excerpt):
        assert np.all(np.isfinite(result.samples)) and result.seconds > 0.4


def test_missing_and_too_short_files(tmp_path):
    with pytest.raises(DecodeError, match="no such file"):
        read_excerpt(tmp_path / "absent.flac")
    path = write(tmp_path / "blip", "wav", three_parts(seconds=0.05))
    with pytest.raises(DecodeError, match=r"only 0\.15 s"):
        read_excerpt(path)


@pytest.mark.parametrize("duration_s", [None, 6.0])
def test_pyav_reads_the_middle_without_ffmpeg_or_qt(tmp_path, duration_s):
    """A bare machine: no ffmpeg on PATH, and decoding never loads Qt or starts a process."""
    path = write(tmp_path / "three", "m4a", three_parts())
    code = (
        "import subprocess, sys\n"
        "def no_process(*a, **k): raise AssertionError('a subprocess was started')\n"
        "subprocess.Popen = no_process\n"
        "from player_plugin.library.decode import read_excerpt\n"
        f"e = read_excerpt({str(path)!r}, seconds=2.0, duration_s={duration_s!r})\n"
        "assert not any(m.startswith('PySide6') for m in sys.modules), 'Qt was imported'\n"
        "print(e.decoder, e.start_s, e.seconds)\n"
    )
    env = {**os.environ, "PATH": str(tmp_path)}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    decoder, start_s, seconds = done.stdout.split()
    assert decoder == "pyav"
    assert float(start_s) == pytest.approx(2.0, abs=0.1)
    assert float(seconds) == pytest.approx(2.0, abs=0.1)


def test_pyav_seeks_instead_of_decoding_from_the_start(tmp_path):
    """An excerpt from the middle of a long file costs about what one from a short file does."""
    rate = 44100
    # ALAC: quick to encode, and a five-minute file takes over a second to decode whole.
    short = write(tmp_path / "short", "alac", three_parts(seconds=4.0, rate=rate))
    long = write(tmp_path / "long", "alac", three_parts(seconds=100.0, rate=rate))

    def best_of_three(path: Path) -> float:
        times = []
        for _ in range(3):
            start = time.perf_counter()
            excerpt = read_excerpt(path, seconds=4.0)
            times.append(time.perf_counter() - start)
        assert excerpt.decoder == "pyav" and dominant_hz(excerpt) == pytest.approx(1200, abs=15)
        return min(times)

    assert best_of_three(long) < 3 * best_of_three(short) + 0.05
