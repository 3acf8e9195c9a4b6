"""Filters and selectors: published ICC values, clusters, stability, volume confounding, L1 and mRMR."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from eucaim_lab._errors import InvalidInputError
from eucaim_lab.modelling import (
    CorrelationFilter,
    L1Selector,
    MRMRSelector,
    NearConstantFilter,
    StabilityFilter,
    VolumeConfoundingFilter,
    icc,
    volume_confounding,
    widen_perturbations,
)

# Shrout & Fleiss (1979), Table 2: 6 targets rated by 4 judges; published ICC(1,1)=.17, ICC(2,1)=.29, ICC(3,1)=.71
SHROUT_FLEISS = np.array([[9, 2, 5, 8], [6, 1, 3, 2], [8, 4, 6, 8], [7, 1, 2, 6], [10, 5, 6, 9], [6, 2, 4, 7]])


@pytest.mark.parametrize(("kind", "published"), [("ICC(1,1)", 0.17), ("ICC(2,1)", 0.29), ("ICC(3,1)", 0.71)])
def test_icc_matches_shrout_fleiss(kind, published):
    assert icc(SHROUT_FLEISS, kind) == pytest.approx(published, abs=0.005)


def test_stability_filter_keeps_reproducible_features_and_drops_repeats():
    rng = np.random.default_rng(0)
    truth = rng.normal(size=(60, 2))
    X = pd.DataFrame({
        "stable": truth[:, 0], "stable@erode": truth[:, 0] + rng.normal(0, 0.1, 60),
        "stable@dilate": truth[:, 0] + rng.normal(0, 0.1, 60),
        "unstable": truth[:, 1], "unstable@erode": rng.normal(size=60), "unstable@dilate": rng.normal(size=60),
        "untested": rng.normal(size=60),
    })
    filt = StabilityFilter(threshold=0.75).fit(X)
    assert list(filt.get_feature_names_out()) == ["stable", "untested"]
    assert filt.icc_["stable"] > 0.9 and filt.icc_["unstable"] < 0.3
    assert list(StabilityFilter(keep_untested=False).fit(X).get_feature_names_out()) == ["stable"]
    with pytest.raises(InvalidInputError, match="without their reference"):
        StabilityFilter().fit(X.drop(columns="stable"))


def test_correlation_filter_keeps_one_per_cluster():
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(2, 100))
    X = pd.DataFrame({"a1": a, "a2": a + rng.normal(0, 0.05, 100), "a3": 2 * a + rng.normal(0, 0.05, 100),
                      "b1": b, "b2": -b + rng.normal(0, 0.05, 100), "c": rng.normal(size=100)})
    kept = CorrelationFilter(threshold=0.9, method="pearson").fit(X).get_feature_names_out()
    assert len(kept) == 3
    assert sum(k.startswith("a") for k in kept) == 1 and sum(k.startswith("b") for k in kept) == 1 and "c" in kept
    corr = X[kept].corr().abs().to_numpy()
    assert (corr[~np.eye(3, dtype=bool)] <= 0.9).all()


def test_near_constant_filter():
    X = pd.DataFrame({"const": np.ones(40), "mostly": [0.0] * 39 + [1.0], "ok": np.arange(40.0)})
    assert list(NearConstantFilter().fit(X).get_feature_names_out()) == ["ok"]
    assert list(NearConstantFilter(max_frequency=1.0).fit(X).get_feature_names_out()) == ["mostly", "ok"]


def test_volume_confounding_report_and_filter():
    rng = np.random.default_rng(2)
    volume = rng.lognormal(3, 1, 80)
    X = pd.DataFrame({"original_shape_VoxelVolume": volume, "original_glszm_ZoneCount": volume * 3 + rng.normal(0, 1, 80),
                      "original_glcm_Contrast": rng.normal(size=80)})
    report = volume_confounding(X)
    assert report.index[0] == "original_glszm_ZoneCount" and report["abs_correlation"].iloc[0] > 0.95
    kept = VolumeConfoundingFilter(threshold=0.8).fit(X).get_feature_names_out()
    assert list(kept) == ["original_shape_VoxelVolume", "original_glcm_Contrast"]
    with pytest.raises(InvalidInputError, match="volume_column"):
        volume_confounding(X, volume_column="nope")


def test_selectors_find_the_signal():
    rng = np.random.default_rng(3)
    n = 200
    y = rng.integers(0, 2, n)
    signal = y + rng.normal(0, 0.7, n)
    X = pd.DataFrame(rng.normal(size=(n, 30)), columns=[f"n{i}" for i in range(30)])
    X["signal"] = signal
    X["signal_copy"] = signal + rng.normal(0, 0.01, n)  # redundant with "signal"
    X["weak"] = 0.5 * y + rng.normal(0, 1, n)
    l1 = L1Selector(C=0.05).fit(X, y)
    assert "signal" in l1.get_feature_names_out() or "signal_copy" in l1.get_feature_names_out()
    assert len(l1.get_feature_names_out()) < 10
    mrmr = MRMRSelector(n_features=2).fit(X, y)
    chosen = set(mrmr.get_feature_names_out())
    assert len(chosen & {"signal", "signal_copy"}) == 1  # redundancy keeps only one of the pair
    assert "weak" in chosen


def test_long_perturbation_table_feeds_the_stability_filter():
    rng = np.random.default_rng(4)
    truth = rng.normal(size=40)
    rows = []
    for perturbation in ("original", "erode", "dilate"):
        rows.append(pd.DataFrame({"case_id": [f"c{i}" for i in range(40)], "perturbation": perturbation,
                                  "stable": truth + rng.normal(0, 0.05, 40), "noisy": rng.normal(size=40)}))
    wide = widen_perturbations(pd.concat(rows))
    assert list(wide.columns) == ["case_id", "stable", "noisy", "stable@dilate", "noisy@dilate", "stable@erode",
                                  "noisy@erode"]
    kept = StabilityFilter().fit(wide.drop(columns="case_id")).get_feature_names_out()
    assert list(kept) == ["stable"]
    with pytest.raises(InvalidInputError, match="lack some perturbations"):
        widen_perturbations(pd.concat(rows).iloc[:-1])
