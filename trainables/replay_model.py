"""The replay surrogate: a configuration's learning curve predicted from the recorded ones.

A k-nearest-neighbour regression (scikit-learn's `KNeighborsRegressor`, distance-weighted) from
an encoded configuration (`ReplayTable.encode`: the snapping distances) to the whole curve of
`MODELLED` metrics, averaged over training seeds. A recorded configuration is its own nearest
neighbour at distance 0, so it predicts exactly its recorded mean. A replayed trial adds the
training noise of the seed it drew: that seed's deviation from its configuration's mean curve,
the sum clipped, epoch by epoch, to the band its neighbours' recorded seeds span. Without the
clip, a seed that failed to learn in one configuration (a deviation of -0.4) or learned where its
mean did not (+0.4) carried its deviation onto predictions between configurations and produced
curves better than anything recorded (20 of 260 replayed runs at 58 epochs reached val_acc 1.0).
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
        self,
        points: np.ndarray,
        mean_curves: Mapping[int, np.ndarray],
        epochs: int,
        bands: tuple[Mapping[int, np.ndarray], Mapping[int, np.ndarray]] | None = None,
    ) -> None:
        """`bands`: per configuration (same keys and order as `mean_curves`), the lowest and
        the highest value of each epoch and metric over its recorded seeds (default: the mean)."""
        from sklearn.neighbors import KNeighborsRegressor

        targets = np.stack([curve.ravel() for curve in mean_curves.values()])
        self.epochs = epochs
        low, high = bands or (mean_curves, mean_curves)
        self.low = np.stack([low[key] for key in mean_curves])
        self.high = np.stack([high[key] for key in mean_curves])
        self.model = KNeighborsRegressor(
            n_neighbors=min(NEIGHBOURS, len(targets)), weights="distance"
        ).fit(points, targets)

    def predict(self, points: np.ndarray) -> np.ndarray:
        """Predicted mean curves, one epochs x `MODELLED` array per row of `points`."""
        return self.model.predict(points).reshape(len(points), self.epochs, len(MODELLED))

    def band(self, point: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The lowest and highest recorded values (epochs x `MODELLED`) over every seed of the
        neighbours the prediction at `point` averages."""
        neighbours = self.model.kneighbors(point.reshape(1, -1), return_distance=False)[0]
        return self.low[neighbours].min(axis=0), self.high[neighbours].max(axis=0)

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
        recorded: Sequence[Mapping[str, Any]],
        predicted: np.ndarray,
        noise: np.ndarray,
        band: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> list[dict[str, Any]]:
        """`recorded`'s reports with the `MODELLED` metrics replaced by `predicted` + `noise`,
        clipped to `band` (`CurveSurrogate.band`) and accuracies to [0, 1]; the epochs, seconds
        and other metrics stay recorded."""
        curve = predicted + noise
        if band is not None:
            curve = np.clip(curve, *band)
        rows = []
        for epoch, row in enumerate(recorded):
            values = dict(row)
            for index, name in enumerate(MODELLED):
                value = float(curve[epoch, index])
                values[name] = min(max(value, 0.0), 1.0) if name.endswith("acc") else value
            rows.append(values)
        return rows
