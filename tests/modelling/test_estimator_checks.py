"""scikit-learn's estimator contract suite for every transformer of eucaim_lab.modelling."""

from __future__ import annotations

from sklearn.utils.estimator_checks import parametrize_with_checks

from eucaim_lab.modelling import (
    ComBat,
    CorrelationFilter,
    L1Selector,
    MRMRSelector,
    NearConstantFilter,
    StabilityFilter,
    VolumeConfoundingFilter,
)

_COMBAT_REASON = (
    "ComBat needs a site column with at least two rows per site; the generic check data has a continuous "
    "column 0 instead, so every row becomes its own one-row site and fit refuses it by design"
)


def _expected_failures(estimator):
    if isinstance(estimator, ComBat) and estimator.site_column == 0:
        return {name: _COMBAT_REASON for name in COMBAT_XFAIL}
    return {}


# every check that fits ComBat on the generic data (checked with xfail_strict below: none passes by chance)
COMBAT_XFAIL: list[str] = [
    "check_fit_score_takes_y",
    "check_estimators_overwrite_params",
    "check_dont_overwrite_parameters",
    "check_estimators_fit_returns_self",
    "check_readonly_memmap_input",
    "check_n_features_in_after_fitting",
    "check_positive_only_tag_during_fit",
    "check_estimators_dtypes",
    "check_dtype_object",
    "check_pipeline_consistency",
    "check_estimators_nan_inf",
    "check_estimators_pickle",
    "check_f_contiguous_array_estimator",
    "check_transformer_data_not_an_array",
    "check_transformer_general",
    "check_transformer_preserve_dtypes",
    "check_methods_sample_order_invariance",
    "check_methods_subset_invariance",
    "check_fit2d_1sample",
    "check_fit2d_1feature",
    "check_dict_unchanged",
    "check_fit_idempotent",
    "check_fit_check_is_fitted",
    "check_n_features_in",
    "check_fit2d_predict1d",
]


@parametrize_with_checks(
    [
        ComBat(site_column=0),
        NearConstantFilter(),
        CorrelationFilter(),
        StabilityFilter(),
        VolumeConfoundingFilter(volume_column=0),
        L1Selector(),
        MRMRSelector(n_features=2),
    ],
    expected_failed_checks=_expected_failures,
    xfail_strict=True,
)
def test_sklearn_contract(estimator, check):
    check(estimator)
