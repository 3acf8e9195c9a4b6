"""Predictive modelling for radiomics: harmonisation, filters, selection, grouped (nested) validation, reports.

Everything that learns from data is a scikit-learn estimator, so it sits in a ``Pipeline`` and is fitted inside
each cross-validation fold. ``evaluate`` validates a pipeline grouped by patient (nested when it tunes
hyper-parameters) and returns an :class:`EvaluationResult` with metrics, confidence intervals, plots, a model card
and the refitted model.

Example::

    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler
    from eucaim_lab import modelling

    data = modelling.join_features(features, clinical, on="case_id")   # reports missing/extra ids
    X = data[feature_columns + ["site"]]                                # ComBat reads (and drops) "site"
    pipe = Pipeline([("combat", modelling.ComBat(site_column="site")),
                     ("near_constant", modelling.NearConstantFilter()),
                     ("decorrelate", modelling.CorrelationFilter(0.9)),
                     ("select", modelling.MRMRSelector(n_features=10)),
                     ("scale", StandardScaler()), ("model", LogisticRegression())])
    result = modelling.evaluate(pipe, X, data["outcome"], groups=data["patient_id"],
                                param_grid={"model__C": [0.01, 0.1, 1]}, n_jobs=2)
    result.metrics; result.plot_roc()
    result.report("model-card.html", provenance=modelling.provenance_from_checkout(checkout_folder))
    result.save_model("model.joblib"); model = modelling.load_model("model.joblib")
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_exports

__all__ = [
    "ComBat",
    "CorrelationFilter",
    "EvaluationResult",
    "L1Selector",
    "MRMRSelector",
    "NearConstantFilter",
    "StabilityFilter",
    "VolumeConfoundingFilter",
    "evaluate",
    "feature_groups",
    "icc",
    "join_features",
    "load_model",
    "make_model",
    "provenance_from_checkout",
    "volume_confounding",
    "widen_perturbations",
]

_WHERE = {
    "ComBat": "_combat",
    "CorrelationFilter": "_filters",
    "EvaluationResult": "_result",
    "L1Selector": "_selection",
    "MRMRSelector": "_selection",
    "NearConstantFilter": "_filters",
    "StabilityFilter": "_filters",
    "VolumeConfoundingFilter": "_filters",
    "evaluate": "_evaluate",
    "feature_groups": "_data",
    "icc": "_filters",
    "join_features": "_data",
    "load_model": "_persist",
    "make_model": "_models",
    "provenance_from_checkout": "_report",
    "volume_confounding": "_filters",
    "widen_perturbations": "_filters",
}

if TYPE_CHECKING:  # pragma: no cover
    from ._combat import ComBat
    from ._data import feature_groups, join_features
    from ._evaluate import evaluate
    from ._filters import (
        CorrelationFilter,
        NearConstantFilter,
        StabilityFilter,
        VolumeConfoundingFilter,
        icc,
        volume_confounding,
    )
    from ._models import make_model
    from ._persist import load_model
    from ._report import provenance_from_checkout
    from ._result import EvaluationResult
    from ._selection import L1Selector, MRMRSelector

__getattr__, __dir__ = lazy_exports(__name__, _WHERE, __all__)
