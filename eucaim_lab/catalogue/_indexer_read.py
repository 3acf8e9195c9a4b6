"""Read one file's DICOM header into an :class:`InstanceHeader`, or say in one line why it cannot be indexed.

Most files go through the quick scanner of :mod:`._indexer_scan`; the others (big-endian, deflated, no File
Meta, ISO 2022 character sets, damaged files) are read by pydicom with ``stop_before_pixels=True`` and
``specific_tags``. SEG and RTSTRUCT sequences are decoded by pydicom on either path.
"""

from __future__ import annotations

import datetime as dt
import functools
import io
import logging
import os
import re
import struct
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, BinaryIO

from ._indexer_scan import (
    _BIG_ENDIAN,
    _DEFLATED,
    _DICOMDIR_REASON,
    _EXPLICIT_LE,
    _IMAGE_MODALITIES,
    _IMPLICIT_LE,
    _NOT_IMAGE_SOP_PREFIXES,
    _RT_IMAGE,
    _SPECIFIC_TAGS,
    _TAGS,
    DICOMDIR_SOP_CLASS,
    RTSTRUCT_SOP_CLASS,
    SEG_SOP_CLASSES,
    _BadFile,
    _check_pixels,
    _int,
    _NotFast,
    _scan_fast,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class InstanceHeader:
    """The catalogue's view of one DICOM file's header."""

    path: str
    size: int
    sop_class_uid: str
    sop_instance_uid: str
    series_uid: str
    study_uid: str
    patient_id: str | None = None
    patient_sex: str | None = None
    patient_age: float | None = None
    modality: str | None = None
    body_part_examined: str | None = None
    manufacturer: str | None = None
    model: str | None = None
    study_date: str | None = None
    series_date: str | None = None
    acquisition_date: str | None = None
    study_description: str | None = None
    series_description: str | None = None
    instance_number: int | None = None
    kind: str = "other"
    referenced_series_uids: tuple[str, ...] = ()
    labels: tuple[str, ...] = ()
    #: MANUAL, SEMIAUTOMATIC or AUTOMATIC: SEG SegmentAlgorithmType / RTSTRUCT ROIGenerationAlgorithm; with
    #: several segments or ROIs, the most automated method used for any of them
    algorithm_type: str | None = None
    frame_of_reference_uid: str | None = None


@dataclass(frozen=True)
class SkippedFile:
    """A file that was not indexed, with a one-line reason."""

    path: str
    reason: str


@dataclass(frozen=True)
class _Parsed:
    """What a worker returns for a good file; SOP references become series once all files are read."""

    header: InstanceHeader
    referenced_sop_uids: tuple[str, ...] = field(default=())


# ---------------------------------------------------------------------------------------------- value parsing
_AGE_RE = re.compile(r"^\s*(\d{1,3})\s*([DWMYdwmy]?)\s*$")
_AGE_UNIT_YEARS = {"D": 1 / 365.25, "W": 7 / 365.25, "M": 1 / 12, "Y": 1.0, "": 1.0}


def parse_age(value: object) -> float | None:
    """Age in years from a DICOM Age String (``'045Y'``, ``'006M'``, ``'003W'``, ``'010D'``), else None.

    A bare number is read as years. Ages above 150 years are taken as errors.
    """
    if not isinstance(value, str):
        return None
    m = _AGE_RE.match(value)
    if not m:
        return None
    years = int(m.group(1)) * _AGE_UNIT_YEARS[m.group(2).upper()]
    return round(years, 4) if years <= 150 else None


def _date(value: str | None) -> str | None:
    """A DICOM DA as YYYYMMDD (also accepts the old ``YYYY.MM.DD``); None if it is not a real date."""
    if not value:
        return None
    text = value.strip().replace(".", "").replace("-", "")
    if len(text) != 8 or not text.isdigit():
        return None
    try:
        dt.date(int(text[:4]), int(text[4:6]), int(text[6:]))
    except ValueError:
        return None
    return text


def _age_from_dates(birth: str | None, at: str | None) -> float | None:
    if not birth or not at:
        return None
    b = dt.date(int(birth[:4]), int(birth[4:6]), int(birth[6:]))
    d = dt.date(int(at[:4]), int(at[4:6]), int(at[6:]))
    years = (d - b).days / 365.25
    return round(years, 4) if 0 <= years <= 150 else None


def _text(value: str | None) -> str | None:
    if value is None:
        return None
    text = value.strip(" \x00")
    return text or None


def _kind(sop_class: str, modality: str | None) -> str:
    if sop_class in SEG_SOP_CLASSES or modality == "SEG":
        return "SEG"
    if sop_class == RTSTRUCT_SOP_CLASS or modality == "RTSTRUCT":
        return "RTSTRUCT"
    if sop_class == _RT_IMAGE:
        return "image"
    if sop_class.startswith(_NOT_IMAGE_SOP_PREFIXES):
        return "other"
    known = _sop_class_kind(sop_class)
    if known:
        return known
    return "image" if modality in _IMAGE_MODALITIES else "other"


@functools.lru_cache(maxsize=256)
def _sop_class_kind(sop_class: str) -> str | None:
    """'image' for a SOP class named '... Image Storage', 'other' for another known class, else None."""
    from pydicom.uid import UID

    name = UID(sop_class).name if sop_class else ""
    if "Image Storage" in name:
        return "image"
    if name and name != sop_class:
        return "other"  # a known SOP class that is not an image (SR, KO, raw data, ...)
    return None


def _header(path: str, size: int, values: dict[str, str], sop_class_fallback: str | None) -> InstanceHeader:
    """Build the header from raw string values; raises _BadFile when an identifying UID is missing."""
    uids = {}
    for kw in ("SOPInstanceUID", "SeriesInstanceUID", "StudyInstanceUID"):
        uid = _text(values.get(kw))
        if not uid:
            raise _BadFile(f"missing {kw}: not a usable DICOM instance")
        uids[kw] = uid
    sop_class = _text(values.get("SOPClassUID")) or _text(sop_class_fallback)
    if not sop_class:
        raise _BadFile("missing SOPClassUID (and no MediaStorageSOPClassUID in the File Meta)")
    modality = _text(values.get("Modality"))
    if modality:
        modality = modality.upper()
    sex = (_text(values.get("PatientSex")) or "").upper()
    study_date = _date(values.get("StudyDate"))
    series_date = _date(values.get("SeriesDate"))
    acquisition_date = _date(values.get("AcquisitionDate"))
    age = parse_age(values.get("PatientAge"))
    if age is None:
        age = _age_from_dates(
            _date(values.get("PatientBirthDate")), study_date or series_date or acquisition_date
        )
    body_part = _text(values.get("BodyPartExamined"))
    return InstanceHeader(
        path=path,
        size=size,
        sop_class_uid=sop_class,
        sop_instance_uid=uids["SOPInstanceUID"],
        series_uid=uids["SeriesInstanceUID"],
        study_uid=uids["StudyInstanceUID"],
        patient_id=_text(values.get("PatientID")),
        patient_sex=sex if sex in ("M", "F", "O") else None,
        patient_age=age,
        modality=modality,
        body_part_examined=body_part.upper() if body_part else None,
        manufacturer=_text(values.get("Manufacturer")),
        model=_text(values.get("ManufacturerModelName")),
        study_date=study_date,
        series_date=series_date,
        acquisition_date=acquisition_date,
        study_description=_text(values.get("StudyDescription")),
        series_description=_text(values.get("SeriesDescription")),
        instance_number=_int(values.get("InstanceNumber")),
        kind=_kind(sop_class, modality),
        frame_of_reference_uid=_text(values.get("FrameOfReferenceUID")),
    )


# --------------------------------------------------------------------------------------------- pydicom reader
def _not_dicom_reason(fp: BinaryIO, size: int) -> str | None:
    """Why a file without the 'DICM' prefix is plainly not DICOM; None if it may be a data set alone."""
    fp.seek(0)
    head = fp.read(352)
    if head[:2] == b"\x1f\x8b":
        return "gzip-compressed file (e.g. .nii.gz or .dcm.gz), not a DICOM file; decompress it to index it"
    if head[:4] == b"NRRD":
        return "NRRD file, not a DICOM file"
    if len(head) >= 348 and head[344:348] in (b"n+1\x00", b"ni1\x00"):
        return "NIfTI-1 file, not a DICOM file"
    if head[:4] in (b"\x89PNG", b"%PDF") or head[:3] == b"\xff\xd8\xff":
        return "PNG/JPEG/PDF file, not a DICOM file"
    if len(head) < 8:
        return f"not a DICOM file (only {size} bytes)"
    # a data set without preamble starts with a low group number (0002 File Meta or 0008 Identifying)
    group_le, group_be = struct.unpack_from("<H", head)[0], struct.unpack_from(">H", head)[0]
    if group_le not in (0x0002, 0x0008) and group_be not in (0x0002, 0x0008):
        return "not a DICOM file (no 'DICM' prefix at byte 128, and it does not start like a DICOM data set)"
    return None


def _string(value: Any) -> str | None:
    if value is None:
        return None
    from pydicom.multival import MultiValue

    if isinstance(value, (MultiValue, list, tuple)):
        return "\\".join(str(v) for v in value)
    return str(value)


class _ShortReads:
    """A file wrapper that notices a read cut short by the end of the file (pydicom keeps partial values)."""

    def __init__(self, fp: BinaryIO) -> None:
        self._fp = fp
        self.name = getattr(fp, "name", "<file>")
        self.short = False
        self.seek = fp.seek
        self.tell = fp.tell

    def read(self, n: int = -1) -> bytes:
        data = self._fp.read(n)
        # reading 8 bytes and getting none is how pydicom finds the end of the data set
        if n > 0 and len(data) < n and (data or n != 8):
            self.short = True
        return data


def _read_pydicom(fp: BinaryIO, path: str, size: int) -> _Parsed:
    import pydicom
    from pydicom.errors import InvalidDicomError

    fp.seek(0)
    forced = False
    watched = _ShortReads(fp)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            ds = pydicom.dcmread(watched, stop_before_pixels=True, specific_tags=_SPECIFIC_TAGS)
        except InvalidDicomError:
            reason = _not_dicom_reason(fp, size)
            if reason:
                raise _BadFile(reason) from None
            fp.seek(0)
            watched = _ShortReads(fp)
            ds = pydicom.dcmread(watched, stop_before_pixels=True, specific_tags=_SPECIFIC_TAGS, force=True)
            forced = True
        end = fp.tell()
        meta = getattr(ds, "file_meta", None)
        media_class = _string(meta.get("MediaStorageSOPClassUID")) if meta is not None else None
        ts = _string(meta.get("TransferSyntaxUID")) if meta is not None else None
        if media_class == DICOMDIR_SOP_CLASS or "DirectoryRecordSequence" in ds:
            raise _BadFile(_DICOMDIR_REASON)
        for w in caught:
            text = str(w.message)
            if "end of file" in text.lower():
                raise _BadFile(f"truncated: {text.splitlines()[0][:160]}")
        if watched.short and not forced:
            raise _BadFile(f"truncated: the file ends inside a data element (at byte {size})")
        values: dict[str, str] = {}
        for tag, kw, _ in _TAGS:
            if tag in ds:
                try:
                    value = _string(ds[tag].value)
                except Exception as exc:  # noqa: BLE001 - a value pydicom cannot convert is just left out
                    log.debug("%s: cannot read %s: %s", path, kw, exc)
                    continue
                if value is not None:
                    values[kw] = value
    if forced and not (values.get("SOPInstanceUID") and values.get("SeriesInstanceUID")):
        raise _BadFile(
            "not a DICOM file: no 'DICM' prefix, and no SOPInstanceUID/SeriesInstanceUID readable without it"
        )
    deflated = ts in _DEFLATED
    if not deflated and end > size:
        raise _BadFile(f"truncated: an element runs to byte {end} but the file has {size} bytes")
    if watched.short:
        raise _BadFile(f"truncated: the file ends inside a data element (at byte {size})")
    header = _header(path, size, values, media_class)
    implicit, little = ds.original_encoding
    if not deflated and implicit is not None and little is not None:
        if ts is None:
            ts = _IMPLICIT_LE if implicit else (_EXPLICIT_LE if little else _BIG_ENDIAN)
        _check_pixels(fp, size, end, little, implicit, values, ts)
    if header.kind == "SEG":
        return _seg_details(ds, header, fp, forced)
    if header.kind == "RTSTRUCT":
        return _rtstruct_details(ds, header, fp, forced)
    return _Parsed(header)


def _unique(items: Iterable[str | None]) -> tuple[str, ...]:
    out: dict[str, None] = {}
    for item in items:
        text = _text(item) if isinstance(item, str) else None
        if text:
            out[text] = None
    return tuple(out)


def _reread(fp: BinaryIO, tags: Sequence[int], forced: bool) -> Any:
    import pydicom

    fp.seek(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pydicom.dcmread(fp, stop_before_pixels=True, specific_tags=list(tags), force=forced)


def _items(ds: Any, keyword: str) -> list[Any]:
    value = ds.get(keyword) if ds is not None else None
    return list(value) if value else []


_ALGORITHM_ORDER = ("AUTOMATIC", "SEMIAUTOMATIC", "MANUAL")


def _seg_details(ds: Any, header: InstanceHeader, fp: BinaryIO, forced: bool) -> _Parsed:
    """Segment labels, algorithm type and referenced series of a DICOM SEG."""
    segments = sorted(_items(ds, "SegmentSequence"), key=lambda s: _int(_string(s.get("SegmentNumber"))) or 0)
    labels = _unique(_string(s.get("SegmentLabel")) for s in segments)
    algorithms = {(_string(s.get("SegmentAlgorithmType")) or "").strip().upper() for s in segments}
    # one value for the object: the most automated method used for any of its segments
    algorithm = next((a for a in _ALGORITHM_ORDER if a in algorithms), None)
    refs = _unique(_string(item.get("SeriesInstanceUID")) for item in _items(ds, "ReferencedSeriesSequence"))
    sop_refs: tuple[str, ...] = ()
    if not refs:
        # no ReferencedSeriesSequence: follow the per-frame (or shared) source images to their instances
        full = _reread(fp, (0x52009229, 0x52009230), forced)
        uids = []
        for groups in ("SharedFunctionalGroupsSequence", "PerFrameFunctionalGroupsSequence"):
            for frame in _items(full, groups):
                for derivation in _items(frame, "DerivationImageSequence"):
                    for source in _items(derivation, "SourceImageSequence"):
                        uids.append(_string(source.get("ReferencedSOPInstanceUID")))
        sop_refs = _unique(uids)
    header = replace(header, labels=labels, algorithm_type=algorithm, referenced_series_uids=refs)
    return _Parsed(header, sop_refs)


def _rtstruct_details(ds: Any, header: InstanceHeader, fp: BinaryIO, forced: bool) -> _Parsed:
    """ROI names, generation algorithm, frame of reference and referenced series of an RTSTRUCT."""
    rois = _items(ds, "StructureSetROISequence")
    labels = _unique(_string(roi.get("ROIName")) for roi in rois)
    methods = {(_string(roi.get("ROIGenerationAlgorithm")) or "").strip().upper() for roi in rois}
    algorithm = next((a for a in _ALGORITHM_ORDER if a in methods), None)
    frames = _items(ds, "ReferencedFrameOfReferenceSequence")
    refs = []
    for frame in frames:
        for study in _items(frame, "RTReferencedStudySequence"):
            for series in _items(study, "RTReferencedSeriesSequence"):
                refs.append(_string(series.get("SeriesInstanceUID")))
    series_refs = _unique(refs)
    sop_refs: tuple[str, ...] = ()
    if not series_refs:
        # fall back to the images the contours lie on
        contour_images = []
        for frame in frames:
            for study in _items(frame, "RTReferencedStudySequence"):
                for series in _items(study, "RTReferencedSeriesSequence"):
                    contour_images += [
                        _string(i.get("ReferencedSOPInstanceUID"))
                        for i in _items(series, "ContourImageSequence")
                    ]
        full = _reread(fp, (0x30060039,), forced)
        for roi in _items(full, "ROIContourSequence"):
            for contour in _items(roi, "ContourSequence"):
                contour_images += [
                    _string(i.get("ReferencedSOPInstanceUID"))
                    for i in _items(contour, "ContourImageSequence")
                ]
        sop_refs = _unique(contour_images)
    frame_uid = header.frame_of_reference_uid or next(
        iter(_unique(_string(f.get("FrameOfReferenceUID")) for f in frames)), None
    )
    header = replace(
        header,
        labels=labels,
        algorithm_type=algorithm,
        referenced_series_uids=series_refs,
        frame_of_reference_uid=frame_uid,
    )
    return _Parsed(header, sop_refs)


# --------------------------------------------------------------------------------------------------- one file
def _one_line(text: str, limit: int = 240) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 3] + "..."


def _read_file(path: str) -> _Parsed | SkippedFile:
    """Index one file; every problem becomes a SkippedFile."""
    try:
        size = os.stat(path).st_size
        if size == 0:
            return SkippedFile(path, "empty file (0 bytes)")
        with open(path, "rb") as fp:
            try:
                scan = _scan_fast(fp, size)
            except _NotFast:
                return _read_pydicom(fp, path, size)
            header = _header(path, size, scan.values, scan.media_class)
            implicit = scan.transfer_syntax == _IMPLICIT_LE
            if scan.pixel_at is not None:
                _check_pixels(fp, size, scan.pixel_at, True, implicit, scan.values, scan.transfer_syntax)
            if header.kind in ("SEG", "RTSTRUCT"):
                from pydicom.filereader import read_dataset

                ds = read_dataset(io.BytesIO(scan.sequences), implicit, True)
                details = _seg_details if header.kind == "SEG" else _rtstruct_details
                return details(ds, header, fp, False)
            return _Parsed(header)
    except _BadFile as exc:
        return SkippedFile(path, _one_line(str(exc)))
    except OSError as exc:
        return SkippedFile(path, _one_line(f"cannot read the file: {exc.strerror or exc}"))
    except Exception as exc:  # noqa: BLE001 - damaged files make pydicom raise many kinds of errors
        return SkippedFile(path, _one_line(f"unreadable DICOM ({type(exc).__name__}: {exc})"))


def _read_chunk(paths: Sequence[str]) -> list[_Parsed | SkippedFile]:
    return [_read_file(p) for p in paths]
