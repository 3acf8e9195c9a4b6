"""ModelBuilder without a browser: the form drives run(), and the copied code reproduces the metrics."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from eucaim_lab._errors import InvalidInputError
from eucaim_lab.widgets import ModelBuilder

from .conftest import make_cohort


def _tables() -> tuple[pd.DataFrame, pd.DataFrame]:
    X, y, _patients = make_cohort(n_patients=70, n_noise=24, seed=4, max_lesions=1)
    features = X.drop(columns="site").assign(case_id=[f"C{i}" for i in range(len(X))])
    clinical = pd.DataFrame({"case_id": features["case_id"], "malignant": np.where(y == 1, "yes", "no"),
                             "site": X["site"], "age": np.random.default_rng(0).normal(60, 9, len(X))})
    return features, clinical


@pytest.mark.parametrize("settings", [
    {"model": "logistic", "harmonisation": "combat", "selection": "mrmr", "n_selected": 4},
    {"model": "random_forest", "harmonisation": "none", "selection": "l1", "feature_groups": ["shape", "firstorder"]},
])
def test_copied_code_reproduces_the_run(settings):
    features, clinical = _tables()
    builder = ModelBuilder(features, clinical, id_column="case_id")
    assert builder.outcomes == ["malignant"]
    assert set(builder.groups) == {"shape", "firstorder", "glcm", "glrlm", "gldm"}
    seen = []
    builder.configure(cv=4, n_bootstrap=150, **settings)
    result = builder.run(progress=lambda done, total: seen.append((done, total)))
    assert seen[-1][0] == seen[-1][1] == builder.progress.max == builder.progress.value
    code = builder.code()
    assert builder.code_area.value == code
    namespace = {"features": features, "clinical": clinical}
    exec(compile(code, "<model-builder>", "exec"), namespace)  # noqa: S102 - the generated cell under test
    pd.testing.assert_frame_equal(namespace["result"].metrics, result.metrics)
    assert result.metrics.loc["auc", "ci_low"] > 0.5


def test_form_changes_the_code_and_bad_choices_are_refused():
    features, clinical = _tables()
    builder = ModelBuilder(features, clinical, id_column="case_id")
    before = builder.code()
    builder.model.value = "svm"
    assert builder.code_area.value != before and "SVC(probability=True" in builder.code_area.value
    with pytest.raises(InvalidInputError, match="Unknown setting"):
        builder.configure(modle="svm")
    builder.configure(feature_groups=[])
    with pytest.raises(InvalidInputError, match="at least one feature group"):
        builder.run()
    builder.run_button.click()  # the button reports bad input in the form instead of raising
    assert "Cannot run" in builder.status.value and "feature group" in builder.status.value
    with pytest.raises(InvalidInputError, match="do not match"):
        ModelBuilder(features.iloc[1:], clinical, id_column="case_id")


def test_run_button_fills_the_results_area():
    features, clinical = _tables()
    builder = ModelBuilder(features, clinical, id_column="case_id").configure(cv=3, n_bootstrap=50)
    builder.run_button.click()
    assert "auc" in builder.metrics_table.value and "ci_low" in builder.metrics_table.value
    assert all(bytes(image.value).startswith(b"\x89PNG") for image in builder.figures.children)
    assert "AUC=" in builder.status.value and builder.result is not None
