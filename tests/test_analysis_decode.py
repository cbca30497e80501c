"""Decoding the excerpt: every format, from the middle, and clear errors for bad files."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from player_plugin.library.decode import (
    SAMPLE_RATE,
    DecodeError,
    Excerpt,
    available_decoders,
    read_excerpt,
    try_read_excerpt,
)

FFMPEG = shutil.which("ffmpeg")
SOUNDFILE = {"wav": ("WAV", "PCM_16"), "flac": ("FLAC", "PCM_16"), "ogg": ("OGG", "VORBIS")}
SOUNDFILE["mp3"] = ("MP3", "MPEG_LAYER_III")
FFMPEG_CODECS = {"m4a": ["-c:a", "aac", "-f", "ipod"], "wma": ["-c:a", "wmav2"]}
FFMPEG_CODECS["wv"] = ["-c:a", "wavpack"]
needs_ffmpeg = pytest.mark.skipif(FFMPEG is None, reason="Debian's ffmpeg is not installed")


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
        pcm = (data * 32767).astype("<i2").tobytes()
        subprocess.run(
            [
                *(FFMPEG, "-v", "error", "-y", "-f", "s16le", "-ar", str(rate), "-ac", "2"),
                *("-i", "-", *FFMPEG_CODECS[fmt], str(path)),
            ],
            input=pcm,
            check=True,
        )
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
        pytest.param("m4a", "ffmpeg", marks=needs_ffmpeg),
        pytest.param("wma", "ffmpeg", marks=needs_ffmpeg),
        pytest.param("wv", "ffmpeg", marks=needs_ffmpeg),
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


@needs_ffmpeg
def test_ffmpeg_uses_the_duration_from_tags_when_given(tmp_path):
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


def test_garbage_is_a_decode_error_with_every_decoders_reason(tmp_path):
    path = tmp_path / "noise.mp3"
    path.write_bytes(np.random.default_rng(0).bytes(20_000))
    with pytest.raises(DecodeError) as caught:
        read_excerpt(path)
    assert caught.value.path == os.fsencode(path)
    for name in available_decoders():
        assert f"{name}:" in caught.value.reason


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


@pytest.mark.parametrize("fmt", ["m4a", "wma"])
@pytest.mark.parametrize("duration_s", [None, 6.0])
def test_without_ffmpeg_qt_decodes_the_middle(tmp_path, monkeypatch, fmt, duration_s):
    if FFMPEG is None:
        pytest.skip("cannot make the file without ffmpeg")
    path = write(tmp_path / "three", fmt, three_parts())
    monkeypatch.setenv("PATH", str(tmp_path))  # no ffmpeg on PATH, as on a bare machine
    assert available_decoders() == ["soundfile", "qt"]
    excerpt = read_excerpt(path, seconds=2.0, duration_s=duration_s)
    assert excerpt.decoder == "qt" and excerpt.sample_rate == SAMPLE_RATE
    assert excerpt.seconds == pytest.approx(2.0, abs=0.1)
    assert excerpt.start_s == pytest.approx(2.0, abs=0.1)
    assert dominant_hz(excerpt) == pytest.approx(1200, abs=15)


def test_qt_reports_a_file_it_cannot_read(tmp_path, monkeypatch):
    path = tmp_path / "broken.m4a"
    path.write_bytes(b"\x00\x00\x00\x18ftypM4A " + bytes(500))
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(DecodeError) as caught:
        read_excerpt(path)
    assert "soundfile:" in caught.value.reason and "qt:" in caught.value.reason
