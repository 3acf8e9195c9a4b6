"""RTSTRUCT rasterisation against MIRP's reference masks on the 30 ROIs of the soft-tissue-sarcoma cohort."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import shared_data

from eucaim_lab.imaging import discover_cases, quality_checks
from eucaim_lab.imaging._qc import geometry_differences

pytestmark = pytest.mark.shared_data

REFERENCE_NAME = {"CT": "CT", "MR": "MR_T1", "PT": "PET"}


@pytest.fixture(scope="module")
def sts_cases():
    return discover_cases(shared_data("sts-cohort"))


def test_discovers_thirty_rois_matched_by_uid(sts_cases):
    assert len(sts_cases) == 30
    assert len({c.case_id for c in sts_cases}) == 30
    patients = {c.patient_id for c in sts_cases}
    assert len(patients) == 10
    for case in sts_cases:
        assert case.mask.kind == "rtstruct"
        assert case.image.kind == "dicom"
        assert case.roi == f"GTV_Mass_{REFERENCE_NAME[case.modality]}"
        # the RTSTRUCT sits in <patient>/<modality>/mask/, its series in .../image/: UID matching found that series
        assert all(
            p.startswith(str(case.mask.path).rsplit("/mask/", 1)[0] + "/image/") for p in case.image.paths
        )
    # the MIRP NIfTI masks have no image beside them: listed as skipped, with a reason, not turned into cases
    assert sum("_mirp_masks" in s.path for s in sts_cases.skipped) == 30


def test_rtstruct_masks_match_mirp_reference(sts_cases):
    import SimpleITK as sitk

    dice = {}
    for case in sts_cases:
        image, mask = case.load()
        assert mask.GetPixelID() == sitk.sitkUInt8
        assert geometry_differences(image, mask) == []
        reference = sitk.ReadImage(
            str(
                shared_data(
                    "sts-cohort",
                    "_mirp_masks",
                    case.patient_id,
                    f"{REFERENCE_NAME[case.modality]}_mask.nii.gz",
                )
            )
        )
        # the reference must be on the image grid before voxels are compared
        assert geometry_differences(image, reference) == [], case.case_id
        ours = sitk.GetArrayViewFromImage(mask) > 0
        ref = sitk.GetArrayViewFromImage(reference) > 0
        dice[case.case_id] = 2 * np.logical_and(ours, ref).sum() / (ours.sum() + ref.sum())
        assert not [f for f in quality_checks(image, mask) if f.severity == "error"], case.case_id
    values = np.array(list(dice.values()))
    print(
        f"\nRTSTRUCT vs MIRP Dice over {values.size} ROIs: min {values.min():.4f}, median {np.median(values):.4f}"
    )
    worst = min(dice, key=dice.__getitem__)
    assert values.min() >= 0.97, f"{worst}: Dice {dice[worst]:.4f}"
