"""The quick path of the DICOM header indexer: a scanner for little-endian Part 10 files; Pixel Data checks.

The scanner walks the data elements in the first bytes of a file with ``struct`` and keeps the raw values of
the few attributes the catalogue needs (and the encoded SEG/RTSTRUCT sequences, which pydicom then decodes).
Anything outside the common case raises :class:`_NotFast` and the file is read by pydicom instead.
"""

from __future__ import annotations

import struct
from typing import BinaryIO, NamedTuple

SEG_SOP_CLASSES = frozenset(
    {
        "1.2.840.10008.5.1.4.1.1.66.4",  # Segmentation Storage
        "1.2.840.10008.5.1.4.1.1.66.7",  # Label Map Segmentation Storage (2024)
    }
)
RTSTRUCT_SOP_CLASS = "1.2.840.10008.5.1.4.1.1.481.3"
DICOMDIR_SOP_CLASS = "1.2.840.10008.1.3.10"
_IMAGE_MODALITIES = frozenset(
    {
        "CT",
        "MR",
        "PT",
        "NM",
        "US",
        "CR",
        "DX",
        "MG",
        "XA",
        "RF",
        "OT",
        "SC",
        "IO",
        "PX",
        "OP",
        "SM",
        "XC",
        "ES",
        "GM",
        "BI",
        "DG",
        "RG",
        "TG",
        "OPT",
        "IVOCT",
        "IVUS",
        "BDUS",
        "LS",
        "OCT",
    }
)
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
_LONG_VRS = frozenset(
    {b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"SV", b"UC", b"UN", b"UR", b"UT", b"UV"}
)
_SIMPLE_CHARSETS = {
    "": "ascii",
    "ISO_IR 6": "ascii",
    "ISO 2022 IR 6": "ascii",
    "ISO_IR 100": "latin-1",
    "ISO_IR 192": "utf-8",
}
_DICOMDIR_REASON = "DICOMDIR (media directory), not an image"


class _BadFile(Exception):
    """Internal: the file cannot be indexed; the message is the one-line reason."""


class _NotFast(Exception):
    """Internal: the quick scanner does not handle this file; pydicom reads it."""


class _NeedMore(_NotFast):
    """Internal: the header goes on past the bytes read so far."""


def _int(value: str | None) -> int | None:
    if not value:
        return None
    try:
        return int(float(value.split("\\")[0]))
    except ValueError:
        return None


# ------------------------------------------------------------------------------------------ pixel data checks
def _check_pixels(
    fp: BinaryIO,
    size: int,
    offset: int,
    little: bool,
    implicit: bool,
    values: dict[str, str],
    transfer_syntax: str | None,
) -> None:
    """Check, without reading it, that the Pixel Data element starting at ``offset`` is complete.

    Defined length: the value must fit in the file and, for native transfer syntaxes, hold at least
    Rows x Columns x frames x samples x BitsAllocated bits. Undefined length (encapsulated): the fragment
    items must end with a sequence delimiter before the end of the file.
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
        raise _BadFile(
            "Pixel Data present but Rows, Columns or BitsAllocated missing (image pixel module incomplete)"
        )
    if length == _UNDEFINED:
        _check_fragments(fp, size, value_at)
        return
    if value_at + length > size:
        raise _BadFile(
            f"truncated: file ends inside Pixel Data ({size - value_at} of {length} bytes present)"
        )
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
            raise _BadFile(
                f"corrupt encapsulated Pixel Data: expected an item tag at byte {at}, got {tag:08X}"
            )
        at += 8 + length
        if at > size:
            raise _BadFile(f"truncated: file ends inside a Pixel Data fragment (at byte {size})")


# ---------------------------------------------------------------------------------------------- quick scanner
_FIRST_READ = 16384
_IMPLICIT_HEAD = struct.Struct("<HHI").unpack_from
_EXPLICIT_HEAD = struct.Struct("<HH2sH").unpack_from
_U32 = struct.Struct("<I").unpack_from
_MAX_HEADER = 4 << 20


class _Scan(NamedTuple):
    values: dict[str, str]
    transfer_syntax: str
    media_class: str | None
    pixel_at: int | None  # offset of the Pixel Data element, None if the data set has none
    sequences: bytes  # the encoded SEG/RTSTRUCT sequences (and character set), for pydicom to decode


def _scan_fast(fp: BinaryIO, size: int) -> _Scan:
    """Walk the elements of a little-endian Part 10 file and return what the catalogue needs.

    Reads the first 16 KiB, more if the header is longer. Raises _NotFast for anything outside the common
    case, so that pydicom reads the file instead.
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
        vr = buf[pos + 4 : pos + 6]
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
        meta[elem] = buf[pos : pos + length]
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
        if pos + 12 > n:  # an element header takes 8 bytes, 12 in the long explicit form
            if n < size:
                raise _NeedMore
            if pos == n:
                break  # the data set ends with the file, without Pixel Data
            if not implicit or pos + 8 > n:
                raise _NotFast  # the last few bytes of the file: let pydicom judge
        if implicit:
            group, elem, length = _IMPLICIT_HEAD(buf, pos)
            vr = b""
            start = pos + 8
        else:
            group, elem, vr, length = _EXPLICIT_HEAD(buf, pos)
            if vr in _LONG_VRS:
                length = _U32(buf, pos + 8)[0]
                start = pos + 12
            else:
                start = pos + 8
        tag = group << 16 | elem
        if tag <= last:
            raise _NotFast  # out of order: a mis-parse or a damaged file, let pydicom judge
        last = tag
        if tag >= 0x7FE00008 and tag in _PIXEL_TAGS:
            pixel_at = pos
            break
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
        vr = vrs[tag] if vrs[tag] not in (b"", b"UN") else _TAG_VR[tag].encode()
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
                vr = buf[pos + 4 : pos + 6]
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
