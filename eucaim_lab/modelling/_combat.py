"""ComBat harmonisation of features across sites as a scikit-learn transformer.

Empirical Bayes location/scale adjustment after Johnson, Li and Rabinovic (2007), in the form used for
radiomics and neuro-imaging features (Fortin et al.): each feature is standardised with a pooled variance and a
design made of the site indicators and the covariates to preserve; per-site additive (gamma) and multiplicative
(delta) effects are estimated and shrunk towards priors shared by all features of that site; the shrunken effects
are removed. Fitting is done inside each cross-validation fold; new data from the sites seen in ``fit`` is
transformed with the stored estimates.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from .._errors import InvalidInputError

__all__ = ["ComBat"]

_CONVERGENCE = 1e-4
_MAX_ITER = 1000


class ComBat(TransformerMixin, BaseEstimator):
    """Harmonise features across sites (empirical Bayes ComBat).

    Parameters
    ----------
    site_column:
        Name of the column of ``X`` (a DataFrame) that holds the site (scanner, centre) of each row; or its
        position when ``X`` is an array. The column travels with ``X`` through a ``Pipeline`` and is dropped from
        the output, together with the covariate columns.
    covariates:
        Columns of ``X`` whose effects are preserved (e.g. ``["age", "sex"]``). Numeric columns enter the design
        as they are; other columns are one-hot coded (first level dropped). The outcome must never be a covariate
        inside cross-validation: it would leak the label into the features.
    parametric:
        Parametric priors (normal for gamma, inverse gamma for delta) solved iteratively; ``False`` uses the
        non-parametric Monte Carlo-free integration over the other features' estimates.
    mean_only:
        Adjust only the location (delta fixed to 1), for sites with very few rows.

    Attributes
    ----------
    sites_ : ndarray of the site labels seen in ``fit``
    feature_names_in_ / n_features_in_ : the input columns (including site and covariates)
    features_ : the harmonised feature names, in output order
    gamma_star_, delta_star_ : (n_sites, n_features) shrunken site effects
    gamma_hat_, delta_hat_ : (n_sites, n_features) site effects before shrinkage
    gamma_bar_, tau2_, a_prior_, b_prior_ : (n_sites,) prior hyper-parameters
    var_pooled_, grand_mean_ : (n_features,) pooled variance and site-weighted grand mean
    beta_covariates_ : (n_covariate_terms, n_features) covariate effects
    """

    def __init__(
        self,
        site_column: str | int = "site",
        covariates: list[str] | None = None,
        parametric: bool = True,
        mean_only: bool = False,
    ) -> None:
        self.site_column = site_column
        self.covariates = covariates
        self.parametric = parametric
        self.mean_only = mean_only

    # -- input handling -------------------------------------------------------------------------------------------
    def _frame(self, X: Any, *, reset: bool) -> pd.DataFrame:
        from sklearn.utils.validation import check_array

        if isinstance(X, pd.DataFrame):
            frame = X
            if len(frame) == 0:
                raise InvalidInputError("ComBat got an empty table (0 rows).")
        else:
            # arrays: the usual scikit-learn validation (no sparse input, 2-D, at least one row)
            frame = pd.DataFrame(check_array(X, dtype=None, accept_sparse=False, ensure_all_finite=False))
        if reset:
            self.n_features_in_ = frame.shape[1]
            if isinstance(X, pd.DataFrame):
                self.feature_names_in_ = np.asarray([str(c) for c in frame.columns], dtype=object)
            elif hasattr(self, "feature_names_in_"):
                del self.feature_names_in_
        elif frame.shape[1] != self.n_features_in_:
            raise InvalidInputError(
                f"X has {frame.shape[1]} columns, but ComBat was fitted with {self.n_features_in_} columns."
            )
        return frame

    def _split(self, frame: pd.DataFrame) -> tuple[pd.Series, pd.DataFrame, pd.DataFrame]:
        columns = list(frame.columns)
        if self.site_column not in columns:
            raise InvalidInputError(
                f"ComBat needs the site of each row in the column {self.site_column!r} of X "
                f"(keep it in the DataFrame passed to the pipeline). Got columns: {columns[:8]}"
                + (" ..." if len(columns) > 8 else "")
            )
        covariates = list(self.covariates or [])
        missing = [c for c in covariates if c not in columns]
        if missing:
            raise InvalidInputError(f"ComBat covariate column(s) {missing} are not in X. Got columns: {columns[:8]}")
        site = frame[self.site_column]
        if site.isna().any():
            raise InvalidInputError(
                f"The site column {self.site_column!r} has {int(site.isna().sum())} missing value(s); "
                "every row needs a site for ComBat."
            )
        drop = [self.site_column, *covariates]
        features = frame.drop(columns=drop)
        try:
            values = features.to_numpy(dtype=float)
        except (TypeError, ValueError) as exc:
            raise InvalidInputError(
                f"ComBat harmonises numeric features only; a non-numeric column is present ({exc}). "
                "Pass such columns as covariates or drop them."
            ) from exc
        if not np.isfinite(values).all():
            bad = [str(c) for c in features.columns[~np.isfinite(values).all(axis=0)]][:8]
            raise InvalidInputError(
                f"ComBat got missing or infinite values in feature(s) {bad}. "
                "Put a sklearn.impute.SimpleImputer before ComBat in the pipeline or drop those rows/columns."
            )
        return site, features, frame[covariates]

    def _covariate_design(self, cov: pd.DataFrame, *, reset: bool) -> np.ndarray:
        if cov.shape[1] == 0:
            return np.zeros((len(cov), 0))
        if reset:
            self._numeric_covariates = [c for c in cov.columns if pd.api.types.is_numeric_dtype(cov[c])]
            self._categorical_levels = {
                c: sorted(pd.unique(cov[c].astype(str))) for c in cov.columns if c not in self._numeric_covariates
            }
        blocks = [cov[c].to_numpy(dtype=float)[:, None] for c in self._numeric_covariates]
        for column, levels in self._categorical_levels.items():
            values = cov[column].astype(str).to_numpy()
            unknown = sorted(set(values) - set(levels))
            if unknown:
                raise InvalidInputError(
                    f"ComBat covariate {column!r} has level(s) {unknown} not seen in fit. Known levels: {levels}."
                )
            blocks.append(np.stack([(values == level).astype(float) for level in levels[1:]], axis=1)
                          if len(levels) > 1 else np.zeros((len(values), 0)))
        design = np.hstack(blocks) if blocks else np.zeros((len(cov), 0))
        if not np.isfinite(design).all():
            raise InvalidInputError("ComBat covariates contain missing values; impute or drop those rows first.")
        return design

    # -- fit ------------------------------------------------------------------------------------------------------
    def fit(self, X: Any, y: Any = None) -> ComBat:
        """Estimate the site effects on ``X`` (rows with their site in ``site_column``)."""
        frame = self._frame(X, reset=True)
        site, features, cov = self._split(frame)
        data = features.to_numpy(dtype=float)  # (n, p)
        n, p = data.shape
        if p == 0:
            raise InvalidInputError("ComBat got no feature columns besides the site and covariate columns.")
        labels = site.astype(str).to_numpy()
        sites, inverse, counts = np.unique(labels, return_inverse=True, return_counts=True)
        if len(sites) < 2:
            raise InvalidInputError(
                f"ComBat needs at least two sites to harmonise. Got only site {sites.tolist()} in "
                f"{self.site_column!r}; drop ComBat from the pipeline for single-site data."
            )
        small = sites[counts < 2].tolist()[:10]
        if small:
            raise InvalidInputError(
                f"ComBat needs at least 2 rows per site to estimate its scale; site(s) {small} have only one "
                "(in this training fold). Merge such sites with a similar scanner/centre, drop their cases, or use "
                "a validation design with fewer folds."
            )
        constant = [str(c) for c, s in zip(features.columns, data.std(axis=0)) if s == 0]
        if constant:
            raise InvalidInputError(
                f"ComBat cannot standardise constant feature(s) {constant[:8]}"
                + (" ..." if len(constant) > 8 else "")
                + ". Put NearConstantFilter() before ComBat in the pipeline or drop those columns."
            )
        batch = np.zeros((n, len(sites)))
        batch[np.arange(n), inverse] = 1.0
        cov_design = self._covariate_design(cov, reset=True)
        design = np.hstack([batch, cov_design])
        if np.linalg.matrix_rank(design) < design.shape[1]:
            raise InvalidInputError(
                "ComBat's design (site indicators + covariates) is rank deficient: a covariate is confounded "
                "with site or constant. Remove that covariate."
            )
        beta, *_ = np.linalg.lstsq(design, data, rcond=None)  # (k, p)
        grand_mean = (counts / n) @ beta[: len(sites)]
        resid = data - design @ beta
        var_pooled = (resid**2).mean(axis=0)
        stand_mean = grand_mean[None, :] + cov_design @ beta[len(sites):]
        s_data = (data - stand_mean) / np.sqrt(var_pooled)

        gamma_hat = np.stack([s_data[inverse == i].mean(axis=0) for i in range(len(sites))])
        if self.mean_only:
            delta_hat = np.ones_like(gamma_hat)
        else:
            delta_hat = np.stack([s_data[inverse == i].var(axis=0, ddof=1) for i in range(len(sites))])
            delta_hat[delta_hat == 0] = 1.0
        gamma_bar = gamma_hat.mean(axis=1)
        tau2 = gamma_hat.var(axis=1, ddof=1) if p > 1 else np.ones(len(sites))
        a_prior, b_prior = _inverse_gamma_moments(delta_hat)

        gamma_star = np.empty_like(gamma_hat)
        delta_star = np.empty_like(delta_hat)
        for i in range(len(sites)):
            block = s_data[inverse == i]
            if self.parametric:
                g, d = _parametric_solution(block, gamma_hat[i], delta_hat[i], gamma_bar[i], tau2[i],
                                            a_prior[i], b_prior[i], self.mean_only)
            else:
                g, d = _nonparametric_solution(block, gamma_hat[i], delta_hat[i], self.mean_only)
            gamma_star[i], delta_star[i] = g, d

        self.sites_ = sites
        self.site_counts_ = counts
        self.features_ = np.asarray([str(c) for c in features.columns], dtype=object)
        self._feature_columns = list(features.columns)
        self.grand_mean_ = grand_mean
        self.var_pooled_ = var_pooled
        self.beta_covariates_ = beta[len(sites):]
        self.gamma_hat_, self.delta_hat_ = gamma_hat, delta_hat
        self.gamma_bar_, self.tau2_ = gamma_bar, tau2
        self.a_prior_, self.b_prior_ = a_prior, b_prior
        self.gamma_star_, self.delta_star_ = gamma_star, delta_star
        return self

    # -- transform ------------------------------------------------------------------------------------------------
    def transform(self, X: Any) -> Any:
        """Remove the fitted site effects from ``X``; rows must come from sites seen in ``fit``."""
        check_is_fitted(self, "gamma_star_")
        frame = self._frame(X, reset=False)
        site, features, cov = self._split(frame)
        if list(features.columns) != self._feature_columns:
            raise InvalidInputError(
                "ComBat.transform got other feature columns than fit (names or order differ). "
                f"Expected {len(self._feature_columns)} features starting {[str(c) for c in self._feature_columns[:4]]}."
            )
        labels = site.astype(str).to_numpy()
        index = {s: i for i, s in enumerate(self.sites_)}
        unseen = sorted(set(labels) - set(index))
        if unseen:
            raise InvalidInputError(
                f"ComBat was fitted on sites {self.sites_.tolist()} and cannot harmonise rows from unseen site(s) "
                f"{unseen}. Refit including those sites, or validate without ComBat for leave-one-site-out."
            )
        rows = np.asarray([index[s] for s in labels], dtype=int)
        data = features.to_numpy(dtype=float)
        cov_design = self._covariate_design(cov, reset=False)
        stand_mean = self.grand_mean_[None, :] + cov_design @ self.beta_covariates_
        scale = np.sqrt(self.var_pooled_)
        s_data = (data - stand_mean) / scale
        adjusted = (s_data - self.gamma_star_[rows]) / np.sqrt(self.delta_star_[rows])
        out = adjusted * scale + stand_mean
        if isinstance(X, pd.DataFrame):
            return pd.DataFrame(out, index=X.index, columns=features.columns)
        return out

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        check_is_fitted(self, "features_")
        return self.features_.copy()

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.string = True
        return tags


def _inverse_gamma_moments(delta_hat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Method-of-moments hyper-parameters of the inverse gamma prior on delta, one pair per site."""
    mean = delta_hat.mean(axis=1)
    var = delta_hat.var(axis=1, ddof=1) if delta_hat.shape[1] > 1 else np.zeros(len(delta_hat))
    with np.errstate(divide="ignore", invalid="ignore"):
        a = (2 * var + mean**2) / var
        b = (mean * var + mean**3) / var
    # var == 0 (all deltas equal, e.g. mean_only): an infinitely strong prior at the common value
    a = np.where(var > 0, a, 1e12)
    b = np.where(var > 0, b, mean * 1e12)
    return a, b


def _parametric_solution(block: np.ndarray, g_hat: np.ndarray, d_hat: np.ndarray, g_bar: float, tau2: float,
                         a: float, b: float, mean_only: bool) -> tuple[np.ndarray, np.ndarray]:
    """Posterior means of gamma and delta for one site, by fixed-point iteration (Johnson et al. 2007)."""
    n = block.shape[0]
    if mean_only:
        # as in the reference implementations (sva, neuroCombat): one shrinkage step with unit n and delta
        return (tau2 * g_hat + g_bar) / (tau2 + 1.0), np.ones_like(d_hat)
    g_old, d_old = g_hat.copy(), d_hat.copy()
    for _ in range(_MAX_ITER):
        g_new = (tau2 * n * g_hat + d_old * g_bar) / (tau2 * n + d_old)
        ss = ((block - g_new) ** 2).sum(axis=0)
        d_new = (0.5 * ss + b) / (n / 2.0 + a - 1.0)
        change = max(np.max(np.abs(g_new - g_old) / np.maximum(np.abs(g_old), 1e-12)),
                     np.max(np.abs(d_new - d_old) / d_old))
        g_old, d_old = g_new, d_new
        if change < _CONVERGENCE:
            break
    return g_old, d_old


def _nonparametric_solution(block: np.ndarray, g_hat: np.ndarray, d_hat: np.ndarray,
                            mean_only: bool) -> tuple[np.ndarray, np.ndarray]:
    """Posterior means using the other features' estimates as an empirical prior (likelihood weights)."""
    n, p = block.shape
    # log-likelihood of feature i's data under the (gamma_j, delta_j) of every other feature j
    loglik = np.empty((p, p))
    for i in range(p):
        x = block[:, i][:, None]  # (n, 1)
        ss = ((x - g_hat[None, :]) ** 2).sum(axis=0)
        loglik[i] = -0.5 * n * np.log(2 * np.pi * d_hat) - ss / (2 * d_hat)
    np.fill_diagonal(loglik, -np.inf)
    loglik -= loglik.max(axis=1, keepdims=True)
    weights = np.exp(loglik)
    weights /= weights.sum(axis=1, keepdims=True)
    g_star = weights @ g_hat
    d_star = np.ones(p) if mean_only else weights @ d_hat
    return g_star, d_star
