"""NIfTI/NRRD pairs, pyradiomics batch CSVs, and bad input: other grids, empty masks, absent labels, missing slices,
corrupt files."""

from __future__ import annotations

import os
import shutil

import numpy as np
import pytest
from conftest import shared_data

from eucaim_lab._errors import InvalidInputError, NotFoundError
from eucaim_lab.imaging import CaseError, discover_cases, quality_checks

pytestmark = pytest.mark.shared_data


def _codes(image, mask, label=1):
    return {f.code: f.severity for f in quality_checks(image, mask, label)}


def test_pyradiomics_nrrd_pairs():
    import SimpleITK as sitk

    root = shared_data("pyradiomics")
    cases = discover_cases(root)
    pairs = {(os.path.basename(c.image.paths[0]), os.path.basename(c.mask.path)) for c in cases}
    assert pairs == {
        ("brain1_image.nrrd", "brain1_label.nrrd"),
        ("brain2_image.nrrd", "brain2_label.nrrd"),
        ("breast1_image.nrrd", "breast1_label.nrrd"),
        ("prostate_phantom_subvolume.nrrd", "prostate_phantom_subvolume-label.nrrd"),
    }
    # lung labels ship without their images: skipped, not paired with something else
    assert {os.path.basename(s.path) for s in cases.skipped} == {"lung1_label.nrrd", "lung2_label.nrrd"}
    for case in cases:
        image, mask = case.load()
        stored = sitk.GetArrayFromImage(sitk.ReadImage(case.mask.path))
        assert case.roi == f"label_{case.label}" and case.label in np.unique(stored)
        # values kept as stored (not binarised): radiomics picks the region with `label`
        assert np.array_equal(sitk.GetArrayFromImage(mask), stored)
        assert "geometry_mismatch" not in _codes(image, mask, case.label)
    assert {c.label for c in cases if c.image.paths[0].endswith("brain1_image.nrrd")} == {1}


def test_batch_csv_with_relative_paths_label_and_id(tmp_path):
    import SimpleITK as sitk

    root = shared_data("pyradiomics")
    csv_dir = tmp_path / "batches"
    csv_dir.mkdir()
    rel = os.path.relpath(root, csv_dir)
    (csv_dir / "batch.csv").write_text(
        "ID,Image,Mask,Label\n"
        f"b1,{rel}/brain1_image.nrrd,{rel}/brain1_label.nrrd,1\n"
        f"pz,{rel}/prostate_phantom_subvolume.nrrd,{rel}/prostate_phantom_subvolume-label.nrrd,7\n"
        f",{rel}/breast1_image.nrrd,{rel}/breast1_label.nrrd,\n"
        f"b1_absent,{rel}/brain1_image.nrrd,{rel}/brain1_label.nrrd,3\n"
    )
    cases = discover_cases(csv_dir / "batch.csv")
    assert [c.case_id for c in cases][:2] == ["b1", "pz"] and cases[3].case_id == "b1_absent"
    assert cases[2].case_id and cases[2].case_id not in {"b1", "pz", "b1_absent"}
    assert [c.label for c in cases] == [1, 7, 1, 3]
    assert cases[0].image.paths[0] == str(root.resolve() / "brain1_image.nrrd")
    image, mask = cases[1].load()
    assert 7 in np.unique(sitk.GetArrayFromImage(mask))
    assert "label_absent" not in _codes(image, mask, 7)
    image, mask = cases[3].load()
    assert _codes(image, mask, 3)["label_absent"] == "error"


def test_batch_csv_errors(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("Img,Msk\na,b\n")
    with pytest.raises(InvalidInputError, match="Image and Mask"):
        discover_cases(bad)
    dup = tmp_path / "dup.csv"
    dup.write_text("ID,Image,Mask\nx,a.nrrd,b.nrrd\nx,c.nrrd,d.nrrd\n")
    with pytest.raises(InvalidInputError, match="twice"):
        discover_cases(dup)
    with pytest.raises(NotFoundError):
        discover_cases(tmp_path / "nope")
    # a row naming missing files still becomes a case: loading it fails with a CaseError naming the file
    missing = tmp_path / "missing.csv"
    missing.write_text("ID,Image,Mask\nm,not_there.nrrd,b.nrrd\n")
    (case,) = discover_cases(missing)
    with pytest.raises(CaseError, match="not_there.nrrd"):
        case.load()


def test_mask_on_another_grid_and_empty_mask(tmp_path):
    import SimpleITK as sitk

    root = shared_data("pyradiomics")
    image = sitk.ReadImage(str(root / "brain1_image.nrrd"))
    label = sitk.ReadImage(str(root / "brain1_label.nrrd"))
    # another grid: coarser spacing -> CaseError at load, geometry_mismatch error from the checks
    other = sitk.Resample(
        label,
        [s // 2 for s in label.GetSize()],
        sitk.Transform(),
        sitk.sitkNearestNeighbor,
        label.GetOrigin(),
        [2 * s for s in label.GetSpacing()],
        label.GetDirection(),
    )
    sitk.WriteImage(other, str(tmp_path / "other.nrrd"))
    assert _codes(image, other)["geometry_mismatch"] == "error"
    # a cropped mask on the same voxel grid is pasted back into the image grid, voxel for voxel
    cropped = label[150:220, 70:170, 8:20]  # the label lies in x 162..208, y 84..153, z 11..17
    sitk.WriteImage(cropped, str(tmp_path / "cropped.nrrd"))
    empty = sitk.Image(label.GetSize(), sitk.sitkUInt8)
    empty.CopyInformation(label)
    sitk.WriteImage(empty, str(tmp_path / "empty.nrrd"))
    (tmp_path / "b.csv").write_text(
        f"ID,Image,Mask\nother,{root}/brain1_image.nrrd,other.nrrd\ncrop,{root}/brain1_image.nrrd,cropped.nrrd\n"
        f"empty,{root}/brain1_image.nrrd,empty.nrrd\n"
    )
    other_case, crop_case, empty_case = discover_cases(tmp_path / "b.csv")
    with pytest.raises(CaseError, match="another grid"):
        other_case.load()
    img, mask = crop_case.load()
    assert np.array_equal(sitk.GetArrayFromImage(mask), sitk.GetArrayFromImage(label))
    img, mask = empty_case.load()
    codes = _codes(img, mask)
    assert codes["empty_mask"] == "error"
    assert [c for c, severity in codes.items() if severity == "error"] == ["empty_mask"]


def test_series_with_missing_slice_and_truncated_file(tmp_path):
    import pydicom
    import SimpleITK as sitk

    from eucaim_lab.imaging._qc import geometry_differences

    src = shared_data("sts-cohort", "STS_008", "CT")
    shutil.copytree(src, tmp_path / "CT")
    files = sorted((tmp_path / "CT" / "image").iterdir(), key=lambda p: p.name)
    full_image, full_mask = discover_cases(tmp_path)[0].load()
    assert "missing_slices" not in _codes(full_image, full_mask)
    # remove a slice from the middle (by position, not by file name)
    positions = {p: float(pydicom.dcmread(p, stop_before_pixels=True).ImagePositionPatient[2]) for p in files}
    by_position = sorted(files, key=positions.get)
    k = len(files) // 2
    by_position[k].unlink()
    (case,) = discover_cases(tmp_path)
    assert len(case.image.paths) == len(files) - 1
    image, mask = case.load()
    assert _codes(image, mask).get("missing_slices") == "warning"
    # the grid stays that of the complete series; the gap is filled from its neighbours
    assert geometry_differences(full_image, image) == []
    full, gapped = sitk.GetArrayFromImage(full_image), sitk.GetArrayFromImage(image)
    others = [i for i in range(full.shape[0]) if i != k]
    assert np.array_equal(full[others], gapped[others])
    expected = np.round((full[k - 1].astype(float) + full[k + 1]) / 2)
    assert np.array_equal(gapped[k], expected)
    # contours are placed by position, so the mask is the complete series' mask
    assert np.array_equal(sitk.GetArrayFromImage(mask), sitk.GetArrayFromImage(full_mask))
    # a truncated file in the series: discovery still lists the case, loading names the broken file
    victim = by_position[3]
    victim.write_bytes(victim.read_bytes()[: victim.stat().st_size // 2])
    (case,) = discover_cases(tmp_path)  # the header before the pixel data is intact
    assert str(victim) in case.image.paths
    with pytest.raises(CaseError, match=victim.name):
        case.load()


def test_irregular_series_is_an_uneven_slices_error():
    root = shared_data("dicom", "pydicom-ct2-highdicom-seg")
    (case,) = [c for c in discover_cases(root) if c.mask.path.endswith("seg_image_ct_binary.dcm")]
    image, mask = case.load()
    # slices at z = -99.48, 103.02, 104.27, 105.52: not a few missing slices, a series that has no regular grid
    codes = _codes(image, mask)
    assert codes["uneven_slices"] == "error"
    assert "missing_slices" not in codes


def test_corrupt_dicom_edge_files_are_skipped_with_reasons():
    root = shared_data("dicom-edge")
    cases = discover_cases(root)
    assert list(cases) == []  # no SEG/RTSTRUCT there references an image series
    skipped = {os.path.basename(s.path): s.reason for s in cases.skipped}
    assert "unreadable or malformed DICOM object" in skipped["no_meta.dcm"]
    assert "unreadable or malformed DICOM object" in skipped["meta_missing_tsyntax.dcm"]
    assert "RTPLAN" in skipped["rtplan_truncated.dcm"]
    assert "references no image series" in skipped["liver_rle.dcm"]
    assert all(reason for reason in skipped.values())


@pytest.mark.parametrize(
    "name",
    ["MR_truncated.dcm", "JPEG2000-embedded-sequence-delimiter.dcm", "nested_priv_SQ.dcm", "no_meta.dcm"],
)
def test_corrupt_image_file_raises_case_error_naming_it(name):
    from eucaim_lab.imaging import Case, ImageRef, MaskRef

    path = str(shared_data("dicom-edge", "pydicom_test_files", name))
    case = Case("x", None, None, None, ImageRef("dicom", (path,), None), MaskRef("file", path))
    with pytest.raises(CaseError, match=name) as info:
        case.load_image()
    assert "\n" not in str(info.value)


def test_folder_pair_with_empty_or_unreadable_mask_still_makes_a_case(tmp_path):
    import SimpleITK as sitk

    image = sitk.Image(12, 10, 5, sitk.sitkInt16)
    for name in ("p1", "p2"):
        (tmp_path / name).mkdir()
        sitk.WriteImage(image, str(tmp_path / name / f"{name}_image.nii.gz"))
    sitk.WriteImage(sitk.Image(12, 10, 5, sitk.sitkUInt8), str(tmp_path / "p1" / "p1_mask.nii.gz"))
    (tmp_path / "p2" / "p2_mask.nii.gz").write_bytes(b"not a nifti file")
    empty, broken = discover_cases(tmp_path)
    assert (empty.case_id, empty.label, broken.case_id) == ("p1_label_1", 1, "p2_label_1")
    img, mask = empty.load()
    assert _codes(img, mask) == {"empty_mask": "error"}
    with pytest.raises(CaseError, match="p2_mask.nii.gz"):
        broken.load()
