"""Find every (image, region) case under a folder or checkout, or in a pyradiomics batch CSV.

DICOM: headers are read without pixels; image files are grouped into series by SeriesInstanceUID; every SEG segment
and every RTSTRUCT ROI with contours becomes a case, matched to the image series it references by UIDs
(never by folder names). NIfTI/NRRD: image and mask files are paired by naming conventions; each label value in a mask
is a case. Files that cannot be used are listed, with the reason, in ``cases.skipped``.
"""

from __future__ import annotations

import csv
import os
import re
import warnings
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eucaim_lab._errors import InvalidInputError, NotFoundError
from eucaim_lab.imaging._case import Case, ImageRef, MaskRef
from eucaim_lab.imaging._files import image_suffix

__all__ = ["DiscoveredCases", "SkippedInput", "discover_cases"]

SEG_SOP_CLASSES = {"1.2.840.10008.5.1.4.1.1.66.4", "1.2.840.10008.5.1.4.1.1.66.7"}
RTSTRUCT_SOP_CLASS = "1.2.840.10008.5.1.4.1.1.481.3"
NON_IMAGE_MODALITIES = {"SEG", "RTSTRUCT", "RTPLAN", "RTDOSE", "RTRECORD", "SR", "PR", "KO", "REG", "DOC"}
_MASK_WORDS = ("label", "labels", "mask", "masks", "seg", "segmentation", "segmentations", "roi")
_IMAGE_WORDS = ("image", "images", "img", "imaging", "volume")
_MASK_RE = re.compile(r"(^|[_\-.\s])(" + "|".join(_MASK_WORDS) + r")(?=$|[_\-.\s\d])", re.IGNORECASE)
_IMAGE_RE = re.compile(r"(^|[_\-.\s])(" + "|".join(_IMAGE_WORDS) + r")(?=$|[_\-.\s\d])", re.IGNORECASE)
_ID_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class SkippedInput:
    """A file (or CSV row) that discovery could not turn into a case, and why."""

    path: str
    reason: str


class DiscoveredCases(list[Case]):
    """The cases found by :func:`discover_cases` (a plain list of :class:`Case`) plus ``skipped`` inputs."""

    def __init__(self, cases: Iterable[Case] = (), skipped: Iterable[SkippedInput] = ()) -> None:
        super().__init__(cases)
        self.skipped: list[SkippedInput] = list(skipped)


@dataclass
class _Series:
    uid: str
    patient_id: str | None
    modality: str | None
    frame_uid: str | None
    files: dict[str, str] = field(default_factory=dict)  # SOPInstanceUID -> path


@dataclass
class _Region:
    kind: str  # 'seg' | 'rtstruct'
    path: str
    patient_id: str | None
    frame_uid: str | None
    series_refs: set[str]
    instance_refs: set[str]
    items: list[tuple[int, str]]  # (segment or ROI number, label or name)
    #: declared regions that cannot become cases, each with the reason
    unused: list[str] = field(default_factory=list)


def discover_cases(path_or_csv: str | os.PathLike[str]) -> DiscoveredCases:
    """All cases under a folder or checkout folder, or listed in a pyradiomics batch CSV.

    Returns a list of :class:`Case` (sorted, with deterministic readable ids such as ``<PatientID>_<Modality>_<roi>``)
    whose ``skipped`` attribute lists the files that were not usable (corrupt DICOM, a SEG whose series is absent,
    a mask without image, ...) with the reason. Raises NotFoundError when the path does not exist.
    """
    from eucaim_lab.checkout import guard_folder

    path = Path(path_or_csv)
    if not path.exists():
        raise NotFoundError(f"No folder or batch CSV at {path}.")
    guard_folder(path)  # IN_SITU_PROCESSING checkouts open only in their sandboxed kernel
    if path.is_file():
        if path.suffix.lower() != ".csv":
            raise InvalidInputError(
                f"discover_cases expects a folder or a batch CSV file (.csv). Got {path}."
            )
        return _from_csv(path)
    skipped: list[SkippedInput] = []
    dicom_files: list[str] = []
    image_files: list[str] = []
    for root, dirs, files in os.walk(path):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            full = os.path.join(root, name)
            if image_suffix(name):
                image_files.append(full)
            elif _looks_like_dicom(full, name):
                dicom_files.append(full)
    cases = _dicom_cases(dicom_files, skipped) + _file_cases(image_files, skipped)
    return DiscoveredCases(_assign_ids(cases), skipped)


def _looks_like_dicom(path: str, name: str) -> bool:
    if name.lower().endswith((".dcm", ".dicom", ".ima")):
        return True
    try:
        with open(path, "rb") as fh:
            head = fh.read(132)
    except OSError:
        return False
    return head[128:132] == b"DICM"


# --------------------------------------------------------------------------------------------------- DICOM headers
def _read_header(path: str) -> Any:
    import pydicom

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pydicom.dcmread(path, stop_before_pixels=True)


def _dicom_cases(paths: list[str], skipped: list[SkippedInput]) -> list[Case]:
    with warnings.catch_warnings():
        # pydicom warns on every odd value of odd files; those files are skipped or used anyway
        warnings.simplefilter("ignore")
        return _dicom_cases_quiet(paths, skipped)


def _dicom_cases_quiet(paths: list[str], skipped: list[SkippedInput]) -> list[Case]:
    series: dict[str, _Series] = {}
    regions: list[_Region] = []
    for path in paths:
        try:
            _index_file(path, series, regions, skipped)
        except Exception as exc:  # noqa: BLE001 - pydicom raises many kinds on corrupt or non-DICOM files
            reason = f"{type(exc).__name__}: {exc}".splitlines()[0][:200]
            skipped.append(SkippedInput(path, f"unreadable or malformed DICOM object ({reason})"))
    return _match_regions(series, regions, skipped)


def _index_file(
    path: str, series: dict[str, _Series], regions: list[_Region], skipped: list[SkippedInput]
) -> None:
    ds = _read_header(path)
    sop_class = str(ds.SOPClassUID)
    sop_uid = str(ds.SOPInstanceUID)
    series_uid = str(ds.SeriesInstanceUID)
    modality = str(ds.get("Modality", "")) or None
    patient = str(ds.get("PatientID", "")) or None
    frame_uid = str(ds.get("FrameOfReferenceUID", "")) or None
    if sop_class in SEG_SOP_CLASSES or modality == "SEG":
        regions.append(_seg_region(ds, path, patient, frame_uid))
    elif sop_class == RTSTRUCT_SOP_CLASS or modality == "RTSTRUCT":
        regions.append(_rtstruct_region(ds, path, patient))
    elif modality in NON_IMAGE_MODALITIES or "Rows" not in ds:
        skipped.append(SkippedInput(path, f"not an image, SEG or RTSTRUCT (Modality {modality})"))
    else:
        entry = series.setdefault(series_uid, _Series(series_uid, patient, modality, frame_uid))
        entry.files.setdefault(sop_uid, path)


def _match_regions(
    series: dict[str, _Series], regions: list[_Region], skipped: list[SkippedInput]
) -> list[Case]:
    sop_to_series = {sop: s.uid for s in series.values() for sop in s.files}
    cases: list[Case] = []
    for region in regions:
        target = _match_series(region, series, sop_to_series)
        if target is None:
            skipped.append(
                SkippedInput(
                    region.path, f"{region.kind.upper()} references no image series found under the folder"
                )
            )
            continue
        if not region.items:
            skipped.append(
                SkippedInput(region.path, f"{region.kind.upper()} has no segments or contoured ROIs")
            )
            continue
        skipped.extend(SkippedInput(region.path, reason) for reason in region.unused)
        image = ImageRef("dicom", tuple(sorted(target.files.values())), target.uid)
        for number, name in region.items:
            mask = (
                MaskRef("seg", region.path, segment_number=number)
                if region.kind == "seg"
                else MaskRef("rtstruct", region.path, roi_number=number)
            )
            cases.append(
                Case("", region.patient_id or target.patient_id, target.modality, name, image, mask, 1)
            )
    return cases


def _seg_region(ds: Any, path: str, patient: str | None, frame_uid: str | None) -> _Region:
    series_refs = {
        str(item.SeriesInstanceUID)
        for item in ds.get("ReferencedSeriesSequence", [])
        if "SeriesInstanceUID" in item
    }
    instance_refs: set[str] = set()
    for group in (
        *ds.get("PerFrameFunctionalGroupsSequence", []),
        *ds.get("SharedFunctionalGroupsSequence", []),
    ):
        for derivation in group.get("DerivationImageSequence", []):
            for source in derivation.get("SourceImageSequence", []):
                if "ReferencedSOPInstanceUID" in source:
                    instance_refs.add(str(source.ReferencedSOPInstanceUID))
    for source in ds.get("SourceImageSequence", []):
        if "ReferencedSOPInstanceUID" in source:
            instance_refs.add(str(source.ReferencedSOPInstanceUID))
    items = []
    for segment in ds.get("SegmentSequence", []):
        number = int(segment.SegmentNumber)
        label = str(segment.get("SegmentLabel", "")) or f"segment_{number}"
        if number == 0:  # the background segment of a LABELMAP segmentation
            continue
        items.append((number, label))
    return _Region("seg", path, patient, frame_uid, series_refs, instance_refs, items)


def _rtstruct_region(ds: Any, path: str, patient: str | None) -> _Region:
    series_refs: set[str] = set()
    frame_uids: set[str] = set()
    for frame in ds.get("ReferencedFrameOfReferenceSequence", []):
        if "FrameOfReferenceUID" in frame:
            frame_uids.add(str(frame.FrameOfReferenceUID))
        for study in frame.get("RTReferencedStudySequence", []):
            for ser in study.get("RTReferencedSeriesSequence", []):
                if "SeriesInstanceUID" in ser:
                    series_refs.add(str(ser.SeriesInstanceUID))
    instance_refs: set[str] = set()
    contoured: set[int] = set()
    for roi_contour in ds.get("ROIContourSequence", []):
        contours = roi_contour.get("ContourSequence", [])
        if any(str(c.get("ContourGeometricType", "")).upper() == "CLOSED_PLANAR" for c in contours):
            contoured.add(int(roi_contour.ReferencedROINumber))
        for contour in contours:
            for image in contour.get("ContourImageSequence", []):
                if "ReferencedSOPInstanceUID" in image:
                    instance_refs.add(str(image.ReferencedSOPInstanceUID))
    items = []
    unused = []
    for roi in ds.get("StructureSetROISequence", []):
        number = int(roi.ROINumber)
        name = str(roi.get("ROIName", "")) or f"roi_{number}"
        if number in contoured:
            items.append((number, name))
            if "ReferencedFrameOfReferenceUID" in roi:
                frame_uids.add(str(roi.ReferencedFrameOfReferenceUID))
        else:
            unused.append(f"ROI {number} ({name}) has no CLOSED_PLANAR contour")
    frame_uid = next(iter(frame_uids)) if len(frame_uids) == 1 else None
    return _Region("rtstruct", path, patient, frame_uid, series_refs, instance_refs, items, unused)


def _match_series(
    region: _Region, series: dict[str, _Series], sop_to_series: dict[str, str]
) -> _Series | None:
    for uid in sorted(region.series_refs):
        if uid in series:
            return series[uid]
    votes: dict[str, int] = defaultdict(int)
    for sop in region.instance_refs:
        if sop in sop_to_series:
            votes[sop_to_series[sop]] += 1
    if votes:
        return series[max(sorted(votes), key=lambda uid: votes[uid])]
    if not region.series_refs and not region.instance_refs and region.frame_uid:
        same_frame = [s for s in series.values() if s.frame_uid == region.frame_uid]
        if len(same_frame) == 1:
            return same_frame[0]
    return None


# ------------------------------------------------------------------------------------------------- NIfTI / NRRD
def _strip_suffix(name: str) -> str:
    suffix = image_suffix(name)
    return name[: -len(suffix)] if suffix else name


def _pair_key(path: str, words: re.Pattern[str]) -> tuple[str, str]:
    parent = Path(path).parent
    folder_words = _MASK_WORDS + _IMAGE_WORDS
    if parent.name.lower() in folder_words:
        parent = parent.parent
    stem = words.sub("", _strip_suffix(Path(path).name)).strip("_-. ").lower()
    return str(parent), stem


def _is_mask_file(path: str) -> bool:
    p = Path(path)
    return bool(_MASK_RE.search(_strip_suffix(p.name))) or p.parent.name.lower() in _MASK_WORDS


def _file_cases(paths: list[str], skipped: list[SkippedInput]) -> list[Case]:
    masks = [p for p in paths if _is_mask_file(p)]
    images = [p for p in paths if p not in set(masks)]
    by_key: dict[tuple[str, str], list[str]] = defaultdict(list)
    for image in images:
        by_key[_pair_key(image, _IMAGE_RE)].append(image)
    cases: list[Case] = []
    for mask in masks:
        key = _pair_key(mask, _MASK_RE)
        candidates = by_key.get(key, [])
        if not candidates and Path(mask).parent.name.lower() in _MASK_WORDS:
            # image/ + mask/ folders side by side: a single image beside a single mask pairs whatever their names
            siblings = [i for i in images if Path(i).parent.parent == Path(mask).parent.parent]
            lone_masks = [m for m in masks if Path(m).parent == Path(mask).parent]
            if (
                len(siblings) == 1
                and len(lone_masks) == 1
                and Path(siblings[0]).parent.name.lower() in _IMAGE_WORDS
            ):
                candidates = siblings
        if len(candidates) != 1:
            why = (
                "no image file pairs with this mask"
                if not candidates
                else f"several images pair with it: {candidates}"
            )
            skipped.append(SkippedInput(mask, why))
            continue
        labels = _mask_labels(mask)
        stem = key[1] or _pair_key(candidates[0], _IMAGE_RE)[1] or Path(key[0]).name
        for label in labels:
            cases.append(
                Case(
                    "",
                    stem,
                    None,
                    f"label_{label}",
                    ImageRef("file", (candidates[0],)),
                    MaskRef("file", mask),
                    label,
                )
            )
    return cases


def _mask_labels(path: str) -> list[int]:
    import numpy as np
    import SimpleITK as sitk

    try:
        values = np.unique(sitk.GetArrayFromImage(sitk.ReadImage(path)))
    except RuntimeError:
        return [1]  # an unreadable mask still makes a case: loading it raises a CaseError for its row
    labels = [int(v) for v in values if v != 0 and float(v).is_integer() and 0 < v <= 255]
    # a mask without any label still makes a case (label 1): its row then carries the empty-mask error
    return labels or [1]


# ----------------------------------------------------------------------------------------------------- batch CSV
def _from_csv(path: Path) -> DiscoveredCases:
    with path.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        columns = {c.strip().lower(): c for c in reader.fieldnames or []}
        if "image" not in columns or "mask" not in columns:
            raise InvalidInputError(
                f"A batch CSV needs the columns Image and Mask (optional Label, ID). Got {reader.fieldnames} in {path}."
            )
        rows = list(reader)
    cases: list[Case] = []
    skipped: list[SkippedInput] = []
    seen: set[str] = set()
    for number, row in enumerate(rows, start=2):
        image = (row.get(columns["image"]) or "").strip()
        mask = (row.get(columns["mask"]) or "").strip()
        if not image or not mask:
            skipped.append(SkippedInput(f"{path}:{number}", "row without Image or Mask"))
            continue
        label_text = (row.get(columns.get("label", ""), "") or "").strip() if "label" in columns else ""
        try:
            label = int(float(label_text)) if label_text else 1
        except ValueError as exc:
            raise InvalidInputError(
                f"Label must be an integer in {path} line {number}. Got {label_text!r}."
            ) from exc
        case_id = (row.get(columns["id"]) or "").strip() if "id" in columns else ""
        image_path = str((path.parent / image).resolve()) if not os.path.isabs(image) else image
        mask_path = str((path.parent / mask).resolve()) if not os.path.isabs(mask) else mask
        if case_id:
            if case_id in seen:
                raise InvalidInputError(
                    f"ID {case_id!r} appears twice in {path} (line {number}); IDs must be unique."
                )
            seen.add(case_id)
        stem = _strip_suffix(Path(image_path).name)
        cases.append(
            Case(
                case_id,
                stem,
                None,
                f"label_{label}",
                ImageRef("file", (image_path,)),
                MaskRef("file", mask_path),
                label,
            )
        )
    return DiscoveredCases(_assign_ids(cases, keep_given=True), skipped)


# ------------------------------------------------------------------------------------------------------ case ids
def _assign_ids(cases: list[Case], keep_given: bool = False) -> list[Case]:
    from dataclasses import replace

    if not keep_given:
        cases = sorted(
            cases,
            key=lambda c: (
                c.patient_id or "",
                c.modality or "",
                c.image.series_uid or c.image.paths[0],
                c.mask.path,
                c.mask.segment_number or c.mask.roi_number or 0,
                c.label,
            ),
        )
    taken = {c.case_id for c in cases if c.case_id} if keep_given else set()
    out = []
    for case in cases:
        if keep_given and case.case_id:
            out.append(case)
            continue
        parts = [case.patient_id or "case", case.modality, case.roi]
        base = _ID_SAFE.sub("_", "_".join(p for p in parts if p)).strip("_") or "case"
        case_id, n = base, 1
        while case_id in taken:
            n += 1
            case_id = f"{base}_{n}"
        taken.add(case_id)
        out.append(replace(case, case_id=case_id))
    return out
