"""Matching history plays to library tracks: MusicBrainz id, then normalised artist + title,
then fuzzy matching with album and duration as tie-breakers.

Precision matters as much as recall: a play is only matched fuzzily to a track of the same
(or a near-identical) artist whose title is near-identical, never across numbers ("Part 1"
vs "Part 2") or across an added word ("Intro" vs "Intro Reprise"), and never when both
sides know a duration and they disagree. Two songs with one title by different artists
never merge; the same song on two albums by one artist may (album decides between them).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import sqlite_utils
from rapidfuzz import fuzz, process

from player_plugin.domain.normalize import clean_artist, clean_title, fold
from player_plugin.library.history.records import HistoryPlay
from player_plugin.store.imports import set_play_matches, tracks_for_matching, unmatched_plays

ARTIST_CUTOFF = 88.0  # rapidfuzz ratio, 0-100
TITLE_CUTOFF = 88.0
PAIR_CUTOFF = 186.0  # artist + title: at most one of them may be at its cutoff
DURATION_SLACK_MS = 15_000

METHODS = ("path", "mbid", "exact", "fuzzy")

_NUMBERISH = re.compile(r"^(?:\d+|[ivxl]+)$")


@dataclass(frozen=True, slots=True)
class Match:
    """Which track a play is, and how that was decided (``plays.match_method``)."""

    track_id: int
    method: str  # path / mbid / exact / fuzzy


@dataclass(slots=True)
class _Track:
    id: int
    artist: str  # clean_artist
    title: str  # clean_title
    album: str  # folded
    duration: int | None
    missing: bool


def _squash(text: str) -> str:
    return text.replace(" ", "")


def compatible_titles(a: str, b: str) -> bool:
    """Whether two near-identical clean titles may be one song: not when they differ by
    a number or roman numeral, or when one adds whole words to the other."""
    if a == b:
        return True
    ta, tb = set(a.split()), set(b.split())
    if ta < tb or tb < ta:
        return False
    return not any(_NUMBERISH.match(token) for token in ta ^ tb)


class Matcher:
    """Matches plays against every track in the store (loaded once; cheap to reuse)."""

    def __init__(self, db: sqlite_utils.Database | None = None, *, rows: Sequence | None = None):
        if rows is None:
            if db is None:
                raise TypeError("Matcher needs a database or the rows")
            rows = tracks_for_matching(db)
        self.tracks: list[_Track] = []
        self.by_mbid: dict[str, list[int]] = defaultdict(list)
        self.by_path: dict[bytes, int] = {}
        self.by_key: dict[tuple[str, str], list[int]] = defaultdict(list)
        self.by_artist: dict[str, list[int]] = defaultdict(list)
        self.by_title: dict[str, list[int]] = defaultdict(list)
        for track_id, artist, title, album, duration, mbid, missing, *rest in rows:
            index = len(self.tracks)
            track = _Track(
                int(track_id),
                clean_artist(artist),
                clean_title(title),
                fold(album),
                int(duration) if duration else None,
                bool(missing),
            )
            self.tracks.append(track)
            if mbid:
                self.by_mbid[mbid.strip().lower()].append(index)
            if rest and rest[0] is not None:
                self.by_path[bytes(rest[0])] = index
            if track.title:
                self.by_key[(track.artist, track.title)].append(index)
                self.by_artist[track.artist].append(index)
                self.by_title[track.title].append(index)
        self.artist_names = list(self.by_artist)
        self.artist_squashed = [_squash(a) for a in self.artist_names]
        self.by_first_word: dict[str, list[str]] = defaultdict(list)
        for name in self.artist_names:
            if name:
                self.by_first_word[name.split()[0]].append(name)
        self._cache: dict[tuple, Match | None] = {}
        self._artist_cache: dict[str, list[tuple[str, float, bool]]] = {}

    def __len__(self) -> int:
        return len(self.tracks)

    def match_play(self, play: HistoryPlay) -> Match | None:
        """The track a history play is, if any."""
        return self.match(
            play.artist,
            play.title,
            play.album,
            duration_ms=play.duration_ms,
            mbid=play.mbid,
            path=getattr(play, "path", None),
        )

    def match(
        self,
        artist: str | None,
        title: str | None,
        album: str | None = None,
        *,
        duration_ms: int | None = None,
        mbid: str | None = None,
        path: bytes | None = None,
    ) -> Match | None:
        """The track these tags name: by file path (Segue's own export), MusicBrainz
        recording id, exact normalised artist + title, then fuzzily; None if none fits."""
        key = (artist, title, album, duration_ms, mbid, path)
        if key not in self._cache:
            self._cache[key] = self._match(artist, title, album, duration_ms, mbid, path)
        return self._cache[key]

    def _match(self, artist, title, album, duration, mbid, path) -> Match | None:
        if not self.tracks:
            return None
        if path is not None and path in self.by_path:
            return Match(self.tracks[self.by_path[path]].id, "path")
        if mbid:
            found = self.by_mbid.get(mbid.strip().lower())
            if found:
                return Match(self._choose(found, fold(album), duration), "mbid")
        ca, ct = clean_artist(artist), clean_title(title)
        if not ct:
            return None
        album_key = fold(album)
        exact = self.by_key.get((ca, ct))
        if exact:
            return Match(self._choose(exact, album_key, duration), "exact")
        fuzzy = self._fuzzy(ca, ct, album_key, duration)
        return Match(fuzzy, "fuzzy") if fuzzy is not None else None

    def _choose(self, candidates: Sequence[int], album: str, duration: int | None) -> int:
        """Among tracks that are all this song: the same album first, then the nearest
        duration, then a present file, then the oldest track."""

        def rank(index: int) -> tuple:
            track = self.tracks[index]
            gap = abs(track.duration - duration) if duration and track.duration else 10**9
            return (not (album and track.album == album), gap, track.missing, track.id)

        return self.tracks[min(candidates, key=rank)].id

    def _artists_like(self, ca: str) -> list[tuple[str, float, bool]]:
        """Library artists near *ca*: ``(name, score, collaboration)``; a collaboration is
        an artist that starts with the other ("Daft Punk" / "Daft Punk and Pharrell")."""
        cached = self._artist_cache.get(ca)
        if cached is not None:
            return cached
        found: dict[str, tuple[float, bool]] = {}
        if ca:
            for name, score, _ in process.extract(
                ca, self.artist_names, scorer=fuzz.ratio, score_cutoff=ARTIST_CUTOFF, limit=5
            ):
                found[name] = (score, False)
            squashed = _squash(ca)
            for _, score, index in process.extract(
                squashed,
                self.artist_squashed,
                scorer=fuzz.ratio,
                score_cutoff=ARTIST_CUTOFF,
                limit=5,
            ):
                name = self.artist_names[index]
                if score > found.get(name, (0.0, False))[0]:
                    found[name] = (score, False)
            for name in self.by_first_word.get(ca.split()[0], ()):
                if name not in found and (name.startswith(ca + " ") or ca.startswith(name + " ")):
                    found[name] = (ARTIST_CUTOFF, True)
        result = [(name, score, collab) for name, (score, collab) in found.items()]
        self._artist_cache[ca] = result
        return result

    def _fuzzy(self, ca: str, ct: str, album: str, duration: int | None) -> int | None:
        best: list[int] = []
        best_score = 0.0
        squashed = _squash(ct)
        for name, artist_score, collab in self._artists_like(ca):
            for index in self.by_artist[name]:
                track = self.tracks[index]
                if collab:
                    title_score = 100.0 if track.title == ct else 0.0
                else:
                    title_score = max(
                        fuzz.ratio(ct, track.title), fuzz.ratio(squashed, _squash(track.title))
                    )
                if title_score < TITLE_CUTOFF or artist_score + title_score < PAIR_CUTOFF:
                    continue
                if not compatible_titles(ct, track.title) and title_score < 100:
                    continue
                if (
                    duration
                    and track.duration
                    and abs(duration - track.duration) > max(DURATION_SLACK_MS, duration // 10)
                ):
                    continue
                score = artist_score + title_score
                if score > best_score:
                    best, best_score = [index], score
                elif score == best_score:
                    best.append(index)
        if not best:
            return None
        return self._choose(best, album, duration)


def rematch_unmatched(db: sqlite_utils.Database, matcher: Matcher | None = None) -> int:
    """Match again every play that matched no track (call after every scan); returns how
    many plays found their track. The unmatched plays are read inside the write
    transaction, so plays an import commits meanwhile are not passed over."""
    if not unmatched_plays_exist(db):
        return 0
    matcher = matcher or Matcher(db)
    if not len(matcher):
        return 0
    with db.atomic():
        matches = []
        for play_id, artist, title, album, mbid, duration in unmatched_plays(db):
            found = matcher.match(artist, title, album, duration_ms=duration, mbid=mbid)
            if found is not None:
                matches.append((found.track_id, found.method, play_id))
        return set_play_matches(db, matches)


def unmatched_plays_exist(db: sqlite_utils.Database) -> bool:
    return (
        db.execute(
            "SELECT 1 FROM plays WHERE track_id IS NULL AND title IS NOT NULL LIMIT 1"
        ).fetchone()
        is not None
    )
