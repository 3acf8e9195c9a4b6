"""The usual classifiers for radiomics, with settings that suit small, imbalanced cohorts."""

from __future__ import annotations

from typing import Any

from .._errors import InvalidInputError

__all__ = ["MODELS", "make_model"]

#: model name -> short description (the ModelBuilder lists these)
MODELS = {
    "logistic": "Logistic regression (L2, class-weighted, standardised inputs)",
    "random_forest": "Random forest (500 trees, class-weighted)",
    "gradient_boosting": "Histogram gradient boosting",
    "svm": "Support vector machine (RBF kernel, probabilities by Platt scaling)",
}


def make_model(name: str, random_state: int | None = 0) -> Any:
    """An unfitted classifier by name (see :data:`MODELS`); linear and kernel models include a StandardScaler."""
    from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    if name == "logistic":
        return make_pipeline(StandardScaler(), LogisticRegression(class_weight="balanced", max_iter=2000))
    if name == "random_forest":
        return RandomForestClassifier(n_estimators=500, class_weight="balanced", random_state=random_state)
    if name == "gradient_boosting":
        return HistGradientBoostingClassifier(random_state=random_state)
    if name == "svm":
        return make_pipeline(StandardScaler(), SVC(probability=True, class_weight="balanced",
                                                   random_state=random_state))
    raise InvalidInputError(f"Unknown model {name!r}. Expected one of {sorted(MODELS)}.")
