"""Matrix factorisation peer (``mf``), only when the optional ``implicit`` package is here.

One listener has one user row, so sessions play the part of users: ALS factorises the
session × track matrix of the training plays, and the current session is folded in as the
mean of its tracks' factors. Like every learned model it is fitted once and held fixed;
``observe`` only moves the session.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence

import numpy as np

from player_plugin.domain.catalogue import Catalogue
from player_plugin.domain.play import Play
from player_plugin.recommend.counting import CountingRecommender


def available() -> bool:
    """Whether the optional ``implicit`` package can be imported."""
    return importlib.util.find_spec("implicit") is not None


class MatrixFactorisation(CountingRecommender):
    name = "mf"
    factors = 64
    iterations = 15
    regularization = 0.05

    def fit(self, plays: Sequence[Play], catalogue: Catalogue) -> None:
        # implicit is optional (the `mf` extra); it and scipy load only when this one fits
        from implicit.als import AlternatingLeastSquares
        from scipy.sparse import csr_matrix
        from threadpoolctl import threadpool_limits

        super().fit(plays, catalogue)
        listened = [p for p in plays if p.listened]
        self.item_factors = np.zeros((len(catalogue), self.factors), dtype=np.float32)
        if not listened:
            return
        rows = np.fromiter((p.session for p in listened), np.int64)
        cols = np.fromiter((p.item for p in listened), np.int64)
        _, rows = np.unique(rows, return_inverse=True)
        matrix = csr_matrix(
            (np.ones(len(cols), np.float32), (rows, cols)),
            shape=(int(rows.max()) + 1, len(catalogue)),
        )
        with threadpool_limits(1, "blas"):  # implicit's own threads; BLAS ones only slow it
            model = AlternatingLeastSquares(
                factors=self.factors,
                iterations=self.iterations,
                regularization=self.regularization,
                random_state=0,
            )
            model.fit(matrix, show_progress=False)
        factors = model.item_factors
        self.item_factors = np.asarray(getattr(factors, "to_numpy", lambda: factors)())

    def scores(self) -> np.ndarray:
        items = [p.item for p in self.session][-10:]
        main = np.zeros(len(self.catalogue), dtype=np.float64)
        if items:
            query = self.item_factors[items].mean(axis=0)
            main = np.maximum(self.item_factors @ query, 0.0)
        return self.with_backoff(main)
