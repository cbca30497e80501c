"""Content similarity: tracks like the ones in the current session, by tags and audio.

Similarity of a track to a session track: same artist, same album, same genre, a close
year, and the cosine of the audio descriptors when the catalogue has them. The latest
session tracks weigh most; the recency-weighted play counts break the remaining ties.
"""

from __future__ import annotations

import numpy as np

from player_plugin.domain.listen import Outcome
from player_plugin.domain.play import Play
from player_plugin.recommend.counting import CountingRecommender

WEIGHTS = {"artist": 1.0, "album": 0.5, "genre": 0.3, "year": 0.2, "audio": 0.6}


class Content(CountingRecommender):
    name = "content"
    uses_audio = True
    query_length = 5

    def reset(self) -> None:
        super().reset()
        audio = self.catalogue.audio
        self._audio = None
        if audio is not None and len(audio):
            a = np.asarray(audio, dtype=np.float64)
            valid = np.asarray(~np.isnan(a).any(axis=1))  # per row, never a lone bool
            if valid.sum() >= 2:
                mean, std = a[valid].mean(axis=0), a[valid].std(axis=0) + 1e-9
                z = np.where(valid[:, None], (a - mean) / std, 0.0)
                norms = np.linalg.norm(z, axis=1, keepdims=True)
                self._audio = np.divide(z, norms, out=np.zeros_like(z), where=norms > 0)

    def _reclassify(self, last: Play, play: Play) -> bool:
        return True  # the session is read from the history on each call

    def similarity(self, item: int) -> np.ndarray:
        """How much every catalogue track resembles *item* (float64, 0 = nothing shared)."""
        cat = self.catalogue
        sim = np.zeros(len(cat), dtype=np.float64)
        if cat.artist[item]:
            sim += WEIGHTS["artist"] * (cat.artist == cat.artist[item])
        if cat.album[item]:
            sim += WEIGHTS["album"] * (cat.album == cat.album[item])
        if cat.genre[item]:
            sim += WEIGHTS["genre"] * (cat.genre == cat.genre[item])
        if cat.year[item]:
            known = cat.year > 0
            sim += WEIGHTS["year"] * known * np.exp(-np.abs(cat.year - cat.year[item]) / 3.0)
        if self._audio is not None and self._audio[item].any():
            sim += WEIGHTS["audio"] * np.maximum(self._audio @ self._audio[item], 0.0)
        return sim

    def _query(self) -> list[tuple[int, float]]:
        heard = [p for p in self.session if p.outcome is not Outcome.BROWSING]
        session = heard[-self.query_length :]
        return [(p.item, 1.0 / (len(session) - k)) for k, p in enumerate(session)]

    def scores(self) -> np.ndarray:
        main = np.zeros(len(self.catalogue), dtype=np.float64)
        for item, weight in self._query():
            main += weight * self.similarity(item)
        return self.with_backoff(main)

    def explain(self, item: int) -> str | None:
        cat = self.catalogue
        for other, _ in reversed(self._query()):
            if other == item:
                continue
            if cat.album[item] and cat.album[item] == cat.album[other]:
                album = cat.album_names[cat.album[item]]  # named as explain.link_reason does
                return f"from the same album as {cat.describe(other)} ({album})"
            if cat.artist[item] and cat.artist[item] == cat.artist[other]:
                return f"same artist as {cat.describe(other)}"
        for other, _ in reversed(self._query()):
            if cat.genre[item] and cat.genre[item] == cat.genre[other]:
                return f"{cat.genre_names[cat.genre[item]]}, like {cat.describe(other)}"
            if (
                self._audio is not None
                and other != item
                and float(self._audio[item] @ self._audio[other]) > 0.8
            ):
                return f"sounds like {cat.describe(other)}"
        return None
