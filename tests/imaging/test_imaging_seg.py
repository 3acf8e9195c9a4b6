"""DICOM SEG cases: discovered by UID, loaded on the image grid, equal to the labelmaps shipped beside them."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import shared_data

from eucaim_lab.imaging import Case, ImageRef, discover_cases
from eucaim_lab.imaging._qc import geometry_differences

pytestmark = pytest.mark.shared_data


def _array(path):
    import SimpleITK as sitk

    return sitk.GetArrayFromImage(sitk.ReadImage(str(path)))


@pytest.fixture(scope="module")
def dcmqi():
    root = shared_data("dicom", "dcmqi-ct-3slice-seg")
    return root, discover_cases(root)


def _by_mask(cases, name):
    return [c for c in cases if c.mask.path.endswith(name)]


def test_dcmqi_segments_found_and_referenced_series(dcmqi):
    _root, cases = dcmqi
    seg_cases = [c for c in cases if c.mask.kind == "seg"]
    assert len(seg_cases) == 10  # liver, 5 overlapping, small-23/24 label.seg, 2 sparse label maps
    assert sorted(c.roi for c in _by_mask(cases, "partial_overlaps.dcm")) == sorted(
        ["GREEN", "ORANGE", "PURPLE", "LIGHT_BLUE", "DARK_BLUE"]
    )
    for case in _by_mask(cases, "liver.dcm") + _by_mask(cases, "partial_overlaps.dcm"):
        assert all("/ct-3slice/" in p for p in case.image.paths) and len(case.image.paths) == 3
    # a SEG file named label.seg is found by its DICM preamble, and matched to the series of its own folder
    for size in ("small-23x38x3", "small-24x38x3"):
        (case,) = [c for c in cases if c.mask.path.endswith(f"{size}/seg/label.seg")]
        assert all(f"{size}/image/" in p for p in case.image.paths)
    assert len({c.case_id for c in cases}) == len(cases)
    # the NRRD labelmaps have no image beside them: skipped with a reason
    assert any(s.path.endswith("liver_seg.nrrd") for s in cases.skipped)


def test_liver_seg_matches_nrrd(dcmqi):
    import SimpleITK as sitk

    root, cases = dcmqi
    (case,) = _by_mask(cases, "liver.dcm")
    image, mask = case.load()
    assert geometry_differences(image, mask) == []
    expected = _array(root / "liver_seg.nrrd")
    got = sitk.GetArrayFromImage(mask)
    assert got.dtype == np.uint8 and got.sum() == 107098
    assert np.array_equal(got, (expected > 0).astype(np.uint8))


def test_overlapping_segments_match_their_source_labelmaps(dcmqi):
    import SimpleITK as sitk

    root, cases = dcmqi
    sources = {}
    for n in (1, 2, 3):
        arr = _array(root / f"partial_overlaps-{n}.nrrd")
        for value in np.unique(arr[arr > 0]):
            sources[int(value)] = arr == value
    by_number = {c.mask.segment_number: c for c in _by_mask(cases, "partial_overlaps.dcm")}
    assert sorted(by_number) == sorted(sources)
    image = by_number[1].load_image()  # one image load serves every segment of the series
    assert len({c.image_key for c in by_number.values()}) == 1
    for number, case in by_number.items():
        mask = sitk.GetArrayFromImage(case.load_mask(image))
        assert np.array_equal(mask.astype(bool), sources[number]), number


@pytest.mark.parametrize("size", ["small-23x38x3", "small-24x38x3"])
def test_small_seg_on_series_and_on_multiframe_image(dcmqi, size):
    import SimpleITK as sitk

    root, cases = dcmqi
    (case,) = [c for c in cases if c.mask.path.endswith(f"{size}/seg/label.seg")]
    expected = _array(root / size / "nrrd" / "label.nrrd")
    image, mask = case.load()
    assert np.array_equal(sitk.GetArrayFromImage(mask), expected)
    # the same image stored as one Legacy Converted Enhanced CT file: same voxels, same grid, same mask
    multiframe = Case(
        "mf",
        None,
        "CT",
        "Liver",
        ImageRef("dicom", (str(root / size / "multiframe" / "mf.dcm"),), None),
        case.mask,
    )
    mf_image, mf_mask = multiframe.load()
    assert geometry_differences(image, mf_image) == []
    assert np.array_equal(sitk.GetArrayFromImage(mf_image), sitk.GetArrayFromImage(image))
    assert np.array_equal(sitk.GetArrayFromImage(mf_mask), expected)


@pytest.mark.parametrize("variant", ["noppv", "ppv5"])
def test_labelmap_seg(dcmqi, variant):
    import SimpleITK as sitk

    root, cases = dcmqi
    (case,) = _by_mask(cases, f"sparse-labelmap-{variant}.dcm")
    assert case.roi == "Liver"
    _image, mask = case.load()
    expected = _array(root / "small-24x38x3" / f"sparse_labelmap_{variant}_seg.nrrd") == 1
    assert np.array_equal(sitk.GetArrayFromImage(mask).astype(bool), expected)
    assert expected.sum() == 630


def test_highdicom_ct2_binary_fractional_and_overlap():
    import pydicom
    import SimpleITK as sitk

    root = shared_data("dicom", "pydicom-ct2-highdicom-seg")
    cases = discover_cases(root)
    ct2 = {
        c.mask.path.rsplit("/", 1)[1] + f"#{c.mask.segment_number}": c
        for c in cases
        if len(c.image.paths) == 4
    }
    image = ct2["seg_image_ct_binary.dcm#1"].load_image()
    assert image.GetSize() == (16, 16, 4)
    codes = {k: sitk.GetArrayFromImage(c.load_mask(image)) for k, c in ct2.items()}
    assert codes["seg_image_ct_binary.dcm#1"].sum() > 0
    # the FRACTIONAL SEG holding only 0 and 255 equals the BINARY one
    assert np.array_equal(codes["seg_image_ct_binary_fractional.dcm#1"], codes["seg_image_ct_binary.dcm#1"])
    # true fractional values {0, 64, 128}/255: the 0.5 threshold keeps exactly the stored 128s
    raw = pydicom.dcmread(root / "SEG" / "seg_image_ct_true_fractional.dcm").pixel_array
    assert codes["seg_image_ct_true_fractional.dcm#1"].sum() == int((raw >= 128).sum())
    # single-frame SEG on the one-slice CT_small series
    (single,) = [c for c in cases if c.mask.path.endswith("seg_image_ct_binary_single_frame.dcm")]
    assert single.image.paths[0].endswith("CT_small.dcm")
    image, mask = single.load()
    assert mask.GetSize() == image.GetSize() == (128, 128, 1)
    assert sitk.GetArrayFromImage(mask).sum() > 0
