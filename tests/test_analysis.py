"""Audio descriptors on synthesised signals with known answers: tempo, key, loudness, brightness."""

from __future__ import annotations

import math

import numpy as np
import pytest

from player_plugin.library.analysis import analyse_signal, estimate_key, to_vector
from player_plugin.store.features import PITCH_CLASSES, VECTOR_FIELDS, VECTOR_SIZE

SR = 22_050


def click_track(bpm: float, seconds: float = 12.0, noise: float = 0.01) -> np.ndarray:
    """A 1 kHz blip every beat, over faint noise."""
    n = int(seconds * SR)
    t = np.arange(int(0.03 * SR)) / SR
    blip = np.sin(2 * np.pi * 1000 * t) * np.exp(-t * 150)
    y = noise * np.random.default_rng(int(bpm)).standard_normal(n)
    for k in range(int(seconds * bpm / 60) + 1):
        start = round(k * 60 / bpm * SR)
        if start + len(blip) <= n:
            y[start : start + len(blip)] += 0.5 * blip
    return y.astype(np.float32)


def midi_hz(note: int) -> float:
    return 440.0 * 2 ** ((note - 69) / 12)


def harmonic(freqs: list[float], seconds: float) -> np.ndarray:
    """Notes with four harmonics, short fades at both ends."""
    t = np.arange(int(seconds * SR)) / SR
    y = sum(np.sin(2 * np.pi * f * h * t) / h for f in freqs for h in range(1, 5))
    return y * np.minimum(1, t / 0.02) * np.minimum(1, (seconds - t) / 0.05)


def progression(tonic: int, mode: str, chord_s: float = 1.0, repeats: int = 2) -> np.ndarray:
    """I-IV-V-I (major) or i-iv-V-i (harmonic minor) around middle C, with the root in the
    bass: the chords a listener would hear as being in that key."""
    third = 4 if mode == "major" else 3
    chords = [(0, third, 7), (5, 5 + third, 12), (7, 11, 14), (0, third, 7)]
    root = 60 + tonic
    parts = [
        harmonic([midi_hz(root + i) for i in chord] + [midi_hz(root + chord[0] - 12)], chord_s)
        for _ in range(repeats)
        for chord in chords
    ]
    y = np.concatenate(parts)
    return (0.2 * y / np.abs(y).max()).astype(np.float32)


@pytest.mark.parametrize("bpm", [70, 92, 120, 144, 180])
def test_click_track_tempo_within_two_percent(bpm):
    found = analyse_signal(click_track(bpm))["tempo_bpm"]
    # An octave error (half or double) is a failure, not a near miss.
    assert found == pytest.approx(bpm, rel=0.02)


def test_clicks_have_a_stronger_beat_than_noise():
    clicks = analyse_signal(click_track(120))
    noise = analyse_signal(np.random.default_rng(1).standard_normal(12 * SR).astype(np.float32))
    assert clicks["beat_strength"] > 0.5 > noise["beat_strength"]


@pytest.mark.parametrize(
    ("tonic", "mode"),
    [(0, "major"), (7, "major"), (3, "major"), (9, "minor"), (4, "minor"), (6, "minor")],
)
def test_chord_progression_key_and_mode_exact(tonic, mode):
    found = analyse_signal(progression(tonic, mode))
    assert found["key"] == f"{PITCH_CLASSES[tonic]} {mode}"
    assert (found["key_tonic"], found["mode"]) == (tonic, mode)
    assert found["key_strength"] > 0.6


def test_relative_keys_are_told_apart():
    """C major and A minor share their notes; the progression decides."""
    assert analyse_signal(progression(0, "major"))["key"] == "C major"
    assert analyse_signal(progression(9, "minor"))["key"] == "A minor"


def test_estimate_key_on_the_profiles_themselves_and_flat_chroma():
    from player_plugin.library.analysis import MAJOR_PROFILE, MINOR_PROFILE

    assert estimate_key(np.roll(MAJOR_PROFILE, 2))[:2] == (2, "major")
    assert estimate_key(np.roll(MINOR_PROFILE, 11))[:2] == (11, "minor")
    assert estimate_key(np.ones(12)) is None


def test_six_decibels_quieter_is_six_lu_quieter():
    y = progression(0, "major", repeats=1) + click_track(100, seconds=4.0)
    loud = analyse_signal(y)
    quiet = analyse_signal(y * 10 ** (-6 / 20))
    assert loud["loudness_lufs"] - quiet["loudness_lufs"] == pytest.approx(6.0, abs=0.5)
    assert loud["energy"] / quiet["energy"] == pytest.approx(10 ** (6 / 20), rel=0.05)


def test_noise_is_brighter_than_a_pure_tone():
    t = np.arange(4 * SR) / SR
    tone = analyse_signal((0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32))
    noise = analyse_signal(
        (0.3 * np.random.default_rng(2).standard_normal(4 * SR)).astype(np.float32)
    )
    assert noise["brightness"] > 4 * tone["brightness"]
    assert noise["rolloff_hz"] > tone["rolloff_hz"]
    assert noise["flatness"] > 10 * tone["flatness"]
    assert tone["brightness"] == pytest.approx(440, rel=0.1)


def test_a_steady_signal_has_little_dynamic_range_and_a_changing_one_more():
    steady = click_track(120, seconds=12.0)
    swell = steady * np.repeat([1.0, 0.1, 1.0, 0.1], len(steady) // 4 + 1)[: len(steady)]
    assert analyse_signal(steady)["dynamic_range_db"] < 3
    assert analyse_signal(swell.astype(np.float32))["dynamic_range_db"] > 15


@pytest.mark.parametrize("level", [0.0, 1e-5])
def test_silence_and_hiss_have_no_beat_and_no_key(level):
    y = level * np.random.default_rng(3).standard_normal(3 * SR) + click_track(120, 3.0) * level
    found = analyse_signal(y.astype(np.float32))
    assert found["loudness_lufs"] == -70.0
    assert found["tempo_bpm"] is None and found["key"] is None and found["beat_strength"] == 0
    vector = to_vector(found)
    assert vector.shape == (VECTOR_SIZE,) and np.all(np.isfinite(vector))


def test_vector_follows_the_documented_layout():
    found = analyse_signal(progression(9, "minor"))
    vector = to_vector(found)
    assert vector.dtype == np.float32 and vector.shape == (len(VECTOR_FIELDS),)
    at = {name: vector[i] for i, name in enumerate(VECTOR_FIELDS)}
    assert at["tempo"] == pytest.approx(math.log2(found["tempo_bpm"] / 120), abs=1e-4)
    assert at["loudness"] == pytest.approx((found["loudness_lufs"] + 20) / 10, abs=1e-4)
    assert at["chroma_A"] == pytest.approx(found["chroma"][9], abs=1e-4)
    assert at["mfcc3_std"] == pytest.approx(found["mfcc_std"][3] / 50, abs=1e-4)
    assert at["key_major"] == 0.0
    # A minor sits at its relative major, C: angle 0 on the circle of fifths.
    assert at["key_cos"] == pytest.approx(found["key_strength"], abs=1e-4)
    assert at["key_sin"] == pytest.approx(0.0, abs=1e-4)
