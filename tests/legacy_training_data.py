"""A frozen copy of ``training/data.py`` as it built the examples before its negatives were
drawn lazily (commit a9f42d7): the reference ``test_training_examples.py`` compares the
current examples with, array by array. Copied verbatim but for this docstring. Do not edit
it to follow the code: a difference is exactly what the test exists to find.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from player_plugin.domain.catalogue import Catalogue
from player_plugin.domain.play import Play
from player_plugin.recommend import features as F


@dataclass
class Examples:
    hist_items: np.ndarray  # int64[P, L], -1 = padding
    hist_outcome: np.ndarray  # int64[P, L]
    hist_gap: np.ndarray  # int64[P, L]
    context: np.ndarray  # float32[P, C]
    cand_items: np.ndarray  # int64[P, K+1], column 0 is the target
    cand_feat: np.ndarray  # float16[P, K+1, F]
    cand_seen: np.ndarray  # bool[P, K+1]: appeared in the history before (ID known)
    cand_logw: np.ndarray  # float32[P, K+1]: log importance weight (0 for target and hard)
    times: np.ndarray  # int64[P]: when the target started
    weight: np.ndarray  # float32[P]: loss weight
    listened: np.ndarray  # bool[P]: the target was a listen (what evaluation predicts)

    def __len__(self) -> int:
        return len(self.times)

    def take(self, index: np.ndarray) -> Examples:
        return Examples(*(getattr(self, f)[index] for f in self.__dataclass_fields__))


# Hard and played-track negatives fill this share of an example's negatives; the rest are
# drawn from the whole catalogue, where a library's never-played tracks are (with fewer
# draws the model over-scored them: measured on the validation split with distractors)
SEEN_SHARE = 0.7


class Cancelled(Exception):
    """Training was asked to stop."""


def _negatives(
    state: F.HistoryState,
    target: int,
    k: int,
    rng: np.random.Generator,
    by_artist: dict[int, np.ndarray],
    blind: bool,
    hard_share: float,
    seen_items: list[int],
) -> tuple[np.ndarray, np.ndarray]:
    """Hard negatives first (up to ``hard_share`` of *k*), then tracks drawn uniformly from
    those already played (so the features of the whole played catalogue are represented,
    not only of recent tracks), then uniformly from the whole catalogue."""
    # (item, log weight): a random k of a pool of P stands for P / k of its pool, as the
    # uniform negatives below do for theirs (a sampled-softmax correction); whole pools
    # are taken with weight 1
    pools: list[tuple[int, float]] = [(i, 0.0) for i in state.recent_items(16)]
    prev = state.ses_listened[-1] if state.ses_listened else None
    if prev is not None and prev in state.trans:
        row = state.trans[prev]
        pools.extend((i, 0.0) for i in sorted(row, key=row.__getitem__, reverse=True)[:8])
    if not blind:
        pools.extend((i, 0.0) for i in state.ses_skips.counts)

    def sample(members: np.ndarray) -> None:
        size = min(4, len(members))
        weight = float(np.log(len(members) / size))
        pools.extend((int(i), weight) for i in rng.choice(members, size=size, replace=False))

    if state.plays:
        # where a first play competes: the last artist's tracks not played yet
        last = state.plays[-1][0]
        members = by_artist.get(int(state.artist[last]))
        if members is not None:
            unplayed = members[~state.seen[members]]
            if len(unplayed):
                sample(unplayed)
    artists: list[int] = []
    for item, *_ in reversed(state.plays[-10:]):
        a = int(state.artist[item])
        if a and a not in artists:
            artists.append(a)
        if len(artists) >= 3:
            break
    for a in artists:
        members = by_artist.get(a)
        if members is not None:
            sample(members)
    dec = state.dec30 * np.exp(-np.maximum(state.now - state.dec_t, 0) / (30 * F.DAY_MS))
    pools.extend((int(i), 0.0) for i in np.argpartition(-dec, min(8, state.n - 1))[:8])
    taken: set[int] = {target}
    out: list[int] = []
    hard_w: list[float] = []
    for item, weight in pools:
        if item not in taken:
            taken.add(item)
            out.append(item)
            hard_w.append(weight)
            if len(out) >= int(k * hard_share):
                break
    n_hard = len(out)
    n_seen = max(int(k * SEEN_SHARE) - n_hard, 0) if len(seen_items) > 2 * k else 0
    for _ in range(n_seen):
        out.append(seen_items[int(rng.integers(len(seen_items)))])
    n_all = k - len(out)
    while len(out) < k:
        out.append(int(rng.integers(state.n)))
    # Sampled-softmax correction: a uniformly drawn negative stands for 1/q of its pool,
    # so the loss estimates the full softmax and a flexible scorer cannot learn the
    # sampling design instead of the ranking.
    logw = np.zeros(k, dtype=np.float32)
    logw[:n_hard] = hard_w
    if n_seen:
        logw[n_hard : n_hard + n_seen] = np.log(len(seen_items) / n_seen)
    if n_all:
        logw[k - n_all :] = np.log(state.n / n_all)
    items = np.asarray(out[:k], dtype=np.int64)
    logw[items == target] = -np.inf
    return items, logw


def build_examples(
    plays: Sequence[Play],
    catalogue: Catalogue,
    *,
    blind: bool,
    negatives: int,
    seed: int,
    hard_share: float = 0.75,
    first_target: int = 1,
    other_weight: float = 0.0,
    new_weight: float = 1.0,
    cancel: threading.Event | None = None,
) -> Examples:
    """Examples for every target play from index *first_target* on. Targets are listened
    plays (a skip-blind model cannot tell, so every play is a target for it); with
    *other_weight* > 0 the other plays are targets too, with that loss weight."""
    rng = np.random.default_rng(seed)
    state = F.HistoryState(catalogue, blind=blind)
    order = np.argsort(catalogue.artist, kind="stable")
    codes = np.asarray(catalogue.artist)[order]
    by_artist: dict[int, np.ndarray] = {}
    if len(order):
        cuts = np.flatnonzero(np.diff(codes)) + 1
        for group in np.split(order, cuts):
            a = int(catalogue.artist[group[0]])
            if a:
                by_artist[a] = group
    rows: dict[str, list] = {k: [] for k in ("items", "hist_outcome", "hist_gap", "context")}
    cands, feats, seen_rows, times = [], [], [], []
    seen_items: list[int] = []
    logws: list[np.ndarray] = []
    weights: list[float] = []
    flags: list[bool] = []
    for index, play in enumerate(plays):
        if cancel is not None and index % 512 == 0 and cancel.is_set():
            raise Cancelled
        listened = blind or play.listened
        if index >= first_target and state.plays and (listened or other_weight > 0):
            negs, logw = _negatives(
                state, play.item, negatives, rng, by_artist, blind, hard_share, seen_items
            )
            cand = np.concatenate([[play.item], negs])
            session = state.session_inputs()
            for key in rows:
                rows[key].append(session[key][0])
            cands.append(cand)
            logws.append(np.concatenate([[0.0], logw]))
            feats.append(state.item_features(cand).astype(np.float16))
            seen_rows.append(state.seen[cand])
            times.append(play.started_at)
            weight = 1.0 if listened else other_weight
            weights.append(weight * (new_weight if not state.seen[play.item] else 1.0))
            flags.append(listened)
        if not state.seen[play.item]:
            seen_items.append(play.item)
        state.observe(play)
    p, k1 = len(cands), negatives + 1
    return Examples(
        hist_items=np.asarray(rows["items"], dtype=np.int64).reshape(p, F.SEQ_LEN),
        hist_outcome=np.asarray(rows["hist_outcome"], dtype=np.int64).reshape(p, F.SEQ_LEN),
        hist_gap=np.asarray(rows["hist_gap"], dtype=np.int64).reshape(p, F.SEQ_LEN),
        context=np.asarray(rows["context"], dtype=np.float32).reshape(p, F.N_CONTEXT),
        cand_items=np.asarray(cands, dtype=np.int64).reshape(p, k1),
        cand_feat=np.asarray(feats, dtype=np.float16).reshape(p, k1, F.N_ITEM_FEATURES),
        cand_seen=np.asarray(seen_rows, dtype=bool).reshape(p, k1),
        cand_logw=np.asarray(logws, dtype=np.float32).reshape(p, k1),
        times=np.asarray(times, dtype=np.int64),
        weight=np.asarray(weights, dtype=np.float32),
        listened=np.asarray(flags, dtype=bool),
    )
