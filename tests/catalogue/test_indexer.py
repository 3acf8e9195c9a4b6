"""The DICOM header indexer: real shared data (sts-cohort, SEG sets, edge cases, DICOMDIR/charsets) and files
written here with pydicom (so that the behaviour is also tested where the shared data is absent)."""

from __future__ import annotations

import os
import shutil
import struct
import tempfile
from collections import Counter
from pathlib import Path

import numpy as np
import pydicom
import pytest
from conftest import shared_data
from hypothesis import given, settings
from hypothesis import strategies as st
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import (
    CTImageStorage,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    generate_uid,
)

from eucaim_lab._errors import InvalidInputError, NotFoundError
from eucaim_lab.catalogue import _indexer, _indexer_read
from eucaim_lab.catalogue._indexer import (
    IndexResult,
    InstanceHeader,
    SkippedFile,
    group_series,
    index_folder,
    parse_age,
)

SEG_STORAGE = "1.2.840.10008.5.1.4.1.1.66.4"
RTSTRUCT_STORAGE = "1.2.840.10008.5.1.4.1.1.481.3"


def _by_name(result: IndexResult) -> tuple[dict[str, InstanceHeader], dict[str, str]]:
    return (
        {Path(h.path).name: h for h in result.instances},
        {Path(s.path).name: s.reason for s in result.skipped},
    )


def _slow_path(path: str) -> object:
    """What the pydicom reader alone makes of a file (the reference for the quick scanner)."""
    size = os.path.getsize(path)
    try:
        with open(path, "rb") as fp:
            return _indexer_read._read_pydicom(fp, path, size)
    except _indexer_read._BadFile as exc:
        return SkippedFile(path, str(exc))


def _assert_quick_path_agrees(paths: list[str]) -> None:
    for path in paths:
        quick = _indexer_read._read_file(path)
        if isinstance(quick, _indexer_read._Parsed):
            assert quick == _slow_path(path), path


# ------------------------------------------------------------------------------------------ generated files
def _ct(
    path: Path,
    *,
    series: str,
    study: str,
    number: int,
    patient: str = "P1",
    transfer_syntax: str = ExplicitVRLittleEndian,
    rows: int = 16,
    charset: str | None = None,
    description: str = "axial",
    age: str | None = "045Y",
    birth_date: str | None = None,
    frame_of_reference: str = "1.2.3.4",
    preamble: bool = True,
) -> Dataset:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = CTImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = transfer_syntax
    ds = Dataset()
    ds.file_meta = meta
    if charset:
        ds.SpecificCharacterSet = charset
    ds.SOPClassUID = CTImageStorage
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID = study
    ds.SeriesInstanceUID = series
    ds.FrameOfReferenceUID = frame_of_reference
    ds.PatientID = patient
    ds.PatientSex = "F"
    if age:
        ds.PatientAge = age
    if birth_date:
        ds.PatientBirthDate = birth_date
    ds.StudyDate = "20200101"
    ds.SeriesDate = "20200101"
    ds.Modality = "CT"
    ds.BodyPartExamined = "CHEST"
    ds.Manufacturer = "ACME"
    ds.ManufacturerModelName = "Scan 9"
    ds.SeriesDescription = description
    ds.InstanceNumber = number
    # an undefined-length sequence before the pixels, which the scanner must walk through
    code = Dataset()
    code.CodeValue = "T-D3000"
    code.CodingSchemeDesignator = "SRT"
    ds.AnatomicRegionSequence = Sequence([code])
    ds["AnatomicRegionSequence"].is_undefined_length = True
    ds.Rows = ds.Columns = rows
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = ds.BitsStored = 16
    ds.HighBit = 15
    ds.PixelRepresentation = 1
    ds.PixelData = np.arange(rows * rows, dtype=np.int16).reshape(rows, rows).tobytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    if preamble:
        ds.save_as(path, enforce_file_format=True)
    else:
        del ds.file_meta
        ds.save_as(path, implicit_vr=True, little_endian=True)
    return ds


def _seg(path: Path, *, study: str, series: str, referenced: str | None, sources: list[str]) -> None:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = SEG_STORAGE
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = SEG_STORAGE
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.Modality, ds.PatientID = study, series, "SEG", "P1"
    segments = []
    for number, (label, algorithm) in enumerate([("Tumour", "MANUAL"), ("Liver", "AUTOMATIC")], 1):
        item = Dataset()
        item.SegmentNumber, item.SegmentLabel, item.SegmentAlgorithmType = number, label, algorithm
        segments.append(item)
    ds.SegmentSequence = Sequence(segments)
    ds["SegmentSequence"].is_undefined_length = True
    if referenced:
        ref = Dataset()
        ref.SeriesInstanceUID = referenced
        ds.ReferencedSeriesSequence = Sequence([ref])
    frames = []
    for uid in sources:
        source = Dataset()
        source.ReferencedSOPClassUID, source.ReferencedSOPInstanceUID = CTImageStorage, uid
        derivation = Dataset()
        derivation.SourceImageSequence = Sequence([source])
        frame = Dataset()
        frame.DerivationImageSequence = Sequence([derivation])
        frames.append(frame)
    ds.PerFrameFunctionalGroupsSequence = Sequence(frames)
    ds.Rows = ds.Columns = 8
    ds.SamplesPerPixel, ds.BitsAllocated, ds.BitsStored, ds.HighBit = 1, 1, 1, 0
    ds.NumberOfFrames = len(sources)
    ds.PixelData = bytes((8 * 8 * len(sources) + 7) // 8)
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)


def _rtstruct(
    path: Path, *, study: str, series: str, referenced: str | None, contour_sops: list[str]
) -> None:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = RTSTRUCT_STORAGE
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ImplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = RTSTRUCT_STORAGE
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.Modality, ds.PatientID = study, series, "RTSTRUCT", "P1"
    frame = Dataset()
    frame.FrameOfReferenceUID = "1.2.3.4"
    if referenced:
        rt_series = Dataset()
        rt_series.SeriesInstanceUID = referenced
        rt_study = Dataset()
        rt_study.RTReferencedSeriesSequence = Sequence([rt_series])
        frame.RTReferencedStudySequence = Sequence([rt_study])
    ds.ReferencedFrameOfReferenceSequence = Sequence([frame])
    rois = []
    for number, name in enumerate(["GTV", "Lung_L"], 1):
        roi = Dataset()
        roi.ROINumber, roi.ROIName, roi.ReferencedFrameOfReferenceUID = number, name, "1.2.3.4"
        roi.ROIGenerationAlgorithm = "MANUAL" if name == "GTV" else "SEMIAUTOMATIC"
        rois.append(roi)
    ds.StructureSetROISequence = Sequence(rois)
    contour = Dataset()
    images = []
    for uid in contour_sops:
        image = Dataset()
        image.ReferencedSOPClassUID, image.ReferencedSOPInstanceUID = CTImageStorage, uid
        images.append(image)
    contour.ContourImageSequence = Sequence(images)
    contour.ContourGeometricType, contour.NumberOfContourPoints = "CLOSED_PLANAR", 1
    contour.ContourData = [0.0, 0.0, 0.0]
    roi_contour = Dataset()
    roi_contour.ReferencedROINumber = 1
    roi_contour.ContourSequence = Sequence([contour])
    ds.ROIContourSequence = Sequence([roi_contour])
    ds["ROIContourSequence"].is_undefined_length = True
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """A folder with good, bad and odd files; returns the folder and the UIDs written."""
    root = tmp_path_factory.mktemp("made")
    study, ct_series, mr_like = generate_uid(), generate_uid(), generate_uid()
    # one CT series in files named against the instance order, any extension or none
    names = {3: "a/IM0001", 1: "a/b/c/slice.DCM", 2: "a/z.dcm"}
    cts = {n: _ct(root / name, series=ct_series, study=study, number=n) for n, name in names.items()}
    # the same kind of file in other encodings and character sets
    enc = root / "enc"
    _ct(enc / "implicit.dcm", series=mr_like, study=study, number=1, transfer_syntax=ImplicitVRLittleEndian)
    _ct(enc / "bigendian.dcm", series=mr_like, study=study, number=2, transfer_syntax=ExplicitVRBigEndian)
    _ct(root / "enc/nometa", series=mr_like, study=study, number=3, preamble=False)
    _ct(
        root / "enc/utf8.dcm",
        series=mr_like,
        study=study,
        number=4,
        charset="ISO_IR 192",
        description="Tête Ødème 頭部",
    )
    _ct(
        root / "enc/latin1.dcm",
        series=mr_like,
        study=study,
        number=5,
        charset="ISO_IR 100",
        description="Tête Ødème",
    )
    _ct(
        root / "enc/greek.dcm",
        series=mr_like,
        study=study,
        number=6,
        charset="ISO_IR 126",
        description="Θώρακας",
    )
    _ct(root / "enc/Ünïcødé 图像.dcm", series=mr_like, study=study, number=7, age=None, birth_date="19700101")
    # Rows and Columns written with VR UN (explicit VR): their values are still binary US
    _ct(enc / "un_rows.dcm", series=mr_like, study=study, number=8)
    data = (enc / "un_rows.dcm").read_bytes()
    for elem in (0x0010, 0x0011):
        us = struct.pack("<HH2sH", 0x0028, elem, b"US", 2)
        assert data.count(us) == 1
        data = data.replace(us, struct.pack("<HH2sHI", 0x0028, elem, b"UN", 0, 2))
    (enc / "un_rows.dcm").write_bytes(data)
    # segmentations: by ReferencedSeriesSequence, by per-frame source images, by contour images only
    seg_series, seg2_series, rt_series, rt2_series = (generate_uid() for _ in range(4))
    ct_sops = [str(cts[n].SOPInstanceUID) for n in (1, 2, 3)]
    _seg(root / "seg/seg.dcm", study=study, series=seg_series, referenced=ct_series, sources=ct_sops)
    _seg(root / "seg/noref", study=study, series=seg2_series, referenced=None, sources=ct_sops[:2])
    _rtstruct(root / "rt/RS.dcm", study=study, series=rt_series, referenced=ct_series, contour_sops=[])
    _rtstruct(root / "rt/RS2.dcm", study=study, series=rt2_series, referenced=None, contour_sops=ct_sops[2:])
    # bad files
    whole = (root / "a/z.dcm").read_bytes()
    (root / "bad").mkdir()
    (root / "bad/truncated_pixels.dcm").write_bytes(whole[:-100])
    (root / "bad/truncated_header.dcm").write_bytes(whole[:400])
    (root / "bad/notes.txt").write_text("not an image\n")
    (root / "bad/empty.dcm").write_bytes(b"")
    no_uid = pydicom.dcmread(root / "a/z.dcm")
    del no_uid.SeriesInstanceUID
    no_uid.save_as(root / "bad/no_series_uid.dcm")
    # hidden things: a hidden DICOM file is reported, a dot-folder is ignored silently
    shutil.copy(root / "a/z.dcm", root / "a/.hidden.dcm")
    (root / ".git").mkdir()
    shutil.copy(root / "a/z.dcm", root / ".git/copy.dcm")
    return {
        "root": root,
        "study": study,
        "ct_series": ct_series,
        "mr_like": mr_like,
        "seg_series": seg_series,
        "seg2_series": seg2_series,
        "rt_series": rt_series,
        "rt2_series": rt2_series,
        "ct_sops": ct_sops,
    }


def test_generated_folder_good_and_bad_files(made: dict) -> None:
    root: Path = made["root"]
    result = index_folder(root)
    headers, skipped = _by_name(result)
    assert set(headers) == {
        "IM0001",
        "slice.DCM",
        "z.dcm",
        "implicit.dcm",
        "bigendian.dcm",
        "nometa",
        "utf8.dcm",
        "latin1.dcm",
        "greek.dcm",
        "Ünïcødé 图像.dcm",
        "un_rows.dcm",
        "seg.dcm",
        "noref",
        "RS.dcm",
        "RS2.dcm",
    }
    assert "truncated" in skipped["truncated_pixels.dcm"] and "Pixel Data" in skipped["truncated_pixels.dcm"]
    assert "truncated" in skipped["truncated_header.dcm"]
    assert "not a DICOM file" in skipped["notes.txt"]
    assert skipped["empty.dcm"] == "empty file (0 bytes)"
    assert skipped["no_series_uid.dcm"].startswith("missing SeriesInstanceUID")
    assert "hidden" in skipped[".hidden.dcm"]
    assert "copy.dcm" not in skipped and all(".git" not in h.path for h in result.instances)
    assert len(skipped) == 6
    # sorted, absolute paths; sizes are the file sizes
    assert [h.path for h in result.instances] == sorted(h.path for h in result.instances)
    assert all(os.path.isabs(h.path) and h.size == os.path.getsize(h.path) for h in result.instances)

    ct = headers["z.dcm"]
    assert (ct.series_uid, ct.study_uid, ct.patient_id, ct.patient_sex) == (
        made["ct_series"],
        made["study"],
        "P1",
        "F",
    )
    assert (ct.modality, ct.kind, ct.body_part_examined, ct.manufacturer, ct.model) == (
        "CT",
        "image",
        "CHEST",
        "ACME",
        "Scan 9",
    )
    assert (ct.patient_age, ct.study_date, ct.instance_number, ct.frame_of_reference_uid) == (
        45.0,
        "20200101",
        2,
        "1.2.3.4",
    )
    # every encoding gives the same facts
    for name in ("implicit.dcm", "bigendian.dcm", "nometa", "latin1.dcm", "un_rows.dcm"):
        assert headers[name].series_uid == made["mr_like"] and headers[name].modality == "CT", name
    assert headers["utf8.dcm"].series_description == "Tête Ødème 頭部"
    assert headers["latin1.dcm"].series_description == "Tête Ødème"
    assert headers["greek.dcm"].series_description == "Θώρακας"
    # no PatientAge: from PatientBirthDate 1970-01-01 to StudyDate 2020-01-01
    assert headers["Ünïcødé 图像.dcm"].patient_age == pytest.approx(50.0, abs=0.01)

    seg, noref = headers["seg.dcm"], headers["noref"]
    assert seg.kind == noref.kind == "SEG"
    assert seg.referenced_series_uids == (made["ct_series"],)
    assert noref.referenced_series_uids == (made["ct_series"],)  # found through the per-frame source images
    assert seg.labels == ("Tumour", "Liver") and seg.algorithm_type == "AUTOMATIC"
    rt, rt2 = headers["RS.dcm"], headers["RS2.dcm"]
    assert rt.kind == rt2.kind == "RTSTRUCT"
    assert rt.referenced_series_uids == rt2.referenced_series_uids == (made["ct_series"],)
    assert rt.labels == ("GTV", "Lung_L") and rt.frame_of_reference_uid == "1.2.3.4"
    assert rt.algorithm_type == "SEMIAUTOMATIC"  # the most automated of MANUAL and SEMIAUTOMATIC

    _assert_quick_path_agrees(
        [h.path for h in result.instances]
        + [str(root / "bad" / n) for n in skipped if (root / "bad" / n).exists()]
    )


def test_group_series_orders_by_instance_number(made: dict) -> None:
    series = {s.series_uid: s for s in group_series(index_folder(made["root"]).instances)}
    ct = series[made["ct_series"]]
    assert [Path(f.path).name for f in ct.files] == ["slice.DCM", "z.dcm", "IM0001"]
    assert [f.instance_number for f in ct.files] == [1, 2, 3]
    assert ct.size == sum(os.path.getsize(f.path) for f in ct.files)
    assert (ct.kind, ct.modality, ct.patient_id, ct.study_uid) == ("image", "CT", "P1", made["study"])
    assert series[made["seg_series"]].labels == ("Tumour", "Liver")
    assert series[made["rt_series"]].referenced_series_uids == (made["ct_series"],)
    assert len(series) == 6


@pytest.mark.parametrize("start_method", ["fork", "forkserver"])
def test_process_pool_gives_the_same_result(
    made: dict, monkeypatch: pytest.MonkeyPatch, start_method: str
) -> None:
    sequential = index_folder(made["root"], workers=1)
    calls: list[tuple[int, int]] = []
    monkeypatch.setattr(_indexer, "PARALLEL_THRESHOLD", 3)
    monkeypatch.setattr(_indexer, "_start_method", lambda: start_method)
    parallel = index_folder(made["root"], workers=2, progress=lambda done, total: calls.append((done, total)))
    assert parallel == sequential
    total = len(sequential.instances) + len(sequential.skipped) - 1  # the hidden file is never read
    assert calls[-1] == (total, total)
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)


def test_single_file_and_bad_arguments(made: dict, tmp_path: Path) -> None:
    one = index_folder(made["root"] / "a" / "z.dcm")
    assert [Path(h.path).name for h in one.instances] == ["z.dcm"] and one.skipped == []
    with pytest.raises(NotFoundError, match="no such file"):
        index_folder(tmp_path / "missing")
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(InvalidInputError, match="expected a folder or a file"):
        index_folder(fifo)
    with pytest.raises(InvalidInputError, match="workers"):
        index_folder(made["root"], workers=0)


def test_symbolic_links_loops_and_special_files(made: dict, tmp_path: Path) -> None:
    root = tmp_path / "links"
    (root / "data").mkdir(parents=True)
    shutil.copy(made["root"] / "a" / "z.dcm", root / "data" / "z.dcm")
    (root / "data" / "loop").symlink_to(root)  # a cycle: followed once, never forever
    (root / "elsewhere").symlink_to(made["root"] / "rt")  # a linked folder is followed
    (root / "dangling").symlink_to(root / "nowhere")
    os.mkfifo(root / "data" / "pipe")  # never opened (it would block)
    result = index_folder(root)
    headers, skipped = _by_name(result)
    assert sorted(headers) == ["RS.dcm", "RS2.dcm", "z.dcm"]
    assert headers["RS.dcm"].path == str(root / "elsewhere" / "RS.dcm")  # the path as walked, not resolved
    assert skipped == {"dangling": "broken symbolic link"}
    # from inside the cycle: data/z.dcm once, and the linked folder through loop/elsewhere
    inner = index_folder(root / "data")
    assert sorted(h.path for h in inner.instances) == [
        str(root / "data" / "loop" / "elsewhere" / "RS.dcm"),
        str(root / "data" / "loop" / "elsewhere" / "RS2.dcm"),
        str(root / "data" / "z.dcm"),
    ]
    empty = tmp_path / "empty"
    empty.mkdir()
    assert index_folder(empty) == IndexResult(instances=[], skipped=[])


@given(st.integers(min_value=0, max_value=999), st.sampled_from("DWMY"))
def test_parse_age_units(number: int, unit: str) -> None:
    years = number * {"D": 1 / 365.25, "W": 7 / 365.25, "M": 1 / 12, "Y": 1.0}[unit]
    parsed = parse_age(f"{number:03d}{unit}")
    if years > 150:
        assert parsed is None
    else:
        assert parsed == pytest.approx(years, abs=1e-3)


@given(st.text(max_size=12))
def test_parse_age_never_raises(text: str) -> None:
    parsed = parse_age(text)
    assert parsed is None or 0 <= parsed <= 150


_LO_TEXT = st.text(
    st.characters(codec="utf-8", exclude_characters="\\", exclude_categories=["Cc", "Cs"]), max_size=20
).map(str.strip)


@settings(max_examples=40, deadline=None)
@given(
    implicit=st.booleans(),
    charset=st.sampled_from([None, "ISO_IR 192", "ISO_IR 100"]),
    description=_LO_TEXT,
    manufacturer=_LO_TEXT,
    number=st.one_of(st.none(), st.integers(min_value=-(2**31), max_value=2**31 - 1)),
    private_count=st.integers(min_value=0, max_value=6),
    undefined_sequence=st.booleans(),
    pixels=st.booleans(),
)
def test_quick_scanner_reads_what_was_written(
    implicit: bool,
    charset: str | None,
    description: str,
    manufacturer: str,
    number: int | None,
    private_count: int,
    undefined_sequence: bool,
    pixels: bool,
) -> None:
    """Any header written by pydicom reads back the same through the scanner and through pydicom."""
    if charset == "ISO_IR 100":
        description = description.encode("latin-1", "replace").decode("latin-1")
        manufacturer = manufacturer.encode("latin-1", "replace").decode("latin-1")
    elif charset is None:
        description = description.encode("ascii", "replace").decode("ascii")
        manufacturer = manufacturer.encode("ascii", "replace").decode("ascii")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "f.dcm"
        ds = _ct(
            path,
            series="1.2.3",
            study="1.2",
            number=number or 0,
            charset=charset,
            transfer_syntax=ImplicitVRLittleEndian if implicit else ExplicitVRLittleEndian,
            description=description,
        )
        ds.Manufacturer = manufacturer
        if number is None:
            del ds.InstanceNumber
        if private_count:
            block = ds.private_block(0x0009, "TEST", create=True)
            for i in range(private_count):
                block.add_new(i, "LO", f"value {i}")
        ds["AnatomicRegionSequence"].is_undefined_length = undefined_sequence
        if not pixels:
            del ds.PixelData
        ds.save_as(path, enforce_file_format=True)
        quick = _indexer_read._read_file(str(path))
        assert isinstance(quick, _indexer_read._Parsed)
        assert quick == _slow_path(str(path))
        h = quick.header
        assert (h.series_description, h.manufacturer) == (description or None, manufacturer or None)
        assert h.instance_number == number and h.series_uid == "1.2.3" and h.study_uid == "1.2"


# ------------------------------------------------------------------------------------------ shared data
@pytest.mark.shared_data
def test_sts_cohort() -> None:
    root = shared_data("sts-cohort")
    result = index_folder(root)
    series = group_series(result.instances)
    images = [s for s in series if s.kind == "image"]
    structs = [s for s in series if s.kind == "RTSTRUCT"]
    assert len(series) == 60
    assert Counter(s.modality for s in images) == {"CT": 10, "MR": 10, "PT": 10}
    assert len({s.patient_id for s in series}) == 10 and len({s.study_uid for s in series}) == 10
    image_uids = {s.series_uid for s in images}
    for s in structs:
        (rs,) = s.files
        assert len(s.referenced_series_uids) == 1 and s.referenced_series_uids[0] in image_uids
        # the referenced series is the one in the sibling image/ folder, and the ROI names it
        image_folder = Path(rs.path).parent.parent / "image"
        referenced = next(i for i in images if i.series_uid == s.referenced_series_uids[0])
        assert {Path(f.path).parent for f in referenced.files} == {image_folder}
        assert s.labels == (f"GTV_Mass_{image_folder.parent.name}",)
        assert s.algorithm_type == "MANUAL"  # ROIGenerationAlgorithm of every STS ROI
    # only the non-DICOM files (NIfTI masks, markdown) are skipped
    assert result.skipped and all(not s.path.endswith(".dcm") for s in result.skipped)
    assert sum(len(s.files) for s in images) + len(structs) == len(list(root.glob("STS_*/*/*/*.dcm")))


@pytest.mark.shared_data
def test_sts_cohort_headers_match_a_full_pydicom_read() -> None:
    root = shared_data("sts-cohort")
    files = sorted(root.glob("STS_01[2]/*/image/00000[0-2].dcm")) + sorted(root.glob("STS_00[8]/*/*/*.dcm"))
    by_path = {h.path: h for h in index_folder(root / "STS_008").instances}
    by_path.update({h.path: h for h in index_folder(root / "STS_012").instances})
    for f in files:
        ds = pydicom.dcmread(f)
        h = by_path[str(f)]
        assert (h.sop_instance_uid, h.series_uid, h.study_uid, h.sop_class_uid) == (
            ds.SOPInstanceUID,
            ds.SeriesInstanceUID,
            ds.StudyInstanceUID,
            ds.SOPClassUID,
        )
        assert h.modality == ds.Modality and h.patient_id == ds.PatientID
        assert h.instance_number == (int(ds.InstanceNumber) if "InstanceNumber" in ds else None)
        assert h.manufacturer == (ds.get("Manufacturer") or None)
    _assert_quick_path_agrees(sorted(by_path)[::5])


@pytest.mark.shared_data
def test_dicom_seg_sets() -> None:
    root = shared_data("dicom")
    result = index_folder(root)
    headers = {str(Path(h.path).relative_to(root)): h for h in result.instances}
    image_series = {h.series_uid for h in result.instances if h.kind == "image"}
    ct3 = "1.2.392.200103.20080913.113635.1.2009.6.22.21.43.10.23430.1"
    assert headers["dcmqi-ct-3slice-seg/ct-3slice/01.dcm"].series_uid == ct3
    liver = headers["dcmqi-ct-3slice-seg/liver.dcm"]
    assert (liver.kind, liver.labels, liver.referenced_series_uids) == ("SEG", ("Liver",), (ct3,))
    assert headers["dcmqi-ct-3slice-seg/partial_overlaps.dcm"].labels == (
        "GREEN",
        "ORANGE",
        "PURPLE",
        "LIGHT_BLUE",
        "DARK_BLUE",
    )
    for folder in ("small-23x38x3", "small-24x38x3"):  # a SEG with the extension .seg
        seg = headers[f"dcmqi-ct-3slice-seg/{folder}/seg/label.seg"]
        image = headers[f"dcmqi-ct-3slice-seg/{folder}/image/IMG0001.dcm"]
        assert seg.kind == "SEG" and seg.referenced_series_uids == (image.series_uid,)
    labelmap = headers["dcmqi-ct-3slice-seg/small-24x38x3/sparse-labelmap-noppv.dcm"]
    assert labelmap.sop_class_uid == "1.2.840.10008.5.1.4.1.1.66.7" and labelmap.kind == "SEG"
    assert labelmap.labels == ("Background", "Liver")
    segs = [h for h in result.instances if h.kind == "SEG"]
    rts = [h for h in result.instances if h.kind == "RTSTRUCT"]
    assert len(segs) == 11 and len(rts) == 3  # 6 dcmqi + 5 highdicom SEGs, STS_002's 3 RTSTRUCTs
    for h in segs + rts:
        assert h.referenced_series_uids and set(h.referenced_series_uids) <= image_series, h.path
        assert h.labels, h.path
    assert {h.labels for h in rts} == {("GTV_Mass_CT",), ("GTV_Mass_MR_T1",), ("GTV_Mass_PET",)}
    assert all(not s.path.endswith(".dcm") for s in result.skipped)
    _assert_quick_path_agrees([h.path for h in segs + rts])


@pytest.mark.shared_data
def test_dicom_edge_cases() -> None:
    root = shared_data("dicom-edge")
    result = index_folder(root)
    headers, skipped = _by_name(result)
    # damaged files are skipped with a reason that names the problem
    assert "truncated" in skipped["MR_truncated.dcm"] or "too short" in skipped["MR_truncated.dcm"]
    assert "truncated" in skipped["emri_small_jpeg_2k_lossless_too_short.dcm"]
    assert "truncated" in skipped["rtplan_truncated.dcm"]
    assert "gzip" in skipped["zipMR.gz"]
    assert "not a DICOM file" in skipped["no_meta.dcm"]
    assert "not a DICOM file" in skipped["SOURCE.md"]
    for name in ("meta_missing_tsyntax.dcm", "nested_priv_SQ.dcm", "UN_sequence.dcm", "priv_SQ.dcm"):
        assert skipped[name].startswith("missing SOPInstanceUID"), name
    assert all(reason and "\n" not in reason for reason in skipped.values())
    # odd but sound files are indexed: the MR_small variants are one instance in many transfer syntaxes
    variants = [
        "MR_small.dcm",
        "MR_small_bigendian.dcm",
        "MR_small_implicit.dcm",
        "MR_small_RLE.dcm",
        "MR_small_jp2klossless.dcm",
        "MR_small_jpeg_ls_lossless.dcm",
        "MR_small_padded.dcm",
    ]
    reference = pydicom.dcmread(root / "pydicom_test_files" / "MR_small.dcm")
    for name in variants:
        h = headers[name]
        assert (h.sop_instance_uid, h.series_uid, h.modality, h.kind) == (
            reference.SOPInstanceUID,
            reference.SeriesInstanceUID,
            "MR",
            "image",
        ), name
    for name in (
        "image_dfl.dcm",
        "ExplVR_LitEndNoMeta.dcm",
        "ExplVR_BigEndNoMeta.dcm",
        "emri_small.dcm",
        "JPEG2000.dcm",
        "bad_sequence.dcm",
        "badVR.dcm",
        "rtdose.dcm",
    ):
        assert name in headers, name
    assert headers["ExplVR_BigEndNoMeta.dcm"].kind == "other"  # an RT Ion Plan
    assert headers["liver_deflate.dcm"].kind == "SEG" and headers["liver_deflate.dcm"].labels == ("Liver",)
    _assert_quick_path_agrees([h.path for h in result.instances])


@pytest.mark.shared_data
def test_dicom_phi_dicomdir_and_character_sets() -> None:
    root = shared_data("dicom-phi")
    result = index_folder(root)
    headers, skipped = _by_name(result)
    assert skipped["DICOMDIR"] == "DICOMDIR (media directory), not an image"
    archive = [h for h in result.instances if "/dicomdir_archive/" in h.path]
    # every file of the file-set but the DICOMDIR and its README (31, although SOURCE.md's prose says 28)
    members = [p for p in (root / "dicomdir_archive").rglob("*") if p.is_file()]
    assert len(archive) == len(members) - 2 == 31
    assert {h.patient_id for h in archive} == {"77654033", "98890234"}
    assert headers["6154"].patient_age == 47.0 and headers["6154"].modality == "CR"
    charsets = {n: h for n, h in headers.items() if n.startswith("chr")}
    assert len(charsets) == 15  # all but chrSQEncoding.dcm, which has no UIDs
    assert "missing SOPInstanceUID" in skipped["chrSQEncoding.dcm"]
    assert charsets["chrRuss.dcm"].patient_id == "SCSRUSS"
    assert charsets["chrH32.dcm"].patient_id == "H32EXAMPLE"
    for name in ("chrKoreanMulti.dcm", "chrJapMulti.dcm"):  # ISO 2022 character sets: read by pydicom
        full = pydicom.dcmread(root / "charset_files" / name)
        h = charsets[name]
        assert (h.series_description, h.study_description, h.manufacturer) == (
            full.SeriesDescription,
            full.StudyDescription,
            full.Manufacturer,
        )
    assert headers["CT_small.dcm"].patient_age == 0.0 and headers["examples_overlay.dcm"].patient_age == 58.0
    assert headers["rtstruct.dcm"].kind == "RTSTRUCT" and headers["rtstruct.dcm"].labels
    assert headers["liver_1frame.dcm"].kind == "SEG"
    assert {headers[n].kind for n in ("reportsi.dcm", "test-SR.dcm", "rtplan.dcm")} == {"other"}
    _assert_quick_path_agrees([h.path for h in result.instances])
