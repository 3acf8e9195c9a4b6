"""ModelBuilder: an ipywidgets form from a feature table and a clinical table to a validated model.

Every choice in the form becomes one line of Python; :meth:`ModelBuilder.code` returns the cell built from those
lines and :meth:`ModelBuilder.run` evaluates exactly the same expressions, so the copied cell reproduces the run.
The logic works without a browser: set the widget values (or pass them to :meth:`configure`) and call ``run()``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd

from .._errors import InvalidInputError

__all__ = ["ModelBuilder"]

#: model name -> (label, constructor expressions after the feature steps)
_MODELS: dict[str, tuple[str, list[tuple[str, str]]]] = {
    "logistic": ("Logistic regression", [
        ("scale", "StandardScaler()"),
        ("model", "LogisticRegression(class_weight='balanced', max_iter=2000)"),
    ]),
    "random_forest": ("Random forest", [
        ("model", "RandomForestClassifier(n_estimators=300, class_weight='balanced', random_state={seed})"),
    ]),
    "gradient_boosting": ("Gradient boosting", [
        ("model", "HistGradientBoostingClassifier(random_state={seed})"),
    ]),
    "svm": ("SVM (RBF)", [
        ("scale", "StandardScaler()"),
        ("model", "SVC(probability=True, class_weight='balanced', random_state={seed})"),
    ]),
}

_IMPORTS = """import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from eucaim_lab import modelling
from eucaim_lab.modelling import ComBat, CorrelationFilter, L1Selector, MRMRSelector, NearConstantFilter"""


class ModelBuilder:
    """Interactive model building on a radiomics feature table joined to a clinical table.

    Parameters
    ----------
    features: one row per case (or lesion) with pyradiomics columns (``original_glcm_Contrast``, ...).
    clinical: one row per case with the outcome(s) and, optionally, site and patient columns.
    id_column: the case id shared by both tables.
    patient_column: column grouping rows by patient for the folds (default: the case id).
    site_column: column with the acquisition site, for ComBat (default: a column named ``site`` if present).
    n_jobs: joblib processes for the folds.
    """

    def __init__(self, features: pd.DataFrame, clinical: pd.DataFrame, id_column: str = "case_id", *,
                 patient_column: str | None = None, site_column: str | None = None, n_jobs: int | None = None,
                 random_state: int = 0) -> None:
        from ..modelling._data import feature_groups, join_features

        self._features = features
        self._clinical = clinical
        self.id_column = id_column
        self.data = join_features(features, clinical, on=id_column)
        self.groups = feature_groups(features.columns)
        if not self.groups:
            raise InvalidInputError(
                "No pyradiomics feature columns found (names like 'original_glcm_Contrast'). Got columns: "
                f"{[str(c) for c in features.columns[:6]]}."
            )
        self.outcomes = [
            str(c) for c in clinical.columns
            if c not in (id_column, patient_column, site_column) and clinical[c].dropna().nunique() == 2
        ]
        if not self.outcomes:
            raise InvalidInputError("The clinical table has no binary column to use as the outcome.")
        self.patient_column = patient_column or id_column
        if site_column is None and "site" in self.data.columns:
            site_column = "site"
        self.site_column = site_column
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.result: Any = None
        self._build_ui()

    # -- the form -------------------------------------------------------------------------------------------------
    def _build_ui(self) -> None:
        import ipywidgets as w

        self.outcome = w.Dropdown(options=self.outcomes, value=self.outcomes[0], description="Outcome")
        self.feature_group_boxes = {
            name: w.Checkbox(value=True, description=f"{name} ({len(cols)})", indent=False)
            for name, cols in self.groups.items()
        }
        harmonisation = [("none", "none")] + ([("ComBat by site", "combat")] if self.site_column else [])
        self.harmonisation = w.Dropdown(options=harmonisation, value="none", description="Harmonise")
        self.near_constant = w.Checkbox(value=True, description="drop near-constant", indent=False)
        self.correlation = w.FloatSlider(value=0.9, min=0.5, max=1.0, step=0.01,
                                         description="max |r|", tooltip="1.0 = no correlation filter")
        self.selection = w.Dropdown(options=[("none", "none"), ("mRMR", "mrmr"), ("L1 logistic", "l1")],
                                    value="mrmr", description="Select")
        self.n_selected = w.IntSlider(value=10, min=1, max=50, description="mRMR k")
        self.model = w.Dropdown(options=[(label, key) for key, (label, _) in _MODELS.items()], value="logistic",
                                description="Model")
        self.cv = w.IntSlider(value=5, min=2, max=10, description="Folds")
        self.n_bootstrap = w.IntText(value=1000, description="Bootstrap")
        self.run_button = w.Button(description="Run", button_style="primary", icon="play")
        self.progress = w.IntProgress(value=0, min=0, max=1, description="Progress")
        # results are drawn into plain widgets (HTML table, PNG images) so they show in any frontend and can be
        # inspected from Python; no reliance on Output-widget capture
        self.status = w.HTML()
        self.metrics_table = w.HTML()
        self.figures = w.HBox([w.Image(format="png", layout=w.Layout(width="32%")) for _ in range(3)])
        self.code_area = w.Textarea(value=self.code(), layout=w.Layout(width="100%", height="260px"),
                                    description="Code")
        self.run_button.on_click(lambda _button: self._run_clicked())
        for control in (self.outcome, self.harmonisation, self.near_constant, self.correlation, self.selection,
                        self.n_selected, self.model, self.cv, self.n_bootstrap, *self.feature_group_boxes.values()):
            control.observe(lambda _change: self._refresh_code(), names="value")
        self.widget = w.VBox([
            w.HBox([self.outcome, self.model]),
            w.HTML("<b>Feature groups</b>"), w.HBox(list(self.feature_group_boxes.values())),
            w.HBox([self.harmonisation, self.near_constant]), w.HBox([self.correlation]),
            w.HBox([self.selection, self.n_selected]), w.HBox([self.cv, self.n_bootstrap]),
            w.HBox([self.run_button, self.progress]), self.status, self.metrics_table, self.figures,
            self.code_area,
        ])

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)

    def configure(self, **values: Any) -> ModelBuilder:
        """Set form controls by name (``outcome``, ``model``, ``harmonisation``, ``selection``, ``cv``, ...)."""
        controls = {"outcome": self.outcome, "harmonisation": self.harmonisation, "near_constant": self.near_constant,
                    "correlation": self.correlation, "selection": self.selection, "n_selected": self.n_selected,
                    "model": self.model, "cv": self.cv, "n_bootstrap": self.n_bootstrap}
        for key, value in values.items():
            if key == "feature_groups":
                unknown = set(value) - set(self.feature_group_boxes)
                if unknown:
                    raise InvalidInputError(f"Unknown feature group(s) {sorted(unknown)}. "
                                            f"Available: {sorted(self.feature_group_boxes)}.")
                for name, box in self.feature_group_boxes.items():
                    box.value = name in value
            elif key in controls:
                controls[key].value = value
            else:
                raise InvalidInputError(f"Unknown setting {key!r}. Expected one of {sorted([*controls, 'feature_groups'])}.")
        return self

    # -- the code -------------------------------------------------------------------------------------------------
    def _steps(self) -> list[tuple[str, str]]:
        steps: list[tuple[str, str]] = []
        if self.harmonisation.value == "combat":
            steps.append(("combat", f"ComBat(site_column={self.site_column!r})"))
        if self.near_constant.value:
            steps.append(("near_constant", "NearConstantFilter()"))
        if self.correlation.value < 1.0:
            steps.append(("decorrelate", f"CorrelationFilter(threshold={self.correlation.value!r})"))
        if self.selection.value == "mrmr":
            steps.append(("select", f"MRMRSelector(n_features={self.n_selected.value})"))
        elif self.selection.value == "l1":
            steps.append(("select", "L1Selector(C=0.5)"))
        seed = self.random_state
        steps.extend((name, expr.format(seed=seed)) for name, expr in _MODELS[self.model.value][1])
        return steps

    def _selected_groups(self) -> list[str]:
        return [name for name, box in self.feature_group_boxes.items() if box.value]

    def code(self) -> str:
        """The Python cell that reproduces the current settings' run (expects ``features`` and ``clinical``)."""
        steps = ",\n".join(f"    ({name!r}, {expr})" for name, expr in self._steps())
        extra = [self.site_column] if self.harmonisation.value == "combat" and self.site_column else []
        lines = [
            _IMPORTS, "",
            f"data = modelling.join_features(features, clinical, on={self.id_column!r})",
            f"data = data.dropna(subset=[{self.outcome.value!r}]).reset_index(drop=True)",
            "groups = modelling.feature_groups(features.columns)",
            f"columns = [c for g in {self._selected_groups()!r} for c in groups[g]]",
            f"X = data[columns + {extra!r}]",
            f"y = data[{self.outcome.value!r}]",
            f"pipeline = Pipeline([\n{steps},\n])",
            "result = modelling.evaluate(",
            (f"    pipeline, X, y, groups=data[{self.patient_column!r}],"
             + (f" sites=data[{self.site_column!r}]," if self.site_column else "")),
            (f"    cv={self.cv.value}, n_bootstrap={self.n_bootstrap.value}, random_state={self.random_state},"
             f" n_jobs={self.n_jobs!r},"),
            ")",
            "result.metrics",
        ]
        return "\n".join(lines)

    def _refresh_code(self) -> None:
        self.code_area.value = self.code()

    # -- running --------------------------------------------------------------------------------------------------
    def run(self, progress: Callable[[int, int], None] | None = None) -> Any:
        """Evaluate the pipeline described by the form; returns the EvaluationResult (also ``self.result``)."""
        from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import Pipeline
        from sklearn.preprocessing import StandardScaler
        from sklearn.svm import SVC

        from ..modelling import (
            ComBat,
            CorrelationFilter,
            L1Selector,
            MRMRSelector,
            NearConstantFilter,
            evaluate,
        )

        selected = self._selected_groups()
        if not selected:
            raise InvalidInputError("Select at least one feature group.")
        namespace = {"StandardScaler": StandardScaler, "LogisticRegression": LogisticRegression,
                     "RandomForestClassifier": RandomForestClassifier, "SVC": SVC,
                     "HistGradientBoostingClassifier": HistGradientBoostingClassifier, "ComBat": ComBat,
                     "CorrelationFilter": CorrelationFilter, "L1Selector": L1Selector,
                     "MRMRSelector": MRMRSelector, "NearConstantFilter": NearConstantFilter}
        # the same constructor expressions as in code(): one source for the run and the copied cell
        pipeline = Pipeline([(name, eval(expr, {"__builtins__": {}}, namespace))
                             for name, expr in self._steps()])
        outcome = self.outcome.value
        data = self.data.dropna(subset=[outcome]).reset_index(drop=True)
        columns = [c for g in selected for c in self.groups[g]]
        extra = [self.site_column] if self.harmonisation.value == "combat" and self.site_column else []
        X = data[columns + extra]
        y = data[outcome]

        def report(done: int, total: int) -> None:
            self.progress.max = total
            self.progress.value = done
            if progress is not None:
                progress(done, total)

        self.progress.value = 0
        self.result = evaluate(
            pipeline, X, y, groups=data[self.patient_column],
            sites=data[self.site_column] if self.site_column else None, cv=self.cv.value,
            n_bootstrap=self.n_bootstrap.value, random_state=self.random_state, n_jobs=self.n_jobs,
            progress=report,
        )
        self._refresh_code()
        return self.result

    def _run_clicked(self) -> None:
        import html
        import io

        from .._errors import EucaimLabError

        self.status.value = "<i>running...</i>"
        self.metrics_table.value = ""
        try:
            result = self.run()
        except EucaimLabError as exc:  # bad input: show the message, keep the form usable
            self.status.value = f"<b style='color:#a00'>Cannot run:</b> {html.escape(exc.message)}"
            return
        self.status.value = html.escape(repr(result))
        self.metrics_table.value = result.metrics.round(3).to_html()
        figures = (result.plot_roc(), result.plot_calibration(), result.plot_feature_importance(top=15))
        for image, fig in zip(self.figures.children, figures):
            buffer = io.BytesIO()
            fig.savefig(buffer, format="png", dpi=90)
            image.value = buffer.getvalue()
