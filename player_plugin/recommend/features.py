"""Feature encoding shared by the trainer and the serving engine (no train/serve skew).

Three things are encoded here (the first in :mod:`.item_inputs`, re-exported), and only here:

- **item inputs** for the item tower (:func:`encode_items`): vocabulary indices of the
  track, artist, album and genre (0 = not in the training vocabulary), year and duration
  buckets, and the audio descriptor vector with a mask;
- **history features** per item (:class:`HistoryState`): cheap counts the repeat-aware
  scorer combines with the two-tower score — play counts, decayed counts, recency, skips,
  session membership, artist/album affinity, first-order Markov and window co-occurrence
  counts from the last plays, whether the track was ever played, and where a first play
  is likely now (unplayed tracks of the last artist or album, while the session explores);
- **session inputs** for the session tower (:meth:`HistoryState.session_inputs`): the last
  plays' items with how each ended and the gap before it, and the time-of-day context.

Columns are addressed by name: :data:`ITEM_FEATURES` and :data:`CONTEXT_FEATURES` are the
one list of them, their indices (:data:`ITEM_COLUMN`, :data:`CONTEXT_COLUMN`) are derived
from it, and the model's manifest records the names. How a play ended is an
:class:`~player_plugin.domain.listen.Outcome`; the session tower reads it as a
:class:`HistoryCode` (:data:`HISTORY_CODES`).

Any change to what these compute bumps :data:`FEATURE_SCHEMA_VERSION`; a model whose
manifest names another version, or other columns, is refused by the engine.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import IntEnum
from types import MappingProxyType
from typing import Any

import numpy as np

from player_plugin.domain.catalogue import Catalogue
from player_plugin.domain.listen import Outcome
from player_plugin.domain.play import SESSION_GAP_MS, Play, PlayLog
from player_plugin.recommend.cold_split import ColdSplit, growth
from player_plugin.recommend.history_plays import HistoryPlays

# the item tower's inputs live in their own module; the trainer and the engine read them here
from player_plugin.recommend.item_inputs import (  # noqa: F401 (re-exported)
    AUDIO_DIM,
    DURATION_EDGES_MS,
    N_DURATIONS,
    N_YEARS,
    VOCAB_KEYS,
    Vocab,
    album_key,
    artist_key,
    build_vocab,
    encode_items,
    genre_key,
)
from player_plugin.recommend.replay_rows import replay_tables
from player_plugin.recommend.sparse_rows import SparseRows

FEATURE_SCHEMA_VERSION = 2

SEQ_LEN = 20  # plays the session tower reads


class HistoryCode(IntEnum):
    """How a play ended, as the session tower reads it (``hist_outcome``); 0 is padding.
    Stopped and failed plays share a code."""

    PADDING = 0
    LISTENED = 1
    SKIPPED = 2
    BROWSING = 3
    ENDED = 4  # stopped or failed


HISTORY_CODES: Mapping[Outcome, HistoryCode] = MappingProxyType(
    {
        Outcome.LISTENED: HistoryCode.LISTENED,
        Outcome.SKIPPED: HistoryCode.SKIPPED,
        Outcome.BROWSING: HistoryCode.BROWSING,
        Outcome.STOPPED: HistoryCode.ENDED,
        Outcome.ERROR: HistoryCode.ENDED,
    }
)
# the manifest records them: code k is named HISTORY_CODE_NAMES[k]
HISTORY_CODE_NAMES = tuple(code.name.lower() for code in sorted(HistoryCode))
# A skip-blind model sees every play as PLAYED: it knows a play happened, never how it ended.
PLAYED = HistoryCode.LISTENED
SKIP_CODES = (HistoryCode.SKIPPED, HistoryCode.BROWSING)  # what counts as a skip
N_OUTCOMES = len(HistoryCode)

# Gap before a play (ms since the previous play started): bucket 1..len+1, 0 = padding.
GAP_EDGES_MS = np.array(
    [30e3, 120e3, 300e3, 900e3, 1800e3, 7200e3, 28800e3, 86400e3, 259200e3, 1209600e3]
)
N_GAPS = len(GAP_EDGES_MS) + 2

HOUR_MS = 3_600_000.0
DAY_MS = 24 * HOUR_MS

ITEM_FEATURES: tuple[str, ...] = (
    "log_count",  # log1p(plays, however they ended)
    "log_skips",  # log1p(skips)
    "unplayed",  # never appeared in the history at all
    "rec_1h",  # exp(-time since last play / 1 h); 0 if never
    "rec_1d",
    "rec_30d",
    "log_dec_1d",  # log1p(listens decayed with a 1-day time constant)
    "log_dec_30d",
    "plays_ago",  # 1 / (1 + plays since its last listen); 0 if never
    "session_count",  # log1p(listens in the current session)
    "skip_rec_1d",  # exp(-time since last skip / 1 day)
    "session_skips",  # log1p(skips in the current session)
    "same_artist_last",  # same artist as the last play
    "artist_log_count",
    "artist_log_dec_30d",
    "artist_rec_1d",
    "artist_session",  # log1p(listens of its artist in the current session)
    "same_album_last",
    "album_log_count",
    "markov_log",  # log1p(times it followed the session's last track)
    "markov_prob",  # ... divided by how often anything followed that track
    "window_log",  # log1p(decayed co-occurrence within 5 plays of the session's last plays)
    "artist_markov_log",  # log1p(times its artist followed the last artist)
    "unplayed_artist_pool",  # unplayed / log2(2 + unplayed tracks by its artist)
    "unknown_artist",
    "artist_log_skips",
    "last_item",  # the very last play
    "log_listens",  # log1p(plays that were listens)
    "sknn_log",  # log1p(session co-occurrence with the session's last 3 tracks, decayed)
    "sknn_rel",  # ... divided by the largest such value
    # exploring: where the listener's next first play is likely to be
    "new_same_artist",  # unplayed, by the last play's artist, / log2(2 + its unplayed pool)
    "new_same_album",  # unplayed, on the last play's album, / log2(2 + its unplayed pool)
    "new_session_artist",  # unplayed, by an artist of this session: log1p(its session plays)
    "album_session",  # log1p(plays of its album in the current session)
    "new_artist_run",  # new_same_artist x share of the session's plays that were first plays
    "new_album_run",  # new_same_album x the last play was a first play
    # skips, beyond the item's own
    "artist_skip_ratio",  # skips / plays of its artist
    "artist_session_skips",  # log1p(skips of its artist in the current session)
)
N_ITEM_FEATURES = len(ITEM_FEATURES)

CONTEXT_FEATURES: tuple[str, ...] = (
    "hour_sin",
    "hour_cos",
    "weekday_sin",
    "weekday_cos",
    "session_len",  # log1p(plays in the current session) / 3
    "session_new_frac",  # share of the session's plays that were first plays
    "last_new",  # the last play was a first play
    "session_skip_frac",
    "last_skipped",
)
N_CONTEXT = len(CONTEXT_FEATURES)


def column_index(names: Sequence[str]) -> Mapping[str, int]:
    """Name → column, in the order of *names* (which must be distinct)."""
    index = {name: i for i, name in enumerate(names)}
    if len(index) != len(names):
        raise ValueError("feature names repeat")
    return MappingProxyType(index)


ITEM_COLUMN = column_index(ITEM_FEATURES)
_COLUMN = dict(ITEM_COLUMN)  # a plain dict: read ~40 times per item_features call
CONTEXT_COLUMN = column_index(CONTEXT_FEATURES)


class Columns:
    """A float32 matrix of feature rows whose columns are written and read by name."""

    __slots__ = ("array", "index")

    def __init__(self, array: np.ndarray, index: Mapping[str, int] = ITEM_COLUMN) -> None:
        self.array = array
        self.index = index

    def __setitem__(self, name: str, value: np.ndarray | float) -> None:
        self.array[:, self.index[name]] = value

    def __getitem__(self, name: str) -> np.ndarray:
        return self.array[:, self.index[name]]


def item_rows(k: int) -> Columns:
    """*k* rows of zero history features."""
    return Columns(np.zeros((k, N_ITEM_FEATURES), dtype=np.float32))


WINDOW = 5  # co-occurrence window (plays)
# the time constants of the exponentials item_features computes in one array
_EXP_SCALES = np.array(
    [HOUR_MS, DAY_MS, 30 * DAY_MS, DAY_MS, 30 * DAY_MS, DAY_MS, 30 * DAY_MS, DAY_MS]
)[:, None]
# below this exp(x) is 0.0 in float64 (the smallest number above it is exp(-744.4))
_EXP_IS_ZERO = -746.0
# the whole counts item_features takes log1p of in one array (its first eleven rows)
_WHOLE_COUNTS = (
    "count", "skips", "ses_count", "ses_skips", "a_count", "ses_artist", "al_count",
    "a_skips", "listens", "ses_album", "ses_a_skips",
)  # fmt: skip
SKNN_SPAN = 50  # session co-occurrence: pairs at most this far apart
SKNN_QUERY = 3  # ... read from the session's last tracks
SKNN_TAU_MS = 90 * DAY_MS  # ... older sessions count less (time constant)


_LOG1P_WHOLE = np.log1p(np.arange(1 << 16, dtype=np.float64))  # np.log1p of 0 … 65535
_LOG1P_TABLE_FROM = 2048  # values in a block from which the table is faster (measured)


def log1p_counts(block: np.ndarray) -> None:
    """``np.log1p(block, out=block)`` for a float64 block of counts, the same numbers: whole
    numbers below 65,536 are read from a table of np.log1p's own values (a quarter to half
    the time on a large block), the others computed (all of them for a small block, or one
    holding a fraction)."""
    if block.size >= _LOG1P_TABLE_FROM:
        whole = block.astype(np.intp)
        if np.array_equal(whole, block):
            # past the table (a negative count wraps to a huge one as unsigned): computed
            past = whole.view(np.uintp) >= _LOG1P_WHOLE.size
            beyond = np.log1p(block[past]) if past.any() else None
            np.take(_LOG1P_WHOLE, whole, out=block, mode="clip")
            if beyond is not None:
                block[past] = beyond
            return
    np.log1p(block, out=block)


_TRANS, _WINDOW, _COOC = 0, 1, 2  # the sparse tables HistoryState mirrors as arrays
_LOOKUP_MAX = 256  # at most this many items: their rows' values looked up, not summed
_MAX_MIRRORS = 64  # serving's (HistoryState.max_mirrors); the trainer keeps more


class _Mirror:
    """A sparse row as arrays: its keys and values in the dict's order (insertion: new
    keys go last in both), grown by doubling; ``pos`` finds a key's place. A play notes
    the keys it changed in ``stale`` (in the order it changed them), and they are copied
    from the row when it is next read (:meth:`sync`): most rows mirrored while a history
    is replayed are changed many times and read again seldom, if ever."""

    __slots__ = ("keys", "pos", "size", "stale", "vals")

    def __init__(self, keys: np.ndarray, vals: np.ndarray) -> None:
        n = len(keys)
        self.keys = np.empty(max(16, 2 * n), dtype=np.int64)
        self.vals = np.empty(max(16, 2 * n), dtype=np.float64)
        self.keys[:n] = keys
        self.vals[:n] = vals
        self.pos = dict(zip(keys.tolist(), range(n), strict=True))
        self.size = n
        self.stale: dict[int, None] = {}

    def sync(self, row: Mapping[int, float]) -> None:
        """Copy the stale keys' values from *row* (the dict this mirrors): one by one, or
        where there are many (a row a whole session added to), the new keys appended and
        all the values written in one go."""
        stale = self.stale
        if len(stale) < 16:
            for key in stale:
                self.set(key, row[key])
        else:
            pos = self.pos
            new = [key for key in stale if key not in pos]
            if new:
                size, grown = self.size, self.size + len(new)
                if grown > len(self.keys):
                    capacity = max(2 * len(self.keys), grown)
                    self.keys = np.concatenate(
                        [self.keys[:size], np.empty(capacity - size, np.int64)]
                    )
                    self.vals = np.concatenate([self.vals[:size], np.empty(capacity - size)])
                self.keys[size:grown] = new
                pos.update(zip(new, range(size, grown), strict=True))
                self.size = grown
            at = np.fromiter(map(pos.__getitem__, stale), np.int64, len(stale))
            self.vals[at] = np.fromiter(map(row.__getitem__, stale), np.float64, len(stale))
        stale.clear()

    def set(self, key: int, value: float) -> None:
        """The row now holds *value* at *key*."""
        p = self.pos.get(key)
        if p is None:
            p = self.size
            if p == len(self.keys):
                self.keys = np.concatenate([self.keys, np.empty_like(self.keys)])
                self.vals = np.concatenate([self.vals, np.empty_like(self.vals)])
            self.keys[p] = key
            self.pos[key] = p
            self.size = p + 1
        self.vals[p] = value


_PER_ITEM = (  # HistoryState's per-item arrays item_features reads (ses_*: tallies' arrays)
    "count", "skips", "dec1", "dec30", "listens", "last_t", "dec_t", "skip_t", "last_pos",
    "ses_count", "ses_skips",
)  # fmt: skip


@dataclass(slots=True)
class _Kept:
    """The cold split kept until the next first play, with its cold rows, what the
    features read of the items standing for its active ones (``reads``), each active
    item's row among those (``rows_of``; None: each its own), and the items first
    played since it was made (``played``: what moves it on)."""

    firsts: int  # HistoryState.firsts when made
    split: ColdSplit
    rows: np.ndarray
    reads: _Reads
    rows_of: np.ndarray | None
    played: list[int] = field(default_factory=list)


class _Reads:
    """What :meth:`HistoryState.item_features` reads of some items. Fixed until the next
    first play: their artists and albums, which were never played, and how many of their
    artist's and album's tracks were not (as the columns use them). And the per-item
    arrays (:data:`_PER_ITEM`) at them: kept for the cold split's active items, a play
    changes these at its own item (a new session at the last one's items), so the state
    notes those items (``dirty``) and only they are copied again at the next read — not
    11 arrays gathered at a few thousand scattered places every call. Made again after a
    first play, they come from the reads *before* (every item read then is read again:
    its values copied to their new places, only the items new to them gathered)."""

    __slots__ = (
        "alb", "album_pool_scale", "art", "dirty", "has_album", "items", "known",
        "per_item", "pool_scale", "unseen",
    )  # fmt: skip
    art: np.ndarray
    alb: np.ndarray
    per_item: dict[str, np.ndarray]

    def __init__(
        self, state: HistoryState, items: np.ndarray | None, before: _Reads | None = None
    ) -> None:
        self.items = items
        grown = growth(before.items, items) if before is not None else None
        if grown is not None and before is not None:
            before.refresh(state)
            self.art = art = _grown(before.art, grown, state.artist)
            self.alb = alb = _grown(before.alb, grown, state.album)
            self.per_item = {
                name: _grown(values, grown, state.per_item(name))
                for name, values in before.per_item.items()
            }
        else:
            self.art = art = state.artist if items is None else state.artist[items]
            self.alb = alb = state.album if items is None else state.album[items]
            self.per_item = {
                name: state.per_item(name) if items is None else state.per_item(name)[items]
                for name in _PER_ITEM
            }
        self.unseen = ~(state.seen if items is None else state.seen[items])
        self.known = art != 0  # of a known artist
        self.has_album = alb != 0
        pool = np.maximum(state.a_items[art] - state.a_seen[art], 1.0)
        self.pool_scale = np.log2(2.0 + pool)  # log2(2 + never-played tracks, at least 1)
        album_pool = np.maximum(state.al_items[alb] - state.al_seen[alb], 1.0)
        self.album_pool_scale = np.log2(2.0 + album_pool)
        self.dirty: set[int] = set()

    def refresh(self, state: HistoryState) -> None:
        """Bring the per-item copies up to date at the dirty items' places."""
        if not self.dirty or self.items is None:
            return
        dirty = np.fromiter(self.dirty, np.int64, len(self.dirty))
        self.dirty.clear()
        at = np.minimum(np.searchsorted(self.items, dirty), len(self.items) - 1)
        kept = self.items[at] == dirty  # (an item not active has no place)
        dirty, at = dirty[kept], at[kept]
        for name, values in self.per_item.items():
            values[at] = state.per_item(name)[dirty]


def _grown(
    values: np.ndarray, growth: tuple[np.ndarray, np.ndarray, np.ndarray], source: np.ndarray
) -> np.ndarray:
    """*values* (of the old items) at their places among the new ones, the new items'
    read from *source* (indexed by item)."""
    at, places, items = growth
    out = np.empty(len(at) + len(places), dtype=values.dtype)
    out[at] = values
    out[places] = source[items]
    return out


@dataclass(slots=True)
class SessionTally:
    """Counts by key as a dict (the keys counted, in the order first counted) and an
    array read by index, kept equal; cleared by zeroing only the keys counted. (A
    dataclass: the warm-start file saves it field by field.)"""

    counts: dict[int, int]
    array: np.ndarray

    @classmethod
    def empty(cls, size: int) -> SessionTally:
        return cls({}, np.zeros(size))

    def add(self, key: int) -> None:
        count = self.counts.get(key, 0) + 1
        self.counts[key] = count
        self.array[key] = count

    def clear(self) -> None:
        for key in self.counts:
            self.array[key] = 0.0
        self.counts = {}


class HistoryState:
    """The listener's history as incremental per-item state; computes the history
    features of any items and the session tower's inputs in a few vector operations.

    ``blind`` erases how plays ended: every play counts as a listen (the skip-blind model).
    """

    def __init__(
        self, catalogue: Catalogue, *, blind: bool = False, rows_later: bool = False
    ) -> None:
        n = len(catalogue)
        self.n = n
        self.blind = blind
        self.artist = np.asarray(catalogue.artist, dtype=np.int64)
        self.album = np.asarray(catalogue.album, dtype=np.int64)
        n_art = int(self.artist.max(initial=0)) + 1
        n_alb = int(self.album.max(initial=0)) + 1
        self.count = np.zeros(n)
        self.skips = np.zeros(n)
        self.listens = np.zeros(n)
        self.seen = np.zeros(n, dtype=bool)
        self.last_t = np.full(n, -np.inf)
        self.last_pos = np.full(n, -1, dtype=np.int64)
        self.skip_t = np.full(n, -np.inf)
        self.dec_t = np.zeros(n)
        self.dec1 = np.zeros(n)
        self.dec30 = np.zeros(n)
        self.a_count = np.zeros(n_art)
        self.a_skips = np.zeros(n_art)
        self.a_dec = np.zeros(n_art)
        self.a_dec_t = np.zeros(n_art)
        self.a_last_t = np.full(n_art, -np.inf)
        self.a_items = np.bincount(self.artist, minlength=n_art).astype(np.float64)
        self.a_seen = np.zeros(n_art)
        self.al_count = np.zeros(n_alb)
        self.al_items = np.bincount(self.album, minlength=n_alb).astype(np.float64)
        self.al_seen = np.zeros(n_alb)
        # the three sparse tables: dicts while written, packed by pack_rows(); with
        # rows_later a replay from nothing leaves them to pack_rows, which builds them at
        # once (recommend/replay_rows.py) — a served history's fit
        self.rows_later = rows_later
        self.trans = SparseRows()
        self.trans_total: dict[int, float] = {}
        self.window = SparseRows()
        self.a_trans: dict[int, dict[int, float]] = {}
        self.cooc = SparseRows()  # scaled by exp((t - t0) / SKNN_TAU_MS)
        self.t0: float | None = None
        self.recent: OrderedDict[int, None] = OrderedDict()  # listened items, newest last
        self.plays = HistoryPlays()  # (item, start, code, first) rows, as columns
        self.session_start = 0
        # the current session's plays and skips per item, artist and album
        self.ses_count = SessionTally.empty(n)
        self.ses_skips = SessionTally.empty(n)
        self.ses_artist = SessionTally.empty(n_art)
        self.ses_album = SessionTally.empty(n_alb)
        self.ses_a_skips = SessionTally.empty(n_art)
        self.ses_new = 0
        self.ses_skipped = 0
        self.ses_listened: list[int] = []  # the session's items, in order
        self._scratch = np.zeros(n)
        self.firsts = 0  # first plays observed: the cold split changes only with these
        self._split: _Kept | None = None  # the cold split and what is kept with it
        # (firsts, what the features read of every item): kept until the next first play
        self._whole: tuple[int, _Reads] | None = None
        self._work: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None  # _work_for
        # arrays of the sparse rows item_features read lately, kept equal to the rows as
        # plays arrive: (table, key) -> its mirror (tables: _TRANS, _WINDOW, _COOC)
        self._mirrors: dict[tuple[int, int], _Mirror] = {}
        self.max_mirrors = _MAX_MIRRORS  # the oldest made goes past this many

    # -- growing the state ----------------------------------------------------------------

    def _touched(self, items: Iterable[int]) -> None:
        """Note *items* whose per-item arrays change, for the feature reads kept with the
        cold split (nothing to note when none is kept, as in training)."""
        if self._split is not None:
            self._split.reads.dirty.update(items)

    def code(self, play: Play) -> HistoryCode:
        return PLAYED if self.blind else HISTORY_CODES[play.outcome]

    def observe(self, play: Play) -> None:
        item, t = play.item, int(play.started_at)
        code = self.code(play)
        starts = self.plays.starts  # the column itself: this runs a million times in a replay
        pos = len(starts)
        first = not self.seen[item]
        self._touched((item,))
        if pos and t - starts[-1] > SESSION_GAP_MS:
            self.session_start = pos
            self._touched(self.ses_count.counts)  # the session's counts go back to zero
            for tally in (
                self.ses_count,
                self.ses_skips,
                self.ses_artist,
                self.ses_album,
                self.ses_a_skips,
            ):
                tally.clear()
            self.ses_new = self.ses_skipped = 0
            self.ses_listened = []
        a = int(self.artist[item])
        if first:
            self.firsts += 1
            if self._split is not None:
                self._split.played.append(item)
            self.seen[item] = True
            self.a_seen[a] += 1
            self.al_seen[self.album[item]] += 1
            self.ses_new += 1
        # Every play (whatever its end) counts as the listener reaching for the track; a
        # skip-aware model additionally knows which were listens and which were skips.
        dt = t - self.dec_t[item]
        self.dec1[item] = self.dec1[item] * math.exp(-max(dt, 0) / DAY_MS) + 1
        self.dec30[item] = self.dec30[item] * math.exp(-max(dt, 0) / (30 * DAY_MS)) + 1
        self.dec_t[item] = t
        self.count[item] += 1
        self.last_t[item] = t
        self.last_pos[item] = pos
        if a:
            adt = t - self.a_dec_t[a]
            self.a_dec[a] = self.a_dec[a] * math.exp(-max(adt, 0) / (30 * DAY_MS)) + 1
            self.a_dec_t[a] = t
            self.a_count[a] += 1
            self.a_last_t[a] = t
            self.ses_artist.add(a)
        alb = int(self.album[item])
        self.al_count[alb] += 1
        if alb:
            self.ses_album.add(alb)
        if self.ses_listened:
            prev = self.ses_listened[-1]
            self.trans_total[prev] = self.trans_total.get(prev, 0.0) + 1.0
            pa = int(self.artist[prev])
            if pa and a:
                arow = self.a_trans.setdefault(pa, {})
                arow[a] = arow.get(a, 0.0) + 1.0
            if self.t0 is None:
                self.t0 = float(t)
            if not self.rows_later:
                self._add_pair_rows(item, t, self.ses_listened)
        self.ses_listened.append(item)
        self.ses_count.add(item)
        self.recent[item] = None
        self.recent.move_to_end(item)
        if len(self.recent) > 512:
            self.recent.popitem(last=False)
        self._count_outcome(item, t, code, +1)
        self.plays.append((item, t, int(code), first))

    def _add_pair_rows(self, item: int, t: int, listened: list[int]) -> None:
        """Add a play of *item* at *t* to the sparse tables' rows: after the session's
        plays *listened* (not empty), oldest first."""
        prev = listened[-1]
        trans = self.trans
        row = trans.live.get(prev) or trans.row(prev)
        row[item] = row.get(item, 0.0) + 1.0
        recent = listened[-SKNN_SPAN:][::-1]  # newest first (WINDOW ≤ SKNN_SPAN)
        window = self.window
        for back, j in enumerate(recent[:WINDOW]):
            if j != item:
                wrow = window.live.get(j) or window.row(j)
                wrow[item] = wrow.get(item, 0.0) + 1.0 / (1 + back)
        assert self.t0 is not None
        scale = math.exp((t - self.t0) / SKNN_TAU_MS)
        cooc, live = self.cooc, self.cooc.live
        mine = live.get(item) or cooc.row(item)
        for back, j in enumerate(recent):
            if j != item:
                row = live.get(j) or cooc.row(j)
                row[item] = row.get(item, 0.0) + scale / (1 + back)  # came after j
                mine[j] = mine.get(j, 0.0) + 0.5 * scale / (2 + back)  # came before
        if self._mirrors:  # none while a served history is replayed: no lookups then
            self._note_stale(item, prev, recent)

    def _note_stale(self, item: int, prev: int, recent: list[int]) -> None:
        """Note in the mirrored rows a play of *item* wrote to (after *prev*; *recent*, the
        session's items before it, newest first) the keys it changed, in the order it
        changed them: they are copied when the row is next read. Most rows have no mirror."""
        mirrors = self._mirrors
        mirror = mirrors.get((_TRANS, prev))
        if mirror is not None:
            mirror.stale[item] = None
        for j in recent[:WINDOW]:
            if j != item and (mirror := mirrors.get((_WINDOW, j))) is not None:
                mirror.stale[item] = None
        mine = mirrors.get((_COOC, item))
        for j in recent:
            if j != item:
                if (mirror := mirrors.get((_COOC, j))) is not None:
                    mirror.stale[item] = None
                if mine is not None:
                    mine.stale[j] = None

    def _count_outcome(self, item: int, t: int, code: HistoryCode, sign: int) -> None:
        """Add (sign +1) or take back (-1) what how a play ended counts: a listen, or a
        skip with its time (taking back a skip is never needed, so never done)."""
        if code == HistoryCode.LISTENED:
            self.listens[item] += sign
        elif code in SKIP_CODES:
            assert sign > 0
            a = int(self.artist[item])
            self.skips[item] += 1
            self.skip_t[item] = t
            self.a_skips[a] += 1
            if a:
                self.ses_a_skips.add(a)
            self.ses_skips.add(item)
            self.ses_skipped += 1

    def reclassify_last(self, play: Play) -> bool:
        """The last play was observed as a listen while it played and ended otherwise
        (*play*, the same start and track): move it from the listens to where its outcome
        puts it, the state then equal to observing *play* in the first place. False when
        the last play is not that one (the caller rebuilds)."""
        if not self.plays:
            return False
        item, t, code, first = self.plays[-1]
        new = self.code(play)
        if item != play.item or t != int(play.started_at) or code != HistoryCode.LISTENED:
            return False
        if new == HistoryCode.LISTENED:
            return True
        self._touched((item,))
        self._count_outcome(item, t, HistoryCode.LISTENED, -1)
        self._count_outcome(item, t, new, +1)
        self.plays[-1] = (item, t, int(new), first)
        return True

    def extend(self, plays: Iterable[Play]) -> None:
        for play in plays:
            self.observe(play)

    def replay(self, log: PlayLog) -> None:
        """``extend(log)`` on a new state made with ``rows_later`` (a served history's
        fit), faster: the plays before the current session are counted from the log's
        columns — the per-track recurrences (decayed counts) and the transition counts
        in one lean loop on plain floats, the other counts by array operations — and the
        current session's plays are observed one by one (the session's own counts start
        there). The same state, bit for bit (tests/test_replay_rows.py)."""
        if not self.rows_later or self.plays or self._split is not None or self._mirrors:
            self.extend(log)
            return
        start = log.session_start(SESSION_GAP_MS)
        if start:
            items, starts, _ms, outcomes, _sessions = log.columns()  # copies
            for column in (items, starts, outcomes):
                del column[start:]
            # read as ints one at a time (lists of a million ints left Python's pools fuller)
            self._recurrences(items, starts)
            self._count_columns(
                np.frombuffer(items, np.int64),
                np.frombuffer(starts, np.int64),
                np.frombuffer(outcomes, np.int8),
            )
        self.extend(log[start:])

    def _count_columns(self, items: np.ndarray, starts: np.ndarray, outcomes: np.ndarray) -> None:
        """What observing the plays (*items*, *starts*, *outcomes*: columns, oldest first)
        from an empty state counts, but the session's counts (the next play, after a gap,
        starts a new session), the sparse tables (``rows_later``) and the recurrences."""
        table = np.zeros(max(Outcome) + 1, dtype=np.int8)
        for outcome in Outcome:
            table[outcome] = PLAYED if self.blind else HISTORY_CODES[outcome]
        codes = table[outcomes]
        order = np.arange(len(items))
        n, artist, album = self.n, self.artist, self.album
        # first plays
        first_at = np.full(n, len(items))
        np.minimum.at(first_at, items, order)
        played = np.flatnonzero(first_at < len(items))
        firsts = np.zeros(len(items), dtype=np.int8)
        firsts[first_at[played]] = 1
        self.firsts += len(played)
        self.seen[played] = True
        self.a_seen += np.bincount(artist[played], minlength=len(self.a_seen))
        self.al_seen += np.bincount(album[played], minlength=len(self.al_seen))
        # counts and last plays
        self.count += np.bincount(items, minlength=n)
        last_at = np.full(n, -1)
        np.maximum.at(last_at, items, order)
        self.last_pos[played] = last_at[played]
        self.last_t[played] = starts[last_at[played]]
        by_artist = artist[items]
        known = by_artist != 0
        self.a_count += np.bincount(by_artist[known], minlength=len(self.a_count))
        a_last = np.full(len(self.a_count), -1)
        np.maximum.at(a_last, by_artist[known], order[known])
        heard = np.flatnonzero(a_last >= 0)
        self.a_last_t[heard] = starts[a_last[heard]]
        self.al_count += np.bincount(album[items], minlength=len(self.al_count))
        # how plays ended
        listened = codes == HistoryCode.LISTENED
        self.listens += np.bincount(items[listened], minlength=n)
        skipped = np.isin(codes, SKIP_CODES)
        self.skips += np.bincount(items[skipped], minlength=n)
        self.a_skips += np.bincount(by_artist[skipped], minlength=len(self.a_skips))
        skip_last = np.full(n, -1)
        np.maximum.at(skip_last, items[skipped], order[skipped])
        were = np.flatnonzero(skip_last >= 0)
        self.skip_t[were] = starts[skip_last[were]]
        # the listened items, newest last (the last 512 tracks played)
        newest = played[np.argsort(last_at[played])][-512:]
        self.recent = OrderedDict.fromkeys(newest.tolist())
        self.plays = HistoryPlays.from_columns(items, starts, codes, firsts)

    def _recurrences(self, items: Iterable[int], starts: Iterable[int]) -> None:
        """The decayed play counts of tracks and artists, the transition counts and the
        co-occurrence's time origin, play by play as :meth:`observe` computes them (the
        same arithmetic on plain floats: the same bits)."""
        artist = self.artist.tolist()
        dec_t, dec1, dec30 = self.dec_t.tolist(), self.dec1.tolist(), self.dec30.tolist()
        a_dec, a_dec_t = self.a_dec.tolist(), self.a_dec_t.tolist()
        trans_total, a_trans, t0 = self.trans_total, self.a_trans, self.t0
        exp, month = math.exp, 30 * DAY_MS
        prev, last = -1, None
        for item, t in zip(items, starts, strict=True):
            if last is not None and t - last > SESSION_GAP_MS:
                prev = -1
            dt = max(t - dec_t[item], 0)
            dec1[item] = dec1[item] * exp(-dt / DAY_MS) + 1
            dec30[item] = dec30[item] * exp(-dt / month) + 1
            dec_t[item] = float(t)
            a = artist[item]
            if a:
                a_dec[a] = a_dec[a] * exp(-max(t - a_dec_t[a], 0) / month) + 1
                a_dec_t[a] = float(t)
            if prev >= 0:
                trans_total[prev] = trans_total.get(prev, 0.0) + 1.0
                pa = artist[prev]
                if pa and a:
                    row = a_trans.setdefault(pa, {})
                    row[a] = row.get(a, 0.0) + 1.0
                if t0 is None:
                    t0 = float(t)
            prev, last = item, t
        self.t0 = t0
        for name, values in (
            ("dec_t", dec_t),
            ("dec1", dec1),
            ("dec30", dec30),
            ("a_dec", a_dec),
            ("a_dec_t", a_dec_t),
        ):
            setattr(self, name, np.array(values))

    def pack_rows(self) -> None:
        """Pack the sparse tables' rows (:class:`SparseRows`): a served history, once
        built, holds a million plays' co-occurrence counts in a fifth of the memory; the
        rows the next plays write to come back as the dicts they were. A state made with
        ``rows_later`` builds them here first, from its plays, packed."""
        if self.rows_later:
            self.rows_later = False
            self._rows_from_plays()
        for table in (self.trans, self.window, self.cooc):
            table.pack()

    def _rows_from_plays(self) -> None:
        """The sparse tables the replay of every play so far writes (none written yet):
        built at once, or added play by play where they are too large for that."""
        assert not (self.trans or self.window or self.cooc or self._mirrors)
        items, starts, _codes, _firsts = self.plays.columns()
        tables = replay_tables(
            items,
            starts,
            self.t0,
            window=WINDOW,
            span=SKNN_SPAN,
            tau_ms=SKNN_TAU_MS,
            gap_ms=SESSION_GAP_MS,
        )
        if tables is not None:
            self.trans, self.window, self.cooc = tables
            return
        listened: list[int] = []
        last = None
        for item, t in zip(items.tolist(), starts.tolist(), strict=True):
            if last is not None and t - last > SESSION_GAP_MS:
                listened = []
            if listened:
                self._add_pair_rows(item, t, listened)
            listened.append(item)
            last = t

    # -- reading it ------------------------------------------------------------------------

    @property
    def now(self) -> float:
        starts = self.plays.starts
        return float(starts[-1]) if starts else 0.0

    def recent_items(self, k: int) -> list[int]:
        """Up to *k* distinct listened items, newest first."""
        out = []
        for item in reversed(self.recent):
            out.append(item)
            if len(out) >= k:
                break
        return out

    def _table_rows(
        self, table: int, keys: Iterable[tuple[int, float]]
    ) -> list[tuple[np.ndarray, np.ndarray, float]]:
        """The rows of *table* (``_TRANS``, ``_WINDOW``, ``_COOC``) at the given (key,
        weight) pairs as (keys, values, weight) arrays: the rows' mirrors, made on first
        use and kept (``max_mirrors`` of them) — the rows the features read are those of
        the last plays, and building their arrays from the dicts on every call cost more
        than everything else the sums do."""
        source = (self.trans, self.window, self.cooc)[table]
        mirrors = self._mirrors
        out = []
        for key, weight in keys:
            found = mirrors.get((table, key))
            if found is not None and found.stale:
                found.sync(source[key])
            if found is None:
                arrays = source.arrays(key)
                if arrays is None or not len(arrays[0]):
                    continue
                found = mirrors[(table, key)] = _Mirror(*arrays)
                while len(mirrors) > self.max_mirrors:
                    del mirrors[next(iter(mirrors))]  # the oldest made
            out.append((found.keys[: found.size], found.vals[: found.size], weight))
        return out

    def _sparse_sum(
        self,
        rows: Sequence[tuple[np.ndarray, np.ndarray, float]],
        items: np.ndarray | None,
        *,
        top: bool = False,
    ) -> tuple[np.ndarray, float]:
        """The weighted sum of the rows (keys, values, weight) read at *items* (all items
        when None), and with *top* its largest value anywhere (else 0.0: it costs as much
        as the sum) — in one pass, each key's terms added in the rows' order."""
        if not rows:
            return np.zeros(self.n if items is None else len(items)), 0.0
        if len(rows) == 1:
            keys, vals, weight = rows[0]
            vals = vals * weight
        else:  # one add in the rows' order: the same sums as one call per row
            keys = np.concatenate([keys for keys, _, _ in rows])
            vals = np.concatenate([vals * weight for _, vals, weight in rows])
        scratch = self._scratch
        np.add.at(scratch, keys, vals)
        out = scratch[items] if items is not None else scratch.copy()
        largest = float(scratch[keys].max()) if top else 0.0
        scratch[keys] = 0.0
        return out, largest

    def _row_sums(
        self, table: int, keys: Sequence[tuple[int, float]], items: np.ndarray | None
    ) -> np.ndarray:
        """The weighted sum of the rows of *table* at the (key, weight) pairs, read at
        *items*: as ``_sparse_sum(_table_rows(...))`` reads it, the same numbers (each
        item's terms added in the rows' order, from zero) — for a few items (a training
        example's candidates) read from the dicts, one lookup per item and row, instead
        of summing whole rows into the catalogue."""
        if items is None or len(items) > _LOOKUP_MAX:
            return self._sparse_sum(self._table_rows(table, keys), items)[0]
        source = (self.trans, self.window, self.cooc)[table]
        wanted = items.tolist()
        zeros = [0.0] * len(wanted)
        sums = np.zeros(len(wanted))
        for key, weight in keys:
            row = source.get(key)
            if row:
                sums += np.fromiter(map(row.get, wanted, zeros), np.float64, len(wanted)) * weight
        return sums

    def item_features(
        self, items: np.ndarray | None = None, *, out: np.ndarray | None = None
    ) -> np.ndarray:
        """float32[k, N_ITEM_FEATURES] for *items* (every catalogue item when None),
        written into *out* when given (float32[k, N_ITEM_FEATURES], e.g. a view of the
        scorer's input) and returned."""
        k = self.n if items is None else len(items)
        if out is None:
            out = np.empty((k, N_ITEM_FEATURES), dtype=np.float32)
        assert out.shape == (k, N_ITEM_FEATURES) and out.dtype == np.float32
        # written row by row into a transposed buffer (each feature contiguous: four
        # times faster than a row-major one's), then copied into *out* in one go
        if not self.plays:
            f = np.zeros((N_ITEM_FEATURES, k), dtype=np.float32)
            f[_COLUMN["unplayed"]] = 1.0
        else:
            f, e, g = self._work_for(k)
            write_columns(self.feature_inputs(items), f, (e, g))
        out[...] = f.T
        return out

    def _work_for(self, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The buffers :func:`write_columns` fills for *k* items (kept for the last *k*
        asked): arrays of a few MB made on every call cost more than the arithmetic — the
        memory went back to the system and each page came back as a fault (a model's
        held-out comparison at 11,000 tracks, measured: 40% of its time)."""
        if self._work is None or self._work[0].shape[1] != k:
            self._work = (
                np.empty((N_ITEM_FEATURES, k), dtype=np.float32),
                np.empty((8, k)),
                np.empty((14, k)),
            )
        return self._work

    def feature_inputs(self, items: np.ndarray | None) -> dict[str, np.ndarray | float]:
        """What the history features of *items* (every item when None) are computed from,
        after at least one play: per item (arrays, one value per item) and per call
        (numbers, :data:`CALL_INPUTS`). :func:`write_columns` does the arithmetic — on one
        call's inputs, or on many calls' at once (:class:`FeatureBatch`)."""
        assert self.plays
        k = self.n if items is None else len(items)
        reads = self._reads(items)
        art, alb, known, per_item = reads.art, reads.alb, reads.known, reads.per_item
        last_item, _, _, last_first = self.plays[-1]
        if items is None:
            is_last = np.zeros(k, dtype=bool)
            is_last[last_item] = True
        else:
            is_last = items == last_item
        inputs: dict[str, np.ndarray | float] = {
            **per_item,
            "a_dec_t": self.a_dec_t[art],
            "a_last_t": self.a_last_t[art],
            "a_count": self.a_count[art],
            "a_skips": self.a_skips[art],
            "a_dec": self.a_dec[art],
            "ses_artist": self.ses_artist.array[art],
            "ses_a_skips": self.ses_a_skips.array[art],
            "al_count": self.al_count[alb],
            "ses_album": self.ses_album.array[alb],
            "unseen": reads.unseen,
            "known": known,
            "has_album": reads.has_album,
            "pool_scale": reads.pool_scale,
            "album_pool_scale": reads.album_pool_scale,
            "same_artist": (art == int(self.artist[last_item])) & known,
            "same_album": (alb == int(self.album[last_item])) & reads.has_album,
            "is_last": is_last,
            "now": self.now,
            "plays": len(self.plays),
            "new_frac": self.ses_new / (len(self.plays) - self.session_start),
            "last_first": float(last_first),
        }
        zeros = np.zeros(k)
        prev = self.ses_listened[-1] if self.ses_listened else None
        inputs["markov"] = inputs["window"] = inputs["artist_markov"] = zeros
        inputs["markov_total"] = 1.0
        if prev is not None:
            inputs["markov"] = self._row_sums(_TRANS, [(prev, 1.0)], items)
            inputs["markov_total"] = max(self.trans_total.get(prev, 0.0), 1.0)
            back_weights = [
                (j, 1.0 / (1 + back))
                for back, j in enumerate(reversed(self.ses_listened[-WINDOW:]))
            ]
            inputs["window"] = self._row_sums(_WINDOW, back_weights, items)
            pa = int(self.artist[prev])
            arow = self.a_trans.get(pa)
            if pa and arow:
                a_scores = np.zeros(len(self.a_count))
                a_scores[np.fromiter(arow.keys(), np.int64, len(arow))] = np.fromiter(
                    arow.values(), np.float64, len(arow)
                )
                inputs["artist_markov"] = a_scores[art]
        inputs["sknn"], inputs["sknn_top"], inputs["sknn_decay"] = zeros, 0.0, 0.0
        if self.ses_listened and self.t0 is not None:
            query = self.ses_listened[-SKNN_QUERY:]
            weights: dict[int, float] = {}
            for position, j in enumerate(query, start=1):
                weights[j] = max(weights.get(j, 0.0), position / len(query))
            cooc_rows = self._table_rows(_COOC, weights.items())
            inputs["sknn"], inputs["sknn_top"] = self._sparse_sum(cooc_rows, items, top=True)
            inputs["sknn_decay"] = math.exp(-(self.now - self.t0) / SKNN_TAU_MS)
        return inputs

    def cold_split(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Split the catalogue for fast scoring: ``(active, cold, rows, inverse)``.

        A *cold* item was never played, nor anything by its artist or on its album: all of
        its history features are zero but ``unplayed``, ``unplayed_artist_pool`` and
        ``unknown_artist``, which depend on its artist only. ``rows`` are the distinct cold
        feature rows and ``rows[inverse]`` those of the items ``cold``; ``active`` are the
        other items, whose features :meth:`item_features` computes.

        What it reads (which items, artists and albums were ever played, and how many of
        each artist's tracks were) changes only with a first play, so the split is kept
        until the next one (read-only arrays): a repeat costs nothing here, and a first
        play moves it on (:meth:`ColdSplit.after`: an array it leaves as it was is the
        same object after it)."""
        kept = self._split
        if kept is None or kept.firsts != self.firsts:
            split = kept.split.after(self, kept.played) if kept is not None else None
            if split is None:
                split = ColdSplit.of(self)
            if kept is not None and split.keys is kept.split.keys:
                rows = kept.rows
            else:
                rows = self._cold_rows(split.keys)
            standing, rows_of = self._standing_for(split.active)
            reads = _Reads(self, standing, kept.reads if kept is not None else None)
            kept = self._split = _Kept(self.firsts, split, rows, reads, rows_of)
        split = kept.split
        return split.active, split.cold, kept.rows, split.inverse

    def feature_rows(self) -> tuple[np.ndarray, np.ndarray | None]:
        """``(standing, rows_of)`` for the cold split's active items: the items whose
        features stand for all of theirs (every played one, and the first never-played
        track of each artist and album with history) and each active item's row among
        them (None: each item is its own). Kept with the split."""
        self.cold_split()
        assert self._split is not None and self._split.reads.items is not None
        return self._split.reads.items, self._split.rows_of

    def _reads(self, items: np.ndarray | None) -> _Reads:
        """:class:`_Reads` of *items*: kept with the cold split for the items standing for
        its active ones (:meth:`feature_rows`, asked on every call) and for every item
        (None), read afresh for any others."""
        kept = self._split
        if kept is not None and kept.firsts == self.firsts and items is kept.reads.items:
            kept.reads.refresh(self)
            return kept.reads
        if items is None:  # (its per-item arrays are the state's own: nothing to refresh)
            if self._whole is None or self._whole[0] != self.firsts:
                self._whole = (self.firsts, _Reads(self, None))
            return self._whole[1]
        return _Reads(self, items)

    def per_item(self, name: str) -> np.ndarray:
        """One of the per-item arrays :data:`_PER_ITEM` names."""
        if name.startswith("ses_"):
            tally: SessionTally = getattr(self, name)
            return tally.array
        array: np.ndarray = getattr(self, name)
        return array

    def _standing_for(self, active: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """The items whose features stand for all of *active*'s, and each active item's
        row among theirs (None: each its own). A never-played track's features read only
        its artist's and album's history — every one of its own values is still the
        starting one — so the never-played tracks of one artist and album share a row:
        the first of them computes it (the same operations on the same numbers: the
        same bits). A played track computes its own. Where a library holds whole albums
        of which the listener played a few tracks, most of the active items are such."""
        unplayed = ~self.seen[active]
        key = self.artist[active].astype(np.int64) * len(self.al_count) + self.album[active]
        _, first, inverse = np.unique(key[unplayed], return_index=True, return_inverse=True)
        if len(first) == int(np.count_nonzero(unplayed)):  # no two share an album
            return active, None
        at = np.flatnonzero(unplayed)
        keep = ~unplayed
        keep[at[first]] = True
        place = np.cumsum(keep) - 1  # a kept item's row
        rows_of = place.copy()
        rows_of[at] = place[at[first]][inverse.reshape(-1)]
        for array in (standing := active[keep], rows_of):
            array.setflags(write=False)
        return standing, rows_of

    @staticmethod
    def _cold_rows(keys: np.ndarray) -> np.ndarray:
        """The cold items' feature rows, one per pool key (:class:`ColdSplit`), read-only."""
        rows = item_rows(len(keys))
        rows["unplayed"] = 1.0
        rows["unplayed_artist_pool"] = 1.0 / np.log2(2.0 + np.abs(keys))
        rows["unknown_artist"] = keys < 0
        rows.array.setflags(write=False)
        return rows.array

    def session_inputs(self) -> dict[str, np.ndarray]:
        """The session tower's inputs for the next play (batch of one):
        ``items`` int64[1, SEQ_LEN] (catalogue indices, -1 = padding, oldest first),
        ``hist_outcome``, ``hist_gap`` int64[1, SEQ_LEN], ``context`` float32[1, C]."""
        # the tail and the play before it (whose start the first gap is measured from)
        tail = self.plays[-SEQ_LEN - 1 :]
        items, outcome, gap = session_rows(_rows(tail), [len(tail)], first=len(tail) <= SEQ_LEN)
        return {
            "items": items,
            "hist_outcome": outcome,
            "hist_gap": gap,
            "context": self.context()[None, :],
        }

    def play_rows(self) -> np.ndarray:
        """int64[plays, 3]: every play observed as (item, start, how it ended as a
        :class:`HistoryCode`), oldest first (what :func:`session_rows` reads)."""
        return self.plays.rows()

    def context(self) -> np.ndarray:
        """float32[N_CONTEXT]: the time of day and week of the last play and how this
        session went so far (zeros before any play)."""
        if not self.plays:
            return np.zeros(N_CONTEXT, dtype=np.float32)
        _, t, code, first = self.plays[-1]
        hours = (t / HOUR_MS) % 24.0
        days = (t / DAY_MS + 3.0) % 7.0  # 1970-01-01 was a Thursday
        length = len(self.plays) - self.session_start
        values = {
            "hour_sin": math.sin(2 * math.pi * hours / 24),
            "hour_cos": math.cos(2 * math.pi * hours / 24),
            "weekday_sin": math.sin(2 * math.pi * days / 7),
            "weekday_cos": math.cos(2 * math.pi * days / 7),
            "session_len": math.log1p(length) / 3.0,
            "session_new_frac": self.ses_new / length,
            "last_new": float(first),
            "session_skip_frac": self.ses_skipped / length,
            "last_skipped": float(code in SKIP_CODES),
        }
        return np.array([values[name] for name in CONTEXT_FEATURES], dtype=np.float32)


def _rows(plays: Sequence[tuple[int, int, int, bool]]) -> np.ndarray:
    """int64[len(plays), 3]: *plays* as :class:`HistoryState` keeps them, as (item, start,
    code) rows."""
    rows = np.array([(item, t, code) for item, t, code, _ in plays], dtype=np.int64)
    return rows.reshape(len(plays), 3)


def session_rows(
    rows: np.ndarray, ends: Sequence[int], *, first: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The session tower's item, outcome and gap rows (int64[len(ends), SEQ_LEN] each: -1,
    0 and 0 for padding, oldest first) after each of *ends* plays of *rows*, plays as
    (item, start, code) — *first* when they start at the history's first play (its gap is
    the last bucket), else each end has the play before its window among them (the gap is
    measured from its start). Serving asks for one end, the trainer for every example's."""
    # the plays shown, oldest first (< 0: padding)
    at = np.asarray(ends, dtype=np.int64).reshape(-1, 1) + np.arange(-SEQ_LEN, 0)
    shown = at >= 0
    safe = np.maximum(at, 0)
    if len(rows):
        items = np.where(shown, rows[:, 0][safe], -1)
        outcome = np.where(shown, rows[:, 2][safe], 0)
        # the gap before play j (j >= 1) bucketed at j - 1
        gaps = 1 + np.searchsorted(GAP_EDGES_MS, np.diff(rows[:, 1]))
        gap = np.where(at >= 1, gaps[np.maximum(at - 1, 0)] if len(gaps) else 0, 0)
        if first:
            gap[at == 0] = N_GAPS - 1
    else:
        items = np.full(at.shape, -1, dtype=np.int64)
        outcome = gap = np.zeros(at.shape, dtype=np.int64)
    return items, outcome, gap


# the inputs of write_columns that are numbers, one per call (the others: one per item)
CALL_INPUTS = (
    "now", "plays", "new_frac", "last_first", "markov_total", "sknn_top", "sknn_decay",
)  # fmt: skip


def write_columns(
    x: Mapping[str, Any], f: np.ndarray, work: tuple[np.ndarray, np.ndarray] | None = None
) -> None:
    """The history features from their inputs (:meth:`HistoryState.feature_inputs`),
    written into float32[N_ITEM_FEATURES, rows] *f* (every column), with *work* as the
    float64[8, rows] and [14, rows] scratch when given. The inputs of
    :data:`CALL_INPUTS` are numbers (one call) or arrays with one value per row (many
    calls' inputs stacked, :class:`FeatureBatch`): each element gets the same operations
    on the same numbers either way, so the columns are the same bits."""
    c = _COLUMN
    k = f.shape[1]
    now = x["now"]
    # The exponentials and log1p's of many columns, each computed as before (the same
    # operations on the same numbers) but in one array: a call per column cost more
    # than the arithmetic at a few thousand items.
    e, g = (np.empty((8, k)), np.empty((14, k))) if work is None else work
    # exp(-elapsed / time constant), eight at once
    np.subtract(now, x["last_t"], out=e[0])  # inf when never listened
    e[1] = e[0]
    e[2] = e[0]
    np.subtract(now, x["dec_t"], out=e[3])
    np.maximum(e[3], 0, out=e[3])
    e[4] = e[3]
    np.subtract(now, x["skip_t"], out=e[5])
    np.subtract(now, x["a_dec_t"], out=e[6])
    np.maximum(e[6], 0, out=e[6])
    np.subtract(now, x["a_last_t"], out=e[7])
    np.divide(e, _EXP_SCALES, out=e)
    np.negative(e, out=e)
    # where the exponential is certain to be 0.0 it is not computed: libm's slow path
    # (three times the cost), and where most tracks were last played weeks ago, most of it
    gone = e <= _EXP_IS_ZERO
    np.exp(e, out=e, where=~gone)
    np.copyto(e, 0.0, where=gone)
    f[c["rec_1h"]], f[c["rec_1d"]], f[c["rec_30d"]] = e[0], e[1], e[2]
    f[c["skip_rec_1d"]] = e[5]
    f[c["artist_rec_1d"]] = e[7]

    # log1p of counts, fourteen at once: eleven whole counts (rows 0-10), then three
    # decayed ones
    for row, name in enumerate(_WHOLE_COUNTS):
        g[row] = x[name]
    np.multiply(x["dec1"], e[3], out=g[11])
    np.multiply(x["dec30"], e[4], out=g[12])
    np.multiply(x["a_dec"], e[6], out=g[13])
    log1p_counts(g[:11])
    np.log1p(g[11:], out=g[11:])
    unseen, known, same_artist = x["unseen"], x["known"], x["same_artist"]
    f[c["log_count"]], f[c["log_skips"]] = g[0], g[1]
    f[c["unplayed"]] = unseen
    f[c["log_dec_1d"]], f[c["log_dec_30d"]] = g[11], g[12]
    last_pos = x["last_pos"]
    ago = x["plays"] - 1 - last_pos
    f[c["plays_ago"]] = np.where(last_pos >= 0, 1.0 / (1.0 + ago), 0.0)
    f[c["session_count"]] = g[2]
    f[c["session_skips"]] = g[3]
    f[c["same_artist_last"]] = same_artist
    f[c["artist_log_count"]] = g[4]
    f[c["artist_log_dec_30d"]] = g[13]
    f[c["artist_session"]] = g[5]
    f[c["same_album_last"]] = x["same_album"]
    f[c["album_log_count"]] = g[6] * x["has_album"]
    markov = x["markov"]
    f[c["markov_log"]] = np.log1p(markov)
    f[c["markov_prob"]] = markov / x["markov_total"]
    f[c["window_log"]] = np.log1p(x["window"])
    f[c["artist_markov_log"]] = np.log1p(x["artist_markov"])
    f[c["unplayed_artist_pool"]] = unseen / x["pool_scale"]
    f[c["unknown_artist"]] = ~known
    f[c["artist_log_skips"]] = g[7] * known
    f[c["last_item"]] = x["is_last"]
    f[c["log_listens"]] = g[8]
    sknn = x["sknn"] * x["sknn_decay"]
    f[c["sknn_log"]] = np.log1p(sknn)
    top = np.multiply(x["sknn_top"], x["sknn_decay"])
    f[c["sknn_rel"]] = np.divide(sknn, top, out=np.zeros_like(sknn), where=top > 0)
    f[c["new_same_artist"]] = (unseen & same_artist) / x["pool_scale"]
    f[c["new_same_album"]] = (unseen & x["same_album"]) / x["album_pool_scale"]
    f[c["new_session_artist"]] = unseen * g[5] * known
    f[c["album_session"]] = g[9]
    # read back as stored (float32): the runs are products of the rounded columns
    new_frac = np.asarray(x["new_frac"], dtype=np.float32)
    f[c["new_artist_run"]] = f[c["new_same_artist"]] * new_frac
    f[c["new_album_run"]] = f[c["new_same_album"]] * np.asarray(x["last_first"], np.float32)
    f[c["artist_skip_ratio"]] = x["a_skips"] / np.maximum(x["a_count"], 1.0) * known
    f[c["artist_session_skips"]] = g[10] * known


class FeatureBatch:
    """The history features of many calls at once, each for *size* items: each call's
    inputs noted (:meth:`add`), the arithmetic done over all of their rows in one go
    (:meth:`columns`) — the same bits as :meth:`HistoryState.item_features` call by call,
    for a fraction of the time where a call asks for a few dozen items (a training
    example's candidates: there, a hundred small array operations a call cost more than
    the numbers)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.rows: list[np.ndarray] = []  # a call's per-item inputs, one after the other
        self.numbers: list[list[float]] = []  # a call's CALL_INPUTS
        self.names: list[str] = []  # the per-item inputs, in the order of the rows
        self.dtypes: dict[str, np.dtype] = {}  # each input's own (rows hold float64)

    def __len__(self) -> int:
        return len(self.rows)

    def add(self, state: HistoryState, items: np.ndarray) -> None:
        """Note the inputs of ``state.item_features(items)`` as the state is now (copied
        into the batch's rows: the state changes after)."""
        assert len(items) == self.size
        inputs = state.feature_inputs(items)
        if not self.names:
            self.names = [name for name in inputs if name not in CALL_INPUTS]
            self.dtypes = {name: np.asarray(value).dtype for name, value in inputs.items()}
        # bools and whole numbers held as float64 exactly, and given back as they were
        self.rows.append(np.concatenate([inputs[name] for name in self.names], dtype=np.float64))
        self.numbers.append([inputs[name] for name in CALL_INPUTS])  # type: ignore[misc]

    def columns(self) -> np.ndarray:
        """float32[calls * size, N_ITEM_FEATURES]: the noted calls' features, one call's
        rows after the other (and the batch emptied)."""
        calls, k = len(self.rows), self.size
        f = np.zeros((N_ITEM_FEATURES, calls * k), dtype=np.float32)
        if calls:
            rows = np.concatenate(self.rows).reshape(calls, len(self.names), k)
            stacked = rows.transpose(1, 0, 2).reshape(len(self.names), calls * k)
            numbers = np.repeat(np.array(self.numbers), k, axis=0)
            x = {name: stacked[j] for j, name in enumerate(self.names)}
            x |= {name: numbers[:, j] for j, name in enumerate(CALL_INPUTS)}
            write_columns({name: x[name].astype(self.dtypes[name], copy=False) for name in x}, f)
        self.rows, self.numbers = [], []
        return f.T
