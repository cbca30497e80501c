"""The learned model as a Recommender: the ONNX engine plus the live history state.

``fit`` loads the history as input state (no learning here: weights are fixed at export),
``observe`` grows it, ``scores`` encodes the current session and every item's history
features with :mod:`player_plugin.recommend.features` and runs the engine's scorer over
the cached item vectors. :func:`load_active` finds the model that should serve, falling
back to the previous one (then to None: the baselines) with a message, never a crash.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Sequence

import numpy as np
import sqlite_utils
from threadpoolctl import ThreadpoolController

from player_plugin.domain.catalogue import Catalogue, tie_breaker
from player_plugin.domain.play import Play, PlayLog
from player_plugin.recommend import features as F
from player_plugin.recommend.base import Recommender
from player_plugin.recommend.cold_split import growth
from player_plugin.recommend.engine import Engine, ModelError
from player_plugin.recommend.explain import follows_reason
from player_plugin.store.catalogue import load_catalogue, load_plays
from player_plugin.store.models import model_folder, serving_order
from player_plugin.store.settings import PROVIDER_KEY, get_setting

log = logging.getLogger(__name__)

__all__ = ["ModelRecommender", "catalogue_dot", "load_active"]

TIE_BREAK = 1e-3  # the largest share of a score that breaking ties may add


@functools.cache
def _blas() -> ThreadpoolController:
    """The process's BLAS libraries (found once: it scans the loaded libraries)."""
    return ThreadpoolController()


def catalogue_dot(vectors: np.ndarray, query: np.ndarray) -> np.ndarray:
    """``vectors @ query`` (float32[n, dim] by float32[dim]) on one BLAS thread.

    BLAS's ``sgemv`` is three times numpy's ``einsum`` here (0.2 against 0.6 ms at
    100,000 × 32), but threaded it is slower on a busy machine (8 ms on a loaded laptop)
    and its sums' last bits depend on the number of threads: one thread gives the same
    bits on every call."""
    with _blas().limit(limits=1, user_api="blas"):
        return vectors @ query


class ModelRecommender(Recommender):
    """Scores every catalogue item for the current session with an exported model."""

    name = "model"

    def __init__(self, engine: Engine) -> None:
        super().__init__()
        self.engine = engine
        self.state: F.HistoryState | None = None
        self.vectors: np.ndarray | None = None
        self.ties: np.ndarray | None = None
        self._cand: _Candidates | None = None  # the scorer's inputs, kept with the cold split
        self._tie_buffer: np.ndarray | None = None
        self._dense_feat: np.ndarray | None = None  # scorer_inputs' features, kept

    @property
    def model_id(self) -> str:
        return self.engine.model_id

    @property
    def manifest(self) -> dict:
        return self.engine.manifest

    def fit(
        self, plays: Sequence[Play], catalogue: Catalogue, *, vectors: np.ndarray | None = None
    ) -> None:
        """Load *plays* as the history; *vectors* (float32[len(catalogue), dim]), when
        given, are the item vectors already known for this catalogue (a warm start)."""
        self.catalogue = catalogue
        if vectors is not None and vectors.shape == (len(catalogue), self.engine.dim):
            self.vectors = np.asarray(vectors, dtype=np.float32)
        else:
            self.vectors = self.engine.item_vectors(catalogue)
        self.ties = (TIE_BREAK * tie_breaker(catalogue.track_ids)).astype(np.float32)
        self._cand = None
        # what Recommender.fit does (the history, then each play observed), the state's
        # replay counting most of it from the plays' columns at once
        self.history = PlayLog(plays)
        self.reset()
        assert self.state is not None
        self.state.replay(self.history)
        self.state.pack_rows()  # served from here on: a long history's rows in less memory

    def reset(self) -> None:
        assert self.catalogue is not None
        # fit() replays the history from here and packs it: the rows built at once then
        self.state = F.HistoryState(self.catalogue, blind=self.engine.blind, rows_later=True)

    def take_audio(self, catalogue: Catalogue, vectors: np.ndarray | None = None) -> bool:
        """New audio descriptors for the same tracks: new item vectors (*vectors*, or
        computed), the history kept — it never reads the audio."""
        if self.catalogue is None or len(catalogue) != len(self.catalogue):
            return False
        if vectors is None or vectors.shape != (len(catalogue), self.engine.dim):
            vectors = self.engine.item_vectors(catalogue)
        self.catalogue = catalogue
        self.vectors = np.asarray(vectors, dtype=np.float32)
        self._cand = None
        return True

    def observe(self, play: Play) -> None:
        super().observe(play)
        assert self.state is not None, "fit() first"
        self.state.observe(play)

    def reclassify_last(self, play: Play) -> bool:
        """The last play, observed as a listen while it played, ended as *play* says (a
        skip): update the state in place (see :meth:`HistoryState.reclassify_last`)."""
        if self.state is None or not self.history or not self.state.reclassify_last(play):
            return False
        self.history[-1] = play
        return True

    def scorer_inputs(self) -> dict[str, np.ndarray]:
        """What the scorer gets for the current session (batch of one); the features'
        array is kept and written again by the next call (a few MB made on every call
        cost page faults: see ``HistoryState._work_for``)."""
        inputs = self._session()
        assert self.state is not None and self.vectors is not None
        inputs["cand_vec"] = self.vectors[None]
        shape = (self.state.n, F.N_ITEM_FEATURES)
        if self._dense_feat is None or self._dense_feat.shape != shape:
            self._dense_feat = np.empty(shape, dtype=np.float32)
        inputs["cand_feat"] = self.state.item_features(out=self._dense_feat)[None]
        return inputs

    def scores(self) -> np.ndarray:
        """Every item's score. Items without any history (nor artist or album history) share
        a few feature rows: the scorer runs on the other items plus one zero-vector row per
        distinct cold row, and cold items get ``query · vector`` + their row's part — the
        same numbers as scoring everything (:meth:`scores_full`), in a fraction of the
        time on a large library. (Before any play every item is cold, yet the dense
        features leave ``unplayed_artist_pool`` at 0 then: everything is scored.) The
        never-played tracks of an artist and album with history share a row the same way
        (:meth:`HistoryState.feature_rows`): one zero-vector row per album, not a row per
        track — a library of whole albums of which a few tracks were played is mostly
        such tracks.

        Exact ties are broken: never-played tracks of one album with no audio analysis
        get the same score, yet a list needs an order. A fixed per-track number
        (:func:`tie_breaker`) adds at most ``TIE_BREAK`` of a score's size, so it orders
        only what the model scores (almost) the same."""
        if self.catalogue is None or len(self.catalogue) == 0:
            return np.zeros(0, dtype=np.float32)
        assert self.state is not None and self.vectors is not None, "fit() first"
        active, cold, rows, inverse = self.state.cold_split()
        if len(cold) < 256 or not self.state.plays:  # no plays: no shared rows (see below)
            return self.scores_full()
        inputs = self._session()
        standing, rows_of = self.state.feature_rows()
        cand = self._cand
        if cand is None or not cand.stands(standing, rows, inverse):  # kept with the split
            cand = self._cand = _Candidates(
                active, standing, rows_of, cold, rows, inverse, self.vectors, cand
            )
        k = len(cand.standing)
        self.state.item_features(cand.standing, out=cand.feat[0, :k])
        inputs["cand_vec"], inputs["cand_feat"] = cand.vec, cand.feat
        part, query = self.engine.score_parts(inputs)
        out = catalogue_dot(self.vectors, query[0])
        # each item of a shared row gets its row's part (the others a zero, then their
        # own): one gather from a table of rows' parts instead of indexing those items
        # (every index is in range: "clip" changes nothing but spares the copy "raise" makes)
        r = len(rows)
        cand.shared[1 : 1 + r] = part[0, k:]
        cand.shared[1 + r :] = part[0, :k]
        out += np.take(cand.shared, cand.rowmap, out=self._buffer(out), mode="clip")
        out[cand.own] = part[0, cand.own_at]
        return self._untie_in_place(out)

    def scores_full(self) -> np.ndarray:
        """Every item through the scorer (the reference :meth:`scores` must match)."""
        return self._untie(self.engine.score(self.scorer_inputs())[0])

    def _untie(self, scores: np.ndarray) -> np.ndarray:
        assert self.ties is not None, "fit() first"
        out = np.asarray(scores, dtype=np.float32)
        return out + self.ties * np.maximum(np.float32(1.0), np.abs(out))

    def _buffer(self, like: np.ndarray) -> np.ndarray:
        """A scratch array shaped like *like*, kept between calls."""
        if self._tie_buffer is None or self._tie_buffer.shape != like.shape:
            self._tie_buffer = np.empty_like(like)
        return self._tie_buffer

    def _untie_in_place(self, out: np.ndarray) -> np.ndarray:
        """:meth:`_untie` of float32 *out*, written into it (the same operations, without
        three arrays of the catalogue's size allocated on every call)."""
        assert self.ties is not None, "fit() first"
        term = np.abs(out, out=self._buffer(out))
        np.maximum(np.float32(1.0), term, out=term)
        np.multiply(self.ties, term, out=term)
        return np.add(out, term, out=out)

    def _session(self) -> dict[str, np.ndarray]:
        assert self.state is not None and self.vectors is not None, "fit() first"
        session = self.state.session_inputs()
        items = session.pop("items")
        hist_vec = self.vectors[np.maximum(items, 0)] * (items >= 0)[..., None]
        return {
            "hist_vec": hist_vec.astype(np.float32),
            "hist_outcome": session["hist_outcome"],
            "hist_gap": session["hist_gap"],
            "context": session["context"],
        }

    def explain(self, item: int) -> str | None:
        state, cat = self.state, self.catalogue
        if state is None or cat is None or not 0 <= item < len(cat):
            return None
        count = int(state.count[item])
        if state.ses_listened:
            prev = state.ses_listened[-1]
            if state.trans.value(prev, item):
                return follows_reason(item, prev, cat)
        if count:
            return f"you played it {count} time{'s' if count != 1 else ''}"
        artist = int(cat.artist[item])
        if artist and state.a_count[artist]:
            return f"new to you, by {cat.artist_names[artist]}, whom you play"
        return "new to you, close to what you play"


class _Candidates:
    """What :meth:`ModelRecommender.scores` feeds the scorer, kept while the cold split
    stands: a row per item whose features are computed (``standing``: with its own vector
    where it alone has that row, else a zero vector: the row's part is shared), then one
    zero-vector row per shared cold row (``vec``); a feature buffer whose cold rows are
    written once (``feat``; the others are rewritten on every call); the items scored on
    their own row and vector (``own``, at rows ``own_at``); and each item's shared row
    (``rowmap``: its index into ``shared``, which holds a zero, the cold rows' parts, then
    the standing rows' — a cold item's index does not depend on how many stand, so a
    first play that leaves the cold rows as they were keeps the cold items' indices:
    made from *before*'s, only the active items' are written)."""

    __slots__ = (
        "feat", "inverse", "own", "own_at", "rowmap", "rows", "shared", "standing", "vec",
    )  # fmt: skip
    rowmap: np.ndarray

    def __init__(
        self,
        active: np.ndarray,
        standing: np.ndarray,
        rows_of: np.ndarray | None,
        cold: np.ndarray,
        rows: np.ndarray,
        inverse: np.ndarray,
        vectors: np.ndarray,
        before: _Candidates | None = None,
    ) -> None:
        k, r = len(standing), len(rows)
        self.standing, self.rows, self.inverse = standing, rows, inverse
        if rows_of is None:  # every active item has a row of its own
            self.own_at = np.arange(k)
        else:
            self.own_at = np.flatnonzero(np.bincount(rows_of, minlength=k) == 1)
        self.own = standing[self.own_at]
        self.vec = np.zeros((1, k + r, vectors.shape[1]), dtype=np.float32)
        if not self._vectors_from(before, vectors):
            self.vec[0, self.own_at] = vectors[self.own]
        self.feat = np.empty((1, k + r, rows.shape[1]), dtype=np.float32)
        self.feat[0, k:] = rows
        self.shared = np.zeros(1 + r + k, dtype=np.float32)  # the first one stays 0
        if before is not None and before.rows is rows and len(before.rowmap) == len(vectors):
            # the same cold rows: a cold item's index stands (one cold before is active now)
            rowmap: np.ndarray = before.rowmap
        else:
            rowmap = np.zeros(len(vectors), dtype=np.intp)
            rowmap[cold] = 1 + inverse
        # (an item scored on its own row is written over after)
        rowmap[active] = 0 if rows_of is None else 1 + r + rows_of
        self.rowmap = rowmap

    def _vectors_from(self, before: _Candidates | None, vectors: np.ndarray) -> bool:
        """Write the own rows' vectors from *before*'s where every item that stood then
        stands now and every one scored on its own row still is (a first play adds
        standing items and own rows, it takes none away): its rows copied to their new
        places, the vectors of the few new own rows gathered — instead of thousands of
        rows scattered over the catalogue's vectors (≈ 0.3 ms at 100,000 tracks).
        False: nothing written."""
        grown = growth(before.standing, self.standing) if before is not None else None
        if grown is None or before is None:
            return False
        at, k = grown[0], len(self.standing)
        own = np.zeros(k, dtype=bool)
        own[self.own_at] = True
        was_own = np.zeros(k, dtype=bool)
        was_own[at[before.own_at]] = True
        if np.any(was_own & ~own):
            return False
        self.vec[0, at] = before.vec[0, : len(at)]
        gained = np.flatnonzero(own & ~was_own)
        self.vec[0, gained] = vectors[self.standing[gained]]
        return True

    def stands(self, standing: np.ndarray, rows: np.ndarray, inverse: np.ndarray) -> bool:
        """Whether these are still the split's arrays (kept ones are the same objects)."""
        return self.standing is standing and self.rows is rows and self.inverse is inverse


PROVIDER_SETTING = PROVIDER_KEY  # the settings' choice; "" = automatic (CPU: for a model
# this small the CPU beats copying every request to a GPU)


def _provider_setting(db: sqlite_utils.Database) -> str | None:
    try:
        value = get_setting(db, PROVIDER_SETTING)
    except Exception:  # settings are optional here; the CPU always works
        return None
    return str(value) if value else None


def model_status(db: sqlite_utils.Database) -> dict:
    """What serves suggestions, for `segue doctor`: the model id and execution provider,
    or the baselines (with why)."""
    rec = load_active(db, fit=False)
    if rec is None:
        return {"serving": "baselines", "model_id": None, "provider": None}
    return {
        "serving": "model",
        "model_id": rec.model_id,
        "provider": rec.engine.provider,
        "providers_requested": _provider_setting(db),
    }


def load_active(
    db: sqlite_utils.Database, *, provider: str | None = None, threads: int = 1, fit: bool = True
) -> ModelRecommender | None:
    """The model that should serve: the active one, else the newest retired one that
    loads (each refusal logged with its reason); None means the baselines serve. With
    *fit*, the recommender is ready: the store's catalogue and plays are its history."""
    if provider is None:
        provider = _provider_setting(db)
    engine = None
    for row in serving_order(db):
        try:
            engine = Engine(model_folder(db, row), provider=provider, threads=threads)
            if row["state"] != "active":
                log.warning("serving the previous model %s instead", row["id"])
            break
        except ModelError as exc:
            log.warning("model %s not used: %s", row["id"], exc)
        except Exception as exc:  # a model must never crash the player
            log.warning("model %s not used: %s: %s", row["id"], type(exc).__name__, exc)
    if engine is None:
        return None
    rec = ModelRecommender(engine)
    if fit:
        catalogue = load_catalogue(db)
        try:
            rec.fit(load_plays(db, catalogue), catalogue)
        except Exception as exc:
            log.warning("model %s not used: %s: %s", engine.model_id, type(exc).__name__, exc)
            return None
    return rec
