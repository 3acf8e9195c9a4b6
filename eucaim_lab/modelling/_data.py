"""Joining feature and clinical tables, and the input checks run before any model is fitted."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd

from .._errors import InvalidInputError

__all__ = ["feature_groups", "join_features"]

#: pyradiomics feature classes, in the order the UI lists them
FEATURE_CLASSES = ("shape", "shape2D", "firstorder", "glcm", "glrlm", "glszm", "gldm", "ngtdm")


def _preview(values: Any, limit: int = 10) -> str:
    items = sorted(map(str, values))
    return str(items[:limit]) + (f" and {len(items) - limit} more" if len(items) > limit else "")


def join_features(features: pd.DataFrame, clinical: pd.DataFrame, on: str = "case_id", *,
                  clinical_on: str | None = None, drop_unmatched: bool = False) -> pd.DataFrame:
    """Join a feature table (one row per case or lesion) to a clinical table (one row per case).

    Ids of the features missing from the clinical table and clinical ids without features are reported: by
    default as an :class:`InvalidInputError` listing them; with ``drop_unmatched=True`` as a warning, and the
    unmatched rows are dropped (inner join). ``clinical_on`` names the id column of the clinical table when it
    differs from ``on``. Duplicate ids in the clinical table are an error (the join would multiply rows).
    """
    right_on = clinical_on or on
    for table, column, what in ((features, on, "feature"), (clinical, right_on, "clinical")):
        if not isinstance(table, pd.DataFrame):
            raise InvalidInputError(f"The {what} table must be a pandas DataFrame. Got {type(table).__name__}.")
        if column not in table.columns:
            raise InvalidInputError(
                f"The {what} table has no id column {column!r}. Got columns: {_preview(table.columns, 8)}."
            )
    left_ids = features[on].astype(str)
    right_ids = clinical[right_on].astype(str)
    duplicated = right_ids[right_ids.duplicated()].unique()
    if len(duplicated):
        raise InvalidInputError(
            f"The clinical table must have one row per {right_on!r}; id(s) {_preview(duplicated)} appear more than "
            "once. Remove the duplicates or aggregate them first."
        )
    missing = set(left_ids) - set(right_ids)
    extra = set(right_ids) - set(left_ids)
    if missing or extra:
        message = (
            f"Case ids of the feature and clinical tables do not match: {len(missing)} feature id(s) have no "
            f"clinical row {_preview(missing)}; {len(extra)} clinical id(s) have no features {_preview(extra)}."
        )
        if not drop_unmatched:
            raise InvalidInputError(
                message + " Fix the ids (same spelling and type), or pass drop_unmatched=True to keep only the "
                "cases present in both tables.", missing=sorted(missing), extra=sorted(extra),
            )
        warnings.warn(message + " Unmatched rows were dropped.", stacklevel=2)
    overlap = (set(features.columns) & set(clinical.columns)) - {on, right_on}
    if overlap:
        raise InvalidInputError(
            f"Column(s) {_preview(overlap)} exist in both tables; rename them before joining so that no feature "
            "is silently replaced by a clinical variable."
        )
    left = features.assign(**{on: left_ids})
    right = clinical.assign(**{right_on: right_ids})
    if right_on != on:
        right = right.rename(columns={right_on: on})
    return left.merge(right, on=on, how="inner", validate="many_to_one")


def feature_groups(columns: Any) -> dict[str, list[str]]:
    """Group pyradiomics feature columns by feature class (``original_glcm_Contrast`` -> ``glcm``).

    Columns that are not pyradiomics features (``diagnostics_*``, ids, clinical variables) are left out.
    """
    groups: dict[str, list[str]] = {}
    for column in map(str, columns):
        parts = column.split("_")
        if len(parts) >= 3 and parts[0] != "diagnostics" and parts[-2] in FEATURE_CLASSES:
            groups.setdefault(parts[-2], []).append(column)
    return {k: groups[k] for k in FEATURE_CLASSES if k in groups}


def check_binary_outcome(y: Any) -> tuple[np.ndarray, Any]:
    """Return (y as 0/1 array, positive label); the positive class is the larger label in sort order."""
    values = pd.Series(np.asarray(y).ravel())
    if values.isna().any():
        raise InvalidInputError(
            f"The outcome has {int(values.isna().sum())} missing value(s). Drop those cases before evaluating."
        )
    classes = np.unique(values.to_numpy())
    if len(classes) != 2:
        raise InvalidInputError(
            f"evaluate() validates binary outcomes; the outcome must have exactly 2 classes. Got {len(classes)}: "
            f"{_preview(classes, 5)}. Recode it (e.g. y == 'positive')."
        )
    return (values.to_numpy() == classes[1]).astype(int), classes[1]


def check_features(X: Any, pipeline: Any, non_feature_columns: list[str]) -> None:
    """Refuse missing values and constant columns unless the pipeline handles them, saying what to do."""
    if not isinstance(X, pd.DataFrame):
        X = pd.DataFrame(np.asarray(X))
    features = X.drop(columns=[c for c in non_feature_columns if c in X.columns])
    numeric = features.select_dtypes("number")
    non_numeric = [str(c) for c in features.columns if c not in numeric.columns]
    if non_numeric:
        raise InvalidInputError(
            f"Feature column(s) {_preview(non_numeric, 6)} are not numeric. Encode them (e.g. OneHotEncoder in a "
            "ColumnTransformer) or drop them; ids and outcome must not be in X."
        )
    steps = _step_names(pipeline)
    nan_columns = [str(c) for c in numeric.columns[numeric.isna().any().to_numpy()]]
    handles_nan = any(name.endswith("Imputer") or name.startswith("HistGradientBoosting") for name in steps)
    if nan_columns and not handles_nan:
        raise InvalidInputError(
            f"X has missing values in {len(nan_columns)} column(s) {_preview(nan_columns, 6)}. Put "
            "sklearn.impute.SimpleImputer() at the start of the pipeline (it is then fitted inside each fold) or "
            "drop those columns/rows."
        )
    values = numeric.to_numpy(dtype=float)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        spread = np.nanmax(values, axis=0) - np.nanmin(values, axis=0) if len(values) else np.zeros(0)
    constant = [str(c) for c, s in zip(numeric.columns, spread) if not s > 0]
    if constant and "NearConstantFilter" not in steps and "VarianceThreshold" not in steps:
        raise InvalidInputError(
            f"X has {len(constant)} constant column(s) {_preview(constant, 6)}. Drop them "
            "(X.loc[:, X.nunique() > 1]) or put modelling.NearConstantFilter() at the start of the pipeline."
        )


def _step_names(estimator: Any) -> list[str]:
    """Class names of an estimator and everything nested in it (pipelines, searches, column transformers)."""
    names = [type(estimator).__name__]
    for attr in ("steps", "transformers"):
        for item in getattr(estimator, attr, None) or []:
            names.extend(_step_names(item[1]))
    for attr in ("estimator", "base_estimator"):
        inner = getattr(estimator, attr, None)
        if inner is not None and hasattr(inner, "fit"):
            names.extend(_step_names(inner))
    return names
