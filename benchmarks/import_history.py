"""Benchmark history import: speed, and matching precision/recall on perturbed tags.

The 42.7k-play Last.fm export (``../shared/data/lastfm-2007-2019/scrobbles.csv``) is
imported into a temporary store holding a 20,000-track library, built directly as rows:

- the listener's 5,000 most-played songs (by normalised artist + title), about 40% of them
  with perturbed tags (case, accents, remaster/version suffixes, "feat." credits,
  punctuation, "The", one-letter typos, another album, spacing);
- 15,000 others: decoys that must *not* take those plays (the same title by another
  artist, for top songs and for songs the listener played but the library lacks; the same
  artist's "(Acoustic)"/"(Demo)"/"Part 2" versions), another listener's songs from the
  Spotify export, and invented names to fill up.

Ground truth: a play should match when its normalised key is one of the 5,000 songs'
original keys; a match is right when the track's *original* key is the play's key (the
same song on another album counts as right), wrong otherwise. Targets: recall ≥ 95%,
wrong ≤ 1% of matched plays, import < 30 s.

Run: ``.venv/bin/python benchmarks/import_history.py``; writes
``benchmarks/results/import_history.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import sys
import tempfile
import time
import unicodedata
from collections import Counter, defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from player_plugin.domain.normalize import match_key  # noqa: E402
from player_plugin.library.history.importer import import_files  # noqa: E402
from player_plugin.library.history.readers import HistoryPlay, read_history  # noqa: E402
from player_plugin.store import open_db  # noqa: E402

DATA = ROOT.parent / "shared" / "data"
LASTFM = DATA / "lastfm-2007-2019" / "scrobbles.csv"
SPOTIFY = DATA / "spotify-extended-2023-2026"
RESULTS = HERE / "results" / "import_history.json"

LIBRARY_SIZE = 20_000
TOP = 5_000
PERTURBED_SHARE = 0.4
SEED = 20261129

_WORD_TEXT = (
    "blue night river glass summer echo paper heart light city fire velvet ghost golden "
    "silver morning ocean dream wild electric northern quiet hollow broken lonely neon "
    "satellite winter garden mirror thunder honey stone crystal shadow rain desert"
)
WORDS = _WORD_TEXT.split()


# -- perturbations: what real tags look like next to a service's spelling ---------------


def _strip_accents(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text)
    return "".join(c for c in folded if not unicodedata.combining(c))


def _add_accent(text: str, rng: random.Random) -> str:
    spots = [i for i, c in enumerate(text) if c in "aeiou"]
    if not spots:
        return text
    i = rng.choice(spots)
    return text[:i] + {"a": "á", "e": "é", "i": "í", "o": "ö", "u": "ü"}[text[i]] + text[i + 1 :]


def _typo(text: str, rng: random.Random) -> str:
    letters = [i for i, c in enumerate(text) if c.isalpha()]
    if len(text) < 8 or len(letters) < 4:
        return text
    i = rng.choice(letters[1:-1])
    kind = rng.choice(("drop", "double", "swap"))
    if kind == "drop":
        return text[:i] + text[i + 1 :]
    if kind == "double":
        return text[:i] + text[i] + text[i:]
    return text[: i - 1] + text[i] + text[i - 1] + text[i + 1 :]


def perturb(artist: str, title: str, album: str | None, rng: random.Random):
    """One realistic change (sometimes two) to a track's tags; returns the tags and names."""
    kinds = [
        ("case", 14),
        ("accents", 10),
        ("remaster", 16),
        ("feat", 12),
        ("punctuation", 10),
        ("the", 8),
        ("album", 10),
        ("spacing", 6),
        ("title_typo", 8),
        ("artist_typo", 6),
    ]
    names, weights = zip(*kinds, strict=True)
    chosen = {rng.choices(names, weights)[0]}
    if rng.random() < 0.25:
        chosen.add(rng.choices(names, weights)[0])
    order = ("title_typo", "artist_typo", *(n for n in names if not n.endswith("typo")))
    for kind in [k for k in order if k in chosen]:  # typos in the name, not in a suffix
        if kind == "case":
            title = title.upper() if rng.random() < 0.5 else title.lower()
            artist = artist.lower() if rng.random() < 0.5 else artist
        elif kind == "accents":
            stripped = _strip_accents(artist + title)
            if stripped != artist + title:
                artist, title = _strip_accents(artist), _strip_accents(title)
            else:
                artist = _add_accent(artist, rng)
        elif kind == "remaster":
            title += rng.choice(
                (
                    " - Remastered 2011",
                    " (2009 Remaster)",
                    " - 2015 Remaster",
                    " - Single Version",
                    " - Remastered",
                    " [Remastered]",
                    " - Radio Edit",
                )
            )
        elif kind == "feat":
            guest = " ".join(rng.sample(WORDS, 2)).title()
            if rng.random() < 0.6:
                title += f" (feat. {guest})"
            else:
                artist += rng.choice((" feat. ", " ft. ", " featuring ")) + guest
        elif kind == "punctuation":
            for old, new in (("'", ""), (",", ""), (".", ""), ("&", "and"), (" and ", " & ")):
                title = title.replace(old, new)
                artist = artist.replace(old, new)
        elif kind == "the":
            if artist.lower().startswith("the "):
                artist = artist[4:] if rng.random() < 0.5 else f"{artist[4:]}, The"
            else:
                artist = "The " + artist
        elif kind == "album":
            album = rng.choice(("Greatest Hits", "The Best Of", None, "Live in Berlin"))
        elif kind == "spacing":
            title = "  " + title.replace(" ", "  ", 1) + " "
        elif kind == "title_typo":
            title = _typo(title, rng)
        elif kind == "artist_typo":
            artist = _typo(artist, rng)
    return artist, title, album, sorted(chosen)


# -- the library ---------------------------------------------------------------------------


def build_library(plays: list[HistoryPlay], rng: random.Random):
    """Track rows (dicts) and, per track id, its original key and perturbations."""
    counts: Counter[str] = Counter()
    spellings: dict[str, Counter] = defaultdict(Counter)
    for play in plays:
        key = match_key(play.artist, play.title)
        counts[key] += 1
        spellings[key][(play.artist, play.title, play.album)] += 1
    top = [key for key, _ in counts.most_common(TOP)]
    played_not_in_library = [key for key in counts if key not in set(top)]
    artists = sorted({play.artist for play in plays})

    rows: list[dict] = []
    truth: dict[int, str] = {}  # track id -> original key
    perturbations: dict[int, list[str]] = {}

    def add(artist, title, album, key, kinds=()):
        track_id = len(rows) + 1
        path = f"/music/{track_id:05d}.flac".encode()
        rows.append(
            {
                "id": track_id,
                "path": path,
                "path_text": path.decode(),
                "title": title,
                "artist": artist,
                "album": album,
                "duration_ms": rng.randint(150_000, 360_000),
                "match_key": match_key(artist, title),
                "missing": 0,
                "first_seen": 0,
                "last_scanned": 0,
            }
        )
        truth[track_id] = key
        if kinds:
            perturbations[track_id] = list(kinds)

    for key in top:
        artist, title, album = spellings[key].most_common(1)[0][0]
        kinds: list[str] = []
        if rng.random() < PERTURBED_SHARE:
            artist, title, album, kinds = perturb(artist, title, album, rng)
        add(artist, title, album, key, kinds)

    def other_artist(not_this: str) -> str:
        while True:
            candidate = rng.choice(artists)
            if match_key(candidate, "x") != match_key(not_this, "x"):
                return candidate

    # decoys: the same title by another artist (for top songs and for unheld ones)
    for key in rng.sample(top, 2_000):
        artist, title, album = spellings[key].most_common(1)[0][0]
        decoy = other_artist(artist)
        add(decoy, title, album, match_key(decoy, title))
    for key in rng.sample(played_not_in_library, min(2_000, len(played_not_in_library))):
        artist, title, album = spellings[key].most_common(1)[0][0]
        decoy = other_artist(artist)
        add(decoy, title, album, match_key(decoy, title))
    # the same artist's other versions: must not take the original's plays
    for key in rng.sample(top, 600):
        artist, title, album = spellings[key].most_common(1)[0][0]
        version = title + rng.choice((" (Acoustic)", " (Demo)", " Part 2", " (Reprise)"))
        add(artist, version, album, match_key(artist, version))
    # another listener's songs (skipping any this listener played)
    known = set(counts)
    if SPOTIFY.is_dir():
        seen: set[str] = set()
        for play in read_history(sorted(SPOTIFY.glob("*.json"))):
            if not isinstance(play, HistoryPlay):
                continue
            key = match_key(play.artist, play.title)
            if key in known or key in seen:
                continue
            seen.add(key)
            add(play.artist, play.title, play.album, key)
            if len(rows) >= LIBRARY_SIZE:
                break
    # invented names to fill up
    while len(rows) < LIBRARY_SIZE:
        artist = " ".join(rng.sample(WORDS, 2)).title()
        title = " ".join(rng.sample(WORDS, rng.randint(1, 4))).title()
        key = match_key(artist, title)
        if key not in known:
            add(artist, title, "Invented", key)
    return rows, truth, perturbations, set(top)


def evaluate(db, truth, perturbations, top: set[str]) -> dict:
    """Recall and wrong matches from the imported plays."""
    should = right = wrong = false_positive = matched = 0
    by_kind_total: Counter[str] = Counter()
    by_kind_right: Counter[str] = Counter()
    wrong_examples: list[str] = []
    track_of_key: dict[str, int] = {}
    for track_id, key in truth.items():
        if key in top and key not in track_of_key:
            track_of_key[key] = track_id
    rows = db.execute("SELECT artist, title, track_id FROM plays").fetchall()
    for artist, title, track_id in rows:
        key = match_key(artist, title)
        expected = key in top
        good = track_id is not None and truth[track_id] == key
        if expected:
            should += 1
            for kind in perturbations.get(track_of_key[key], ["none"]):
                by_kind_total[kind] += 1
                by_kind_right[kind] += good
        if track_id is None:
            continue
        matched += 1
        if good:
            right += 1
            continue
        wrong += 1
        false_positive += not expected
        if len(wrong_examples) < 15:
            wrong_examples.append(f"{artist} – {title}  →  {truth[track_id]!r}")
    return {
        "plays": len(rows),
        "should_match": should,
        "matched": matched,
        "right": right,
        "wrong": wrong,
        "wrong_where_none_should_match": false_positive,
        "recall": round(right / should, 4) if should else None,
        "wrong_share_of_matched": round(wrong / matched, 4) if matched else None,
        "recall_by_perturbation": {
            kind: round(by_kind_right[kind] / total, 4)
            for kind, total in sorted(by_kind_total.items())
        },
        "plays_by_perturbation": dict(sorted(by_kind_total.items())),
        "wrong_examples": wrong_examples,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-save", action="store_true", help="print, do not write results")
    args = parser.parse_args()
    if not LASTFM.is_file():
        print(f"needs {LASTFM}", file=sys.stderr)
        return 1
    rng = random.Random(SEED)
    plays = [p for p in read_history(LASTFM) if isinstance(p, HistoryPlay)]
    started = time.perf_counter()
    rows, truth, perturbations, top = build_library(plays, rng)
    build_seconds = time.perf_counter() - started
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        db = open_db(Path(tmp) / "bench.db")
        with db.atomic():
            db["tracks"].insert_all(rows, batch_size=2_000)
        started = time.perf_counter()
        report = import_files(db, [LASTFM])
        import_seconds = time.perf_counter() - started
        started = time.perf_counter()
        again = import_files(db, [LASTFM])
        reimport_seconds = time.perf_counter() - started
        quality = evaluate(db, truth, perturbations, top)
        db.close()
    result = {
        "library_tracks": len(rows),
        "top_tracks": len(top),
        "perturbed_tracks": len(perturbations),
        "library_build_seconds": round(build_seconds, 2),
        "import": {
            k: v for k, v in report.as_json().items() if k not in ("files", "malformed_rows")
        },
        "import_seconds": round(import_seconds, 2),
        "reimport_seconds": round(reimport_seconds, 2),
        "reimport_added": again.added,
        "quality": quality,
        "targets": {"import_seconds": 30, "recall": 0.95, "wrong_share_of_matched": 0.01},
        "meets_targets": import_seconds < 30
        and (quality["recall"] or 0) >= 0.95
        and (quality["wrong_share_of_matched"] or 0) <= 0.01,
        "cpus": os.cpu_count(),
        "load_average_before": load_before,
        "python": platform.python_version(),
        "seed": SEED,
    }
    print(json.dumps(result, indent=2, ensure_ascii=False))
    if not args.no_save:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
