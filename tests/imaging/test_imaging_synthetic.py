"""Synthetic DICOM written here (CT series + RTSTRUCT) where the right answer is known analytically."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest

from eucaim_lab.imaging import Case, CaseError, ImageRef, MaskRef, discover_cases, quality_checks
from eucaim_lab.imaging._rtstruct import rasterise_contours

ROWS, COLS, SLICES = 24, 20, 4
SPACING = (0.7, 0.5, 2.5)  # column (x) spacing, row (y) spacing, slice spacing
ANGLE = np.deg2rad(30)
ROW_DIR = np.array([np.cos(ANGLE), np.sin(ANGLE), 0.0])
COL_DIR = np.array([-np.sin(ANGLE), np.cos(ANGLE), 0.0])
NORMAL = np.cross(ROW_DIR, COL_DIR)
ORIGIN = np.array([12.0, -30.0, 100.0])


def to_patient(i: float, j: float, k: float) -> np.ndarray:
    """Continuous voxel index (column i, row j, slice k) -> patient coordinates (mm)."""
    return ORIGIN + ROW_DIR * SPACING[0] * i + COL_DIR * SPACING[1] * j + NORMAL * SPACING[2] * k


def rectangle(i0: float, i1: float, j0: float, j1: float, k: float) -> list[float]:
    corners = [to_patient(i0, j0, k), to_patient(i1, j0, k), to_patient(i1, j1, k), to_patient(i0, j1, k)]
    return [round(float(v), 6) for p in corners for v in p]


def write_series(
    folder: Path, slope: float = 1.0, intercept: float = -1024.0, order: tuple[int, ...] = (2, 0, 3, 1)
) -> tuple[str, str, list[str]]:
    """A CT series with one file per slice index in ``order`` (written in that order); returns (series uid, frame
    of reference uid, sop uids in ``order``)."""
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

    folder.mkdir(parents=True)
    study, series, frame = generate_uid(), generate_uid(), generate_uid()
    sops: list[str] = []
    for k in order:
        sop = generate_uid()
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = CTImageStorage
        meta.MediaStorageSOPInstanceUID = sop
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds = Dataset()
        ds.file_meta = meta
        ds.SOPClassUID, ds.SOPInstanceUID = CTImageStorage, sop
        ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.FrameOfReferenceUID = study, series, frame
        ds.Modality, ds.PatientID, ds.PatientName = "CT", "SYN001", "Synthetic^Case"
        ds.PatientBirthDate, ds.PatientSex, ds.StudyDate, ds.StudyTime = "19700101", "O", "20260101", "120000"
        ds.AccessionNumber, ds.ReferringPhysicianName, ds.StudyID = "A1", "", "1"
        ds.SeriesNumber, ds.InstanceNumber = 1, k + 1
        ds.Rows, ds.Columns = ROWS, COLS
        ds.ImageOrientationPatient = [round(float(v), 8) for v in (*ROW_DIR, *COL_DIR)]
        ds.ImagePositionPatient = [round(float(v), 6) for v in to_patient(0, 0, k)]
        ds.PixelSpacing = [SPACING[1], SPACING[0]]  # DICOM: row spacing (between rows), column spacing
        ds.SliceThickness = SPACING[2]
        ds.RescaleSlope, ds.RescaleIntercept = slope, intercept
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 0
        pixels = (np.arange(ROWS * COLS, dtype=np.uint16).reshape(ROWS, COLS) + 1000 * k).astype(np.uint16)
        ds.PixelData = pixels.tobytes()
        ds.save_as(folder / f"slice_{k}.dcm", enforce_file_format=True)
        sops.append(sop)
    return str(series), str(frame), sops


def write_rtstruct(
    path: Path,
    series: str,
    frame: str,
    contours: list[list[float]],
    name: str = "GTV",
    instances: list[str] | None = None,
) -> None:
    """An RTSTRUCT with ROI 7 (``contours``) and ROI 8 (one POINT only); it references ``series`` through
    RTReferencedSeriesSequence, or, given ``instances``, only through ContourImageSequence of each contour."""
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.sequence import Sequence
    from pydicom.uid import ExplicitVRLittleEndian, RTStructureSetStorage, generate_uid

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = RTStructureSetStorage
    sop = generate_uid()
    meta.MediaStorageSOPInstanceUID = sop
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID, ds.SOPInstanceUID = RTStructureSetStorage, sop
    ds.Modality, ds.PatientID = "RTSTRUCT", "SYN001"
    ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
    ref_series = Dataset()
    ref_series.SeriesInstanceUID = series
    ref_study = Dataset()
    ref_study.RTReferencedSeriesSequence = Sequence([ref_series])
    ref_frame = Dataset()
    ref_frame.FrameOfReferenceUID = frame
    if instances is None:
        ref_frame.RTReferencedStudySequence = Sequence([ref_study])
    ds.ReferencedFrameOfReferenceSequence = Sequence([ref_frame])
    rois = []
    for number, roi_name in ((7, name), (8, "marker")):
        roi = Dataset()
        roi.ROINumber, roi.ROIName, roi.ReferencedFrameOfReferenceUID = number, roi_name, frame
        rois.append(roi)
    ds.StructureSetROISequence = Sequence(rois)
    items = []
    for data in contours:
        c = Dataset()
        c.ContourGeometricType = "CLOSED_PLANAR"
        c.NumberOfContourPoints = len(data) // 3
        c.ContourData = data
        if instances is not None:
            ref_image = Dataset()
            ref_image.ReferencedSOPInstanceUID = instances[0]
            c.ContourImageSequence = Sequence([ref_image])
        items.append(c)
    roi_contour = Dataset()
    roi_contour.ReferencedROINumber = 7
    roi_contour.ContourSequence = Sequence(items)
    point = Dataset()
    point.ContourGeometricType, point.NumberOfContourPoints, point.ContourData = "POINT", 1, data[:3]
    marker = Dataset()
    marker.ReferencedROINumber = 8
    marker.ContourSequence = Sequence([point])
    ds.ROIContourSequence = Sequence([roi_contour, marker])
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)


# Slice 1: a 10 x 12 voxel square (columns 2..11, rows 3..14) with a 3 x 4 hole (columns 5..7, rows 6..9) and a
# one-voxel island inside the hole (column 6, row 8): 120 - 12 + 1 = 109 voxels. Slice 2: a 2 x 3 rectangle (6 voxels).
CONTOURS = [
    rectangle(4.5, 7.5, 5.5, 9.5, 1),  # the hole, listed before the square that contains it
    rectangle(1.5, 11.5, 2.5, 14.5, 1),
    rectangle(5.6, 6.4, 7.6, 8.4, 1),
    rectangle(0.5, 2.5, 0.5, 3.5, 2.1),  # 0.1 slice off-plane: still slice 2
]


@pytest.fixture()
def synthetic(tmp_path):
    series, frame, _ = write_series(tmp_path / "a" / "ct")
    # the RTSTRUCT lives in an unrelated folder: matching is by UID only
    write_rtstruct(tmp_path / "b" / "elsewhere" / "rs.dcm", series, frame, CONTOURS)
    return tmp_path


def test_square_with_hole_and_island_fills_exact_voxels(synthetic):
    cases = discover_cases(synthetic)
    assert [c.case_id for c in cases] == ["SYN001_CT_GTV"]
    # the POINT-only ROI is not a case, and discovery says why
    assert [s.reason for s in cases.skipped] == ["ROI 8 (marker) has no CLOSED_PLANAR contour"]
    case = cases[0]
    assert (case.roi, case.modality, case.mask.roi_number, case.label) == ("GTV", "CT", 7, 1)
    _image, mask = case.load()
    import SimpleITK as sitk

    arr = sitk.GetArrayFromImage(mask)
    assert arr.shape == (SLICES, ROWS, COLS)
    assert set(np.unique(arr)) == {0, 1}
    assert arr[1].sum() == 120 - 12 + 1
    assert arr[2].sum() == 6
    assert arr[0].sum() == 0 and arr[3].sum() == 0
    expected = np.zeros((ROWS, COLS), dtype=bool)
    expected[3:15, 2:12] = True
    expected[6:10, 5:8] = False
    expected[8, 6] = True
    assert np.array_equal(arr[1].astype(bool), expected)
    assert set(map(tuple, np.argwhere(arr[2]))) == {(r, c) for r in (1, 2, 3) for c in (1, 2)}


def test_image_geometry_order_and_rescale(synthetic):
    import SimpleITK as sitk

    image = discover_cases(synthetic)[0].load_image()
    assert image.GetSize() == (COLS, ROWS, SLICES)
    assert np.allclose(image.GetSpacing(), SPACING)
    assert np.allclose(image.GetOrigin(), to_patient(0, 0, 0))
    assert np.allclose(
        np.array(image.GetDirection()).reshape(3, 3), np.column_stack([ROW_DIR, COL_DIR, NORMAL])
    )
    # files were written in the order 2, 0, 3, 1: slices come back sorted along the normal, intercept applied
    arr = sitk.GetArrayFromImage(image)
    assert arr.dtype == np.int16
    for k in range(SLICES):
        assert arr[k, 0, 0] == 1000 * k - 1024
    assert arr[1, 2, 3] == 1000 + 2 * COLS + 3 - 1024
    assert np.allclose(image.TransformIndexToPhysicalPoint((3, 2, 1)), to_patient(3, 2, 1), atol=1e-4)


def test_fractional_rescale_gives_float(tmp_path):
    import SimpleITK as sitk

    write_series(tmp_path / "ct", slope=0.5, intercept=-10.25)
    paths = tuple(sorted(str(p) for p in (tmp_path / "ct").iterdir()))
    case = Case("x", None, "CT", None, ImageRef("dicom", paths, "1"), MaskRef("file", paths[0]))
    arr = sitk.GetArrayFromImage(case.load_image())
    assert arr.dtype == np.float32
    assert arr[3, 0, 1] == pytest.approx((3000 + 1) * 0.5 - 10.25)


def test_rasterise_contour_order_does_not_matter(synthetic):
    image = discover_cases(synthetic)[0].load_image()
    points = [np.asarray(c, dtype=float).reshape(-1, 3) for c in CONTOURS]
    forward = rasterise_contours(points, image)
    backward = rasterise_contours(points[::-1], image)
    assert np.array_equal(forward, backward)
    assert forward.sum() == 109 + 6


def test_off_plane_contour_warns(synthetic):
    image = discover_cases(synthetic)[0].load_image()
    # a tilted contour: its corners lie at slices 1.0 .. 2.6, so it cannot sit in one slice
    corners = [
        to_patient(1.5, 1.5, 1.0),
        to_patient(4.5, 1.5, 1.6),
        to_patient(4.5, 4.5, 2.6),
        to_patient(1.5, 4.5, 1.6),
    ]
    tilted = np.array(corners)
    with pytest.warns(UserWarning, match="half a slice"):
        arr = rasterise_contours([tilted], image)
    assert arr[2].sum() == 9 and arr.sum() == 9
    # a planar contour 0.3 slice off the slice centre is filled in the nearest slice without a warning
    near = np.asarray(rectangle(1.5, 4.5, 1.5, 4.5, 1.7), dtype=float).reshape(-1, 3)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert rasterise_contours([near], image)[2].sum() == 9


def test_case_pickles_and_digest_tracks_inputs(synthetic):
    from dataclasses import replace

    case = discover_cases(synthetic)[0]
    clone = pickle.loads(pickle.dumps(case))
    assert clone == case
    before = case.input_digest()
    assert clone.input_digest() == before
    assert len(before) == 64 and int(before, 16) >= 0
    assert discover_cases(synthetic)[0].input_digest() == before  # stable across discoveries
    assert replace(case, label=2).input_digest() != before
    assert replace(case, roi="other").input_digest() != before
    # one changed byte in the mask file or in one image file changes the digest
    for path in (Path(case.mask.path), Path(case.image.paths[2])):
        original = path.read_bytes()
        data = bytearray(original)
        data[-1] ^= 0xFF
        path.write_bytes(bytes(data))
        assert case.input_digest() != before
        path.write_bytes(original)
    assert case.input_digest() == before


def test_rtstruct_in_other_frame_of_reference_is_a_case_error(tmp_path):
    series, _frame, _ = write_series(tmp_path / "ct")
    write_rtstruct(tmp_path / "rs.dcm", series, "1.2.3.4.5", CONTOURS)
    case = discover_cases(tmp_path)[0]
    with pytest.raises(CaseError, match="frame of reference"):
        case.load()


def test_quality_flags_on_synthetic_masks(synthetic):
    import SimpleITK as sitk

    image = discover_cases(synthetic)[0].load_image()
    arr = np.zeros((SLICES, ROWS, COLS), dtype=np.uint8)

    def flags(a, label=1):
        m = sitk.GetImageFromArray(a)
        m.CopyInformation(image)
        return {f.code: f.severity for f in quality_checks(image, m, label)}

    assert flags(arr) == {"empty_mask": "error"}
    arr[1, 5:7, 5:7] = 1
    assert flags(arr) == {"tiny_mask": "warning"}
    assert flags(arr, label=3) == {"label_absent": "error"}
    arr[1:3, 5:10, 5:10] = 1
    assert flags(arr) == {}
    arr[1, 0, 5] = 1
    assert flags(arr) == {"mask_touches_border": "warning"}


def test_checkout_layout_and_reference_by_contour_images(tmp_path):
    """Datalake/checkout layout (<subject>/<study>/<series>/<sop>.dcm plus JSON files); the RTSTRUCT names its image
    only through the SOP instances of its contours (no RTReferencedSeriesSequence)."""
    import json
    import shutil

    import pydicom

    series, frame, sops = write_series(tmp_path / "flat")
    for path in sorted((tmp_path / "flat").iterdir()):
        sop = str(pydicom.dcmread(path, stop_before_pixels=True).SOPInstanceUID)
        target = tmp_path / "checkout" / "SYN001" / "1.2.3" / series / f"{sop}.dcm"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(path, target)
    write_rtstruct(
        tmp_path / "checkout" / "SYN001" / "1.2.3" / "9.8.7" / "rs.dcm", "", frame, CONTOURS, instances=sops
    )
    (tmp_path / "checkout" / "manifest.json").write_text(json.dumps({"files": {}}))
    (tmp_path / "checkout" / "index.json").write_text("[]")
    cases = discover_cases(tmp_path / "checkout")
    assert [c.case_id for c in cases] == ["SYN001_CT_GTV"]
    assert cases[0].image.series_uid == series
    assert [s.reason for s in cases.skipped] == ["ROI 8 (marker) has no CLOSED_PLANAR contour"]
    _image, mask = cases[0].load()
    import SimpleITK as sitk

    assert sitk.GetArrayFromImage(mask).sum() == 109 + 6


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        ("orientation", "Inconsistent ImageOrientationPatient"),
        ("duplicate", "share one position"),
        ("size", "Inconsistent image size"),
    ],
)
def test_inconsistent_series_is_a_case_error(tmp_path, edit, message):
    import pydicom

    write_series(tmp_path / "ct")
    paths = sorted(str(p) for p in (tmp_path / "ct").iterdir())
    ds = pydicom.dcmread(paths[1])
    other = pydicom.dcmread(paths[2])
    if edit == "orientation":
        ds.ImageOrientationPatient = [1, 0, 0, 0, 0, -1]
    elif edit == "duplicate":
        ds.ImagePositionPatient = other.ImagePositionPatient
    else:
        ds.Rows = ROWS // 2
        ds.PixelData = ds.PixelData[: len(ds.PixelData) // 2]
    ds.save_as(paths[1])
    case = Case("x", None, "CT", None, ImageRef("dicom", tuple(paths), "1"), MaskRef("file", paths[0]))
    with pytest.raises(CaseError, match=message):
        case.load_image()


def test_quality_checks_geometry_and_anisotropy():
    import SimpleITK as sitk

    image = sitk.Image(30, 30, 10, sitk.sitkInt16)
    image.SetSpacing((0.5, 0.5, 3.0))
    mask = sitk.Image(30, 30, 10, sitk.sitkUInt8)
    mask.CopyInformation(image)
    mask[10:15, 10:15, 3:6] = 1
    codes = {f.code: f for f in quality_checks(image, mask)}
    assert set(codes) == {"anisotropic_spacing"}
    assert (
        codes["anisotropic_spacing"].severity == "warning" and "6.0:1" in codes["anisotropic_spacing"].message
    )
    for change in ("origin", "spacing", "direction", "size"):
        other = sitk.Image((31, 30, 10) if change == "size" else (30, 30, 10), sitk.sitkUInt8)
        if change == "size":
            other.SetSpacing(image.GetSpacing())
        else:
            other.CopyInformation(image)
        if change == "origin":
            other.SetOrigin((0.0, 0.0, 1.5))
        elif change == "spacing":
            other.SetSpacing((0.5, 0.5, 2.0))
        elif change == "direction":
            other.SetDirection((0, 1, 0, 1, 0, 0, 0, 0, 1))
        flags = [f for f in quality_checks(image, other) if f.code == "geometry_mismatch"]
        assert len(flags) == 1 and flags[0].severity == "error" and change in flags[0].message
    # round-off below a thousandth of a voxel is the same grid
    close = sitk.Image(30, 30, 10, sitk.sitkUInt8)
    close.CopyInformation(image)
    close.SetOrigin((1e-5, 0.0, 0.0))
    close[12, 12, 4] = 1
    assert {f.code for f in quality_checks(image, close)} == {"anisotropic_spacing", "tiny_mask"}


def test_malformed_rtstruct_is_skipped_and_the_rest_discovered(tmp_path):
    import pydicom

    series, frame, _ = write_series(tmp_path / "ct")
    write_rtstruct(tmp_path / "good.dcm", series, frame, CONTOURS)
    write_rtstruct(tmp_path / "bad.dcm", series, frame, CONTOURS)
    ds = pydicom.dcmread(tmp_path / "bad.dcm")
    ds.StructureSetROISequence[0].ROINumber = None  # empty ROINumber: not a valid structure set
    ds.save_as(tmp_path / "bad.dcm")
    cases = discover_cases(tmp_path)
    assert [c.mask.path for c in cases] == [str(tmp_path / "good.dcm")]
    bad = [s for s in cases.skipped if s.path.endswith("bad.dcm")]
    assert len(bad) == 1 and "unreadable or malformed DICOM object" in bad[0].reason


def test_cli_discover_check(synthetic, capsys):
    import argparse
    import json

    from eucaim_lab.imaging import _cli

    parser = argparse.ArgumentParser()
    _cli.register(parser.add_subparsers())
    args = parser.parse_args(["imaging", "discover", str(synthetic), "--check"])
    assert args.func(args) == 0
    out = json.loads(capsys.readouterr().out)
    (row,) = out["cases"]
    assert (row["case_id"], row["roi"], row["mask"]["number"], row["image"]["files"]) == (
        "SYN001_CT_GTV",
        "GTV",
        7,
        4,
    )
    assert row["qc"] == []
    assert out["skipped"][0]["reason"] == "ROI 8 (marker) has no CLOSED_PLANAR contour"
    # an image file with truncated pixel data: the row says why, the command still succeeds
    victim = Path(row["image"]["first"])
    victim.write_bytes(victim.read_bytes()[:-100])
    assert args.func(args) == 0
    (row,) = json.loads(capsys.readouterr().out)["cases"]
    assert "error" in row and victim.name in row["error"]


def test_seg_on_series_with_a_missing_slice(tmp_path):
    """A SEG made on the complete series, loaded on the series with one slice missing: the grid keeps the missing
    slot (interpolated image), the mask's frames land on their own slices and the gap takes its neighbour's."""
    import highdicom as hd
    import pydicom
    import SimpleITK as sitk
    from pydicom.sr.codedict import codes
    from pydicom.uid import generate_uid

    order = (0, 1, 2, 3, 4, 5)
    write_series(tmp_path / "ct", order=order)
    files = {int(p.stem.split("_")[1]): p for p in (tmp_path / "ct").iterdir()}
    sources = [pydicom.dcmread(files[k]) for k in order]
    frames = np.zeros((len(order), ROWS, COLS), dtype=np.uint8)
    for k, (r0, r1) in zip((1, 2, 3, 4), ((2, 6), (3, 9), (4, 12), (5, 8)), strict=True):
        frames[k, r0:r1, 3 : 3 + k] = 1
    segment = hd.seg.SegmentDescription(
        segment_number=1,
        segment_label="Lesion",
        segmented_property_category=codes.SCT.MorphologicallyAbnormalStructure,
        segmented_property_type=codes.SCT.Neoplasm,
        algorithm_type="MANUAL",
    )
    seg = hd.seg.Segmentation(
        source_images=sources,
        pixel_array=frames,
        segmentation_type="BINARY",
        segment_descriptions=[segment],
        series_instance_uid=generate_uid(),
        series_number=2,
        sop_instance_uid=generate_uid(),
        instance_number=1,
        manufacturer="test",
        manufacturer_model_name="test",
        software_versions="0",
        device_serial_number="0",
    )
    seg.save_as(tmp_path / "seg.dcm")
    (complete,) = discover_cases(tmp_path)
    full_image, full_mask = complete.load()
    assert np.array_equal(sitk.GetArrayFromImage(full_mask), frames)
    files[3].unlink()
    (gapped,) = discover_cases(tmp_path)
    image, mask = gapped.load()
    assert {f.code: f.severity for f in quality_checks(image, mask)}["missing_slices"] == "warning"
    assert image.GetSize() == full_image.GetSize() and image.GetOrigin() == full_image.GetOrigin()
    arr = sitk.GetArrayFromImage(mask)
    for k in (0, 1, 2, 4, 5):
        assert np.array_equal(arr[k], frames[k]), k
    assert np.array_equal(
        arr[3], frames[2]
    )  # nearest present slice (2 and 4 are equally near: the lower one)
