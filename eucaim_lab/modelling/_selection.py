"""Supervised feature selection, fitted inside each fold: L1-penalised logistic regression and mRMR."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.feature_selection import SelectorMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from .._errors import InvalidInputError

__all__ = ["L1Selector", "MRMRSelector"]


class _SupervisedSelector(SelectorMixin, BaseEstimator):
    """What both selectors share: the fitted boolean ``support_``, and the target that fit requires."""

    support_: np.ndarray

    def _get_support_mask(self) -> np.ndarray:
        check_is_fitted(self, "support_")
        return self.support_

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.target_tags.required = True
        return tags


class L1Selector(_SupervisedSelector):
    """Keep the features with a non-zero coefficient in an L1-penalised logistic regression.

    The features are standardised first (inside the selector) so that the penalty treats them alike. Smaller
    ``C`` selects fewer features. If the penalty removes every feature, the ``min_features`` features with the
    largest absolute univariate standardised mean difference are kept instead (with a warning), so a pipeline
    never receives an empty table.
    """

    def __init__(self, C: float = 0.5, min_features: int = 1, max_features: int | None = None,
                 random_state: int | None = 0) -> None:
        self.C = C
        self.min_features = min_features
        self.max_features = max_features
        self.random_state = random_state

    def fit(self, X: Any, y: Any) -> L1Selector:
        from sklearn.linear_model import LogisticRegression

        if self.C <= 0:
            raise InvalidInputError(f"C must be > 0. Got {self.C!r}.")
        X, y = validate_data(self, X, y, dtype=float)
        check_classification_targets(y)
        mean, std = X.mean(axis=0), X.std(axis=0)
        Z = (X - mean) / np.where(std > 0, std, 1.0)
        classes = np.unique(y)
        if len(classes) < 2:
            raise InvalidInputError(f"L1Selector needs at least 2 classes in y. Got 1 class: {classes.tolist()}.")
        # one-vs-rest for more than two classes (liblinear is binary)
        targets = [y == classes[1]] if len(classes) == 2 else [y == c for c in classes]
        coefs = []
        for target in targets:
            model = LogisticRegression(l1_ratio=1.0, solver="liblinear", C=self.C, random_state=self.random_state)
            coefs.append(model.fit(Z, target.astype(int)).coef_[0])
        self.coef_ = np.asarray(coefs)
        weight = np.abs(self.coef_).max(axis=0)
        self.scores_ = weight
        keep = weight > 0
        if self.max_features is not None and keep.sum() > self.max_features:
            keep = np.zeros_like(keep)
            keep[np.argsort(-weight, kind="stable")[: self.max_features]] = True
        if keep.sum() < self.min_features:
            warnings.warn(
                f"L1Selector(C={self.C}) kept {int(keep.sum())} feature(s); keeping the {self.min_features} "
                "with the largest univariate effect instead. Increase C to let the penalty select.",
                stacklevel=2,
            )
            effect = np.zeros(X.shape[1])
            classes = np.unique(y)
            for c in classes:
                effect = np.maximum(effect, np.abs(Z[y == c].mean(axis=0) - Z[y != c].mean(axis=0)))
            keep = np.zeros_like(keep)
            keep[np.argsort(-effect, kind="stable")[: min(self.min_features, X.shape[1])]] = True
        self.support_ = keep
        return self


class MRMRSelector(_SupervisedSelector):
    """Minimum-redundancy maximum-relevance selection of ``n_features`` features (greedy forward search).

    Relevance is the ANOVA F statistic of each feature against the classes (``relevance="f"``) or its mutual
    information (``"mi"``); redundancy is the mean absolute Pearson correlation with the features already chosen.
    At each step the feature maximising relevance / redundancy (``scheme="quotient"``) or relevance - redundancy
    (``"difference"``; relevance rescaled to [0, 1]) is added. ``ranking_`` gives the order of selection.
    """

    def __init__(self, n_features: int = 10, relevance: str = "f", scheme: str = "quotient",
                 random_state: int | None = 0) -> None:
        self.n_features = n_features
        self.relevance = relevance
        self.scheme = scheme
        self.random_state = random_state

    def fit(self, X: Any, y: Any) -> MRMRSelector:
        from sklearn.feature_selection import f_classif, mutual_info_classif

        if self.n_features < 1:
            raise InvalidInputError(f"n_features must be >= 1. Got {self.n_features!r}.")
        if self.relevance not in ("f", "mi"):
            raise InvalidInputError(f"relevance must be 'f' or 'mi'. Got {self.relevance!r}.")
        if self.scheme not in ("quotient", "difference"):
            raise InvalidInputError(f"scheme must be 'quotient' or 'difference'. Got {self.scheme!r}.")
        X, y = validate_data(self, X, y, dtype=float)
        check_classification_targets(y)
        p = X.shape[1]
        if self.relevance == "f":
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                if len(np.unique(y)) < 2:
                    rel = np.zeros(p)
                else:
                    rel, _ = f_classif(X, y)
        else:
            rel = mutual_info_classif(X, y, random_state=self.random_state)
        rel = np.nan_to_num(np.asarray(rel, dtype=float), nan=0.0, posinf=0.0)
        if self.scheme == "difference" and rel.max() > 0:
            rel = rel / rel.max()
        centred = X - X.mean(axis=0)
        norm = np.sqrt((centred**2).sum(axis=0))
        unit = centred / np.where(norm > 0, norm, 1.0)
        k = min(self.n_features, p)
        chosen: list[int] = [int(np.argmax(rel))]
        redundancy_sum = np.abs(unit.T @ unit[:, chosen[0]])
        available = np.ones(p, dtype=bool)
        available[chosen[0]] = False
        while len(chosen) < k:
            redundancy = redundancy_sum / len(chosen)
            if self.scheme == "quotient":
                score = rel / np.maximum(redundancy, 1e-6)
            else:
                score = rel - redundancy
            score[~available] = -np.inf
            j = int(np.argmax(score))
            chosen.append(j)
            available[j] = False
            redundancy_sum += np.abs(unit.T @ unit[:, j])
        self.relevance_ = rel
        self.ranking_ = np.asarray(chosen)
        support = np.zeros(p, dtype=bool)
        support[chosen] = True
        self.support_ = support
        return self
