"""evaluate(): leakage guard, signal recovery, patient grouping, metrics, bad input, persistence, model card."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.feature_selection import SelectKBest, f_classif
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import GridSearchCV, StratifiedGroupKFold, cross_val_predict
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from eucaim_lab._errors import IntegrityError, InvalidInputError, NotFoundError
from eucaim_lab.modelling import (
    ComBat,
    CorrelationFilter,
    MRMRSelector,
    NearConstantFilter,
    evaluate,
    join_features,
    load_model,
    provenance_from_checkout,
)

from .conftest import make_cohort


def _pipeline(k: int = 5) -> Pipeline:
    return Pipeline([("combat", ComBat()), ("decorrelate", CorrelationFilter(0.9)),
                     ("select", MRMRSelector(n_features=k)), ("scale", StandardScaler()),
                     ("model", LogisticRegression(C=0.5))])


def test_leakage_guard_on_noise_with_site_effect():
    X, y, patients = make_cohort(n_patients=70, n_noise=300, effect=0.0, seed=11, max_lesions=1)
    features = X.drop(columns="site")
    # the mistake: harmonise and select with all data (outcome included), then cross-validate only the model
    harmonised = ComBat().fit_transform(X)
    selected = SelectKBest(f_classif, k=10).fit_transform(harmonised, y)
    naive = cross_val_predict(LogisticRegression(), selected, y, groups=patients, method="predict_proba",
                              cv=StratifiedGroupKFold(5, shuffle=True, random_state=0))[:, 1]
    assert roc_auc_score(y, naive) > 0.75
    # our way: the same steps inside the pipeline, refitted in every fold
    pipe = Pipeline([("combat", ComBat()), ("select", SelectKBest(f_classif, k=10)), ("model", LogisticRegression())])
    result = evaluate(pipe, X, y, groups=patients, n_bootstrap=300, refit=False)
    auc = result.metrics.loc["auc"]
    assert auc["ci_low"] < 0.5 < auc["ci_high"]
    assert features.shape[1] == 302


def test_known_signal_is_recovered_and_shuffled_labels_are_not(cohort):
    X, y, patients = cohort
    result = evaluate(_pipeline(), X, y, groups=patients, n_bootstrap=300, refit=False)
    assert result.metrics.loc["auc", "ci_low"] > 0.5
    assert set(result.feature_importance.index[:2]) == {"original_shape_VoxelVolume", "original_firstorder_Mean"}
    # shuffle the outcome between patients (all lesions of a patient keep one label)
    rng = np.random.default_rng(0)
    per_patient = pd.Series(y.to_numpy(), index=patients).groupby(level=0).first()
    shuffled = pd.Series(rng.permutation(per_patient.to_numpy()), index=per_patient.index).loc[patients].to_numpy()
    null = evaluate(_pipeline(), X, shuffled, groups=patients, n_bootstrap=300, refit=False)
    assert null.metrics.loc["auc", "ci_low"] < 0.5 < null.metrics.loc["auc", "ci_high"] or \
        null.metrics.loc["auc", "estimate"] < 0.6


class PatientProbe(ClassifierMixin, BaseEstimator):
    """A classifier that fails if asked to predict a patient it was trained on (column 'patient_code')."""

    def __init__(self, C: float = 1.0):
        self.C = C

    def fit(self, X, y):
        self.train_patients_ = set(X["patient_code"])
        self.classes_ = np.unique(y)
        return self

    def predict_proba(self, X):
        shared = self.train_patients_ & set(X["patient_code"])
        assert not shared, f"patients on both sides of a split: {sorted(shared)[:5]}"
        p = np.clip(X["original_firstorder_Mean"].to_numpy() / 10 + 0.5, 0, 1)
        return np.column_stack([1 - p, p])

    def predict(self, X):
        return (self.predict_proba(X)[:, 1] >= 0.5).astype(int)


def test_no_patient_on_both_sides_of_any_split_outer_and_inner(cohort):
    X, y, patients = cohort
    assert pd.Series(patients).value_counts().max() > 1  # several lesions per patient
    X = X.drop(columns="site").assign(patient_code=pd.factorize(patients)[0].astype(float))
    result = evaluate(PatientProbe(), X, y, groups=patients, n_repeats=2, n_bootstrap=50)
    assert result.folds.shape[0] == 10
    nested = GridSearchCV(PatientProbe(), {"C": [0.5, 1.0]}, scoring="roc_auc")
    result = evaluate(nested, X, y, groups=patients, cv=3, inner_cv=3, n_bootstrap=50)
    assert result.settings["nested"] and result.folds["best_params"].notna().all()


def test_metrics_agree_with_out_of_fold_predictions(cohort):
    X, y, patients = cohort
    result = evaluate(_pipeline(), X, y, groups=patients, n_bootstrap=200, n_permutations=3, refit=False)
    oof = result.oof
    assert oof["proba"].notna().all()
    assert result.metrics.loc["auc", "estimate"] == pytest.approx(roc_auc_score(oof["y"], oof["proba"]))
    assert result.metrics.loc["brier", "estimate"] == pytest.approx(((oof["proba"] - oof["y"]) ** 2).mean())
    assert (result.metrics["ci_low"] <= result.metrics["estimate"] + 1e-9).all()
    assert (result.metrics["estimate"] <= result.metrics["ci_high"] + 1e-9).all()
    assert result.permutation_p_value == pytest.approx(0.25)  # 1/(1+3): no permutation beats the real signal
    assert result.calibration["count"].sum() == len(y)
    assert {"threshold", "net_benefit", "treat_all"} <= set(result.decision_curve.columns)
    for fig in (result.plot_roc(), result.plot_calibration(), result.plot_feature_importance()):
        assert fig.axes and fig.axes[0].has_data()


def test_leave_one_site_out(cohort):
    X, y, patients = cohort
    pipe = Pipeline([("near", NearConstantFilter()), ("scale", StandardScaler()), ("model", LogisticRegression())])
    result = evaluate(pipe, X.drop(columns="site"), y, groups=patients, sites=X["site"].to_numpy(),
                      design="loso", n_bootstrap=100, refit=False)
    assert sorted(result.folds["sites_test"]) == ["A", "B", "C"]
    with pytest.raises(InvalidInputError, match="unseen site"):
        evaluate(_pipeline(), X, y, groups=patients, sites="site", design="loso", n_bootstrap=10, refit=False)


def test_bad_input_messages(cohort):
    X, y, patients = cohort
    with pytest.raises(InvalidInputError, match="SimpleImputer"):
        evaluate(_pipeline(), X.assign(original_firstorder_Mean=np.nan), y, groups=patients)
    with pytest.raises(InvalidInputError, match="constant column.*NearConstantFilter"):
        evaluate(_pipeline(), X.assign(extra=1.0), y, groups=patients)
    few = y.copy()
    few[:] = 0
    few.iloc[:3] = 1
    with pytest.raises(InvalidInputError, match="too few for 5-fold"):
        evaluate(_pipeline(), X, few, groups=patients)
    lonely = X.copy()
    lonely.loc[patients == patients[0], "site"] = "Z"
    with pytest.raises(InvalidInputError, match=r"Site\(s\) \['Z'\] have a single patient"):
        evaluate(_pipeline(), lonely, y, groups=patients, sites="site")
    with pytest.raises(InvalidInputError, match="exactly 2 classes"):
        evaluate(_pipeline(), X, np.arange(len(y)) % 3, groups=patients)


def test_join_features_reports_mismatched_ids():
    features = pd.DataFrame({"case_id": ["a", "b", "b", "c"], "f": [1.0, 2.0, 3.0, 4.0]})
    clinical = pd.DataFrame({"case_id": ["a", "b", "d"], "outcome": [0, 1, 0]})
    with pytest.raises(InvalidInputError, match=r"1 feature id\(s\) have no clinical row \['c'\].*\['d'\]") as err:
        join_features(features, clinical)
    assert err.value.details == {"missing": ["c"], "extra": ["d"]}
    with pytest.warns(UserWarning, match="dropped"):
        joined = join_features(features, clinical, drop_unmatched=True)
    assert joined["case_id"].tolist() == ["a", "b", "b"] and joined["outcome"].tolist() == [0, 1, 1]
    with pytest.raises(InvalidInputError, match="one row per"):
        join_features(features, pd.concat([clinical, clinical.head(1)]))


def test_save_load_report(cohort, tmp_path):
    X, y, patients = cohort
    result = evaluate(_pipeline(), X, y, groups=patients, n_bootstrap=100)
    path = result.save_model(tmp_path / "model.joblib", provenance={"checkout_id": "chk-1"})
    meta = json.loads((tmp_path / "model.joblib.json").read_text())
    assert len(meta["sha256"]) == 64 and meta["provenance"] == {"checkout_id": "chk-1"}
    loaded = load_model(path)
    np.testing.assert_array_equal(loaded.predict_proba(X), result.model.predict_proba(X))
    card = result.report(tmp_path / "card.html", code="print('hi')", model_path=path,
                         provenance={"checkout_id": "chk-1", "manifest_digest": "abc123", "dataset_ids": ["demo"]})
    text = card.read_text()
    auc = result.metrics.loc["auc"]
    assert f"{auc['estimate']:.3f}" in text and f"{auc['ci_low']:.3f}" in text
    for needle in ("id='clear'", "id='tripod-ai'", "Data split methodology", "to be completed by the authors",
                   "abc123", meta["sha256"], "scikit-learn", "data:image/png;base64,"):
        assert needle in text
    path.write_bytes(path.read_bytes() + b"x")
    with pytest.raises(IntegrityError, match="SHA-256"):
        load_model(path)


def test_folds_run_on_a_dask_cluster_with_the_same_results(cohort):
    distributed = pytest.importorskip("distributed")
    X, y, patients = cohort
    pipe = Pipeline([("combat", ComBat()), ("scale", StandardScaler()), ("model", LogisticRegression())])
    local = evaluate(pipe, X, y, groups=patients, n_bootstrap=50, refit=False)
    seen = []
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None) as cl, \
            distributed.Client(cl) as client, distributed.get_task_stream(client) as stream:
        remote = evaluate(pipe, X, y, groups=patients, n_bootstrap=50, refit=False, client=client,
                          progress=lambda done, total: seen.append(done))
    assert len(stream.data) >= 5  # the folds ran as tasks of the cluster
    assert remote.settings["backend"] == "dask" and sorted(seen) == [1, 2, 3, 4, 5]
    pd.testing.assert_frame_equal(remote.metrics, local.metrics)


def test_provenance_from_a_checkout_manifest(tmp_path):
    import hashlib

    folder = tmp_path / "chk-42"
    folder.mkdir()
    manifest = {"checkout_id": "chk-42", "dataset_id": "lung-a", "version": "1", "request_id": "r1",
                "permit_id": "p1", "files": {"a.dcm": "00" * 32, "b.dcm": "11" * 32}, "dataset_digest": "dd"}
    (folder / "manifest.json").write_text(json.dumps(manifest))
    prov = provenance_from_checkout(folder)
    assert prov["checkout_id"] == "chk-42" and prov["dataset_ids"] == ["lung-a"] and prov["n_files"] == 2
    assert prov["manifest_digest"] == "sha3-256:" + hashlib.sha3_256((folder / "manifest.json").read_bytes()).hexdigest()
    with pytest.raises(NotFoundError, match="manifest.json"):
        provenance_from_checkout(tmp_path)
