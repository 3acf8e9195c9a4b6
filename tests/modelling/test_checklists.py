"""Model-card checklists: item numbering and titles as published, and values that say what the run really did.

Expected numbers and titles below were typed from the published checklists (CLEAR v1.0, Insights into Imaging
2023, doi:10.1186/s13244-023-01415-8; TRIPOD+AI, BMJ 2024;385:e078378), not taken from the module.
"""

from __future__ import annotations

import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from eucaim_lab.modelling import ComBat, evaluate
from eucaim_lab.modelling._checklists import (
    AUTHORS,
    CLEAR_TITLES,
    TRIPOD_AI_ITEMS,
    clear_items,
    tripod_ai_items,
)

from .conftest import make_cohort

# (number, a word sequence the short title must contain), spread over every section of each checklist
CLEAR_SPOT = {
    1: "title", 7: "adherence to guidelines", 13: "data source", 15: "data split",
    19: "segmentation strategy",
    23: "discretization", 27: "number of features", 29: "missing data", 30: "class imbalance",
    31: "segmentation reliability", 32: "feature scaling", 33: "dimension reduction", 34: "algorithm details",
    35: "training and tuning", 36: "confounders", 37: "model selection", 38: "testing technique",
    39: "performance metrics", 40: "uncertainty", 43: "interpretability", 47: "model performance evaluation",
    53: "sharing images", 56: "source code for modeling", 57: "final model files", 58: "ready-to-use system",
}
TRIPOD_SPOT = {
    "5": ("data", "ab"), "7": ("data preparation", ""), "9": ("predictors", "abc"), "10": ("sample size", ""),
    "11": ("missing data", ""), "12": ("analytical methods", "abcdefg"), "13": ("class imbalance", ""),
    "14": ("fairness", ""), "15": ("model output", ""), "16": ("training versus evaluation", ""),
    "17": ("ethical approval", ""), "18": ("open science", "abcdef"),
    "19": ("patient and public involvement", ""),
    "20": ("participants", "abc"), "21": ("model development", ""), "22": ("model specification", ""),
    "23": ("model performance", "ab"), "24": ("model updating", ""), "25": ("interpretation", ""),
    "26": ("limitations", ""), "27": ("usability of the model", "abc"),
}


def test_numbering_and_titles_match_the_published_checklists():
    assert list(CLEAR_TITLES) == list(range(1, 59))
    for number, words in CLEAR_SPOT.items():
        assert words in CLEAR_TITLES[number].lower(), number
    assert list(TRIPOD_AI_ITEMS) == [str(i) for i in range(1, 28)]
    # 27 main items make 52 checklist entries once sub-items are counted
    assert sum(len(letters) or 1 for _, letters in TRIPOD_AI_ITEMS.values()) == 52
    for number, (words, letters) in TRIPOD_SPOT.items():
        title, got = TRIPOD_AI_ITEMS[number]
        assert words in title.lower() and got == letters, number


@pytest.fixture(scope="module")
def kfold_result():
    X, y, patients = make_cohort(n_patients=40, n_noise=6, seed=3, max_lesions=2)
    pipe = Pipeline([("combat", ComBat()), ("scale", StandardScaler()), ("model", LogisticRegression())])
    return evaluate(pipe, X, y, groups=patients, cv=3, n_bootstrap=20, refit=False)


@pytest.fixture(scope="module")
def loso_result():
    X, y, patients = make_cohort(n_patients=40, n_noise=6, seed=4, max_lesions=2)
    pipe = Pipeline([("scale", StandardScaler()), ("model", LogisticRegression(class_weight="balanced"))])
    return evaluate(pipe, X.drop(columns="site"), y, groups=patients, sites=X["site"].to_numpy(),
                    design="loso", n_bootstrap=20, refit=True)


def _as_dict(rows: list[tuple[str, str, str]]) -> dict[str, tuple[str, str]]:
    return {number: (title, value) for number, title, value in rows}


def test_tripod_values_answer_their_own_items(kfold_result, loso_result):
    prov = {"checkout_id": "chk-7", "manifest_digest": "sha3-256:ff", "dataset_ids": ["demo"]}
    kfold = _as_dict(tripod_ai_items(kfold_result, prov, code_shared=False, model_sha256=None))
    assert len(kfold) == 27 and kfold["12"][0].endswith("(12a-12g)")
    assert kfold["16"][0] == "Training versus evaluation"
    # 16 is about differences between development and evaluation data; the out-of-fold statement is 12a
    assert "disjoint patients of the same dataset" in kfold["16"][1] and "out-of-fold" not in kfold["16"][1]
    assert "12a:" in kfold["12"][1] and "out-of-fold" in kfold["12"][1] and "12d" not in kfold["12"][1]
    # refit=False: there is no final model, so model specification stays with the authors
    assert kfold["22"][1] == AUTHORS and kfold["18"][1] == AUTHORS
    assert kfold["5"][1].startswith("5a: dataset(s) ['demo']")
    loso = _as_dict(tripod_ai_items(loso_result, {}, code_shared=True, model_sha256="ab" * 32))
    assert "whole sites left out" in loso["16"][1]
    assert "12d:" in loso["12"][1] and "23b:" in loso["23"][1]
    assert loso["22"][1].startswith("final model refitted on all data") and "ab" * 32 in loso["22"][1]
    assert loso["18"][1].startswith("18f:") and "ab" * 32 not in loso["18"][1]
    assert "class-weighted" in loso["13"][1] and loso["5"][1] == AUTHORS


def test_clear_values_follow_the_design(kfold_result, loso_result):
    kfold = _as_dict(clear_items(kfold_result, {}, code_shared=False, model_sha256=None))
    assert len(kfold) == 58
    assert kfold["38"][1].startswith("internal validation") and "3-fold" in kfold["38"][1]
    assert "ComBat" in kfold["36"][1] and kfold["57"][1] == AUTHORS and kfold["13"][1] == AUTHORS
    loso = _as_dict(clear_items(loso_result, {}, code_shared=True, model_sha256="cd" * 32))
    assert loso["38"][1].startswith("leave-one-site-out") and loso["36"][1] == AUTHORS
    assert "cd" * 32 in loso["57"][1] and loso["56"][1] != AUTHORS
    assert loso["53"][0].endswith("(not essential)")
