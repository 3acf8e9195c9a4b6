"""CLEAR and TRIPOD+AI items, and the values software can fill in from an evaluation.

Item numbers and short titles: CLEAR v1.0 (Kocak et al., Insights into Imaging 2023, 58 items) and TRIPOD+AI
(Collins et al., BMJ 2024, 27 main items; sub-items are grouped under their main item here). Items that depend on
the study (clinical context, ethics, cohort selection, discussion) are left to the authors.
"""

from __future__ import annotations

from typing import Any

__all__ = ["AUTHORS", "clear_items", "tripod_ai_items"]

AUTHORS = "to be completed by the authors"

CLEAR_TITLES = {
    1: "Relevant title, specifying the radiomic methodology", 2: "Structured summary with relevant information",
    3: "Relevant keywords for radiomics", 4: "Scientific or clinical background",
    5: "Rationale for using a radiomic approach", 6: "Study objective(s)",
    7: "Adherence to guidelines or checklists", 8: "Ethical details", 9: "Sample size calculation",
    10: "Study nature", 11: "Eligibility criteria", 12: "Flowchart for technical pipeline", 13: "Data source",
    14: "Data overlap", 15: "Data split methodology", 16: "Imaging protocol",
    17: "Definition of non-radiomic predictor variables", 18: "Definition of the reference standard (outcome)",
    19: "Segmentation strategy", 20: "Details of operators performing segmentation",
    21: "Image pre-processing details", 22: "Resampling method and its parameters",
    23: "Discretization method and its parameters", 24: "Image types", 25: "Feature extraction method",
    26: "Feature classes", 27: "Number of features", 28: "Default configuration statement for remaining parameters",
    29: "Handling of missing data", 30: "Details of class imbalance", 31: "Details of segmentation reliability analysis",
    32: "Feature scaling details", 33: "Dimension reduction details", 34: "Algorithm details",
    35: "Training and tuning details", 36: "Handling of confounders", 37: "Model selection strategy",
    38: "Testing technique", 39: "Performance metrics and rationale for choosing",
    40: "Uncertainty evaluation and measures", 41: "Statistical performance comparison",
    42: "Comparison with non-radiomic and combined methods", 43: "Interpretability and explainability methods",
    44: "Baseline demographic and clinical characteristics", 45: "Flowchart for eligibility criteria",
    46: "Feature statistics", 47: "Model performance evaluation",
    48: "Comparison with non-radiomic and combined approaches", 49: "Overview of important findings",
    50: "Previous works with differences from the current study", 51: "Practical implications",
    52: "Strengths and limitations", 53: "Sharing images along with segmentation data",
    54: "Sharing radiomic feature data", 55: "Sharing pre-processing scripts or settings",
    56: "Sharing source code for modeling", 57: "Sharing final model files", 58: "Sharing a ready-to-use system",
}

TRIPOD_AI_TITLES = {
    "1": "Title", "2": "Abstract", "3": "Background (healthcare context, target population, health inequalities)",
    "4": "Objectives", "5": "Data (sources, dates)", "6": "Participants (setting, eligibility, treatments)",
    "7": "Data preparation", "8": "Outcome", "9": "Predictors", "10": "Sample size", "11": "Missing data",
    "12": "Analytical methods", "13": "Class imbalance", "14": "Fairness", "15": "Model output",
    "16": "Training versus evaluation", "17": "Ethical approval",
    "18": "Open science (funding, conflicts, protocol, registration, data and code sharing)",
    "19": "Patient and public involvement", "20": "Participants (flow, characteristics)",
    "21": "Model development", "22": "Model specification", "23": "Model performance", "24": "Model updating",
    "25": "Interpretation", "26": "Limitations", "27": "Usability of the model in context",
}


def _fmt_metric(result: Any, name: str) -> str:
    row = result.metrics.loc[name]
    return f"{row['estimate']:.3f} (95% CI {row['ci_low']:.3f}-{row['ci_high']:.3f})"


def _facts(result: Any, provenance: dict[str, Any]) -> dict[str, str]:
    s = result.settings
    design = (
        f"leave-one-site-out over {s['cv']} sites" if s["design"] == "loso"
        else f"{s['cv']}-fold stratified cross-validation grouped by patient (StratifiedGroupKFold), "
             f"{s['n_repeats']} repeat(s)"
    )
    if s["nested"]:
        design += f"; hyper-parameters tuned in a nested, grouped {s['inner_cv']}-fold inner loop"
    steps = result.settings.get("pipeline_steps") or []
    metrics = "; ".join(f"{m} {_fmt_metric(result, m)}" for m in result.metrics.index)
    sources = provenance.get("dataset_ids") or provenance.get("dataset_id")
    return {
        "design": design + "; every preprocessing, harmonisation and selection step refitted inside each fold",
        "steps": " -> ".join(steps) if steps else s["estimator"],
        "metrics": metrics,
        "sources": (f"dataset(s) {sources}; checkout {provenance.get('checkout_id', 'n/a')}; manifest digest "
                    f"{provenance.get('manifest_digest', 'n/a')}") if provenance else "",
        "sample": (f"{s['n_samples']} rows from {s['n_patients']} patients; {s['n_positive']} positive rows "
                   f"(positive class {s['positive_label']!r})"
                   + (f"; {s['n_sites']} sites" if s.get("n_sites") else "")),
    }


def clear_items(result: Any, provenance: dict[str, Any], *, code_shared: bool, model_sha256: str | None
                ) -> list[tuple[str, str, str]]:
    """(number, title, value) for every CLEAR item; values software cannot know read 'to be completed...'."""
    f = _facts(result, provenance)
    s = result.settings
    steps = " ".join(s.get("pipeline_steps") or [])
    filled: dict[int, str] = {
        15: f["design"],
        27: f"{s['n_features']} candidate features entered the pipeline",
        29: ("imputation inside the pipeline: " + steps) if "Imputer" in steps
        else "no missing feature values (checked before fitting)",
        30: f"{s['n_positive']} of {s['n_samples']} rows positive; stratified folds"
        + ("; class weights in the model" if "balanced" in s["estimator"] else ""),
        32: f"pipeline steps (fitted on training folds only): {f['steps']}",
        33: f"pipeline steps (fitted on training folds only): {f['steps']}",
        34: f"scikit-learn pipeline: {s['estimator']}",
        35: (f"grid {s['param_grid']} searched in nested grouped inner CV" if s["nested"]
             else "fixed hyper-parameters (no tuning)"),
        37: (f"inner-loop selection of hyper-parameters by grouped {s['inner_cv']}-fold CV" if s["nested"]
             else "single pre-specified pipeline"),
        38: "internal validation: " + f["design"],
        39: "AUC (discrimination), balanced accuracy, sensitivity, specificity at threshold "
            f"{s['threshold']}, Brier score (calibration and discrimination)",
        40: f"patient-level bootstrap ({s['n_bootstrap']} resamples) 95% CIs; calibration curve"
            + (f"; permutation test ({s['n_permutations']} permutations) p = {result.permutation_p_value:.3g}"
               if result.permutation_p_value is not None else ""),
        43: "feature importance over outer folds (mean |coefficient| or impurity importance, selection frequency)",
        47: f["metrics"],
    }
    if "ComBat" in steps:
        filled[36] = "site effects removed with ComBat (empirical Bayes) fitted inside each training fold"
    if "StabilityFilter" in steps:
        filled[31] = "features filtered by ICC across repeated segmentations/perturbations (StabilityFilter)"
    if f["sources"]:
        filled[13] = f["sources"]
    if code_shared:
        filled[56] = "the Python cell that reproduces this run is embedded in this model card"
    if model_sha256:
        filled[57] = f"final model saved with joblib, SHA-256 {model_sha256}"
    return [(str(k), title, filled.get(k, AUTHORS)) for k, title in CLEAR_TITLES.items()]


def tripod_ai_items(result: Any, provenance: dict[str, Any], *, code_shared: bool, model_sha256: str | None
                    ) -> list[tuple[str, str, str]]:
    """(number, title, value) for the 27 TRIPOD+AI main items."""
    f = _facts(result, provenance)
    s = result.settings
    steps = " ".join(s.get("pipeline_steps") or [])
    filled = {
        "7": f"pipeline steps, fitted within each training fold: {f['steps']}",
        "9": f"{s['n_features']} candidate predictors (radiomic and other columns of X)",
        "10": f["sample"],
        "11": ("imputed inside the pipeline" if "Imputer" in steps else "no missing predictor values"),
        "12": f"{f['design']}; model {s['estimator']}; performance: AUC, balanced accuracy, sensitivity, "
              f"specificity, Brier score with patient-level bootstrap CIs",
        "13": f"prevalence {s['n_positive'] / s['n_samples']:.3f}; stratified folds"
              + ("; class-weighted model" if "balanced" in s["estimator"] else ""),
        "15": f"predicted probability of {s['positive_label']!r}; classification threshold {s['threshold']}",
        "16": "all reported performance is out-of-fold: no row is predicted by a model fitted on it or on "
              "another row of the same patient",
        "21": f["sample"] + f"; {len(result.folds)} outer folds",
        "22": f"final model refitted on all data: {s['estimator']}",
        "23": f["metrics"],
    }
    if f["sources"]:
        filled["5"] = f["sources"]
    if code_shared or model_sha256:
        filled["18"] = "; ".join(
            x for x in ("code that reproduces the analysis embedded in this card" if code_shared else "",
                        f"model file SHA-256 {model_sha256}" if model_sha256 else "") if x
        ) + " (funding, conflicts, protocol, registration: " + AUTHORS + ")"
    return [(k, title, filled.get(k, AUTHORS)) for k, title in TRIPOD_AI_TITLES.items()]
