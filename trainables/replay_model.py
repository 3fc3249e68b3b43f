"""The replay surrogate: a configuration's learning curve predicted from the recorded ones.

A k-nearest-neighbour regression (scikit-learn's `KNeighborsRegressor`, distance-weighted) from
an encoded configuration (`ReplayTable.encode`: the snapping distances) to the whole curve of
`MODELLED` metrics, averaged over training seeds. A recorded configuration is its own nearest
neighbour at distance 0, so it predicts exactly its recorded mean. A replayed trial adds the
training noise of the seed it drew: that seed's deviation from its configuration's mean curve.
`analysis.replay_check` measures whether this predicts held-out configurations better than
snapping to the nearest one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from trainables import metrics as m

MODELLED = (m.VAL_ACC, m.VAL_LOSS, m.TEST_ACC)  # the metrics the surrogate predicts
NEIGHBOURS = 5


class CurveSurrogate:
    """k-NN regression from encoded configurations to mean curves (epochs x `MODELLED`)."""

    def __init__(
        self, points: np.ndarray, mean_curves: Mapping[int, np.ndarray], epochs: int
    ) -> None:
        from sklearn.neighbors import KNeighborsRegressor

        targets = np.stack([curve.ravel() for curve in mean_curves.values()])
        self.epochs = epochs
        self.model = KNeighborsRegressor(
            n_neighbors=min(NEIGHBOURS, len(targets)), weights="distance"
        ).fit(points, targets)

    def predict(self, points: np.ndarray) -> np.ndarray:
        """Predicted mean curves, one epochs x `MODELLED` array per row of `points`."""
        return self.model.predict(points).reshape(len(points), self.epochs, len(MODELLED))

    @staticmethod
    def padded(curve: Sequence[Mapping[str, Any]], epochs: int) -> np.ndarray:
        """A recorded curve's `MODELLED` metrics as epochs x metrics.

        A curve that ended early (it diverged) keeps its last values for the epochs it did not
        train; a loss that is not finite counts as the largest finite loss of the curve or 10.
        """
        rows = np.array([[float(row.get(name, np.nan)) for name in MODELLED] for row in curve])
        loss = rows[:, MODELLED.index(m.VAL_LOSS)]
        finite = loss[np.isfinite(loss)]
        loss[~np.isfinite(loss)] = max(finite.max(initial=0.0), 10.0) if finite.size else 10.0
        rows = np.nan_to_num(rows, nan=0.0)
        return np.vstack([rows, np.repeat(rows[-1:], max(epochs - len(rows), 0), axis=0)])

    @staticmethod
    def with_noise(
        recorded: Sequence[Mapping[str, Any]], predicted: np.ndarray, noise: np.ndarray
    ) -> list[dict[str, Any]]:
        """`recorded`'s reports with the `MODELLED` metrics replaced by `predicted` + `noise`
        (accuracies kept inside [0, 1]); the epochs, seconds and other metrics stay recorded."""
        curve = predicted + noise
        rows = []
        for epoch, row in enumerate(recorded):
            values = dict(row)
            for index, name in enumerate(MODELLED):
                value = float(curve[epoch, index])
                values[name] = min(max(value, 0.0), 1.0) if name.endswith("acc") else value
            rows.append(values)
        return rows
