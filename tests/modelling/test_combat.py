"""ComBat: agreement with neuroCombat's fit, harmonised site moments, new data, and refusals."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from eucaim_lab._errors import InvalidInputError
from eucaim_lab.modelling import ComBat


def _data(seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n, p = 90, 12
    site = np.repeat(["A", "B", "C"], [25, 35, 30])
    age = rng.normal(60, 10, n)
    X = rng.normal(size=(n, p)) * np.array([1, 2, 3] * 4) + age[:, None] * 0.05
    X += np.select([site == "A", site == "B"], [1.0, -0.5], 0.3)[:, None] * np.arange(1, p + 1) / 3
    X *= np.select([site == "A", site == "B"], [1.5, 0.7], 1.0)[:, None]
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(p)])
    frame["site"] = site
    frame["age"] = age
    return frame


@pytest.mark.parametrize(("parametric", "mean_only"), [(True, False), (False, False), (True, True)])
def test_matches_neurocombat_fit(parametric, mean_only):
    neuro = pytest.importorskip("neuroCombat", reason="neuroCombat (test-only reference) is not installed")
    frame = _data()
    features = frame.drop(columns=["site", "age"]).to_numpy()
    reference = neuro.neuroCombat(
        dat=features.T, covars=frame[["site", "age"]].rename(columns={"site": "batch"}), batch_col="batch",
        continuous_cols=["age"], parametric=parametric, mean_only=mean_only,
    )
    ours = ComBat(covariates=["age"], parametric=parametric, mean_only=mean_only).fit(frame)
    np.testing.assert_allclose(ours.transform(frame).to_numpy(), reference["data"].T, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(ours.gamma_hat_, reference["estimates"]["gamma_hat"], atol=1e-8)
    np.testing.assert_allclose(ours.gamma_star_, reference["estimates"]["gamma.star"], rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(ours.delta_star_, reference["estimates"]["delta.star"], rtol=1e-4, atol=1e-5)


def test_site_means_and_variances_agree_after_transform():
    rng = np.random.default_rng(5)
    site = np.repeat(["A", "B", "C"], [40, 50, 45])
    scale = np.select([site == "A", site == "B"], [1.6, 0.7], 1.0)[:, None]
    shift = np.select([site == "A", site == "B"], [2.0, -1.0], 0.5)[:, None]
    frame = pd.DataFrame(rng.normal(size=(len(site), 12)) * scale + shift, columns=[f"f{i}" for i in range(12)])
    frame["site"] = site
    out = ComBat().fit_transform(frame)
    before = frame.drop(columns="site").groupby(frame["site"])
    after = out.groupby(frame["site"])
    # before: sites differ clearly; after: per-site means and SDs close to each other for every feature
    assert (before.mean().max() - before.mean().min()).max() > 1.5
    spread_mean = (after.mean().max() - after.mean().min()) / out.std()
    spread_sd = after.std().max() / after.std().min()
    spread_sd_before = before.std().max() / before.std().min()
    assert spread_mean.max() < 0.35
    assert spread_sd_before.min() > 1.6
    assert (spread_sd < spread_sd_before).all()
    assert spread_sd.max() < 1.5  # empirical Bayes shrinks, so not exactly 1
    assert list(out.columns) == [f"f{i}" for i in range(12)]  # site column dropped, order kept


def test_covariate_effect_is_preserved():
    # age differs between sites (site A older): without the covariate ComBat removes part of the age effect
    rng = np.random.default_rng(3)
    site = np.repeat(["A", "B"], 60)
    age = np.where(site == "A", rng.normal(70, 6, 120), rng.normal(50, 6, 120))
    clean = 0.1 * age[:, None] + rng.normal(0, 0.5, (120, 4))
    frame = pd.DataFrame(clean * np.where(site == "A", 1.4, 0.8)[:, None] + np.where(site == "A", 2.0, -1.0)[:, None],
                         columns=list("abcd")).assign(site=site, age=age)

    def slope(values):
        return np.polyfit(age, values, 1)[0]

    kept = ComBat(covariates=["age"]).fit_transform(frame)
    lost = ComBat().fit_transform(frame.drop(columns="age"))
    assert "age" not in kept.columns
    for column in "abcd":
        assert abs(slope(kept[column]) - 0.1) < 0.03
        assert abs(slope(lost[column]) - 0.1) > 0.05


def test_transform_new_rows_from_seen_sites_matches_fit():
    frame = _data().drop(columns=["age"])
    model = ComBat().fit(frame)
    subset = frame.sample(15, random_state=0)
    np.testing.assert_allclose(model.transform(subset).to_numpy(), model.transform(frame).loc[subset.index].to_numpy())


def test_unseen_site_is_refused_with_names():
    frame = _data().drop(columns=["age"])
    model = ComBat().fit(frame)
    new = frame.head(3).assign(site="Z")
    with pytest.raises(InvalidInputError, match=r"unseen site\(s\) \['Z'\]") as err:
        model.transform(new)
    assert "['A', 'B', 'C']" in str(err.value)


def test_bad_input_is_refused():
    frame = _data().drop(columns=["age"])
    with pytest.raises(InvalidInputError, match="only one"):
        ComBat().fit(pd.concat([frame, frame.head(1).assign(site="D")]))
    with pytest.raises(InvalidInputError, match="NearConstantFilter"):
        ComBat().fit(frame.assign(f3=1.0))
    with pytest.raises(InvalidInputError, match="SimpleImputer"):
        ComBat().fit(frame.assign(f3=np.where(np.arange(len(frame)) == 4, np.nan, frame["f3"])))
    with pytest.raises(InvalidInputError, match="column 'scanner'"):
        ComBat(site_column="scanner").fit(frame)
    with pytest.raises(InvalidInputError, match="at least two sites"):
        ComBat().fit(frame.assign(site="A"))


def test_in_pipeline_site_column_travels_and_is_dropped():
    frame = _data().drop(columns=["age"])
    pipe = Pipeline([("combat", ComBat()), ("scale", StandardScaler())]).fit(frame)
    assert list(pipe.get_feature_names_out()) == [f"f{i}" for i in range(12)]
    assert pipe.transform(frame).shape == (len(frame), 12)


def test_estimator_contract_with_a_real_site_column():
    # the generic contract checks cannot supply a site column (see test_estimator_checks); the same properties here
    import pickle

    from sklearn.base import clone

    frame = _data()
    model = ComBat(covariates=["age"], parametric=False)
    assert clone(model).get_params() == model.get_params()
    first = model.fit(frame).transform(frame)
    again = clone(model).fit(frame).transform(frame)
    pd.testing.assert_frame_equal(first, again)  # fit is deterministic and idempotent
    restored = pickle.loads(pickle.dumps(model))
    pd.testing.assert_frame_equal(restored.transform(frame), first)
    assert model.n_features_in_ == 14 and list(model.feature_names_in_)[-2:] == ["site", "age"]
    shuffled = frame.sample(frac=1.0, random_state=1)
    pd.testing.assert_frame_equal(model.transform(shuffled), first.loc[shuffled.index])
    with pytest.raises(InvalidInputError, match="14 columns"):
        model.transform(frame.drop(columns="f0"))


def test_categorical_covariate_matches_neurocombat():
    neuro = pytest.importorskip("neuroCombat", reason="neuroCombat (test-only reference) is not installed")
    frame = _data(seed=7)
    frame["sex"] = np.where(np.random.default_rng(7).random(len(frame)) < 0.5, "F", "M")
    frame.loc[frame["sex"] == "M", "f2"] += 1.5  # a sex effect to preserve
    features = frame.drop(columns=["site", "age", "sex"]).to_numpy()
    reference = neuro.neuroCombat(
        dat=features.T, covars=frame[["site", "age", "sex"]].rename(columns={"site": "batch"}), batch_col="batch",
        categorical_cols=["sex"], continuous_cols=["age"],
    )
    ours = ComBat(covariates=["age", "sex"]).fit_transform(frame)
    np.testing.assert_allclose(ours.to_numpy(), reference["data"].T, rtol=1e-5, atol=1e-5)
    with pytest.raises(InvalidInputError, match=r"level\(s\) \['X'\] not seen"):
        ComBat(covariates=["age", "sex"]).fit(frame).transform(frame.assign(sex="X"))
