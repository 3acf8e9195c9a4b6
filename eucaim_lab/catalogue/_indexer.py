"""Index the DICOM headers of a folder: one :class:`InstanceHeader` per readable file, a reason per unreadable one.

Only headers are read, never pixel data. Most files (little-endian image objects with a File Meta header) go
through a small scanner that walks the data elements of the first bytes of the file and decodes only the
attributes the catalogue needs; everything else (big-endian, deflated, files without a File Meta header, ISO 2022
character sets, SEG and RTSTRUCT objects whose sequences matter) is read by pydicom with
``stop_before_pixels=True`` and a list of ``specific_tags``. Both paths end in the same checks: the three UIDs
must be present, and a file whose Pixel Data is cut short is refused with a reason instead of being indexed.

Many files are read by a pool of processes; the output order is the sorted order of the paths either way.
"""

from __future__ import annotations

import datetime as dt
import functools
import io
import logging
import os
import re
import stat
import struct
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, BinaryIO, NamedTuple

from .._errors import InvalidInputError, NotFoundError

__all__ = [
    "IndexResult",
    "InstanceHeader",
    "SeriesInfo",
    "SkippedFile",
    "group_series",
    "index_folder",
    "parse_age",
]

log = logging.getLogger(__name__)

#: below this many files the work is done in the calling process
PARALLEL_THRESHOLD = 200

SEG_SOP_CLASSES = frozenset({
    "1.2.840.10008.5.1.4.1.1.66.4",  # Segmentation Storage
    "1.2.840.10008.5.1.4.1.1.66.7",  # Label Map Segmentation Storage (2024)
})
RTSTRUCT_SOP_CLASS = "1.2.840.10008.5.1.4.1.1.481.3"
DICOMDIR_SOP_CLASS = "1.2.840.10008.1.3.10"
_IMAGE_MODALITIES = frozenset({
    "CT", "MR", "PT", "NM", "US", "CR", "DX", "MG", "XA", "RF", "OT", "SC", "IO", "PX", "OP", "SM", "XC", "ES",
    "GM", "BI", "DG", "RG", "TG", "OPT", "IVOCT", "IVUS", "BDUS", "LS", "OCT",
})
# SOP classes that carry pixel data but are not images of the patient (dose grids, presentation states ...)
_NOT_IMAGE_SOP_PREFIXES = (
    "1.2.840.10008.5.1.4.1.1.481.",  # RT objects (RT Image is 481.1, handled below)
    "1.2.840.10008.5.1.4.1.1.88.",  # structured reports
    "1.2.840.10008.5.1.4.1.1.11.",  # presentation states
    "1.2.840.10008.5.1.4.1.1.9.",  # waveforms
    "1.2.840.10008.5.1.4.1.1.104.",  # encapsulated documents
)
_RT_IMAGE = "1.2.840.10008.5.1.4.1.1.481.1"

# (tag, keyword, VR used when the file does not say: implicit VR)
_TAGS: tuple[tuple[int, str, str], ...] = (
    (0x00080005, "SpecificCharacterSet", "CS"),
    (0x00080016, "SOPClassUID", "UI"),
    (0x00080018, "SOPInstanceUID", "UI"),
    (0x00080020, "StudyDate", "DA"),
    (0x00080021, "SeriesDate", "DA"),
    (0x00080022, "AcquisitionDate", "DA"),
    (0x00080060, "Modality", "CS"),
    (0x00080070, "Manufacturer", "LO"),
    (0x00081030, "StudyDescription", "LO"),
    (0x0008103E, "SeriesDescription", "LO"),
    (0x00081090, "ManufacturerModelName", "LO"),
    (0x00100020, "PatientID", "LO"),
    (0x00100030, "PatientBirthDate", "DA"),
    (0x00100040, "PatientSex", "CS"),
    (0x00101010, "PatientAge", "AS"),
    (0x00180015, "BodyPartExamined", "CS"),
    (0x0020000D, "StudyInstanceUID", "UI"),
    (0x0020000E, "SeriesInstanceUID", "UI"),
    (0x00200013, "InstanceNumber", "IS"),
    (0x00200052, "FrameOfReferenceUID", "UI"),
    (0x00280002, "SamplesPerPixel", "US"),
    (0x00280004, "PhotometricInterpretation", "CS"),
    (0x00280008, "NumberOfFrames", "IS"),
    (0x00280010, "Rows", "US"),
    (0x00280011, "Columns", "US"),
    (0x00280100, "BitsAllocated", "US"),
)
_TAG_KEYWORD = {tag: kw for tag, kw, _ in _TAGS}
_TAG_VR = {tag: vr for tag, _, vr in _TAGS}
# sequences read (by pydicom) for SEG and RTSTRUCT objects
_SEQUENCE_TAGS = (
    0x00081115,  # ReferencedSeriesSequence
    0x00620002,  # SegmentSequence
    0x30060010,  # ReferencedFrameOfReferenceSequence
    0x30060020,  # StructureSetROISequence
)
_SPECIFIC_TAGS = [tag for tag, _, _ in _TAGS] + list(_SEQUENCE_TAGS)
_SPAN_TAGS = frozenset({0x00080005, *_SEQUENCE_TAGS})
_PIXEL_TAGS = frozenset({0x7FE00008, 0x7FE00009, 0x7FE00010})
_ITEM, _ITEM_END, _SEQ_END = 0xFFFEE000, 0xFFFEE00D, 0xFFFEE0DD
_UNDEFINED = 0xFFFFFFFF

_IMPLICIT_LE = "1.2.840.10008.1.2"
_EXPLICIT_LE = "1.2.840.10008.1.2.1"
_BIG_ENDIAN = "1.2.840.10008.1.2.2"
_DEFLATED = frozenset({"1.2.840.10008.1.2.1.99"})
_NATIVE = frozenset({_IMPLICIT_LE, _EXPLICIT_LE, _BIG_ENDIAN, "1.2.840.10008.1.2.1.99"})
_LONG_VRS = frozenset({b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"SV", b"UC", b"UN", b"UR", b"UT", b"UV"})
_SIMPLE_CHARSETS = {"": "ascii", "ISO_IR 6": "ascii", "ISO 2022 IR 6": "ascii", "ISO_IR 100": "latin-1",
                    "ISO_IR 192": "utf-8"}
_DICOMDIR_REASON = "DICOMDIR (media directory), not an image"


# ----------------------------------------------------------------------------------------------------------- results
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
    algorithm_type: str | None = None
    frame_of_reference_uid: str | None = None


@dataclass(frozen=True)
class SkippedFile:
    """A file that was not indexed, with a one-line reason."""

    path: str
    reason: str


@dataclass
class IndexResult:
    """Everything :func:`index_folder` found: indexed instances and skipped files, each sorted by path."""

    instances: list[InstanceHeader]
    skipped: list[SkippedFile]


@dataclass
class SeriesInfo:
    """One series (all instances sharing a SeriesInstanceUID), as built by :func:`group_series`."""

    series_uid: str
    study_uid: str
    patient_id: str | None
    modality: str | None
    kind: str
    body_part_examined: str | None
    manufacturer: str | None
    series_description: str | None
    files: list[InstanceHeader]
    referenced_series_uids: tuple[str, ...] = ()
    labels: tuple[str, ...] = ()
    size: int = 0
    frame_of_reference_uid: str | None = None
    algorithm_type: str | None = None


@dataclass(frozen=True)
class _Parsed:
    """What a worker returns for one good file; SOP references are resolved to series after all files are read."""

    header: InstanceHeader
    referenced_sop_uids: tuple[str, ...] = field(default=())


class _BadFile(Exception):
    """Internal: the file cannot be indexed; the message is the one-line reason."""


class _NotFast(Exception):
    """Internal: the quick scanner does not handle this file; pydicom reads it."""


class _NeedMore(_NotFast):
    """Internal: the header goes on past the bytes read so far."""


# ----------------------------------------------------------------------------------------------------- value parsing
_AGE_RE = re.compile(r"^\s*(\d{1,3})\s*([DWMYdwmy]?)\s*$")
_AGE_UNIT_YEARS = {"D": 1 / 365.25, "W": 7 / 365.25, "M": 1 / 12, "Y": 1.0, "": 1.0}


def parse_age(value: object) -> float | None:
    """Age in years from a DICOM Age String (``'045Y'``, ``'006M'``, ``'003W'``, ``'010D'``); None if unreadable.

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


def _int(value: str | None) -> int | None:
    if not value:
        return None
    try:
        return int(float(value.split("\\")[0]))
    except ValueError:
        return None


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
    """'image' for a SOP class pydicom names '... Image Storage', 'other' for another known class, else None."""
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
        age = _age_from_dates(_date(values.get("PatientBirthDate")), study_date or series_date or acquisition_date)
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


# ------------------------------------------------------------------------------------------------ pixel data checks
def _check_pixels(fp: BinaryIO, size: int, offset: int, little: bool, implicit: bool, values: dict[str, str],
                  transfer_syntax: str | None) -> None:
    """Check, without reading it, that the Pixel Data element starting at ``offset`` is complete.

    Defined length: the value must fit in the file and, for native transfer syntaxes, hold at least
    Rows x Columns x frames x samples x BitsAllocated bits. Undefined length (encapsulated): the fragment items
    must end with a sequence delimiter before the end of the file.
    """
    if offset >= size:
        return  # the dataset ended without Pixel Data
    fp.seek(offset)
    head = fp.read(12)
    if len(head) < 8:
        raise _BadFile(f"truncated: file ends inside the Pixel Data element header (size {size} bytes)")
    endian = "<" if little else ">"
    group, elem = struct.unpack(endian + "HH", head[:4])
    tag = group << 16 | elem
    if tag not in _PIXEL_TAGS:
        return
    if implicit:
        length, value_at = struct.unpack(endian + "I", head[4:8])[0], offset + 8
    elif head[4:6] in _LONG_VRS:
        if len(head) < 12:
            raise _BadFile(f"truncated: file ends inside the Pixel Data element header (size {size} bytes)")
        length, value_at = struct.unpack(endian + "I", head[8:12])[0], offset + 12
    else:
        length, value_at = struct.unpack(endian + "H", head[6:8])[0], offset + 8
    rows, cols, bits = (_int(values.get(k)) for k in ("Rows", "Columns", "BitsAllocated"))
    if tag == 0x7FE00010 and not (rows and cols and bits):
        raise _BadFile("Pixel Data present but Rows, Columns or BitsAllocated missing (image pixel module incomplete)")
    if length == _UNDEFINED:
        _check_fragments(fp, size, value_at)
        return
    if value_at + length > size:
        raise _BadFile(f"truncated: file ends inside Pixel Data ({size - value_at} of {length} bytes present)")
    if tag == 0x7FE00010 and transfer_syntax in _NATIVE and rows and cols and bits:
        frames = max(_int(values.get("NumberOfFrames")) or 1, 1)
        samples = max(_int(values.get("SamplesPerPixel")) or 1, 1)
        photometric = (values.get("PhotometricInterpretation") or "").strip()
        if samples == 3 and photometric.endswith("_422"):
            samples = 2  # two chroma samples are shared by each pair of pixels
        expected = (rows * cols * frames * samples * bits + 7) // 8
        if length < expected:
            raise _BadFile(
                f"Pixel Data too short: {length} bytes, expected {expected} "
                f"({rows}x{cols}, {frames} frame(s), {samples} sample(s), {bits} bits)"
            )


def _check_fragments(fp: BinaryIO, size: int, at: int) -> None:
    while True:
        fp.seek(at)
        item = fp.read(8)
        if len(item) < 8:
            raise _BadFile("truncated: file ends inside encapsulated Pixel Data (no sequence delimiter)")
        group, elem, length = struct.unpack("<HHI", item)
        tag = group << 16 | elem
        if tag == _SEQ_END:
            return
        if tag != _ITEM:
            raise _BadFile(f"corrupt encapsulated Pixel Data: expected an item tag at byte {at}, got {tag:08X}")
        at += 8 + length
        if at > size:
            raise _BadFile(f"truncated: file ends inside a Pixel Data fragment (at byte {size})")


# --------------------------------------------------------------------------------------------------- quick scanner
_FIRST_READ = 16384
_MAX_HEADER = 4 << 20


class _Scan(NamedTuple):
    values: dict[str, str]
    transfer_syntax: str
    media_class: str | None
    pixel_at: int | None  # offset of the Pixel Data element, None if the data set has none
    sequences: bytes  # the encoded SEG/RTSTRUCT sequences (and character set), for pydicom to decode


def _scan_fast(fp: BinaryIO, size: int) -> _Scan:
    """Walk the elements of a little-endian Part 10 file; return (values, transfer syntax, media class, pixel offset).

    Reads the first 16 KiB, more if the header is longer. Raises _NotFast for anything outside the common case,
    so that pydicom reads the file instead.
    """
    want = _FIRST_READ
    while True:
        fp.seek(0)
        buf = fp.read(min(size, want))
        try:
            return _scan_buffer(buf, size)
        except _NeedMore:
            if want >= _MAX_HEADER:
                raise _NotFast from None
            want *= 4


def _scan_buffer(buf: bytes, size: int) -> _Scan:
    if len(buf) < 144 or buf[128:132] != b"DICM":
        raise _NotFast
    pos = 132
    meta: dict[int, bytes] = {}
    n = len(buf)
    short = _NeedMore if n < size else _NotFast  # what running off the buffer means
    while pos + 8 <= n:
        group, elem = struct.unpack_from("<HH", buf, pos)
        if group != 2:
            break
        vr = buf[pos + 4:pos + 6]
        if vr in _LONG_VRS:
            length = struct.unpack_from("<I", buf, pos + 8)[0]
            pos += 12
        else:
            length = struct.unpack_from("<H", buf, pos + 6)[0]
            pos += 8
        if length == _UNDEFINED:
            raise _NotFast
        if pos + length > n:
            raise short
        meta[elem] = buf[pos:pos + length]
        pos += length
    ts = meta.get(0x0010, b"").decode("ascii", "replace").strip(" \x00")
    media_class = meta.get(0x0002, b"").decode("ascii", "replace").strip(" \x00") or None
    if not ts or ts == _BIG_ENDIAN or ts in _DEFLATED or media_class == DICOMDIR_SOP_CLASS:
        raise _NotFast
    implicit = ts == _IMPLICIT_LE
    raw: dict[int, bytes] = {}
    vrs: dict[int, bytes] = {}
    spans: list[tuple[int, int]] = []
    pixel_at: int | None = None
    last = -1
    while True:
        if pos + 8 > n:
            if n >= size:
                break  # the dataset ends with the file, no Pixel Data
            raise _NeedMore
        group, elem = struct.unpack_from("<HH", buf, pos)
        tag = group << 16 | elem
        if tag <= last:
            raise _NotFast  # out of order: a mis-parse or a damaged file, let pydicom judge
        last = tag
        if tag in _PIXEL_TAGS:
            pixel_at = pos
            break
        if implicit:
            vr = b""
            length = struct.unpack_from("<I", buf, pos + 4)[0]
            start = pos + 8
        else:
            vr = buf[pos + 4:pos + 6]
            if vr in _LONG_VRS:
                if pos + 12 > n:
                    raise short
                length = struct.unpack_from("<I", buf, pos + 8)[0]
                start = pos + 12
            else:
                length = struct.unpack_from("<H", buf, pos + 6)[0]
                start = pos + 8
        element_at = pos
        if length == _UNDEFINED:
            pos = _skip_undefined(buf, start, implicit or vr == b"UN", short)
        else:
            pos = start + length
            if pos > n:
                raise short
            if tag in _TAG_KEYWORD:
                raw[tag] = buf[start:pos]
                vrs[tag] = vr
        if tag in _SPAN_TAGS:
            spans.append((element_at, pos))
    charset = raw.get(0x00080005, b"").decode("ascii", "replace").strip(" \x00")
    encoding = _SIMPLE_CHARSETS.get(charset)
    if encoding is None:
        raise _NotFast  # ISO 2022 and other character sets: pydicom decodes them
    values: dict[str, str] = {}
    for tag, data in raw.items():
        vr = vrs[tag] or _TAG_VR[tag].encode()
        kw = _TAG_KEYWORD[tag]
        if vr == b"US":
            if len(data) < 2:
                continue
            values[kw] = str(struct.unpack_from("<H", data)[0])
        else:
            try:
                values[kw] = data.decode(encoding)
            except UnicodeDecodeError as exc:
                raise _NotFast from exc
    return _Scan(values, ts, media_class, pixel_at, b"".join(buf[a:b] for a, b in spans))


def _skip_undefined(buf: bytes, pos: int, implicit: bool, short: type[_NotFast]) -> int:
    """Position after an undefined-length sequence starting at ``pos`` (its first item)."""
    n = len(buf)
    while True:
        if pos + 8 > n:
            raise short
        group, elem, length = struct.unpack_from("<HHI", buf, pos)
        tag = group << 16 | elem
        pos += 8
        if tag == _SEQ_END:
            return pos
        if tag != _ITEM:
            raise _NotFast
        if length != _UNDEFINED:
            pos += length
            continue
        # an item of undefined length: walk its elements up to the item delimiter
        while True:
            if pos + 12 > n:
                raise short
            group, elem = struct.unpack_from("<HH", buf, pos)
            tag = group << 16 | elem
            if tag == _ITEM_END:
                pos += 8
                break
            vr = b""
            if implicit:
                length = struct.unpack_from("<I", buf, pos + 4)[0]
                pos += 8
            else:
                vr = buf[pos + 4:pos + 6]
                if vr in _LONG_VRS:
                    length = struct.unpack_from("<I", buf, pos + 8)[0]
                    pos += 12
                else:
                    length = struct.unpack_from("<H", buf, pos + 6)[0]
                    pos += 8
            if length == _UNDEFINED:
                pos = _skip_undefined(buf, pos, implicit or vr == b"UN", short)
            else:
                pos += length


# --------------------------------------------------------------------------------------------------- pydicom reader
def _not_dicom_reason(fp: BinaryIO, size: int) -> str | None:
    """Why a file without the 'DICM' prefix is plainly not DICOM, or None if it may be a dataset without a preamble."""
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


def _read_pydicom(fp: BinaryIO, path: str, size: int) -> _Parsed:
    import pydicom
    from pydicom.errors import InvalidDicomError

    fp.seek(0)
    forced = False
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            ds = pydicom.dcmread(fp, stop_before_pixels=True, specific_tags=_SPECIFIC_TAGS)
        except InvalidDicomError:
            reason = _not_dicom_reason(fp, size)
            if reason:
                raise _BadFile(reason) from None
            fp.seek(0)
            ds = pydicom.dcmread(fp, stop_before_pixels=True, specific_tags=_SPECIFIC_TAGS, force=True)
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
        values: dict[str, str] = {}
        for tag, kw, _ in _TAGS:
            if tag in ds:
                try:
                    text = _string(ds[tag].value)
                except Exception as exc:  # noqa: BLE001 - a value pydicom cannot convert is just left out
                    log.debug("%s: cannot read %s: %s", path, kw, exc)
                    continue
                if text is not None:
                    values[kw] = text
    if forced and not (values.get("SOPInstanceUID") and values.get("SeriesInstanceUID")):
        raise _BadFile(
            "not a DICOM file: no 'DICM' prefix, and no SOPInstanceUID/SeriesInstanceUID readable without it"
        )
    deflated = ts in _DEFLATED
    if not deflated and end > size:
        raise _BadFile(f"truncated: an element runs to byte {end} but the file has {size} bytes")
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
    """ROI names, frame of reference and referenced series of an RTSTRUCT."""
    rois = _items(ds, "StructureSetROISequence")
    labels = _unique(_string(roi.get("ROIName")) for roi in rois)
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
                    contour_images += [_string(i.get("ReferencedSOPInstanceUID"))
                                       for i in _items(series, "ContourImageSequence")]
        full = _reread(fp, (0x30060039,), forced)
        for roi in _items(full, "ROIContourSequence"):
            for contour in _items(roi, "ContourSequence"):
                contour_images += [_string(i.get("ReferencedSOPInstanceUID"))
                                   for i in _items(contour, "ContourImageSequence")]
        sop_refs = _unique(contour_images)
    frame_uid = header.frame_of_reference_uid or next(
        iter(_unique(_string(f.get("FrameOfReferenceUID")) for f in frames)), None
    )
    header = replace(header, labels=labels, referenced_series_uids=series_refs, frame_of_reference_uid=frame_uid)
    return _Parsed(header, sop_refs)


# ------------------------------------------------------------------------------------------------------ one file
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


# ---------------------------------------------------------------------------------------------------- the folder
def _looks_like_dicom(path: str) -> bool:
    try:
        with open(path, "rb") as fp:
            head = fp.read(132)
    except OSError:
        return False
    return head[128:132] == b"DICM"


def _walk(root: str) -> tuple[list[str], list[SkippedFile]]:
    """Every regular file under ``root`` (following symbolic links, once per real folder), sorted."""
    files: list[str] = []
    skipped: list[SkippedFile] = []
    seen: set[str] = set()
    stack = [root]
    while stack:
        folder = stack.pop()
        real = os.path.realpath(folder)
        if real in seen:
            continue
        seen.add(real)
        try:
            entries = list(os.scandir(folder))
        except OSError as exc:
            skipped.append(SkippedFile(folder, _one_line(f"cannot list the folder: {exc.strerror or exc}")))
            continue
        for entry in entries:
            try:
                is_dir = entry.is_dir()
            except OSError:
                is_dir = False
            if entry.name.startswith("."):
                # .git, .ipynb_checkpoints, .DS_Store ...: never data; say so only for a hidden DICOM file
                if not is_dir and _looks_like_dicom(entry.path):
                    skipped.append(SkippedFile(entry.path, "hidden file (name starts with '.'), not indexed"))
                continue
            if is_dir:
                stack.append(entry.path)
                continue
            try:
                mode = entry.stat().st_mode
            except OSError as exc:
                reason = "broken symbolic link" if entry.is_symlink() else f"cannot stat: {exc.strerror or exc}"
                skipped.append(SkippedFile(entry.path, reason))
                continue
            if stat.S_ISREG(mode):
                files.append(entry.path)
            # sockets, FIFOs and devices are not files to read
    files.sort()
    return files, skipped


def _cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def _read_many(paths: list[str], workers: int | None,
               progress: Callable[[int, int], None] | None) -> list[_Parsed | SkippedFile]:
    total = len(paths)
    n_workers = _cpu_count() if workers is None else workers
    if n_workers > 1 and total > PARALLEL_THRESHOLD:
        try:
            return _read_parallel(paths, n_workers, progress)
        except (OSError, ImportError) as exc:  # e.g. no POSIX semaphores inside a sandbox
            warnings.warn(f"Indexing in one process: a process pool is not available here ({exc}).", stacklevel=3)
    out: list[_Parsed | SkippedFile] = []
    every = max(1, total // 200)
    for i, p in enumerate(paths, 1):
        out.append(_read_file(p))
        if progress is not None and (i % every == 0 or i == total):
            progress(i, total)
    return out


def _read_parallel(paths: list[str], n_workers: int,
                   progress: Callable[[int, int], None] | None) -> list[_Parsed | SkippedFile]:
    import multiprocessing
    import threading
    from concurrent.futures import ProcessPoolExecutor, as_completed

    total = len(paths)
    size = max(16, min(512, total // (n_workers * 8)))
    chunks = [paths[i:i + size] for i in range(0, total, size)]
    # fork is cheap; with other threads alive it is unsafe, so a fork server is used then
    method = "fork" if threading.active_count() == 1 and "fork" in multiprocessing.get_all_start_methods() \
        else None
    context = multiprocessing.get_context(method)
    results: list[list[_Parsed | SkippedFile]] = [[] for _ in chunks]
    done = 0
    with ProcessPoolExecutor(max_workers=min(n_workers, len(chunks)), mp_context=context) as pool:
        futures = {pool.submit(_read_chunk, chunk): i for i, chunk in enumerate(chunks)}
        for future in as_completed(futures):
            i = futures[future]
            results[i] = future.result()
            done += len(chunks[i])
            if progress is not None:
                progress(done, total)
    return [r for chunk in results for r in chunk]


def index_folder(
    path: str | os.PathLike[str],
    *,
    workers: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> IndexResult:
    """Read the DICOM header of every file under ``path`` (a folder, at any depth, or one file).

    Files of any name are tried; a file that is not a usable DICOM instance is reported in ``skipped`` with a
    one-line reason (DICOMDIR, not DICOM, truncated, missing UIDs ...) and never stops the run. Folders and files
    whose name starts with '.' are ignored (a hidden DICOM file is reported as skipped).
    ``workers``: processes to use (default: the CPUs available; 1 = in this process); small folders are always
    read in this process. ``progress(done, total)`` is called from this process as files are read.
    """
    p = Path(path)
    if not os.path.lexists(p):
        raise NotFoundError(f"Cannot index {str(p)!r}: no such file or folder.", path=str(p))
    if workers is not None and (not isinstance(workers, int) or workers < 1):
        raise InvalidInputError(f"'workers' must be a whole number >= 1 or None. Got {workers!r}.")
    root = os.path.abspath(p)
    if p.is_dir():
        files, skipped = _walk(root)
    elif p.is_file():
        files, skipped = [root], []
    elif p.is_symlink():
        raise NotFoundError(f"Cannot index {str(p)!r}: it is a broken symbolic link.", path=str(p))
    else:
        raise InvalidInputError(f"Cannot index {str(p)!r}: expected a folder or a file, got a special file.")
    results = _read_many(files, workers, progress)
    parsed = [r for r in results if isinstance(r, _Parsed)]
    skipped += [r for r in results if isinstance(r, SkippedFile)]
    sop_to_series: dict[str, str] = {}
    for r in parsed:
        sop_to_series.setdefault(r.header.sop_instance_uid, r.header.series_uid)
    instances = []
    for r in parsed:
        header = r.header
        if r.referenced_sop_uids:
            found = _unique(sop_to_series.get(uid) for uid in r.referenced_sop_uids)
            header = replace(header, referenced_series_uids=_unique([*header.referenced_series_uids, *found]))
        instances.append(header)
    instances.sort(key=lambda h: h.path)
    skipped.sort(key=lambda s: s.path)
    return IndexResult(instances=instances, skipped=skipped)


# ----------------------------------------------------------------------------------------------------- series
def _first(values: Iterable[str | None]) -> str | None:
    return next((v for v in values if v), None)


def group_series(instances: Iterable[InstanceHeader]) -> list[SeriesInfo]:
    """One :class:`SeriesInfo` per SeriesInstanceUID, files sorted by instance number then path.

    Series values come from the first file that has them; references and labels are the union over the files.
    Series are returned in the order of their first file's path.
    """
    by_series: dict[str, list[InstanceHeader]] = {}
    for inst in instances:
        by_series.setdefault(inst.series_uid, []).append(inst)
    out = []
    for uid, files in by_series.items():
        files.sort(key=lambda h: (h.instance_number is None, h.instance_number or 0, h.path))
        studies = sorted({f.study_uid for f in files})
        if len(studies) > 1:
            warnings.warn(
                f"Series {uid} has files in {len(studies)} studies ({', '.join(studies)}); the first is used.",
                stacklevel=2,
            )
        kinds = [f.kind for f in files]
        out.append(SeriesInfo(
            series_uid=uid,
            study_uid=files[0].study_uid,
            patient_id=_first(f.patient_id for f in files),
            modality=_first(f.modality for f in files),
            kind=max(set(kinds), key=lambda k: (kinds.count(k), k)),
            body_part_examined=_first(f.body_part_examined for f in files),
            manufacturer=_first(f.manufacturer for f in files),
            series_description=_first(f.series_description for f in files),
            files=files,
            referenced_series_uids=_unique(u for f in files for u in f.referenced_series_uids),
            labels=_unique(label for f in files for label in f.labels),
            size=sum(f.size for f in files),
            frame_of_reference_uid=_first(f.frame_of_reference_uid for f in files),
            algorithm_type=_first(f.algorithm_type for f in files),
        ))
    out.sort(key=lambda s: min(f.path for f in s.files))
    return out
