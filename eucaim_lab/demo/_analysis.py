"""The demo analysis of a checkout: radiomics with Dask, then a patient-grouped validated model.

Runs wherever the checkout may be opened: inside the sandboxed kernel for IN_SITU_PROCESSING data. Used by
``eucaim-lab demo --headless`` (sent into a sandboxed kernel) and by the workshop notebooks.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

__all__ = ["analyse_checkout", "clinical_table", "model_table"]


def clinical_table(checkout: str | os.PathLike[str]) -> Any:
    """The checkout's ``eforms.json`` as a DataFrame, one row per subject."""
    import pandas as pd

    forms = json.loads((Path(checkout) / "eforms.json").read_text())
    return pd.DataFrame([{"subject": f["subjectName"], **f["eForm"]} for f in forms])


def model_table(features: Any, clinical: Any, roi: str = "Tumour") -> tuple[Any, Any, Any]:
    """Features of one ROI per patient joined to the outcome: returns X (with the ``site`` column), y, groups."""
    from ..modelling import join_features

    ok = features[(features["status"] == "ok") & (features["roi"] == roi)]
    columns = [c for c in ok.columns if c.startswith("original_")]
    table = join_features(ok[["patient_id", *columns]], clinical[["patient_id", "site", "outcome"]],
                          on="patient_id", drop_unmatched=True)
    X = table[[*columns, "site"]].reset_index(drop=True)
    return X, table["outcome"].astype(int).to_numpy(), table["patient_id"].to_numpy()


def analyse_checkout(
    checkout: str | os.PathLike[str] | None = None,
    workspace: str | os.PathLike[str] | None = None,
    *,
    workers: int = 2,
    n_bootstrap: int = 200,
) -> dict[str, Any]:
    """Extract radiomics from every case of the checkout and validate a ComBat + logistic model of the outcome."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from .. import radiomics
    from ..modelling import ComBat, CorrelationFilter, NearConstantFilter, evaluate

    checkout = Path(checkout or os.environ["EUCAIM_CHECKOUT"])
    workspace = Path(workspace or os.environ.get("EUCAIM_WORKSPACE") or ".")
    features = radiomics.extract(checkout, params="default", workers=workers, progress=False)
    features.to_parquet(workspace / "features.parquet")
    X, y, groups = model_table(features, clinical_table(checkout))
    pipeline = make_pipeline(
        ComBat(site_column="site"), NearConstantFilter(), CorrelationFilter(threshold=0.9), StandardScaler(),
        LogisticRegression(C=0.1, class_weight="balanced", max_iter=2000),
    )
    result = evaluate(pipeline, X, y, groups=groups, cv=4, n_bootstrap=n_bootstrap, random_state=0)
    auc = result.metrics.loc["auc"]
    return {
        "cases": int(len(features)),
        "cases_ok": int((features["status"] == "ok").sum()),
        "feature_columns": int(sum(c.startswith(("original_", "wavelet", "log-")) for c in features.columns)),
        "patients_modelled": int(len(set(groups))),
        "auc": round(float(auc["estimate"]), 3),
        "auc_ci": [round(float(auc["ci_low"]), 3), round(float(auc["ci_high"]), 3)],
        "features_file": str(workspace / "features.parquet"),
    }
