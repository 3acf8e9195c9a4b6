"""The outcome of :func:`evaluate`: metrics with CIs, predictions, per-fold details, plots, report, model."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .._errors import InvalidInputError

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

__all__ = ["EvaluationResult"]


@dataclass(frozen=True)
class EvaluationResult:
    """Validation results of one pipeline on one cohort.

    Attributes
    ----------
    metrics: DataFrame indexed by metric (``auc``, ``balanced_accuracy``, ``sensitivity``, ``specificity``,
        ``brier``) with ``estimate``, ``ci_low``, ``ci_high`` (patient bootstrap, 95%) and ``n_bootstrap``.
    folds: one row per outer fold (sizes, held-out sites, fold AUC, tuned parameters, fit time).
    oof: out-of-fold probability of every row (``proba``: mean over repeats), with its patient and outcome.
    roc: mean ROC on a fixed FPR grid with the bootstrap band (``tpr_low``, ``tpr_high``).
    calibration: observed event fraction by bin of predicted probability.
    decision_curve: net benefit of the model, treat-all and treat-none by threshold probability.
    feature_importance: mean importance over folds and how often each feature reached the model.
    permutation_p_value: p-value of the AUC against label permutations (None when not computed).
    settings: every setting of the run (validation design, seeds, sizes), used by the report.
    model: the pipeline refitted on all data (None when ``refit=False``).
    """

    metrics: pd.DataFrame
    folds: pd.DataFrame
    oof: pd.DataFrame
    roc: pd.DataFrame
    calibration: pd.DataFrame
    decision_curve: pd.DataFrame
    feature_importance: pd.DataFrame
    permutation_p_value: float | None
    permutation_aucs: np.ndarray
    settings: dict[str, Any]
    model: Any = field(default=None, repr=False)

    def __repr__(self) -> str:
        m = self.metrics
        auc = m.loc["auc"]
        p = "not computed" if self.permutation_p_value is None else f"{self.permutation_p_value:.3g}"
        return (
            f"EvaluationResult(design={self.settings['design']!r}, nested={self.settings['nested']}, "
            f"AUC={auc['estimate']:.3f} [{auc['ci_low']:.3f}, {auc['ci_high']:.3f}], permutation p={p})"
        )

    def summary(self) -> str:
        """Metrics as 'estimate [ci_low, ci_high]' lines."""
        return "\n".join(
            f"{name}: {row['estimate']:.3f} [{row['ci_low']:.3f}, {row['ci_high']:.3f}]"
            for name, row in self.metrics.iterrows()
        )

    # -- plots ----------------------------------------------------------------------------------------------------
    def plot_roc(self, ax: Any = None) -> Figure:
        """Out-of-fold ROC curve with its 95% bootstrap band and the chance line."""
        fig, ax = _axes(ax)
        roc = self.roc
        auc = self.metrics.loc["auc"]
        ax.fill_between(roc["fpr"], roc["tpr_low"], roc["tpr_high"], alpha=0.25, color="C0", label="95% CI")
        ax.plot(roc["fpr"], roc["tpr"], color="C0",
                label=f"AUC {auc['estimate']:.2f} [{auc['ci_low']:.2f}, {auc['ci_high']:.2f}]")
        ax.plot([0, 1], [0, 1], ls="--", color="grey", lw=1)
        ax.set(xlabel="1 - specificity", ylabel="Sensitivity", title="ROC (out-of-fold)", xlim=(0, 1), ylim=(0, 1))
        ax.legend(loc="lower right")
        return fig

    def plot_calibration(self, ax: Any = None) -> Figure:
        """Observed event fraction against mean predicted probability, with the ideal diagonal."""
        fig, ax = _axes(ax)
        cal = self.calibration
        ax.plot([0, 1], [0, 1], ls="--", color="grey", lw=1, label="ideal")
        ax.plot(cal["mean_predicted"], cal["observed_fraction"], marker="o", color="C1", label="model")
        brier = float(self.metrics["estimate"].to_numpy(dtype=float)[self.metrics.index.get_loc("brier")])
        ax.set(xlabel="Mean predicted probability", ylabel="Observed fraction", xlim=(0, 1), ylim=(0, 1),
               title=f"Calibration (Brier {brier:.3f})")
        ax.legend(loc="upper left")
        return fig

    def plot_decision_curve(self, ax: Any = None) -> Figure:
        """Net benefit against threshold probability (model, treat all, treat none)."""
        fig, ax = _axes(ax)
        dc = self.decision_curve
        ax.plot(dc["threshold"], dc["net_benefit"], label="model", color="C2")
        ax.plot(dc["threshold"], dc["treat_all"], label="treat all", color="grey", ls="--")
        ax.plot(dc["threshold"], dc["treat_none"], label="treat none", color="black", lw=1)
        top = max(float(dc["net_benefit"].max()), float(dc["treat_all"].max()), 0.05)
        ax.set(xlabel="Threshold probability", ylabel="Net benefit", ylim=(-0.05, top * 1.1),
               title="Decision curve")
        ax.legend(loc="upper right")
        return fig

    def plot_feature_importance(self, top: int = 20, ax: Any = None) -> Figure:
        """Mean importance over the outer folds of the most important features, with selection frequency."""
        fig, ax = _axes(ax, size=(6, max(2.5, 0.3 * min(top, len(self.feature_importance)) + 1)))
        table = self.feature_importance.head(top).iloc[::-1]
        if table.empty:
            ax.text(0.5, 0.5, "The final model exposes no importances", ha="center", va="center")
            ax.set_axis_off()
            return fig
        ax.barh(range(len(table)), table["importance"], xerr=table["importance_std"], color="C0")
        labels = [f"{name}  ({freq:.0%})" for name, freq in zip(table.index, table["selection_frequency"])]
        ax.set_yticks(range(len(table)), labels, fontsize=8)
        ax.set(xlabel="Mean importance over folds (% of folds selected)",
               title="Feature importance")
        return fig

    # -- outputs --------------------------------------------------------------------------------------------------
    def report(self, path: str | Path, *, provenance: dict[str, Any] | None = None, title: str | None = None,
               code: str | None = None, model_path: str | Path | None = None) -> Path:
        """Write a self-contained HTML model card (figures embedded) and return its path.

        ``provenance``: where the data came from, e.g. ``{"checkout_id": ..., "manifest_digest": ...,
        "dataset_ids": [...]}``. ``code``: the cell that reproduces the run (``ModelBuilder.code()``), embedded.
        ``model_path``: a model saved with :meth:`save_model`, whose SHA-256 is recorded.
        """
        import json

        from ._report import write_model_card

        sha = None
        if model_path is not None:
            sha = json.loads(Path(str(model_path) + ".json").read_text())["sha256"]
        return write_model_card(self, Path(path), provenance=provenance or {}, title=title, code=code,
                                model_sha256=sha)

    def save_model(self, path: str | Path, *, provenance: dict[str, Any] | None = None) -> Path:
        """Save the model refitted on all data (joblib) with JSON metadata holding its SHA-256."""
        from ._persist import save_model

        if self.model is None:
            raise InvalidInputError("This result has no refitted model; run evaluate(..., refit=True).")
        return save_model(self.model, Path(path), self, provenance=provenance or {})


def _axes(ax: Any, size: tuple[float, float] = (5, 4.5)) -> tuple[Any, Any]:
    if ax is not None:
        return ax.figure, ax
    from matplotlib.figure import Figure

    # a bare Figure (no pyplot): no global state, no GUI backend, closed by garbage collection
    fig = Figure(figsize=size, layout="constrained")
    return fig, fig.add_subplot()
