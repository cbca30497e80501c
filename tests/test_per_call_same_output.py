"""Per-call speed-ups of a suggestion that must not change a number (issue 15): each is
run beside a frozen copy of the code it replaced, over sequences of plays, skips, a play
reclassified as a skip, first plays, new sessions and a library change, and must give
the same arrays, bit for bit.

- ``ModelRecommender.scores``: the scorer's inputs kept between calls (the shared cold
  rows written once, the active rows written in place; after a first play, made from the
  ones before), each cold item's shared part added by one gather from a small table, the
  tie-break computed in place.
- The one speed-up that changes bits: the catalogue's dot product by BLAS on one thread
  (:func:`catalogue_dot`) instead of numpy's ``einsum``, which sums in another order. Its
  scores stay within float32 rounding of the ``einsum``'s and the lists are the same, but
  for two tracks whose scores tie within that rounding (their order may follow the CPU).
- ``HistoryState.item_features(items, out=...)``: written into a given buffer, the same
  as the array it returns without one (the columns themselves are compared with a frozen
  copy in tests/test_feature_columns.py).
- ``HistoryState.item_features`` of a few items (a training example's candidates): the
  sparse rows' values looked up per item, not summed over the catalogue; and the
  arithmetic done for many calls at once (``FeatureBatch``), as the trainer does it.
- ``HistoryState.item_features``: its work buffers kept between calls, what the features
  read of every item kept until the next first play, and no exponential computed where
  it is certain to be 0.0 (against the frozen copy in tests/test_feature_columns.py).
- ``HistoryState``'s sparse rows (transitions, windows, session co-occurrence) read as
  arrays kept in step with the dicts as plays arrive, not rebuilt from them on every call.
- ``Reranker.rerank``: the best pool (and the never-played pool, from the best pool +
  tracks played) picked among the few scores above a threshold taken from a sample,
  not by partitioning every score (twice for the never-played); a pool with no equal
  scores sorted by score alone; the pick reading artists and the just-played by
  position in the pool.
"""

from __future__ import annotations

import gc
import sys
from array import array
from collections import defaultdict
from collections.abc import Iterator
from typing import ClassVar

import legacy_features_v2 as legacy
import numpy as np
import pytest
from test_model_fixtures import MIN, T0, trained_model, with_cold_tracks
from threadpoolctl import threadpool_info, threadpool_limits

from player_plugin.domain.catalogue import Catalogue
from player_plugin.domain.listen import Outcome
from player_plugin.domain.play import SESSION_GAP_MS, Play
from player_plugin.recommend import features as F
from player_plugin.recommend import model as model_module
from player_plugin.recommend.engine import Engine
from player_plugin.recommend.history_plays import HistoryPlays
from player_plugin.recommend.model import ModelRecommender, catalogue_dot
from player_plugin.recommend.rerank import Reranker, RerankSettings, _rounded
from player_plugin.recommend.sparse_rows import SparseRows
from player_plugin.recommend.variety import DialRules
from player_plugin.store.serving import _items as serving_items


def old_scores(rec: ModelRecommender) -> np.ndarray:
    """``ModelRecommender.scores`` as it was (its fast branch), frozen."""
    assert rec.state is not None and rec.vectors is not None
    active, cold, rows, inverse = rec.state.cold_split()
    inputs = rec._session()
    vec = np.zeros((1, len(active) + len(rows), rec.vectors.shape[1]), dtype=np.float32)
    vec[0, : len(active)] = rec.vectors[active]
    feat = np.concatenate([rec.state.item_features(active), rows])[None]
    inputs["cand_vec"], inputs["cand_feat"] = vec, feat
    part, query = rec.engine.score_parts(inputs)
    out = catalogue_dot(rec.vectors, query[0])  # the dot product itself: test_catalogue_dot
    out[active] = part[0, : len(active)]
    out[cold] += part[0, len(active) :][inverse]
    return rec._untie(out)


def wide_catalogue(extra: int = 2_000, seed: int = 0) -> Catalogue:
    """The synthetic catalogue plus never-played tracks by never-played artists (some of
    unknown artist and album): enough cold items for the fast branch."""
    rng = np.random.default_rng(seed)
    artist = 20 + rng.integers(0, 60, extra)
    artist[-11:] = 0
    album = 20 + rng.integers(0, 90, extra)
    album[-6:] = 0
    return with_cold_tracks(artist, album, albums=110, duration_ms=200_000)


def mixed_plays(n_items: int, n: int = 260, seed: int = 1) -> list[Play]:
    """Repeats of a few favourites, first plays anywhere, every outcome, session gaps."""
    rng = np.random.default_rng(seed)
    outcomes = list(Outcome)
    plays, t, session = [], T0, 0
    for _ in range(n):
        r = rng.random()
        item = int(rng.integers(0, 40)) if r < 0.7 else int(rng.integers(0, n_items))
        kind = outcomes[int(rng.choice(5, p=[0.6, 0.15, 0.1, 0.1, 0.05]))]
        plays.append(Play(item, t, 100_000, kind, session))
        t += int(rng.integers(1, 8)) * MIN
        if rng.random() < 0.06:
            t += SESSION_GAP_MS + MIN
            session += 1
    return plays


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return trained_model(tmp_path_factory.mktemp("per-call"))


def sharing(rec: ModelRecommender) -> np.ndarray:
    """The never-played tracks scored as ``query · vector`` + a row's part they share with
    others of their artist and album (:meth:`HistoryState.feature_rows`)."""
    assert rec.state is not None
    active = rec.state.cold_split()[0]
    standing, rows_of = rec.state.feature_rows()
    if rows_of is None:
        return active[:0]
    return active[np.bincount(rows_of, minlength=len(standing))[rows_of] > 1]


def same_standing(got, want, scores: np.ndarray, where: str) -> None:
    """The same tracks in the same order, but for two whose scores are within float32
    rounding of each other, which may trade places: their order follows sums that round
    otherwise on another CPU's kernels (CI's swapped two at ranks 196 and 197)."""
    got, want = np.asarray(got), np.asarray(want)
    assert got.shape == want.shape, where
    if not np.array_equal(got, want):
        np.testing.assert_allclose(scores[got], scores[want], rtol=1e-5, atol=1e-5, err_msg=where)


def fast_calls(model, blind: bool) -> Iterator[tuple[int, ModelRecommender, Reranker, np.ndarray]]:
    """A history of first plays, repeats, every outcome and sessions replayed on the wide
    catalogue (plays in progress ending as skips; at play 120 the library changes and the
    history is refitted): ``(k, rec, rr, scores)`` after each play whose scores take the
    fast branch (256 tracks without history or more), the same when asked twice."""
    catalogue = wide_catalogue()
    plays = mixed_plays(len(catalogue))
    rec = ModelRecommender(Engine(model))
    rec.engine.blind = blind
    rec.fit(plays[:60], catalogue)
    rr = Reranker(catalogue).fit(plays[:60])
    for k, play in enumerate(plays[60:]):
        rec.observe(play)
        rr.observe(play)
        if k % 7 == 5 and play.outcome is Outcome.LISTENED:  # the play in progress: a skip
            assert rec.reclassify_last(Play(play.item, play.started_at, 9_000, Outcome.SKIPPED, 0))
        _, cold, _, _ = rec.state.cold_split()
        got = rec.scores()
        np.testing.assert_array_equal(got, rec.scores(), err_msg=f"play {k}: twice")
        if len(cold) >= 256:
            yield k, rec, rr, got
        if k == 120:  # the library changes: a new catalogue, the history refitted
            catalogue = wide_catalogue(extra=2_400, seed=3)
            rec.fit(plays[: 60 + k + 1], catalogue)
            rr = Reranker(catalogue).fit(plays[: 60 + k + 1])


@pytest.mark.parametrize("blind", [False, True], ids=["skip-aware", "skip-blind"])
def test_scores_equal_the_replaced_code_bit_for_bit(model, blind, monkeypatch) -> None:
    """With no row shared by never-played tracks of an album, bit for bit the code
    before."""
    monkeypatch.setattr(F.HistoryState, "_standing_for", lambda _state, active: (active, None))
    fast = 0
    for k, rec, _, got in fast_calls(model, blind):
        fast += 1
        np.testing.assert_array_equal(got, old_scores(rec), err_msg=f"play {k}")
    assert fast > 150  # the fast branch really ran


@pytest.mark.parametrize("blind", [False, True], ids=["skip-aware", "skip-blind"])
def test_shared_album_rows_keep_the_lists_of_the_replaced_code(model, blind) -> None:
    """Never-played tracks of an artist and album with history share a row (scored like
    tracks without history: ``query · vector`` + the row's part), and the scorer sees
    fewer rows, so its sums may round otherwise for the others too (onnxruntime's blocks
    follow the rows): within float32 rounding of the code before, the best 200 and the
    lists at every dial the same but for tracks that tie within that rounding."""
    fast = shared = 0
    for k, rec, rr, got in fast_calls(model, blind):
        fast += 1
        before = old_scores(rec)
        shared += len(sharing(rec))
        if k % 10 == 0:  # and of scoring every track on its own row and vector
            np.testing.assert_allclose(got, rec.scores_full(), rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(got, before, rtol=1e-5, atol=1e-5, err_msg=f"play {k}")
        best = np.lexsort((rr.ties, -before))[:200]
        same_standing(np.lexsort((rr.ties, -got))[:200], best, before, f"play {k}")
        for dial in (None, 0.0, 0.5, 1.0):
            heard = rr.rerank(got, 10, dial=dial)
            same_standing(heard, rr.rerank(before, 10, dial=dial), before, f"{k} at {dial}")
    assert fast > 150  # the fast branch really ran
    assert shared > 10_000  # and tracks shared their album's row


def test_scores_are_a_new_array_each_call(model) -> None:
    """A caller may keep a list's scores: the next call must not overwrite them."""
    catalogue = wide_catalogue()
    plays = mixed_plays(len(catalogue), n=80)
    rec = ModelRecommender(Engine(model))
    rec.fit(plays[:40], catalogue)
    first = rec.scores()
    kept = first.copy()
    for play in plays[40:]:
        rec.observe(play)
        assert rec.scores() is not first
    np.testing.assert_array_equal(first, kept)


class _Probe(np.ndarray):
    """An array that notes how many threads BLAS may use when it is multiplied."""

    threads: ClassVar[list[list[int]]] = []

    def __matmul__(self, other):
        info = threadpool_info()
        _Probe.threads.append([lib["num_threads"] for lib in info if lib["user_api"] == "blas"])
        return np.asarray(self) @ other


def test_catalogue_dot_is_einsum_within_rounding_on_one_blas_thread() -> None:
    """Within float32 rounding of ``einsum`` (each sum's error is bounded by the sum of
    its terms' sizes), computed while BLAS may use one thread even where the process
    lets it use two (threaded, past 250,000 rows some sums round otherwise), and the
    process's setting restored after."""
    rng = np.random.default_rng(5)
    for n in (7, 3_000, 250_001):
        vectors = rng.standard_normal((n, 32)).astype(np.float32)
        query = rng.standard_normal(32).astype(np.float32)
        got = catalogue_dot(vectors, query)
        assert got.dtype == np.float32 and got.shape == (n,)
        bound = 32 * np.finfo(np.float32).eps * (np.abs(vectors) @ np.abs(query))
        assert np.all(np.abs(got - np.einsum("ij,j->i", vectors, query)) <= bound)
        with threadpool_limits(limits=1, user_api="blas"):
            np.testing.assert_array_equal(got, vectors @ query)
    _Probe.threads.clear()
    with threadpool_limits(limits=2, user_api="blas"):
        catalogue_dot(vectors.view(_Probe), query)
        blas = [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]
    assert blas and set(blas) == {2}  # restored
    assert len(_Probe.threads) == 1 and set(_Probe.threads[0]) == {1}


def test_lists_are_those_of_the_einsum_dot_product(model, monkeypatch) -> None:
    """The suggestions (re-ranked, at every dial position) and the order of the best 200
    scores are those the ``einsum`` gave (but for ties within rounding), along a history
    of first plays and repeats."""
    catalogue = wide_catalogue()
    plays = mixed_plays(len(catalogue))
    rec = ModelRecommender(Engine(model))
    rec.fit(plays[:60], catalogue)
    rr = Reranker(catalogue).fit(plays[:60])
    fast = 0
    for k, play in enumerate(plays[60:]):
        rec.observe(play)
        rr.observe(play)
        fast += len(rec.state.cold_split()[1]) >= 256
        got = rec.scores()
        with monkeypatch.context() as m:
            m.setattr(model_module, "catalogue_dot", lambda v, q: np.einsum("ij,j->i", v, q))
            before = rec.scores()
        best = np.lexsort((rr.ties, -before))[:200]
        same_standing(np.lexsort((rr.ties, -got))[:200], best, before, f"play {k}")
        for dial in (None, 0.0, 0.5, 1.0):
            heard = rr.rerank(got, 10, dial=dial)
            same_standing(heard, rr.rerank(before, 10, dial=dial), before, f"{k} at {dial}")
    assert fast > 150


@pytest.mark.parametrize("blind", [False, True], ids=["skip-aware", "skip-blind"])
def test_the_active_items_features_kept_between_calls_equal_a_fresh_read(blind) -> None:
    """The per-item values of the items standing for the cold split's active ones are
    kept between calls and only the items a play touched are read again (after a first
    play, copied from those kept before, only the items new to them read), and the
    never-played ones of an album share a row: along first plays, repeats, every outcome,
    plays taken back as skips and new sessions, their features equal those read afresh
    (the same items in a new array, which nothing is kept for), and each active item's
    row its own features."""
    catalogue = wide_catalogue()
    plays = mixed_plays(len(catalogue), n=300, seed=6)
    state = F.HistoryState(catalogue, blind=blind)
    patched = shared = 0

    def same(k: int) -> int:
        nonlocal shared
        active = state.cold_split()[0]
        standing, rows_of = state.feature_rows()
        assert state._split is not None
        dirty = bool(state._split.reads.dirty)
        kept = state.item_features(standing)
        np.testing.assert_array_equal(kept, state.item_features(standing.copy()), f"play {k}")
        if rows_of is not None:  # each active item's row is its own features
            shared += len(standing) < len(active)
            np.testing.assert_array_equal(
                kept[rows_of], state.item_features(active.copy()), f"play {k}: shared"
            )
        return dirty

    for k, play in enumerate(plays):
        last = plays[k - 1] if k else None
        if k % 5 == 3 and last is not None and last.outcome is Outcome.LISTENED:
            # the play in progress at the last read ended as a skip
            skipped = Play(last.item, last.started_at, 9_000, Outcome.SKIPPED, 0)
            assert state.reclassify_last(skipped)
            patched += same(k)
        state.observe(play)
        if k % 4:  # (and sometimes several plays between two reads)
            patched += same(k)
    assert patched > 100  # the kept copies were really brought up to date
    assert shared > 100  # never-played tracks of one album really shared a row


def test_item_features_into_a_buffer_equal_the_returned_array() -> None:
    catalogue = wide_catalogue()
    plays = mixed_plays(len(catalogue), n=200, seed=4)
    state = F.HistoryState(catalogue)
    buffer = np.full((len(catalogue) + 3, F.N_ITEM_FEATURES + 2), 7.0, dtype=np.float32)
    rng = np.random.default_rng(0)
    for k, play in enumerate([None, *plays]):
        if play is not None:
            state.observe(play)
        items = rng.choice(len(catalogue), size=int(rng.integers(1, 300)), replace=False)
        view = buffer[1 : 1 + len(items), 1 : 1 + F.N_ITEM_FEATURES]  # strided, dirty
        got = state.item_features(items, out=view)
        assert got is view
        np.testing.assert_array_equal(view, state.item_features(items), err_msg=f"play {k}")
    assert buffer[0, 0] == 7.0 and buffer[-1, -1] == 7.0  # nothing outside it written


@pytest.mark.parametrize("blind", [False, True], ids=["skip-aware", "skip-blind"])
def test_features_of_a_few_items_and_of_a_batch_equal_the_frozen_ones(blind) -> None:
    """A few items' features (their rows' values looked up), call by call and computed
    for many calls at once, equal the frozen copy's, bit for bit: along first plays,
    repeats, every outcome and new sessions, for candidates that include the track just
    played, its successors, tracks never played and the same track twice."""
    catalogue = wide_catalogue()
    plays = mixed_plays(len(catalogue), n=300, seed=9)
    state = F.HistoryState(catalogue, blind=blind)
    old = legacy.HistoryState(catalogue, blind=blind)
    rng = np.random.default_rng(3)
    batch, expected, compared = F.FeatureBatch(65), [], 0
    for k, play in enumerate(plays):
        state.observe(play)
        old.observe(play)
        items = rng.integers(0, len(catalogue), 65)
        items[:3] = play.item, plays[k + 1].item if k + 1 < len(plays) else 0, items[4]
        items[5:10] = rng.integers(0, 40, 5)  # the favourites: rows with many keys
        frozen = old.item_features(items)
        np.testing.assert_array_equal(state.item_features(items), frozen, f"play {k}")
        batch.add(state, items)
        expected.append(frozen)
        if len(batch) == 37 or k == len(plays) - 1:
            np.testing.assert_array_equal(batch.columns(), np.concatenate(expected))
            compared += len(expected)
            expected = []
    assert compared == len(plays) and len(batch) == 0
    assert batch.columns().shape == (0, F.N_ITEM_FEATURES)


def test_features_are_a_new_array_each_call_while_the_work_buffers_are_kept() -> None:
    """item_features computes into buffers kept between calls (arrays of a few MB made on
    every call cost page faults): what it returns is still the caller's own, which the
    next call leaves as it was."""
    catalogue = wide_catalogue()
    plays = mixed_plays(len(catalogue), n=120, seed=5)
    state = F.HistoryState(catalogue)
    state.extend(plays[:60])
    items = np.arange(0, len(catalogue), 7)
    earlier = [state.item_features(), state.item_features(items)]
    copies = [a.copy() for a in earlier]
    work = state._work
    state.extend(plays[60:])
    later = [state.item_features(), state.item_features(items)]
    assert state._work is not work  # (two sizes asked in turn: made again)
    state.item_features(items)
    assert state._work is not None and state._work is state._work_for(len(items))  # kept
    for before, copy, after in zip(earlier, copies, later, strict=True):
        np.testing.assert_array_equal(before, copy)
        assert not np.shares_memory(before, after) and not np.array_equal(before, after)


def old_rerank(rr: Reranker, scores: np.ndarray, n: int, **kw) -> list[int]:
    """``Reranker.rerank`` as it was (its pools from two passes over every item), frozen."""
    s = rr.settings
    rules = rr.rules(kw.get("dial"))
    discover = kw.get("discover", "settings")
    if discover != "settings":
        rules = DialRules(None if discover is None else float(discover), rules.repeat_slots)
    knob = rules.discover
    values = np.asarray(scores, dtype=np.float64).copy()
    values[np.isnan(values)] = -np.inf
    blocked = rr.excluded(kw.get("hidden", ()), kw.get("now_ms"))
    if blocked:
        values[np.fromiter(blocked, np.int64)] = -np.inf
    pool_size = min(len(values), max(s.pool, 4 * n))
    if pool_size == 0 or n <= 0:
        return []
    pool = np.argpartition(-values, pool_size - 1)[:pool_size]
    pool = pool[np.lexsort((rr.ties[pool], -values[pool]))]
    pool = pool[np.isfinite(values[pool])].tolist()
    if knob is not None:
        fresh = np.flatnonzero(~rr.played & np.isfinite(values))
        if len(fresh) > pool_size:
            cut = np.partition(values[fresh], len(fresh) - pool_size)[len(fresh) - pool_size]
            fresh = fresh[values[fresh] >= cut]
        if len(fresh):
            extra = fresh[np.lexsort((rr.ties[fresh], -values[fresh]))][:pool_size]
            seen = set(pool)
            pool += [int(i) for i in extra if int(i) not in seen]
    return old_pick(rr, pool, n, rules)


def old_pick(self: Reranker, pool: list[int], n: int, rules: DialRules) -> list[int]:
    """``Reranker._pick`` as it was (items as dict keys, the just-played by set), frozen."""
    knob, slots = rules.discover, rules.repeat_slots
    artist = self.catalogue.artist
    window = self.settings.artist_window
    cap = self.artist_cap
    recent = set(self.recent) if self.settings.exclude_last > 0 else set()
    chosen: list[int] = []
    taken: set[int] = set()
    per_artist: defaultdict[int, int] = defaultdict(int)
    replays = fresh_so_far = 0
    lead = []
    if self.recent and window > 0 and self.settings.artist_after_current:
        lead = [int(artist[self.recent[-1]])]
    index = np.asarray(pool, dtype=np.int64)
    artist_of = dict(zip(pool, artist[index].tolist(), strict=True))  # plain ints: fast
    fresh_mask = ~self.played[index]
    fresh = index[fresh_mask].tolist()  # in the pool's order, as "familiar"
    new_to_them = set(fresh)
    queues = {"all": pool, "familiar": index[~fresh_mask].tolist(), "fresh": fresh}
    heads = dict.fromkeys(queues, 0)  # everything before a head is taken

    def first(name: str, blocked: set[int]) -> int | None:
        queue = queues[name]
        while heads[name] < len(queue) and queue[heads[name]] in taken:
            heads[name] += 1
        for k in range(heads[name], len(queue)):
            item = queue[k]
            if item in taken or artist_of[item] in blocked:
                continue
            if replays >= slots and item in recent:
                continue
            return item
        return None

    while len(chosen) < n:
        blocked = set((lead + [artist_of[i] for i in chosen])[-window:]) if window else set()
        if cap:
            blocked.update(a for a, count in per_artist.items() if count >= cap)
        blocked.discard(0)
        if knob is None:
            order = ["all"]
        elif rules.at_most:  # as the scores say, until the first plays reach the ceiling
            order = ["all"] if fresh_so_far < _rounded(knob * n) else ["familiar", "fresh"]
        else:  # first plays spread through the list, each where its share is due
            want_fresh = fresh_so_far < _rounded(knob * (len(chosen) + 1))
            order = ["fresh", "familiar"] if want_fresh else ["familiar", "fresh"]
        pick = None
        for rule in (blocked, set()):  # the artist rule gives way last
            for name in order:
                pick = first(name, rule)
                if pick is not None:
                    break
            if pick is not None:
                break
        if pick is None:
            break
        chosen.append(pick)
        taken.add(pick)
        per_artist[artist_of[pick]] += 1
        replays += pick in recent
        fresh_so_far += pick in new_to_them
    return chosen


def _random_catalogue(rng: np.random.Generator, n: int) -> Catalogue:
    artist = rng.integers(0, max(2, n // 8), n).astype(np.int32)
    return Catalogue(
        track_ids=rng.permutation(np.arange(1, 3 * n + 1))[:n].astype(np.int64),
        titles=[f"T{i}" for i in range(n)],
        artist=artist,
        artist_names=[f"A{a}" for a in range(max(2, n // 8))],
        album=artist.copy(),
        album_names=[f"B{a}" for a in range(max(2, n // 8))],
    )


def test_rerank_equals_the_replaced_code() -> None:
    """Random libraries (some smaller than the pool), histories, skips, hidden tracks,
    scores with runs of equal values, -inf and NaN, every dial position and rule setting:
    the same lists, and the shortcut really taken on most of them."""
    rng = np.random.default_rng(11)
    taken, checked = {False: 0, True: 0}, 0
    for case in range(400):
        n = int(rng.choice([40, 1_500, 6_000, 20_000]))
        catalogue = _random_catalogue(rng, n)
        settings = RerankSettings(
            exclude_last=int(rng.integers(0, 12)),
            artist_window=int(rng.integers(0, 4)),
            artist_after_current=bool(rng.random() < 0.5),
            pool=int(rng.choice([20, 100, 500])),
            dial=float(rng.choice([0.0, 0.25, 0.5, 0.75, 1.0])),
        )
        rr = Reranker(catalogue, settings)
        t, plays = T0, []
        for _ in range(int(rng.integers(0, min(n, 400)))):
            item = int(rng.integers(0, n)) if rng.random() < 0.5 else int(rng.integers(0, 8))
            outcome = Outcome.SKIPPED if rng.random() < 0.25 else Outcome.LISTENED
            plays.append(Play(item, t, 1000, outcome, 0))
            t += 3 * MIN
        rr.fit(plays)
        for _ in range(6):
            scores = rng.normal(size=n).astype(np.float32)
            if rng.random() < 0.25:  # a baseline's float64 scores
                scores = scores + rng.normal(size=n) * 1e-9
            if rng.random() < 0.4:  # runs of equal scores (an album the model scores alike)
                scores = np.round(scores, 1)
            if rng.random() < 0.3:
                scores[rng.integers(0, n, 3)] = np.nan
            if rng.random() < 0.3:
                scores[rng.integers(0, n, max(1, n // 3))] = -np.inf
            hidden = set(rng.integers(0, n, int(rng.integers(0, 5))).tolist())
            k = int(rng.choice([1, 5, 10, 25]))
            kw: dict = {"hidden": hidden, "now_ms": t}
            roll = rng.random()
            if roll < 0.2:
                kw["discover"] = None
            elif roll < 0.4:
                kw["discover"] = float(rng.random())
            elif roll < 0.6:
                kw["dial"] = float(rng.random())
            before = rr.played.copy()
            got = rr.rerank(scores, k, **kw)
            assert got == old_rerank(rr, scores, k, **kw), f"case {case}"
            np.testing.assert_array_equal(rr.played, before)  # nothing written in place
            checked += 1
            values = np.where(np.isnan(scores), -np.inf, scores).astype(np.float64)
            pool_size = min(n, max(settings.pool, 4 * k))
            for widen in (False, True):
                taken[widen] += rr._pools_fast(values, pool_size, widen=widen) is not None
    assert checked == 2_400
    assert min(taken.values()) > 500  # the shortcut answered most lists it could


def test_a_listener_who_played_much_of_the_library_gets_the_shortcut() -> None:
    """Away from the dial's middle a list is widened with the best never-played tracks:
    they were looked for among the best ``pool`` plus as many as the listener played,
    which at half a library played fell back to partitioning every score twice (2.7 ms a
    list at 15% of 100,000 tracks). Found among the never-played now: the shortcut
    answers, with the same pools and lists as the full partition — ties at the cut too."""
    rng = np.random.default_rng(5)
    n = 20_000
    catalogue = _random_catalogue(rng, n)
    rr = Reranker(catalogue, RerankSettings(pool=500))
    played = rng.permutation(n)[: n // 2]
    rr.fit([Play(int(item), T0 + k * 3 * MIN, 1000, Outcome.LISTENED, 0) for k, item in
            enumerate(played)])  # fmt: skip
    for rounded in (False, True):
        scores = rng.normal(size=n).astype(np.float32)
        if rounded:  # never-played tracks below the played, many scored alike
            fresh = ~rr.played
            scores[fresh] = np.round(scores[fresh], 2) - 2
        values = scores.astype(np.float64)
        fast = rr._pools_fast(values, 500, widen=True)
        assert fast is not None
        slow = rr._pools(values, 500, widen=True)
        np.testing.assert_array_equal(fast[0], slow[0])
        np.testing.assert_array_equal(fast[1], slow[1])
        for dial in (0.0, 0.25, 0.75, 1.0):
            assert rr.rerank(scores, 10, dial=dial) == old_rerank(rr, scores, 10, dial=dial)


def test_the_plays_kept_are_columns_read_as_the_rows_they_were() -> None:
    """A long history's records were a tuple of plain values a play (≈ 150 bytes with its
    ints; a million plays 203 MB, and the cycle collector's work on each full pass while
    a state was built). The state keeps them as four flat columns (18 bytes a play) read
    as those rows: the same values of the same types, one at a time, as slices and all
    at once, the last rewritten when a play is reclassified, the columns round-tripping."""
    catalogue = wide_catalogue(extra=300)
    state = F.HistoryState(catalogue)
    expected = []
    for play in mixed_plays(len(catalogue), n=200, seed=3):
        first = not state.seen[play.item]
        state.observe(play)
        expected.append((play.item, int(play.started_at), int(state.code(play)), first))
    assert list(state.plays) == expected and len(state.plays) == 200
    assert [state.plays[i] for i in range(-200, 200)] == expected * 2
    assert state.plays[-11:] == expected[-11:] and state.plays[:0] == []
    kinds = (int, int, int, bool)
    assert all(type(v) is k for row in state.plays for v, k in zip(row, kinds, strict=True))
    assert any(row[3] for row in expected) and not all(row[3] for row in expected)
    np.testing.assert_array_equal(state.plays.rows(), [row[:3] for row in expected])
    assert HistoryPlays.from_columns(*state.plays.columns()) == state.plays
    columns = [getattr(state.plays, name) for name in state.plays.__slots__]
    # four objects to the cycle collector, not 200, each referring only to its type
    assert {type(c) for c in columns} == set(gc.get_referents(*columns)) == {array}
    assert sum(map(sys.getsizeof, columns)) < 30 * 200
    last = state.plays[-1]
    assert state.context()[F.CONTEXT_FEATURES.index("last_skipped")] == float(
        last[2] in F.SKIP_CODES
    )
    state.plays[-1] = (7, 8, 9, True)
    assert state.plays[-1] == (7, 8, 9, True) and list(state.plays)[:-1] == expected[:-1]
    with pytest.raises(ValueError):
        HistoryPlays.from_columns(*state.plays.columns()[:3], np.zeros(3))


def test_mirrored_rows_follow_the_plays_and_the_features_stay_the_frozen_ones() -> None:
    """The sparse rows item_features reads are kept as arrays, updated as plays arrive
    (the keys a play changed are noted and copied when the row is next read): after every
    play each mirror, brought up to date, equals its row read afresh, and the features equal
    the frozen copy's (which reads the dicts), for the active items and for all — with
    serving's few mirrors and the trainer's many."""
    catalogue = wide_catalogue(extra=300)
    plays = mixed_plays(len(catalogue), n=300, seed=8)
    for blind, kept in ((False, 64), (True, 64), (False, 1 << 16)):
        new = F.HistoryState(catalogue, blind=blind)
        new.max_mirrors = kept
        old = legacy.HistoryState(catalogue, blind=blind)
        grown = stale = many = 0
        for k, play in enumerate(plays):
            new.observe(play)
            old.observe(play)
            active = new.cold_split()[0]
            # rows a whole session added to (their keys copied in one go)
            many += sum(len(mirror.stale) >= 16 for mirror in new._mirrors.values())
            np.testing.assert_array_equal(
                new.item_features(active), old.item_features(active), err_msg=f"play {k}"
            )
            if k % 25 == 0:
                np.testing.assert_array_equal(new.item_features(), old.item_features())
            tables = (new.trans, new.window, new.cooc)
            for (table, key), mirror in new._mirrors.items():
                row = tables[table][key]
                if mirror.stale:
                    stale += 1
                    mirror.sync(row)
                assert mirror.size == len(row)
                np.testing.assert_array_equal(mirror.keys[: mirror.size], list(row.keys()))
                np.testing.assert_array_equal(mirror.vals[: mirror.size], list(row.values()))
                grown += mirror.size > len(mirror.keys) // 2
        # made, kept, grown, left stale (by many keys too)
        assert new._mirrors and grown > 0 and stale > 0 and many > 0


def test_packed_rows_read_and_grow_as_the_dicts_they_were() -> None:
    """A served history packs its sparse rows (``pack_rows``) and unpacks those the next
    plays write to: packed at every few plays (mirrors made from packed and live rows
    alike), a state's features, its rows (keys in the same order, the same weights) and
    their single values stay those of a state that never packed, and the rows written to
    a warm-start file come back packed and equal."""
    catalogue = wide_catalogue(extra=300)
    plays = mixed_plays(len(catalogue), n=300, seed=9)
    packed, plain = F.HistoryState(catalogue), F.HistoryState(catalogue)
    packed.max_mirrors = plain.max_mirrors = 16
    unpacked = 0
    for k, play in enumerate(plays):
        was = len(packed.cooc.packed)
        packed.observe(play)
        plain.observe(play)
        unpacked += was - len(packed.cooc.packed)
        if k % 7 == 3:
            packed.pack_rows()
            assert not packed.cooc.live and not packed.trans.live
        active = plain.cold_split()[0]
        np.testing.assert_array_equal(
            packed.item_features(active), plain.item_features(active), err_msg=f"play {k}"
        )
    np.testing.assert_array_equal(packed.item_features(), plain.item_features())
    assert unpacked > 0 and packed.cooc.packed and packed.cooc.live  # both kinds in use
    for mine, theirs in (
        (packed.trans, plain.trans),
        (packed.window, plain.window),
        (packed.cooc, plain.cooc),
    ):
        assert mine == theirs and len(mine) == len(theirs.live) and not theirs.packed
        for key in theirs:
            assert list(mine[key].items()) == list(theirs[key].items())
            column, weight = next(iter(theirs[key].items()))
            assert mine.value(key, column) == weight and mine.value(key, -1) == 0.0
        again = SparseRows.from_flat(*mine.flat())
        assert again == theirs and not again.live
    assert packed.cooc != plain.trans
    with pytest.raises(KeyError):
        packed.cooc[-1]


def test_play_rows_map_to_the_same_items_with_the_order_check_remembered() -> None:
    """``serving._items`` asks the catalogue whether its ids ascend, found once per
    catalogue (it checked all 100,000 on every suggestion): catalogues in and out of order,
    asked about in turn, still map every track id as a dict of the catalogue would."""
    rng = np.random.default_rng(2)
    ascending = np.arange(10, 5_010, 5, dtype=np.int64)
    shuffled = rng.permutation(ascending)
    for _ in range(3):
        for ids in (ascending, shuffled, ascending.copy()):
            catalogue = Catalogue(
                track_ids=ids,
                titles=[""] * len(ids),
                artist=np.zeros(len(ids), dtype=np.int32),
                artist_names=[""],
                album=np.zeros(len(ids), dtype=np.int32),
                album_names=[""],
            )
            wanted = [int(t) for t in rng.choice(ids, 50)] + [-1, 7, 10**9]  # -1: unmatched
            index = {int(t): i for i, t in enumerate(ids)}
            expected = [index.get(t, -1) for t in wanted]
            assert serving_items(catalogue, np.array(wanted)).tolist() == expected
