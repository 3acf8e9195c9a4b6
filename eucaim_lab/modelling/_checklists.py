"""CLEAR and TRIPOD+AI items, and the values software can fill in from an evaluation.

Item numbers and short titles were checked against:

* CLEAR v1.0 (58 items): Kocak B, Baessler B, Bakas S, et al. "CheckList for EvaluAtion of Radiomics
  research (CLEAR): a step-by-step reporting guideline for authors and reviewers endorsed by ESR and
  EuSoMII." Insights into Imaging 2023;14:75, doi:10.1186/s13244-023-01415-8. Verified item by item
  against the checklist page published by the CLEAR authors (clearchecklist/clear_checklist, CLEAR.html).
* TRIPOD+AI (27 main items, 52 checklist entries counting sub-items): Collins GS, Moons KGM, Dhiman P,
  et al. "TRIPOD+AI statement: updated guidance for reporting clinical prediction models that use
  regression or machine learning methods." BMJ 2024;385:e078378, doi:10.1136/bmj-2023-078378. Verified
  against three independent transcriptions of the statement's checklist table (the BMJ article itself
  could not be opened offline).

Titles are short labels (long ones paraphrased). TRIPOD+AI sub-items (3a-3c, 5a-5b, ...) are grouped
under their main item, and filled values name the sub-item they answer. Items that depend on the study
(clinical context, ethics, cohort selection, discussion) are left to the authors.
"""

from __future__ import annotations

from typing import Any

__all__ = ["AUTHORS", "clear_items", "tripod_ai_items"]

AUTHORS = "to be completed by the authors"

CLEAR_TITLES = {
    1: "Relevant title, specifying the radiomic methodology",
    2: "Structured summary with relevant information",
    3: "Relevant keywords for radiomics", 4: "Scientific or clinical background",
    5: "Rationale for using a radiomic approach", 6: "Study objective(s)",
    7: "Adherence to guidelines or checklists", 8: "Ethical details", 9: "Sample size calculation",
    10: "Study nature", 11: "Eligibility criteria", 12: "Flowchart for technical pipeline", 13: "Data source",
    14: "Data overlap", 15: "Data split methodology", 16: "Imaging protocol",
    17: "Definition of non-radiomic predictor variables",
    18: "Definition of the reference standard (outcome)",
    19: "Segmentation strategy", 20: "Details of operators performing segmentation",
    21: "Image pre-processing details", 22: "Resampling method and its parameters",
    23: "Discretization method and its parameters", 24: "Image types", 25: "Feature extraction method",
    26: "Feature classes", 27: "Number of features",
    28: "Default configuration statement for remaining parameters", 29: "Handling of missing data",
    30: "Details of class imbalance", 31: "Details of segmentation reliability analysis",
    32: "Feature scaling details", 33: "Dimension reduction details", 34: "Algorithm details",
    35: "Training and tuning details", 36: "Handling of confounders", 37: "Model selection strategy",
    38: "Testing technique", 39: "Performance metrics and rationale for choosing",
    40: "Uncertainty evaluation and measures", 41: "Statistical performance comparison",
    42: "Comparison with non-radiomic and combined methods",
    43: "Interpretability and explainability methods",
    44: "Baseline demographic and clinical characteristics", 45: "Flowchart for eligibility criteria",
    46: "Feature statistics", 47: "Model performance evaluation",
    48: "Comparison with non-radiomic and combined approaches", 49: "Overview of important findings",
    50: "Previous works with differences from the current study", 51: "Practical implications",
    52: "Strengths and limitations", 53: "Sharing images along with segmentation data (not essential)",
    54: "Sharing radiomic feature data", 55: "Sharing pre-processing scripts or settings",
    56: "Sharing source code for modeling", 57: "Sharing final model files",
    58: "Sharing a ready-to-use system (not essential)",
}

# main item -> (short title, letters of its sub-items; "" when the item has none)
TRIPOD_AI_ITEMS = {
    "1": ("Title", ""), "2": ("Abstract", ""),
    "3": ("Background: healthcare context, target population and intended use, health inequalities", "abc"),
    "4": ("Objectives", ""), "5": ("Data: sources, dates", "ab"),
    "6": ("Participants: setting, eligibility, treatments", "abc"), "7": ("Data preparation", ""),
    "8": ("Outcome: definition, assessors, blinding", "abc"),
    "9": ("Predictors: choice, definition, assessors", "abc"), "10": ("Sample size", ""),
    "11": ("Missing data", ""),
    "12": ("Analytical methods", "abcdefg"),
    "13": ("Class imbalance", ""), "14": ("Fairness", ""), "15": ("Model output", ""),
    "16": ("Training versus evaluation", ""), "17": ("Ethical approval", ""),
    "18": ("Open science: funding, conflicts of interest, protocol, registration, data sharing, "
           "code sharing", "abcdef"),
    "19": ("Patient and public involvement", ""),
    "20": ("Participants: flow, characteristics, comparison with development data", "abc"),
    "21": ("Model development", ""), "22": ("Model specification", ""),
    "23": ("Model performance: estimates with confidence intervals, heterogeneity across clusters", "ab"),
    "24": ("Model updating", ""), "25": ("Interpretation", ""), "26": ("Limitations", ""),
    "27": ("Usability of the model in the context of current care", "abc"),
}


def _tripod_title(number: str) -> str:
    title, letters = TRIPOD_AI_ITEMS[number]
    return f"{title} ({number}{letters[0]}-{number}{letters[-1]})" if letters else title


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
        "design": (design + "; every preprocessing, harmonisation and selection step refitted inside each "
                   "fold"),
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
    """(number, title, value) for every CLEAR item; values software cannot know read AUTHORS."""
    f = _facts(result, provenance)
    s = result.settings
    steps = " ".join(s.get("pipeline_steps") or [])
    loso = s["design"] == "loso"
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
        38: ("leave-one-site-out (each site held out in turn; no separate external test set): " if loso
             else "internal validation (no external test set): ") + f["design"],
        39: "AUC (discrimination), balanced accuracy, sensitivity, specificity at threshold "
            f"{s['threshold']}, Brier score (calibration and discrimination)",
        40: f"patient-level bootstrap ({s['n_bootstrap']} resamples) 95% CIs; calibration curve"
            + (f"; permutation test ({s['n_permutations']} permutations) "
               f"p = {result.permutation_p_value:.3g}" if result.permutation_p_value is not None else ""),
        43: ("feature importance over outer folds (mean |coefficient| or impurity importance, selection "
             "frequency)"),
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
    """(number, title, value) for the 27 TRIPOD+AI main items; titles list the sub-items they group."""
    f = _facts(result, provenance)
    s = result.settings
    steps = " ".join(s.get("pipeline_steps") or [])
    loso = s["design"] == "loso"
    filled = {
        "7": f"pipeline steps, fitted within each training fold: {f['steps']}",
        "9": (f"9a: {s['n_features']} candidate predictors (radiomic and other columns of X); 9b-9c: "
              + AUTHORS),
        "10": f["sample"],
        "11": ("imputed inside the pipeline" if "Imputer" in steps else "no missing predictor values"),
        "12": (f"12a: {f['design']}; all reported performance is out-of-fold (no row is predicted by a "
               "model fitted on it or on another row of the same patient); "
               f"12c: model {s['estimator']}; "
               + ("12d: performance of each held-out site in the per-fold table; " if loso else "")
               + "12e: AUC, balanced accuracy, sensitivity, specificity, Brier score with patient-level "
               "bootstrap CIs, calibration and decision curves"),
        "13": f"prevalence {s['n_positive'] / s['n_samples']:.3f}; stratified folds"
              + ("; class-weighted model" if "balanced" in s["estimator"] else ""),
        "15": (f"predicted probability of {s['positive_label']!r}; classification threshold "
               f"{s['threshold']}"),
        "16": ("evaluation folds are whole sites left out of development: the healthcare setting (site) "
               "differs from the development data; eligibility, outcome and predictor definitions are the "
               "same"
               if loso else
               "internal validation: development and evaluation rows are disjoint patients of the same "
               "dataset(s), with the same setting, eligibility, outcome and predictor definitions"),
        "21": f["sample"] + f"; {len(result.folds)} outer folds (per-fold counts in the per-fold table)",
        "23": "23a: " + f["metrics"] + "; subgroups: " + AUTHORS
              + ("; 23b: AUC of each held-out site in the per-fold table" if loso else ""),
    }
    if getattr(result, "model", None) is not None or model_sha256:
        filled["22"] = f"final model refitted on all data: {s['estimator']}" + (
            f"; saved with joblib, SHA-256 {model_sha256}" if model_sha256 else "")
    if f["sources"]:
        filled["5"] = "5a: " + f["sources"] + "; 5b: " + AUTHORS
    if code_shared:
        filled["18"] = ("18f: the code that reproduces the analysis is embedded in this card; 18a-18e: "
                        + AUTHORS)
    return [(k, _tripod_title(k), filled.get(k, AUTHORS)) for k in TRIPOD_AI_ITEMS]
