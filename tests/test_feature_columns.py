"""Named feature columns encode exactly what the numbered ones did.

``legacy_features_v2.py`` is the history-feature code as it was before the columns got
names (a frozen copy); here both run side by side over the same plays and every column of
every item's features, the context and the session inputs must be equal, bit for bit.
"""

from __future__ import annotations

import legacy_features_v2 as legacy
import numpy as np
import pytest
from test_model_fixtures import MIN, T0, synthetic_catalogue

from player_plugin.app.evaluate import build_store, read_listeners
from player_plugin.domain.catalogue import Catalogue
from player_plugin.domain.listen import Outcome
from player_plugin.domain.play import Play
from player_plugin.recommend import features as F
from player_plugin.store.catalogue import load_catalogue, load_plays


def _mixed_plays(n: int = 600, seed: int = 3) -> list[Play]:
    """Every outcome, sessions, repeats, a few unknown-artist tracks."""
    rng = np.random.default_rng(seed)
    outcomes = list(Outcome)
    plays, t, session = [], T0, 0
    for _ in range(n):
        item = int(rng.integers(0, 40)) if rng.random() < 0.7 else int(rng.integers(0, 72))
        kind = outcomes[int(rng.choice(5, p=[0.6, 0.15, 0.1, 0.1, 0.05]))]
        plays.append(Play(item, t, 100_000, kind, session))
        t += int(rng.integers(1, 8)) * MIN
        if rng.random() < 0.05:
            t += 5 * 60 * MIN
            session += 1
    return plays


def _catalogue_with_unknown_artist() -> Catalogue:
    cat = synthetic_catalogue()
    cat.artist[60:66] = 0  # the last artists' tracks: unknown artist and album
    cat.album[60:66] = 0
    return cat


def _assert_same(new: np.ndarray, old: np.ndarray, names: tuple[str, ...], where: str) -> None:
    assert new.shape == old.shape and new.dtype == old.dtype, where
    for column, name in enumerate(names):
        np.testing.assert_array_equal(
            new[..., column], old[..., column], err_msg=f"{where}: {name}"
        )


def _compare(plays: list[Play], catalogue: Catalogue, *, blind: bool, every: int) -> int:
    """Feed both encoders the same plays; compare at every *every*-th play. Returns the
    number of comparisons made."""
    new = F.HistoryState(catalogue, blind=blind)
    old = legacy.HistoryState(catalogue, blind=blind)
    rng = np.random.default_rng(0)
    checks = 0
    for index, play in enumerate([None, *plays]):
        if play is not None:
            new.observe(play)
            old.observe(play)
        if index % every and index != len(plays):
            continue
        where = f"after {index} plays"
        _assert_same(new.item_features(), old.item_features(), F.ITEM_FEATURES, where)
        some = rng.choice(len(catalogue), size=min(17, len(catalogue)), replace=False)
        _assert_same(new.item_features(some), old.item_features(some), F.ITEM_FEATURES, where)
        _assert_same(new.context(), old.context(), F.CONTEXT_FEATURES, where)
        for (k, a), (_, b) in zip(
            sorted(new.session_inputs().items()), sorted(old.session_inputs().items()), strict=True
        ):
            np.testing.assert_array_equal(a, b, err_msg=f"{where}: session {k}")
        for a, b in zip(new.cold_split(), old.cold_split(), strict=True):
            np.testing.assert_array_equal(a, b, err_msg=f"{where}: cold split")
        checks += 1
    return checks


def test_the_column_names_are_the_legacy_columns() -> None:
    assert F.ITEM_FEATURES == legacy.ITEM_FEATURES
    assert F.CONTEXT_FEATURES == legacy.CONTEXT_FEATURES
    assert [F.ITEM_COLUMN[n] for n in F.ITEM_FEATURES] == list(range(F.N_ITEM_FEATURES))
    assert [F.CONTEXT_COLUMN[n] for n in F.CONTEXT_FEATURES] == list(range(F.N_CONTEXT))
    assert F.N_OUTCOMES == legacy.N_OUTCOMES and int(F.PLAYED) == legacy.PLAYED
    for outcome in Outcome:
        assert int(F.HISTORY_CODES[outcome]) == legacy.OUTCOME_CODES[outcome.label]


def test_a_repeated_column_name_is_refused() -> None:
    with pytest.raises(ValueError, match="repeat"):
        F.column_index(("a", "b", "a"))


@pytest.mark.parametrize("blind", [False, True])
def test_named_columns_equal_the_numbered_ones_on_every_outcome(blind: bool) -> None:
    assert _compare(_mixed_plays(), _catalogue_with_unknown_artist(), blind=blind, every=37) > 10


def test_reclassifying_the_last_play_matches_the_legacy_code() -> None:
    cat, plays = _catalogue_with_unknown_artist(), _mixed_plays(200)
    new, old = F.HistoryState(cat), legacy.HistoryState(cat)
    for play in plays[:-1]:
        new.observe(play)
        old.observe(play)
    heard = Play(plays[-1].item, plays[-1].started_at, 10_000, Outcome.LISTENED, 9)
    new.observe(heard)
    old.observe(heard)
    ended = Play(heard.item, heard.started_at, 10_000, Outcome.SKIPPED, 9)
    assert new.reclassify_last(ended) and old.reclassify_last(ended)
    _assert_same(new.item_features(), old.item_features(), F.ITEM_FEATURES, "reclassified")
    _assert_same(new.context(), old.context(), F.CONTEXT_FEATURES, "reclassified")


@pytest.mark.realdata
def test_named_columns_equal_the_numbered_ones_on_a_real_history(tmp_path, shared_data) -> None:
    """A real listener's year of Spotify plays (skips, browsing, stops), imported into a
    real store as evaluation does and read back as the trainer reads it."""
    files = [shared_data / "spotify-extended-2023-2026" / "Streaming_History_Audio_2023.json"]
    history = read_listeners(files)
    db = build_store(tmp_path / "real.db", history.listeners[None], fmt="spotify", files=files)
    catalogue = load_catalogue(db)
    plays = load_plays(db, catalogue)
    kinds = {p.outcome for p in plays}
    assert len(plays) > 3000 and {Outcome.LISTENED, Outcome.SKIPPED, Outcome.BROWSING} <= kinds
    assert _compare(plays, catalogue, blind=False, every=400) >= 8


def test_log1p_of_counts_is_numpys_bit_for_bit() -> None:
    """The counts' table gives np.log1p's own numbers, and whatever it cannot give (a
    fraction, a count past the table, a small block) is computed."""
    rng = np.random.default_rng(5)
    whole = rng.integers(0, 70_000, (11, 400)).astype(np.float64)
    whole[:, :50] = rng.integers(65_530, 65_540, (11, 50))  # around the table's end
    below = np.minimum(whole, 65_535.0)
    fraction = below.copy()
    fraction[3, 7] += 0.25
    for name, block in (
        ("whole, past the table", whole),
        ("whole, in the table", below),
        ("one fraction", fraction),
        ("a small block", below[:, :20].copy()),
        ("zeros", np.zeros((11, 300))),
    ):
        got = block.copy()
        F.log1p_counts(got)
        np.testing.assert_array_equal(
            got.view(np.uint64), np.log1p(block).view(np.uint64), err_msg=name
        )


def test_a_large_catalogue_read_from_the_table_matches_the_legacy_code() -> None:
    """Enough items that the counts are read from the table (the catalogue's, and the
    cold split's active items), with counts in the hundreds: bit for bit the legacy's."""
    n, per_artist = 900, 3
    artist = (np.arange(n) // per_artist + 1).astype(np.int32)
    album = (np.arange(n) // (2 * per_artist) + 1).astype(np.int32)
    cat = Catalogue(
        track_ids=np.arange(1, n + 1, dtype=np.int64),
        titles=[f"T{i}" for i in range(n)],
        artist=artist,
        artist_names=[""] + [f"A{a}" for a in range(1, int(artist.max()) + 1)],
        album=album,
        album_names=[""] + [f"L{a}" for a in range(1, int(album.max()) + 1)],
    )
    rng = np.random.default_rng(11)
    outcomes = list(Outcome)
    plays, t = [], T0
    for _ in range(1500):
        item = int(rng.integers(0, 12)) if rng.random() < 0.6 else int(rng.integers(0, 700))
        kind = outcomes[int(rng.choice(5, p=[0.6, 0.15, 0.1, 0.1, 0.05]))]
        plays.append(Play(item, t, 100_000, kind))
        t += int(rng.integers(1, 8)) * MIN + (5 * 60 * MIN if rng.random() < 0.03 else 0)
    state, old = F.HistoryState(cat), legacy.HistoryState(cat)
    state.extend(plays)
    old.extend(plays)
    active = state.cold_split()[0]
    assert state.count.max() > 50 and len(active) * 11 >= F._LOG1P_TABLE_FROM
    _assert_same(state.item_features(active), old.item_features(active), F.ITEM_FEATURES, "active")
    assert _compare(plays, cat, blind=False, every=300) >= 5


@pytest.mark.parametrize("blind", [False, True], ids=["skip-aware", "skip-blind"])
def test_tracks_last_played_years_ago_match_the_legacy_code(blind: bool) -> None:
    """Plays spread over years, with gaps of days, months and years: the recency of a
    track (or artist) played long ago is exp(-elapsed / time constant) = 0.0, which the
    features no longer compute where it is certain (the same bits as computing it)."""
    rng = np.random.default_rng(11)
    catalogue = _catalogue_with_unknown_artist()
    outcomes = list(Outcome)
    plays, t = [], T0
    for _ in range(240):
        plays.append(Play(int(rng.integers(0, 70)), t, 100_000, outcomes[int(rng.integers(5))], 0))
        t += (
            int(
                rng.choice([3, 60 * 24 * 9, 60 * 24 * 120, 60 * 24 * 800], p=[0.8, 0.1, 0.07, 0.03])
            )
            * MIN
        )
    last = {p.item: p.started_at for p in plays}
    idle_days = (plays[-1].started_at - min(last.values())) / (24 * 60 * MIN)
    assert idle_days > 800  # some tracks' day-scale recency is 0.0
    assert _compare(plays, catalogue, blind=blind, every=5) > 40
