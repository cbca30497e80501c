"""`segue evaluate` end to end on small synthetic histories written by the tests."""

from __future__ import annotations

import csv
import random
from datetime import UTC, datetime
from pathlib import Path

import pytest

from player_plugin.domain.play import Play
from player_plugin.recommend.evaluate import SEED, split_index
from player_plugin.recommend.metrics import METRICS

T0 = 1_500_000_000  # unix seconds
ARTISTS = ["Aurora Lane", "Basalt", "Cinder & Co", "Delta Moss", "Echo Park"]


def album_sessions(seed: int, sessions: int = 70, listener_artists=ARTISTS) -> list[tuple]:
    """(unix time, artist, album, title): albums played in order, one a session, with a
    new album now and then — a history where sequence methods must win."""
    rng = random.Random(seed)
    rows = []
    t = T0
    albums = {a: 1 for a in listener_artists}
    for s in range(sessions):
        artist = rng.choice(listener_artists)
        if s % 9 == 8:
            albums[artist] += 1
        album = f"{artist} Vol {albums[artist]}"
        for n in range(6):
            rows.append((t, artist, album, f"{album} Track {n + 1}"))
            t += 240
        t += 6 * 3600
    return rows


def write_lastfm_csv(path: Path, rows: list[tuple]) -> Path:
    """The layout of a Last.fm scrobble export: newest first."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["", "artist", "album", "track", "timestamp", "datetime"])
        for number, (t, artist, album, title) in enumerate(sorted(rows, reverse=True)):
            stamp = datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d %H:%M:%S")
            writer.writerow([number, artist, album, title, t, stamp])
    return path


def write_lastfm_1k(path: Path, listeners: dict[str, list[tuple]]) -> Path:
    lines = ["user\ttimestamp\tartist_id\tartist\tartist_id\tsong"]
    for user, rows in listeners.items():
        for t, artist, _album, title in rows:
            stamp = datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            lines.append(f"{user}\t{stamp}\t\t{artist}\t\t{title}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def history(tmp_path: Path) -> Path:
    return write_lastfm_csv(tmp_path / "scrobbles.csv", album_sessions(1))


def test_evaluate_json_shape_and_figures(segue, history, tmp_path):
    report = tmp_path / "report"
    result = segue(
        "evaluate",
        "--plays",
        history,
        "--format",
        "lastfm-csv",
        "--json",
        "--no-model",
        "--bootstrap",
        "100",
        "--report",
        report,
    )
    assert result.status == 0, result.err
    data = result.json
    assert data["listeners"] == 1
    assert data["plays"] == 70 * 6
    assert 0 < data["test_plays"] <= data["plays"] * 0.2 + 1
    methods = data["methods"]
    for name in (
        "most-played",
        "recent",
        "markov",
        "item-knn",
        "session-knn",
        "content",
        "random-unplayed",
        "unplayed-same-artist",
        "session-knn-reranked",
    ):
        assert name in methods, name
        for subset in ("all", "new"):
            m = methods[name][subset]
            for metric in METRICS:
                assert metric in m and f"{metric}_ci" in m
    assert "model" not in methods
    # Albums are played in order: what followed a track before wins, by a wide margin.
    markov, rand = methods["markov"]["all"], methods["random-unplayed"]["all"]
    assert markov["ndcg@10"] > 0.3 > rand["ndcg@10"]
    assert markov["ndcg@10_ci"][0] <= markov["ndcg@10"] <= markov["ndcg@10_ci"][1]
    # New albums: only methods that look at unplayed tracks find their first tracks.
    assert methods["unplayed-same-artist"]["new"]["hr@50"] > methods["markov"]["new"]["hr@50"]
    # The re-ranked row replays recent tracks about as often as this listener does (the
    # same album again in the next session), not more: a slot or so of ten.
    rows = sorted(album_sessions(1))
    titles = [title for *_, title in rows]
    share = sum(t in titles[max(0, k - 10) : k] for k, t in enumerate(titles)) / len(titles)
    replayed = methods["session-knn-reranked"]["all"]["repeat_rate"]
    assert 0 < replayed <= (round(10 * share) + 1) / 10
    assert data["comparisons"] and {"a", "b", "difference_ci"} <= set(data["comparisons"][0])
    (listener,) = data["per_listener"]
    assert listener["catalogue"] >= 5 * 6
    assert set(listener["methods"]) == set(methods)
    text = (report / "report.md").read_text()
    assert "| markov |" in text and "ndcg@10" in text
    from PySide6.QtGui import QImage

    image = QImage(str(report / "report.png"))
    assert not image.isNull() and image.width() > 100


def test_evaluate_text_output(segue, history):
    result = segue(
        "evaluate",
        "--plays",
        history,
        "--no-model",
        "--bootstrap",
        "50",
        "--methods",
        "markov,recent",
    )
    assert result.status == 0, result.err
    assert "markov" in result.out and "NDCG@10" in result.out
    assert "session-knn" not in result.out


def test_listeners_are_evaluated_apart_and_capped(segue, tmp_path):
    path = write_lastfm_1k(
        tmp_path / "1k.tsv",
        {"user_a": album_sessions(2, 30), "user_b": album_sessions(3, 30, ARTISTS[:2])},
    )
    both = segue(
        "evaluate",
        "--plays",
        path,
        "--format",
        "lastfm-1k",
        "--json",
        "--no-model",
        "--bootstrap",
        "50",
        "--methods",
        "markov,most-played",
    )
    assert both.status == 0, both.err
    assert both.json["listeners"] == 2
    assert [p["listener"] for p in both.json["per_listener"]] == ["user_a", "user_b"]
    assert both.json["per_listener"][1]["catalogue"] < both.json["per_listener"][0]["catalogue"]
    one = segue(
        "evaluate",
        "--plays",
        path,
        "--format",
        "lastfm-1k",
        "--json",
        "--no-model",
        "--bootstrap",
        "50",
        "--methods",
        "markov",
        "--max-listeners",
        "1",
    )
    assert one.json["listeners"] == 1


def test_distractors_join_the_catalogue_but_are_never_targets(segue, history, tmp_path):
    other = write_lastfm_csv(
        tmp_path / "other.csv",
        [(t, f"Other {a}", alb, f"Other {title}") for t, a, alb, title in album_sessions(9, 20)],
    )
    plain = segue(
        "evaluate",
        "--plays",
        history,
        "--json",
        "--no-model",
        "--bootstrap",
        "50",
        "--methods",
        "random-unplayed",
    )
    mixed = segue(
        "evaluate",
        "--plays",
        history,
        "--json",
        "--no-model",
        "--bootstrap",
        "50",
        "--methods",
        "random-unplayed",
        "--distractors",
        other,
    )
    assert mixed.status == 0, mixed.err
    a, b = plain.json["per_listener"][0], mixed.json["per_listener"][0]
    assert b["catalogue"] > a["catalogue"]
    assert b["never_played"] == b["catalogue"] - a["catalogue"] + a["never_played"]
    assert b["test_plays"] == a["test_plays"]
    assert mixed.json["protocol"]["distractor_plays"] > 0


def test_bad_input_is_one_line(segue, tmp_path):
    missing = segue("evaluate", "--plays", tmp_path / "nope.csv")
    assert missing.status != 0 and missing.err.count("\n") == 1 and "no such file" in missing.err
    folder = segue("evaluate", "--plays", tmp_path)  # it exists: not "no such file"
    assert (
        folder.status != 0
        and folder.err.strip()
        == f"segue: {tmp_path}: not a file (name the history files themselves)"
    )
    junk = tmp_path / "junk.txt"
    junk.write_text("this is not a listening history\n")
    bad = segue("evaluate", "--plays", junk)
    assert bad.status != 0 and bad.err.count("\n") == 1 and "Traceback" not in bad.err
    tiny = write_lastfm_csv(tmp_path / "tiny.csv", album_sessions(4, 1))
    few = segue("evaluate", "--plays", tiny, "--no-model")
    assert few.status != 0 and "enough" in few.err


def test_split_never_cuts_one_timestamp():
    plays = [Play(0, t) for t in (1, 2, 3, 4, 5, 6, 7, 8, 8, 8)]
    assert split_index(plays) == 7
    assert split_index([Play(0, t) for t in range(10)]) == 8


def test_smoke_on_the_shared_format_sample(segue, shared_data):
    sample = shared_data / "format-samples" / "lastfm1k_head.tsv"
    result = segue(
        "evaluate",
        "--plays",
        sample,
        "--format",
        "lastfm-1k",
        "--json",
        "--no-model",
        "--bootstrap",
        "20",
        "--max-listeners",
        "1",
    )
    assert result.status == 0, result.err
    assert result.json["listeners"] == 1 and result.json["test_plays"] > 0


def write_spotify_extended(path: Path, rows: list[tuple], skip_every: int = 5) -> Path:
    """Spotify's Extended Streaming History layout (``ts`` is when the play ended)."""
    import json

    entries = []
    for number, (t, artist, album, title) in enumerate(rows):
        skipped = number % skip_every == 0
        played = 12_000 if skipped else 200_000
        end = datetime.fromtimestamp(t + played / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        entries.append(
            {
                "ts": end,
                "platform": "linux",
                "ms_played": played,
                "master_metadata_track_name": title,
                "master_metadata_album_artist_name": artist,
                "master_metadata_album_album_name": album,
                "spotify_track_uri": f"spotify:track:{abs(hash(title)) % 10**8}",
                "episode_name": None,
                "reason_start": "fwdbtn",
                "reason_end": "fwdbtn" if skipped else "trackdone",
                "shuffle": False,
                "skipped": skipped,
            }
        )
    path.write_text(json.dumps(entries), encoding="utf-8")
    return path


def test_the_model_is_trained_on_the_first_80_percent_and_scored(segue, tmp_path):
    pytest.importorskip("player_plugin.recommend.model_eval")
    path = write_spotify_extended(tmp_path / "Streaming_History_Audio_2024.json", album_sessions(5))
    result = segue(
        "evaluate",
        *("--plays", path, "--json", "--bootstrap", "50"),
        *("--methods", "markov,unplayed-same-artist", "--seeds", "2", "--dial"),
    )
    assert result.status == 0, result.err
    methods = result.json["methods"]
    # The history has skips: the skip-blind model is reported beside the model.
    assert {"model", "model-skip-blind", "model-reranked", "markov"} <= set(methods)
    assert methods["model"]["all"]["hr@50"] > 0.2
    compared = {(c["a"], c["b"], c["subset"], c["metric"]) for c in result.json["comparisons"]}
    assert ("model", "markov", "all", "ndcg@10") in compared
    # Two seeds of each variant; the -seeds rows average each target over both.
    assert result.json["protocol"]["seeds"] == [42, 43]
    for variant in ("model", "model-skip-blind"):
        one, other = methods[variant]["all"], methods[f"{variant}@seed43"]["all"]
        both = methods[f"{variant}-seeds"]["all"]
        for metric in ("ndcg@10", "hr@10", "mrr"):
            assert both[metric] == pytest.approx((one[metric] + other[metric]) / 2, abs=2e-5)
    assert ("model-seeds", "model-skip-blind-seeds", "all", "ndcg@10") in compared
    assert ("model-seeds", "markov", "new", "ndcg@10") in compared
    # What the listener hears is averaged over the seeds too: the re-ranked list at the
    # default dial and at its discover end, which meets the obvious on first plays.
    for row in ("reranked", "reranked@dial1.00"):
        one, other = methods[f"model-{row}"]["new"], methods[f"model@seed43-{row}"]["new"]
        both = methods[f"model-seeds-{row}"]["new"]
        assert both["ndcg@10"] == pytest.approx((one["ndcg@10"] + other["ndcg@10"]) / 2, abs=2e-5)
    assert "model-skip-blind-seeds-reranked" not in methods  # the served variant only
    assert "model-seeds" in result.json["reranked_kept"]
    assert ("model-seeds-reranked@dial1.00", "unplayed-same-artist", "new", "ndcg@10") in compared


def test_the_first_seed_is_the_trainers_default():
    """The ``model`` row trains without --seed (what the player serves) yet is reported as
    seed SEED: the two must not drift apart."""
    config = pytest.importorskip("training.model").Config
    assert config().seed == SEED


def test_seeds_must_be_positive(segue, history):
    result = segue("evaluate", "--plays", history, "--seeds", "0", "--no-model")
    assert result.status != 0
    assert "--seeds must be at least 1" in result.err


def test_evaluate_dial_measures_the_curve_and_the_listeners_own_variety(segue, history):
    result = segue(
        "evaluate", "--plays", history, "--format", "lastfm-csv", "--json", "--no-model",
        "--methods", "session-knn,markov", "--bootstrap", "50", "--dial",
    )  # fmt: skip
    assert result.status == 0, result.err
    data = result.json
    curve = data["dial"]["session-knn"]
    assert [p["dial"] for p in curve] == [0.0, 0.25, 0.5, 0.75, 1.0]
    middle = data["methods"]["session-knn-reranked"]["all"]
    assert curve[2]["ndcg@10"] == middle["ndcg@10"]  # the middle is the default row
    shares = [p["new_share"] for p in curve]
    assert shares[0] == 0.0 < shares[-1]  # familiar: no first plays; discover: some
    assert shares == sorted(shares)  # more first plays along the dial
    for dial in (0.0, 0.25, 0.75, 1.0):
        assert f"session-knn-reranked@dial{dial:.2f}" in data["methods"]
    own = data["listener_variety"]
    low, high = own["artist_diversity_range"]
    assert 0 < low <= own["artist_diversity"] <= high <= 1
    assert 0 <= own["repeat_rate_range"][0] <= own["repeat_rate"] <= own["repeat_rate_range"][1]
    kept = data["reranked_kept"]["session-knn"]["all"]
    raw = data["methods"]["session-knn"]["all"]["ndcg@10"]
    assert kept == pytest.approx(middle["ndcg@10"] / raw, abs=1e-3)
    assert data["best_baseline"]["all"] in ("session-knn", "markov")  # never a dial row
    plain = segue(
        "evaluate", "--plays", history, "--format", "lastfm-csv", "--no-model",
        "--methods", "session-knn", "--bootstrap", "20", "--dial",
    )  # fmt: skip
    assert "familiar ↔ discover dial" in plain.out and "listener's own" in plain.out
