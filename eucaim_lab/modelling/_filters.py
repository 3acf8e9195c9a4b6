"""Unsupervised feature filters for radiomics tables, as scikit-learn selectors fitted inside each fold.

- :class:`NearConstantFilter` drops features with (almost) no variation.
- :class:`CorrelationFilter` keeps one feature per cluster of features correlated above a threshold.
- :class:`StabilityFilter` keeps features whose ICC across repeated segmentations/perturbations is high enough,
  where the table carries the repeats as extra columns (``<feature>@<perturbation id>``).
- :class:`VolumeConfoundingFilter` and :func:`volume_confounding` find features that mostly measure tumour volume.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.feature_selection import SelectorMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from .._errors import InvalidInputError

__all__ = [
    "CorrelationFilter",
    "NearConstantFilter",
    "StabilityFilter",
    "VolumeConfoundingFilter",
    "icc",
    "volume_confounding",
    "widen_perturbations",
]


class NearConstantFilter(SelectorMixin, BaseEstimator):
    """Drop features that are (nearly) constant.

    A feature is dropped when its variance is ``<= threshold`` or when its most frequent value covers more than
    ``max_frequency`` of the rows (e.g. a shape feature that is 0 for almost every lesion).
    """

    def __init__(self, threshold: float = 0.0, max_frequency: float = 0.95) -> None:
        self.threshold = threshold
        self.max_frequency = max_frequency

    def fit(self, X: Any, y: Any = None) -> NearConstantFilter:
        if not 0 < self.max_frequency <= 1:
            raise InvalidInputError(f"max_frequency must be in (0, 1]. Got {self.max_frequency!r}.")
        if self.threshold < 0:
            raise InvalidInputError(f"threshold must be >= 0. Got {self.threshold!r}.")
        X = validate_data(self, X, dtype=float, ensure_all_finite="allow-nan")
        self.variances_ = np.nanvar(X, axis=0)
        top = np.empty(X.shape[1])
        for j in range(X.shape[1]):
            column = X[:, j]
            column = column[~np.isnan(column)]
            top[j] = np.unique(column, return_counts=True)[1].max() / len(column) if len(column) else 1.0
        self.top_frequency_ = top
        return self

    def _get_support_mask(self) -> np.ndarray:
        check_is_fitted(self, "variances_")
        return (self.variances_ > self.threshold) & (self.top_frequency_ <= self.max_frequency)

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags


class CorrelationFilter(SelectorMixin, BaseEstimator):
    """Keep one feature per cluster of features whose absolute correlation exceeds ``threshold``.

    Clusters are the connected components of the graph "|r| > threshold" (single linkage), so no two kept
    features correlate above the threshold. The kept feature of a cluster is the one with the highest mean
    absolute correlation to the other members (the most representative); ties go to the first column.
    """

    def __init__(self, threshold: float = 0.9, method: str = "spearman") -> None:
        self.threshold = threshold
        self.method = method

    def fit(self, X: Any, y: Any = None) -> CorrelationFilter:
        from scipy.sparse import csr_matrix
        from scipy.sparse.csgraph import connected_components

        if not 0 < self.threshold <= 1:
            raise InvalidInputError(f"threshold must be in (0, 1]. Got {self.threshold!r}.")
        if self.method not in ("pearson", "spearman"):
            raise InvalidInputError(f"method must be 'pearson' or 'spearman'. Got {self.method!r}.")
        X = validate_data(self, X, dtype=float)
        corr = np.abs(_correlation(X, self.method))
        adjacency = corr > self.threshold
        np.fill_diagonal(adjacency, False)
        n_clusters, labels = connected_components(csr_matrix(adjacency), directed=False)
        keep = np.zeros(X.shape[1], dtype=bool)
        for cluster in range(n_clusters):
            members = np.flatnonzero(labels == cluster)
            if len(members) == 1:
                keep[members[0]] = True
                continue
            sub = corr[np.ix_(members, members)]
            keep[members[int(np.argmax((sub.sum(axis=1) - 1) / (len(members) - 1)))]] = True
        self.clusters_ = labels
        self.correlation_ = corr
        self.support_ = keep
        return self

    def _get_support_mask(self) -> np.ndarray:
        check_is_fitted(self, "support_")
        return self.support_


def _correlation(X: np.ndarray, method: str) -> np.ndarray:
    """Correlation matrix of the columns of X; constant columns correlate 0 with everything but themselves."""
    from scipy.stats import rankdata

    data = rankdata(X, axis=0) if method == "spearman" else X
    centred = data - data.mean(axis=0)
    norm = np.sqrt((centred**2).sum(axis=0))
    safe = np.where(norm > 0, norm, 1.0)
    corr = (centred.T @ centred) / np.outer(safe, safe)
    corr[norm == 0, :] = 0.0
    corr[:, norm == 0] = 0.0
    np.fill_diagonal(corr, 1.0)
    return np.clip(corr, -1.0, 1.0)


# -- stability ----------------------------------------------------------------------------------------------------

def icc(measurements: np.ndarray, kind: str = "ICC(2,1)") -> float:
    """Intraclass correlation of a (subjects x repeats) matrix, by two-way ANOVA (Shrout & Fleiss 1979).

    ``kind``: ``"ICC(1,1)"`` one-way random; ``"ICC(2,1)"`` two-way random, absolute agreement;
    ``"ICC(3,1)"`` two-way mixed, consistency. Single-measurement forms.
    """
    data = np.asarray(measurements, dtype=float)
    if data.ndim != 2 or data.shape[0] < 2 or data.shape[1] < 2:
        raise InvalidInputError(f"ICC needs a (subjects x repeats) matrix with at least 2 x 2 values. Got {data.shape}.")
    n, k = data.shape
    grand = data.mean()
    ss_rows = k * ((data.mean(axis=1) - grand) ** 2).sum()
    ss_cols = n * ((data.mean(axis=0) - grand) ** 2).sum()
    ss_total = ((data - grand) ** 2).sum()
    ss_error = ss_total - ss_rows - ss_cols
    msr = ss_rows / (n - 1)
    msc = ss_cols / (k - 1)
    mse = ss_error / ((n - 1) * (k - 1))
    msw = (ss_cols + ss_error) / (n * (k - 1))
    if kind == "ICC(1,1)":
        num, den = msr - msw, msr + (k - 1) * msw
    elif kind == "ICC(2,1)":
        num, den = msr - mse, msr + (k - 1) * mse + k * (msc - mse) / n
    elif kind == "ICC(3,1)":
        num, den = msr - mse, msr + (k - 1) * mse
    else:
        raise InvalidInputError(f"kind must be 'ICC(1,1)', 'ICC(2,1)' or 'ICC(3,1)'. Got {kind!r}.")
    if den == 0:
        return 1.0 if num == 0 and ss_total == 0 else 0.0
    return float(num / den)


def widen_perturbations(table: pd.DataFrame, id_column: str = "case_id", perturbation_column: str = "perturbation",
                        reference: str = "original", separator: str = "@") -> pd.DataFrame:
    """Turn a long table (one row per case and perturbation/repeated segmentation) into the wide layout.

    The rows whose ``perturbation_column`` equals ``reference`` give the columns ``<feature>``; every other
    perturbation id ``p`` gives ``<feature>@p``. The result has one row per case, ready for
    :class:`StabilityFilter`.
    """
    for column in (id_column, perturbation_column):
        if column not in table.columns:
            raise InvalidInputError(f"Column {column!r} not found. Got columns: {[str(c) for c in table.columns[:8]]}.")
    ids = set(table.loc[table[perturbation_column] == reference, id_column])
    if not ids:
        raise InvalidInputError(
            f"No row has {perturbation_column} == {reference!r}; pass reference= the id of the unperturbed rows. "
            f"Got ids: {sorted(map(str, table[perturbation_column].unique()))[:8]}."
        )
    if table.duplicated([id_column, perturbation_column]).any():
        raise InvalidInputError(f"Each ({id_column}, {perturbation_column}) pair must appear once.")
    features = [c for c in table.columns if c not in (id_column, perturbation_column)]
    blocks = []
    for perturbation, block in table.groupby(perturbation_column, sort=True):
        block = block.set_index(id_column)[features]
        if perturbation != reference:
            block = block.add_suffix(f"{separator}{perturbation}")
        blocks.append(block)
    wide = pd.concat(blocks, axis=1, join="outer")
    missing = wide.index[wide.isna().any(axis=1)]
    if len(missing):
        raise InvalidInputError(
            f"Case(s) {sorted(map(str, missing))[:5]} lack some perturbations; every case needs every perturbation."
        )
    reference_columns = [str(c) for c in features]
    others = [c for c in wide.columns if c not in reference_columns]
    return wide[reference_columns + others].reset_index()


class StabilityFilter(SelectorMixin, BaseEstimator):
    """Keep features that are reproducible across repeated segmentations or image perturbations.

    The table carries each repeat as extra columns named ``<feature><separator><perturbation id>`` beside the
    reference column ``<feature>`` (e.g. ``original_glcm_Contrast`` and ``original_glcm_Contrast@erode1``). For each
    feature with repeats, ``fit`` computes the ICC over (rows x [reference + repeats]); the output keeps the
    reference columns of features with ICC >= ``threshold`` and drops every repeat column. Features without
    repeats are kept (``keep_untested=True``) or dropped.
    """

    def __init__(self, threshold: float = 0.75, kind: str = "ICC(2,1)", separator: str = "@",
                 keep_untested: bool = True) -> None:
        self.threshold = threshold
        self.kind = kind
        self.separator = separator
        self.keep_untested = keep_untested

    def fit(self, X: Any, y: Any = None) -> StabilityFilter:
        X_arr = validate_data(self, X, dtype=float)
        names = (list(self.feature_names_in_) if hasattr(self, "feature_names_in_")
                 else [f"x{i}" for i in range(X_arr.shape[1])])
        position = {name: j for j, name in enumerate(names)}
        repeats: dict[str, list[int]] = {}
        is_repeat = np.zeros(len(names), dtype=bool)
        for j, name in enumerate(names):
            if self.separator and self.separator in name:
                base = name.rsplit(self.separator, 1)[0]
                if base in position:
                    repeats.setdefault(base, []).append(j)
                    is_repeat[j] = True
        orphans = [n for j, n in enumerate(names) if self.separator and self.separator in n and not is_repeat[j]]
        if orphans:
            raise InvalidInputError(
                f"StabilityFilter found repeat column(s) without their reference column: {orphans[:5]}. "
                f"Expected a column named like {orphans[0].rsplit(self.separator, 1)[0]!r} beside them."
            )
        scores = np.full(len(names), np.nan)
        for base, cols in repeats.items():
            j = position[base]
            scores[j] = icc(X_arr[:, [j, *cols]], self.kind)
        keep = ~is_repeat & np.where(np.isnan(scores), self.keep_untested, scores >= self.threshold)
        self.icc_ = pd.Series(scores, index=names, name=self.kind)[~is_repeat]
        self.support_ = keep
        return self

    def _get_support_mask(self) -> np.ndarray:
        check_is_fitted(self, "support_")
        return self.support_


# -- volume confounding -------------------------------------------------------------------------------------------

def volume_confounding(X: pd.DataFrame, volume_column: str = "original_shape_VoxelVolume",
                       method: str = "spearman") -> pd.DataFrame:
    """Correlation of every feature with tumour volume, strongest first.

    Returns a DataFrame indexed by feature with ``correlation`` and ``abs_correlation``; features near |r| = 1
    carry little information beyond volume (a known confounder in radiomics).
    """
    if not isinstance(X, pd.DataFrame):
        raise InvalidInputError("volume_confounding expects a DataFrame with named feature columns.")
    if volume_column not in X.columns:
        raise InvalidInputError(
            f"Volume column {volume_column!r} not found. Pass volume_column= one of the shape features, "
            f"e.g. {[c for c in X.columns if 'shape' in str(c)][:3] or list(X.columns[:3])}."
        )
    numeric = X.select_dtypes("number")
    corr = _correlation(numeric.to_numpy(dtype=float), method)
    j = list(numeric.columns).index(volume_column)
    r = pd.Series(corr[:, j], index=numeric.columns).drop(volume_column)
    out = pd.DataFrame({"correlation": r, "abs_correlation": r.abs()})
    return out.sort_values("abs_correlation", ascending=False)


class VolumeConfoundingFilter(SelectorMixin, BaseEstimator):
    """Drop features whose absolute correlation with the volume feature exceeds ``threshold``.

    ``volume_column`` is a column name (DataFrame input) or position (array input). The volume feature itself is
    kept. ``report_`` holds the correlation of every feature with volume after ``fit``.
    """

    def __init__(self, volume_column: str | int = "original_shape_VoxelVolume", threshold: float = 0.8,
                 method: str = "spearman") -> None:
        self.volume_column = volume_column
        self.threshold = threshold
        self.method = method

    def fit(self, X: Any, y: Any = None) -> VolumeConfoundingFilter:
        X_arr = validate_data(self, X, dtype=float)
        names = (list(self.feature_names_in_) if hasattr(self, "feature_names_in_")
                 else list(range(X_arr.shape[1])))
        if self.volume_column not in names:
            raise InvalidInputError(
                f"Volume column {self.volume_column!r} not found in X. "
                "Pass volume_column= the name (or position) of a shape volume feature."
            )
        j = names.index(self.volume_column)
        corr = _correlation(X_arr, self.method)[:, j]
        keep = np.abs(corr) <= self.threshold
        keep[j] = True
        self.report_ = pd.DataFrame({"correlation": corr, "abs_correlation": np.abs(corr)},
                                    index=[str(n) for n in names])
        self.support_ = keep
        return self

    def _get_support_mask(self) -> np.ndarray:
        check_is_fitted(self, "support_")
        return self.support_
