"""Grouped, optionally nested, cross-validation of a scikit-learn pipeline, run in parallel.

Every fold fits a fresh clone of the whole pipeline (harmonisation, filters, selection, tuning, model) on its
training patients only; the test patients of a fold are never seen by any step fitted in it. Folds, permutation
runs and the final refit are independent tasks for joblib (processes on this machine) or a Dask cluster.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from contextlib import nullcontext
from typing import Any

import numpy as np
import pandas as pd

from .._errors import InvalidInputError
from ._data import _step_names, check_binary_outcome, check_features

__all__ = ["evaluate"]

ProgressCallback = Callable[[int, int], None]


def _is_search(estimator: Any) -> bool:
    from sklearn.model_selection._search import BaseSearchCV

    return isinstance(estimator, BaseSearchCV)


def _nested_search_inside(estimator: Any) -> bool:
    for _, step in getattr(estimator, "steps", None) or []:
        if _is_search(step) or _nested_search_inside(step):
            return True
    return False


def _prepare(pipeline: Any, param_grid: dict[str, Any] | list[dict[str, Any]] | None, inner_cv: int,
             random_state: int, outer_parallel: bool) -> Any:
    """Clone the estimator; tuned estimators get a grouped, stratified inner CV (fitted with the patient ids)."""
    from sklearn.base import clone
    from sklearn.model_selection import GridSearchCV, StratifiedGroupKFold

    if _nested_search_inside(pipeline):
        raise InvalidInputError(
            "A GridSearchCV/RandomizedSearchCV inside a Pipeline cannot receive the patient groups, so its inner "
            "folds could split a patient. Put the search outside: GridSearchCV(Pipeline([...]), "
            "{'step__param': [...]}) or pass param_grid= to evaluate()."
        )
    estimator = clone(pipeline)
    if param_grid is not None:
        if _is_search(estimator):
            raise InvalidInputError("Pass param_grid= only with an untuned pipeline; this one is already a search.")
        estimator = GridSearchCV(estimator, param_grid, scoring="roc_auc")
    if _is_search(estimator):
        user_cv = estimator.cv
        if isinstance(user_cv, int):
            inner_cv = user_cv  # the search's own number of folds wins over the default
        elif user_cv is not None:
            warnings.warn(
                f"The search's cv={user_cv!r} is replaced by StratifiedGroupKFold({inner_cv}) so that the inner "
                "folds keep each patient on one side.", stacklevel=3,
            )
        estimator.set_params(cv=StratifiedGroupKFold(n_splits=inner_cv, shuffle=True, random_state=random_state))
        if outer_parallel:
            estimator.set_params(n_jobs=None)
    if not hasattr(estimator, "predict_proba"):
        raise InvalidInputError(
            f"{type(estimator).__name__} has no predict_proba; the metrics need probabilities. Use "
            "SVC(probability=True) or wrap the model in CalibratedClassifierCV."
        )
    return estimator


def _final_step(model: Any) -> tuple[Any, list[str] | None]:
    """The fitted final estimator and the names of the features it received."""
    if _is_search(model):
        model = model.best_estimator_
    names: list[str] | None = None
    final = model
    if hasattr(model, "steps"):
        final = model.steps[-1][1]
        try:
            names = [str(n) for n in model[:-1].get_feature_names_out()]
        except (AttributeError, ValueError, TypeError):
            names = None
    if names is None and hasattr(final, "feature_names_in_"):
        names = [str(n) for n in final.feature_names_in_]
    return final, names


def feature_importance(model: Any) -> pd.Series:
    """Absolute coefficients or impurity importances of the final step, by feature name (empty if none)."""
    final, names = _final_step(model)
    if hasattr(final, "coef_"):
        values = np.abs(np.atleast_2d(np.asarray(final.coef_, dtype=float))).max(axis=0)
    elif hasattr(final, "feature_importances_"):
        values = np.asarray(final.feature_importances_)
    else:
        return pd.Series(dtype=float)
    if names is None or len(names) != len(values):
        names = [f"x{i}" for i in range(len(values))]
    return pd.Series(values, index=names, dtype=float)


def _run_task(estimator: Any, X: pd.DataFrame, y: np.ndarray, groups: np.ndarray, train: np.ndarray,
              test: np.ndarray | None, key: tuple[str, int, int]) -> dict[str, Any]:
    """Fit one clone on the training rows; predict the test rows. Runs in a worker process."""
    from sklearn.base import clone

    start = time.perf_counter()
    model = clone(estimator)
    X_train = X.iloc[train]
    if _is_search(model):
        model.fit(X_train, y[train], groups=groups[train])
    else:
        model.fit(X_train, y[train])
    out: dict[str, Any] = {"key": key, "fit_seconds": time.perf_counter() - start}
    if test is not None:
        out["proba"] = model.predict_proba(X.iloc[test])[:, 1]
        out["test"] = test
    if key[0] == "fold":
        out["importance"] = feature_importance(model)
        out["best_params"] = dict(model.best_params_) if _is_search(model) else None
    if key[0] == "final":
        out["model"] = model
    return out


def _splits(design: str, y: np.ndarray, groups: np.ndarray, sites: np.ndarray | None, cv: int, seed: int
            ) -> list[tuple[np.ndarray, np.ndarray]]:
    from sklearn.model_selection import LeaveOneGroupOut, StratifiedGroupKFold

    index = np.arange(len(y))
    if design == "loso":
        assert sites is not None
        return list(LeaveOneGroupOut().split(index, y, groups=sites))
    return list(StratifiedGroupKFold(n_splits=cv, shuffle=True, random_state=seed).split(index, y, groups=groups))


def _permuted(y: np.ndarray, groups: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Shuffle the outcome between patients (whole patients when the outcome is per patient)."""
    frame = pd.DataFrame({"g": groups, "y": y})
    per_patient = frame.groupby("g")["y"].nunique().max() == 1
    if not per_patient:
        return rng.permutation(y)
    labels = frame.groupby("g")["y"].first()
    shuffled = pd.Series(rng.permutation(labels.to_numpy()), index=labels.index)
    return shuffled.loc[groups].to_numpy()


def _check_design(y01: np.ndarray, groups: np.ndarray, sites: np.ndarray | None, design: str, cv: int,
                  inner_cv: int, nested: bool) -> None:
    frame = pd.DataFrame({"g": groups, "y": y01})
    if design == "kfold":
        if cv < 2:
            raise InvalidInputError(f"cv must be >= 2 folds. Got {cv}.")
        for label, name in ((1, "positive"), (0, "negative")):
            patients = frame.loc[frame["y"] == label, "g"].nunique()
            needed = cv * (inner_cv if nested else 1)
            if patients < cv or (nested and patients * (cv - 1) / cv < inner_cv):
                raise InvalidInputError(
                    f"The {name} class has {patients} patient(s), too few for {cv}-fold cross-validation"
                    + (f" with {inner_cv} inner folds" if nested else "")
                    + f" (about {needed} needed). Use fewer folds (cv=, inner_cv=) or collect more cases."
                )
    if sites is not None:
        per_patient = pd.DataFrame({"g": groups, "s": sites}).groupby("g")["s"].nunique()
        if (per_patient > 1).any():
            raise InvalidInputError(
                f"Patient(s) {per_patient[per_patient > 1].index[:5].tolist()} appear at more than one site; "
                "each patient must belong to one site for site-aware validation."
            )
        patients_per_site = pd.DataFrame({"g": groups, "s": sites}).groupby("s")["g"].nunique()
        lonely = patients_per_site[patients_per_site < 2]
        if len(lonely):
            raise InvalidInputError(
                f"Site(s) {lonely.index.tolist()} have a single patient: their site effect cannot be estimated "
                "(ComBat) or validated. Merge them with a similar site or drop those cases."
            )
        if design == "loso" and patients_per_site.size < 3:
            raise InvalidInputError(
                f"Leave-one-site-out needs at least 3 sites. Got {patients_per_site.size}."
            )


def evaluate(pipeline: Any, X: pd.DataFrame, y: Any, groups: Any = None, sites: Any = None, *,
             design: str = "kfold", cv: int = 5, n_repeats: int = 1, inner_cv: int = 5,
             param_grid: dict[str, Any] | list[dict[str, Any]] | None = None, n_bootstrap: int = 1000,
             n_permutations: int = 0, threshold: float = 0.5, random_state: int = 0, n_jobs: int | None = None,
             client: Any = None, progress: ProgressCallback | None = None, refit: bool = True) -> Any:
    """Cross-validate ``pipeline`` on (X, y) grouped by patient and return an :class:`EvaluationResult`.

    Parameters
    ----------
    pipeline: a classifier with ``predict_proba`` (usually a ``Pipeline``), or a ``GridSearchCV`` /
        ``RandomizedSearchCV`` around one (then the validation is nested: tuning happens inside each outer
        training fold with a grouped inner CV of ``inner_cv`` folds, or the search's own integer ``cv``).
        ``param_grid`` wraps the pipeline in a ``GridSearchCV`` for you.
    X: DataFrame of features; columns needed by steps of the pipeline (e.g. ComBat's site column) stay in it.
    y: binary outcome (two distinct values; the larger is the positive class).
    groups: patient id of each row (several lesions per patient stay on one side of every split). Defaults to
        one patient per row.
    sites: site of each row, or the name of a column of X, for ``design="loso"`` (leave one site out) and the
        per-site checks.
    design: ``"kfold"`` (StratifiedGroupKFold, ``cv`` folds, ``n_repeats`` shuffles) or ``"loso"``.
    n_bootstrap: patient-level bootstrap resamples for the 95% CIs; ``n_permutations``: label permutations for
        the permutation-test p-value of the AUC (0 = not computed; each one repeats the whole validation).
    threshold: probability cut-off for sensitivity, specificity and balanced accuracy.
    n_jobs: joblib processes for the folds (``-1`` = all cores); ``client``: a ``distributed.Client`` to run
        the folds on a Dask cluster instead. ``progress(done, total)`` is called as tasks finish.
    refit: also fit the pipeline on all data (``result.model``, for ``save_model``).
    """
    from joblib import Parallel, delayed, parallel_config

    from ._metrics import bootstrap, calibration_table, decision_curve, metric_values
    from ._result import EvaluationResult

    started = time.perf_counter()
    if design not in ("kfold", "loso"):
        raise InvalidInputError(f"design must be 'kfold' or 'loso'. Got {design!r}.")
    if not isinstance(X, pd.DataFrame):
        X = pd.DataFrame(np.asarray(X), columns=[f"x{i}" for i in range(np.shape(X)[1])])
    n = len(X)
    y01, positive = check_binary_outcome(y)
    if len(y01) != n:
        raise InvalidInputError(f"y has {len(y01)} values but X has {n} rows.")
    groups_arr = np.arange(n).astype(str) if groups is None else np.asarray(groups).astype(str)
    if len(groups_arr) != n:
        raise InvalidInputError(f"groups has {len(groups_arr)} values but X has {n} rows.")
    site_column = sites if isinstance(sites, str) else None
    if site_column is not None and site_column not in X.columns:
        raise InvalidInputError(f"sites={site_column!r} is not a column of X.")
    sites_arr = (X[site_column].astype(str).to_numpy() if site_column is not None
                 else None if sites is None else np.asarray(sites).astype(str))
    if sites_arr is not None and len(sites_arr) != n:
        raise InvalidInputError(f"sites has {len(sites_arr)} values but X has {n} rows.")
    if design == "loso" and sites_arr is None:
        raise InvalidInputError("design='loso' needs sites= (an array or the name of the site column of X).")
    outer_parallel = client is not None or (n_jobs is not None and n_jobs != 1)
    estimator = _prepare(pipeline, param_grid, inner_cv, random_state, outer_parallel)
    nested = _is_search(estimator)
    if nested:
        inner_cv = estimator.cv.get_n_splits()
    _check_design(y01, groups_arr, sites_arr, design, cv, inner_cv, nested)
    non_features = [c for c in _declared_columns(estimator) if c in X.columns]
    check_features(X, estimator, non_features)
    if n_bootstrap < 0 or n_permutations < 0:
        raise InvalidInputError(
            f"n_bootstrap and n_permutations must be >= 0. Got {n_bootstrap} and {n_permutations}."
        )
    if n_repeats < 1 or (design == "loso" and n_repeats != 1):
        raise InvalidInputError(f"n_repeats must be >= 1 (and 1 for leave-one-site-out). Got {n_repeats}.")

    repeats = [_splits(design, y01, groups_arr, sites_arr, cv, random_state + r) for r in range(n_repeats)]
    tasks: list[tuple[tuple[str, int, int], np.ndarray, np.ndarray | None, np.ndarray]] = []
    for r, splits in enumerate(repeats):
        for f, (train, test) in enumerate(splits):
            _assert_disjoint(groups_arr, train, test)
            tasks.append((("fold", r, f), train, test, y01))
    rng = np.random.default_rng(random_state)
    permuted_outcomes = [_permuted(y01, groups_arr, rng) for _ in range(n_permutations)]
    for k, y_perm in enumerate(permuted_outcomes):
        for f, (train, test) in enumerate(_splits(design, y_perm, groups_arr, sites_arr, cv, random_state)):
            tasks.append((("perm", k, f), train, test, y_perm))
    if refit:
        tasks.append((("final", 0, 0), np.arange(n), None, y01))

    total = len(tasks)
    results: list[dict[str, Any]] = []
    backend = {"backend": "dask"} if client is not None else {}
    jobs = -1 if client is not None else n_jobs
    with parallel_config(**backend), (client.as_current() if client is not None else nullcontext()):
        runner = Parallel(n_jobs=jobs, return_as="generator_unordered")
        stream = runner(delayed(_run_task)(estimator, X, yy, groups_arr, train, test, key)
                        for key, train, test, yy in tasks)
        for done, out in enumerate(stream, start=1):
            results.append(out)
            if progress is not None:
                progress(done, total)

    by_key = {out["key"]: out for out in results}
    oof = np.full((n_repeats, n), np.nan)
    fold_rows = []
    importances = []
    for (kind, r, f), out in sorted(by_key.items()):
        if kind != "fold":
            continue
        test = out["test"]
        oof[r, test] = out["proba"]
        values = metric_values(y01[test], out["proba"], threshold) if len(np.unique(y01[test])) == 2 else {}
        train = repeats[r][f][0]
        fold_rows.append({
            "repeat": r, "fold": f, "n_train": len(train), "n_test": len(test),
            "n_patients_test": len(np.unique(groups_arr[test])), "n_positive_test": int(y01[test].sum()),
            "sites_test": ",".join(sorted(set(sites_arr[test]))) if sites_arr is not None else None,
            **{m: values.get(m, np.nan) for m in ("auc", "balanced_accuracy", "brier")},
            "best_params": out["best_params"], "fit_seconds": out["fit_seconds"],
        })
        importances.append(out["importance"])
    predictions = [oof[r] for r in range(n_repeats)]
    metrics, roc = bootstrap(y01, predictions, groups_arr, n_bootstrap=n_bootstrap, threshold=threshold,
                             random_state=random_state)
    perm_aucs = np.full(n_permutations, np.nan)
    for k, y_perm in enumerate(permuted_outcomes):
        p = np.full(n, np.nan)
        for (kind, kk, _f), out in by_key.items():
            if kind == "perm" and kk == k:
                p[out["test"]] = out["proba"]
        perm_aucs[k] = metric_values(y_perm, p, threshold)["auc"]
    observed = metrics.loc["auc", "estimate"]
    p_value = float((1 + np.sum(perm_aucs >= observed)) / (1 + n_permutations)) if n_permutations else None
    mean_oof = oof.mean(axis=0)
    fold_table = pd.DataFrame(fold_rows)
    importance = _aggregate_importance(importances)
    y_index = y.index if isinstance(y, pd.Series) else pd.RangeIndex(n)
    oof_table = pd.DataFrame({"group": groups_arr, "y": y01, "proba": mean_oof}, index=y_index)
    if sites_arr is not None:
        oof_table["site"] = sites_arr
    for r in range(n_repeats):
        oof_table[f"proba_repeat{r}"] = oof[r]
    settings = {
        "design": design, "cv": cv if sites_arr is None or design == "kfold" else len(np.unique(sites_arr)), "n_repeats": n_repeats,
        "nested": nested, "inner_cv": inner_cv if nested else None, "param_grid": _param_grid(estimator),
        "n_bootstrap": n_bootstrap, "n_permutations": n_permutations, "threshold": threshold,
        "random_state": random_state, "n_jobs": n_jobs, "backend": "dask" if client is not None else "joblib",
        "estimator": repr(pipeline), "pipeline_steps": _step_names(estimator), "outcome": getattr(y, "name", None), "positive_label": _jsonable(positive),
        "n_samples": n, "n_patients": len(np.unique(groups_arr)), "n_positive": int(y01.sum()),
        "n_sites": len(np.unique(sites_arr)) if sites_arr is not None else None,
        "n_features": int(X.shape[1] - len(non_features)), "feature_names": [str(c) for c in X.columns],
        "non_feature_columns": non_features, "seconds": round(time.perf_counter() - started, 3),
    }
    final = by_key.get(("final", 0, 0), {}).get("model")
    return EvaluationResult(
        metrics=metrics, folds=fold_table, oof=oof_table, roc=roc,
        calibration=calibration_table(y01, mean_oof), decision_curve=decision_curve(y01, mean_oof),
        feature_importance=importance, permutation_p_value=p_value, permutation_aucs=perm_aucs,
        settings=settings, model=final,
    )


def _aggregate_importance(importances: list[pd.Series]) -> pd.DataFrame:
    if not importances or all(s.empty for s in importances):
        return pd.DataFrame(columns=["importance", "importance_std", "selection_frequency"])
    table = pd.concat(importances, axis=1).fillna(0.0)
    present = pd.concat([s.notna() for s in importances], axis=1).reindex(table.index).fillna(False)
    out = pd.DataFrame({
        "importance": table.mean(axis=1), "importance_std": table.std(axis=1, ddof=0),
        "selection_frequency": present.mean(axis=1),
    })
    return out.sort_values("importance", ascending=False)


def _assert_disjoint(groups: np.ndarray, train: np.ndarray, test: np.ndarray) -> None:
    shared = set(groups[train]) & set(groups[test])
    if shared:  # pragma: no cover - StratifiedGroupKFold/LeaveOneGroupOut guarantee it; kept as a guard
        raise RuntimeError(f"patient(s) {sorted(shared)[:5]} on both sides of a split")


def _declared_columns(estimator: Any) -> list[str]:
    """Columns that steps read besides features (ComBat's site and covariates)."""
    from ._combat import ComBat

    if _is_search(estimator):
        return _declared_columns(estimator.estimator)
    columns: list[str] = []
    for _, step in getattr(estimator, "steps", None) or []:
        if isinstance(step, ComBat):
            columns.extend([str(step.site_column), *(step.covariates or [])])
    if isinstance(estimator, ComBat):
        columns.extend([str(estimator.site_column), *(estimator.covariates or [])])
    return columns


def _param_grid(estimator: Any) -> Any:
    grid = getattr(estimator, "param_grid", None) or getattr(estimator, "param_distributions", None)
    if grid is None:
        return None
    grids = grid if isinstance(grid, list) else [grid]
    return [{k: [_jsonable(v) for v in (vs if hasattr(vs, "__iter__") else [repr(vs)])] for k, vs in g.items()}
            for g in grids]


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return repr(value)
