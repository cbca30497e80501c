"""Speed-ups that must not change a number: each is compared with the computation it
replaced (issue 15).

- History features are computed only for items with any history (their own, their
  artist's or their album's); every other item shares one of a few precomputed rows. The
  assembled matrix equals the dense ``item_features()`` of every item, bit for bit, after
  every play (first plays, repeats, skips, a reclassified last play, a new session).
  (Before any play the dense rows leave ``unplayed_artist_pool`` at 0; the model then
  scores everything the dense way: see tests/test_model_recommender.py.)
- The cold split is kept between first plays and moved on by them: equal to one made
  afresh each time.
- ``encode_items`` keys each (artist, album) pair once: equal to keying every item.
"""

from __future__ import annotations

import numpy as np
from test_model_fixtures import MIN, T0, with_cold_tracks

from player_plugin.domain.catalogue import Catalogue
from player_plugin.domain.listen import Outcome
from player_plugin.domain.play import SESSION_GAP_MS, Play
from player_plugin.recommend import features as F
from player_plugin.recommend.cold_split import ColdSplit, _without
from player_plugin.recommend.item_inputs import Vocab, album_key


def _wide_catalogue(extra: int = 500) -> Catalogue:
    """The synthetic catalogue plus never-played tracks by never-played artists (some of
    unknown artist and album), sharing albums across artists."""
    artist = 20 + np.arange(extra) % 50
    artist[-9:] = 0
    album = 20 + np.arange(extra) % 70
    album[-5:] = 0
    return with_cold_tracks(artist, album, albums=100)


def _plays(catalogue: Catalogue, n: int = 400, seed: int = 5) -> list[Play]:
    """Repeats, first plays (also of cold artists), every outcome, session gaps."""
    rng = np.random.default_rng(seed)
    outcomes = list(Outcome)
    plays, t, session = [], T0, 0
    for _ in range(n):
        r = rng.random()
        item = int(rng.integers(0, 30)) if r < 0.6 else int(rng.integers(0, len(catalogue)))
        kind = outcomes[int(rng.choice(5, p=[0.6, 0.15, 0.1, 0.1, 0.05]))]
        plays.append(Play(item, t, 100_000, kind, session))
        t += int(rng.integers(1, 8)) * MIN
        if rng.random() < 0.05:
            t += SESSION_GAP_MS + MIN
            session += 1
    return plays


def _assembled(state: F.HistoryState) -> np.ndarray:
    """Every item's features as the fast path builds them: active rows computed, the
    rest copied from the shared cold rows."""
    active, cold, rows, inverse = state.cold_split()
    out = np.empty((state.n, F.N_ITEM_FEATURES), dtype=np.float32)
    out[active] = state.item_features(active)
    out[cold] = rows[inverse]
    return out


def test_history_features_only_for_items_with_history_equal_the_dense_ones() -> None:
    catalogue = _wide_catalogue()
    plays = _plays(catalogue)
    for blind in (False, True):
        state = F.HistoryState(catalogue, blind=blind)
        colds = set()
        for k, play in enumerate(plays):
            state.observe(play)
            if k % 50 == 49:  # the play in progress ends as a skip
                skipped = Play(play.item, play.started_at, 5_000, Outcome.SKIPPED, 0)
                state.reclassify_last(skipped)
            dense = state.item_features()
            assert dense.shape == (len(catalogue), F.N_ITEM_FEATURES)
            np.testing.assert_array_equal(_assembled(state), dense, err_msg=f"play {k}")
            colds.add(len(state.cold_split()[1]))
        assert len(colds) > 20  # the split moved as first plays came (it was tested moving)
        assert min(colds) > 0


def test_the_kept_cold_split_equals_one_computed_afresh(monkeypatch) -> None:
    """Kept between first plays and moved on by them (``ColdSplit.after``, one play or
    two between two reads; made afresh after a track of the unknown artist), the split is
    the one made afresh, array for array, and an array a first play left as it was is
    the same object."""
    catalogue = _wide_catalogue()
    moved = {"on": 0, "afresh": 0}
    after = ColdSplit.after

    def counted(split: ColdSplit, state, played) -> ColdSplit | None:
        out = after(split, state, played)
        moved["on" if out is not None else "afresh"] += 1
        return out

    monkeypatch.setattr(ColdSplit, "after", counted)
    same_active = 0
    for seed in (9, 10, 11):
        state = F.HistoryState(catalogue)
        kept_calls = 0
        for k, play in enumerate(_plays(catalogue, 300, seed=seed)):
            before = state._split
            state.observe(play)
            if k % 3 == 1:
                continue  # (a read after two plays)
            split = state.cold_split()
            fresh = ColdSplit.of(state)
            wanted = (fresh.active, fresh.cold, state._cold_rows(fresh.keys), fresh.inverse)
            for a, b in zip(split, wanted, strict=True):
                np.testing.assert_array_equal(a, b, f"seed {seed}, play {k}")
                assert a.dtype == b.dtype
                assert not a.flags.writeable  # shared between calls: nobody may change it
            if before is not None and state._split is before:
                kept_calls += 1
            elif before is not None and before.split.active is state._split.split.active:
                same_active += 1  # first plays that made nothing active keep the array
        assert kept_calls > 50  # repeats really reuse the split
    assert moved["on"] > 100 and moved["afresh"] > 3 and same_active > 20


def test_encode_items_keys_each_album_once_with_the_same_result() -> None:
    catalogue = _wide_catalogue()
    # album names that fold together and artists respelled, so keys really collide
    catalogue.artist_names[3] = "The Artist 3"
    catalogue.album_names[4] = "Älbum 4"
    vocab = Vocab(
        items={int(t): i + 1 for i, t in enumerate(catalogue.track_ids[::3])},
        artists={f"artist {a}": a for a in range(1, 60)},
        albums={},
        genres={},
    )
    for i in range(0, len(catalogue), 2):
        key = album_key(catalogue, i)
        if key:
            vocab.albums.setdefault(key, len(vocab.albums) + 1)
    encoded = F.encode_items(catalogue, vocab)
    reference = np.array(
        [vocab.albums.get(album_key(catalogue, i), 0) for i in range(len(catalogue))]
    )
    np.testing.assert_array_equal(encoded["album"], reference)
    assert (reference > 0).sum() > len(catalogue) // 3 and (reference == 0).any()
    empty = Catalogue(
        np.zeros(0, np.int64), [], np.zeros(0, np.int32), [""], np.zeros(0, np.int32), [""]
    )
    assert F.encode_items(empty, vocab)["album"].shape == (0,)


def _python_max(rows: list[tuple[dict[int, float] | None, float]]) -> float:
    """The largest value of the weighted sum of sparse rows (0 when empty), in Python."""
    total: dict[int, float] = {}
    for row, weight in rows:
        for k, v in (row or {}).items():
            total[k] = total.get(k, 0.0) + v * weight
    return max(total.values(), default=0.0)


def test_the_one_pass_sparse_maximum_equals_the_python_sum() -> None:
    catalogue = _wide_catalogue()
    state = F.HistoryState(catalogue)
    state.extend(_plays(catalogue, 300, seed=11))
    rng = np.random.default_rng(4)
    for _ in range(30):
        query = rng.choice(list(state.cooc), size=3, replace=False).tolist()
        weights = [(j, float(w)) for j, w in zip(query, rng.random(3), strict=True)]
        arrays = state._table_rows(F._COOC, weights)  # the rows as item_features reads them
        values, top = state._sparse_sum(arrays, None, top=True)
        rows = [(state.cooc.get(j), w) for j, w in weights]
        assert top == _python_max(rows) > 0  # exactly: the same additions in order
        assert top == values.max()
        assert state._sparse_sum(arrays, None)[1] == 0.0  # not asked for
    assert state._sparse_sum([], None, top=True)[1] == 0.0


def test_a_split_drops_its_newly_active_items_as_np_delete_does() -> None:
    rng = np.random.default_rng(2)
    array = rng.integers(0, 1_000, 500)
    for at in ([], [0], [499], [0, 1, 2, 499], sorted(rng.choice(500, 40, replace=False))):
        places = np.asarray(at, dtype=np.int64)
        np.testing.assert_array_equal(_without(array, places), np.delete(array, places))
