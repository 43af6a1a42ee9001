"""Correlation matrix of daily return series (numpy; imported only by the route that needs it)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def correlation_matrix(series: Sequence[Sequence[float]]) -> list[list[float | None]]:
    """Pearson correlations between equally long series (one per factor). A series that never moves has no
    correlation with anything: its row and column are None, except 1.0 on the diagonal."""
    data = np.asarray(series, dtype=float)
    if data.ndim != 2 or data.shape[1] < 2:
        raise ValueError("need at least two observations per series")
    centered = data - data.mean(axis=1, keepdims=True)
    norms = np.sqrt((centered * centered).sum(axis=1))
    moving = norms > 0
    safe = np.where(moving, norms, 1.0)
    matrix = (centered @ centered.T) / np.outer(safe, safe)
    matrix = np.clip(matrix, -1.0, 1.0)
    out: list[list[float | None]] = []
    for i in range(len(data)):
        row: list[float | None] = []
        for j in range(len(data)):
            if i == j:
                row.append(1.0)
            elif moving[i] and moving[j]:
                row.append(float(matrix[i, j]))
            else:
                row.append(None)
        out.append(row)
    return out
