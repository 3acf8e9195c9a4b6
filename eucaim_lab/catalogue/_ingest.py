"""Ingest a folder of DICOM files (and a clinical table) into the local node as one catalogue dataset.

The files are copied into ``datalake/<id>/<version>/<subject>/<study>/<series>/<sop>.dcm`` while their SHA3-256
is computed, then everything is registered in one transaction. On any error the staging folder is removed and the
node is unchanged.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import os
import re
import shutil
import statistics
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._errors import ConflictError, InvalidInputError, NotFoundError
from ._model import DatasetRecord, validate_identifier
from ._vocab import AnnotationMethod, BodyPart, DatasetType, Modality, Sex, normalise_manufacturer, parse

if TYPE_CHECKING:  # pragma: no cover
    from ._catalogue import Catalogue
    from ._indexer import InstanceHeader

__all__ = ["dataset_digest", "ingest", "read_clinical"]

log = logging.getLogger(__name__)

_SUBJECT_COLUMNS = ("patient_id", "subject_id", "PatientID", "subject", "patient", "case_id", "ID")
_CHUNK = 1 << 20


def _safe(text: str | None, fallback: str) -> str:
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "_", (text or "").strip()).strip("._")
    return cleaned[:64] or fallback


def _copy_hashed(src: str, dst: Path) -> str:
    """Copy ``src`` to ``dst`` and return the SHA3-256 of the bytes written."""
    h = hashlib.sha3_256()
    with open(src, "rb") as fin, open(dst, "wb") as fout:
        while chunk := fin.read(_CHUNK):
            h.update(chunk)
            fout.write(chunk)
    os.chmod(dst, 0o444)
    return h.hexdigest()


def dataset_digest(files: Sequence[tuple[str, str]]) -> str:
    """One digest of a dataset: SHA3-256 over sorted ``relpath  sha3`` lines."""
    h = hashlib.sha3_256()
    for relpath, sha in sorted(files):
        h.update(f"{relpath}  {sha}\n".encode())
    return h.hexdigest()


def read_clinical(path: str | os.PathLike[str]) -> tuple[str, list[dict[str, Any]]]:
    """Read a clinical CSV; returns the subject-id column's name and one dict per row."""
    import pandas as pd

    p = Path(path)
    if not p.is_file():
        raise NotFoundError(f"Clinical table {str(p)!r} does not exist or is not a file.", path=str(p))
    try:
        df = pd.read_csv(p, dtype=str, keep_default_na=False)
    except (ValueError, UnicodeDecodeError, OSError) as exc:
        raise InvalidInputError(f"Cannot read clinical table {str(p)!r} as CSV: {exc}".splitlines()[0]) from None
    if df.empty or len(df.columns) < 2:
        raise InvalidInputError(
            f"Clinical table {str(p)!r} must have a header, a subject id column and at least one row. "
            f"Got {len(df)} rows and columns {list(df.columns)}."
        )
    column = next((c for c in _SUBJECT_COLUMNS if c in df.columns), None)
    if column is None:
        raise InvalidInputError(
            f"Clinical table {str(p)!r} has no subject id column; expected one of {', '.join(_SUBJECT_COLUMNS)}. "
            f"Got columns {', '.join(map(str, df.columns))}."
        )
    if df[column].duplicated().any():
        dup = df[column][df[column].duplicated()].iloc[0]
        raise InvalidInputError(f"Clinical table {str(p)!r} lists subject {dup!r} more than once in '{column}'.")
    rows = [{str(k): _typed(v) for k, v in row.items()} for row in df.to_dict(orient="records")]
    return column, rows


def _typed(value: str) -> Any:
    if value == "":
        return None
    for cast in (int, float):
        try:
            return cast(value)
        except ValueError:
            continue
    return value


def _modality(value: str | None) -> Modality:
    try:
        return parse(Modality, value or "OT")
    except InvalidInputError:
        return Modality.OT


def ingest(
    catalogue: Catalogue,
    path: str | os.PathLike[str],
    *,
    dataset_id: str,
    title: str,
    clinical: str | os.PathLike[str] | None = None,
    description: str | None = None,
    version: str = "1.0.0",
    workers: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    **metadata: Any,
) -> dict[str, Any]:
    """Index ``path`` and register it as dataset ``dataset_id``; returns a JSON-ready summary.

    ``metadata`` takes :class:`DatasetRecord` fields (``conditions``, ``body_parts``, ``access_condition``,
    ``access_rights``, ``license``, ``provider``, ``data_holder``, ``keywords``, ``collection_method``, ``doi``, ...);
    unknown field names are refused.
    """
    from ._indexer import group_series, index_folder

    validate_identifier(dataset_id)
    unknown = set(metadata) - set(DatasetRecord.model_fields)
    if unknown:
        raise InvalidInputError(f"Unknown dataset field(s): {', '.join(sorted(unknown))}.")
    src = Path(path)
    if not src.exists():
        raise NotFoundError(f"Cannot ingest {str(src)!r}: no such file or folder.", path=str(src))
    if dataset_id in catalogue:
        raise ConflictError(
            f"A dataset with id {dataset_id!r} already exists in the catalogue; choose another id.",
            dataset_id=dataset_id,
        )
    clinical_rows: list[dict[str, Any]] = []
    subject_column = None
    if clinical is not None:
        subject_column, clinical_rows = read_clinical(clinical)
    # validate the record's user-given fields before the expensive part
    DatasetRecord.build(
        identifier=dataset_id, title=title, description=description or title, version=version,
        data_holder=metadata.get("data_holder", "node-admin"),
        **{k: v for k, v in metadata.items() if k != "data_holder"},
    )

    result = index_folder(src, workers=workers, progress=progress)
    skipped = [{"path": s.path, "reason": s.reason} for s in result.skipped]
    seen: dict[str, str] = {}
    instances: list[InstanceHeader] = []
    for inst in result.instances:
        if inst.sop_instance_uid in seen:
            skipped.append({"path": inst.path, "reason": f"duplicate SOPInstanceUID of {seen[inst.sop_instance_uid]}"})
            continue
        seen[inst.sop_instance_uid] = inst.path
        instances.append(inst)
    if not instances:
        raise InvalidInputError(
            f"No readable DICOM files under {str(src)!r} ({len(skipped)} file(s) skipped"
            + (f", e.g. {skipped[0]['path']}: {skipped[0]['reason']}" if skipped else "")
            + ").",
            skipped=skipped,
        )
    series_infos = group_series(instances)

    node = catalogue.node
    node.datalake.mkdir(parents=True, exist_ok=True)
    staging = node.datalake / f".staging-{dataset_id}-{uuid.uuid4().hex[:8]}"
    final = node.datalake / dataset_id / version
    if final.exists():
        raise ConflictError(f"The datalake already holds {final}; remove it or choose another dataset id.")
    staging.mkdir()
    try:
        series_rows, file_rows, summary_bits = _materialise(series_infos, staging)
        record, subjects, clinical_report = _record(
            dataset_id, title, description, version, metadata, series_infos, series_rows, file_rows,
            clinical_rows, subject_column,
        )
        final.parent.mkdir(parents=True, exist_ok=True)
        os.replace(staging, final)
        try:
            catalogue.add(record, root=final, series=series_rows, files=file_rows, subjects=subjects)
        except BaseException:
            shutil.rmtree(final, ignore_errors=True)
            _remove_empty(final.parent)
            raise
    finally:
        if staging.exists():
            _make_writable(staging)
            shutil.rmtree(staging, ignore_errors=True)

    data = record.to_json_dict()
    return {
        "dataset_id": dataset_id,
        "version": version,
        "path": str(final),
        "subjects_count": record.subjects_count,
        "studies_count": record.studies_count,
        "series_count": record.series_count,
        "segmentations_count": record.annotations.segmentations_count,
        "files_count": record.files_count,
        "size_bytes": record.size_bytes,
        "modalities": data["modalities"],
        "body_parts": data["body_parts"],
        "manufacturers": data["manufacturers"],
        "segmentations": summary_bits["segmentations"],
        "clinical": clinical_report,
        "checksum": record.checksum,
        "skipped": skipped,
    }


def _make_writable(folder: Path) -> None:
    for root, dirs, files in os.walk(folder):
        for name in files:
            os.chmod(os.path.join(root, name), 0o644)


def _remove_empty(folder: Path) -> None:
    try:
        folder.rmdir()
    except OSError:
        pass


def _materialise(
    series_infos: Sequence[Any], staging: Path
) -> tuple[list[dict[str, Any]], list[tuple[str, str, str, int, str]], dict[str, Any]]:
    """Copy every file into the staging tree; return series rows, file rows and segmentation links."""
    series_rows: list[dict[str, Any]] = []
    file_rows: list[tuple[str, str, str, int, str]] = []
    image_uids = {s.series_uid for s in series_infos if s.kind == "image"}
    segmentations = []
    for s in series_infos:
        subject = _safe(s.patient_id, "unknown-subject")
        folder = f"{subject}/{_safe(s.study_uid, 'unknown-study')}/{_safe(s.series_uid, 'unknown-series')}"
        target = staging / folder
        target.mkdir(parents=True, exist_ok=True)
        size = 0
        for inst in s.files:
            rel = f"{folder}/{_safe(inst.sop_instance_uid, uuid.uuid4().hex)}.dcm"
            sha = _copy_hashed(inst.path, staging / rel)
            file_rows.append((rel, s.series_uid, inst.sop_instance_uid, inst.size, sha))
            size += inst.size
        first = s.files[0]
        body_part = BodyPart.from_dicom(s.body_part_examined)
        tags = {
            "Modality": s.modality,
            "SOPClassUID": first.sop_class_uid,
            "SeriesDescription": s.series_description,
            "StudyDescription": first.study_description,
            "StudyDate": first.study_date,
            "BodyPartExamined": s.body_part_examined,
            "Manufacturer": s.manufacturer,
            "ManufacturerModelName": first.model,
            "NumberOfFiles": len(s.files),
        }
        if s.kind in ("SEG", "RTSTRUCT"):
            tags["ReferencedSeriesInstanceUIDs"] = list(s.referenced_series_uids)
            tags["Labels"] = list(s.labels)
            segmentations.append({
                "series_uid": s.series_uid,
                "kind": s.kind,
                "patient_id": s.patient_id,
                "referenced_series_uids": list(s.referenced_series_uids),
                "linked": bool(s.referenced_series_uids) and set(s.referenced_series_uids) <= image_uids,
                "labels": list(s.labels),
            })
        series_rows.append({
            "series_uid": s.series_uid,
            "study_uid": s.study_uid,
            "patient_id": s.patient_id,
            "modality": s.modality,
            "kind": s.kind,
            "body_part": body_part.value if body_part else None,
            "manufacturer": normalise_manufacturer(s.manufacturer),
            "series_description": s.series_description,
            "files_count": len(s.files),
            "size_bytes": size,
            "referenced_series_uids": list(s.referenced_series_uids),
            "labels": list(s.labels),
            "folder": folder,
            "tags": tags,
        })
    return series_rows, file_rows, {"segmentations": segmentations}


def _record(
    dataset_id: str,
    title: str,
    description: str | None,
    version: str,
    metadata: Mapping[str, Any],
    series_infos: Sequence[Any],
    series_rows: Sequence[Mapping[str, Any]],
    file_rows: Sequence[tuple[str, str, str, int, str]],
    clinical_rows: Sequence[Mapping[str, Any]],
    subject_column: str | None,
) -> tuple[DatasetRecord, list[tuple[str, dict[str, Any]]], dict[str, Any]]:
    images = [s for s in series_infos if s.kind == "image"]
    segs = [s for s in series_infos if s.kind in ("SEG", "RTSTRUCT")]
    all_instances = [i for s in series_infos for i in s.files]
    # per subject demographics: first non-empty value among the subject's instances
    per_subject: dict[str, dict[str, Any]] = defaultdict(dict)
    for inst in all_instances:
        subj = per_subject[inst.patient_id or "unknown-subject"]
        if inst.patient_sex and "sex" not in subj:
            subj["sex"] = inst.patient_sex
        if inst.patient_age is not None and "age" not in subj:
            subj["age"] = inst.patient_age
    subjects_by_safe = {_safe(pid, "unknown-subject"): pid for pid in per_subject}
    # read_clinical gives the rows and their subject column together: no column, no rows
    clinical_by_subject: dict[str, Mapping[str, Any]] = (
        {str(row[subject_column]): row for row in clinical_rows} if subject_column is not None else {}
    )
    matched = [sid for sid in clinical_by_subject if sid in per_subject or sid in subjects_by_safe]
    unmatched = sorted(set(clinical_by_subject) - set(matched))
    sex_counts: Counter[Sex] = Counter()
    ages: list[float] = []
    for pid, demo in per_subject.items():
        row = clinical_by_subject.get(pid, {})
        sex = Sex.from_dicom(demo.get("sex"))
        if sex is Sex.UNKNOWN and row.get("sex"):
            try:
                sex = parse(Sex, {"m": "male", "f": "female"}.get(str(row["sex"]).lower(), row["sex"]))
            except InvalidInputError:
                sex = Sex.UNKNOWN
        sex_counts[sex] += 1
        age = demo.get("age")
        if age is None and isinstance(row.get("age"), (int, float)):
            age = float(row["age"])
        if age is not None:
            ages.append(float(age))
    dates = sorted(
        d for d in (i.study_date for i in all_instances) if d and re.fullmatch(r"\d{8}", d)
    )
    def _date(text: str) -> dt.date | None:
        try:
            return dt.datetime.strptime(text, "%Y%m%d").date()
        except ValueError:
            return None
    methods = {m for s in segs if (m := getattr(s, "algorithm_type", None)) is not None}
    method_map = {"MANUAL": AnnotationMethod.MANUAL, "SEMIAUTOMATIC": AnnotationMethod.SEMI_AUTOMATIC,
                  "AUTOMATIC": AnnotationMethod.AUTOMATIC}
    method = method_map.get(next(iter(methods))) if len(methods) == 1 else None
    labels = sorted({label for s in segs for label in s.labels})
    given = metadata.get("body_parts") or ()
    # one body part may be given as a plain string: list("lung") would split it into letters
    body_parts = [given] if isinstance(given, str) else list(given)
    body_parts += [r["body_part"] for r in series_rows if r["body_part"]]
    manufacturers = [r["manufacturer"] for r in series_rows if r["manufacturer"] and r["kind"] == "image"]
    digest = dataset_digest([(f[0], f[4]) for f in file_rows])
    fields: dict[str, Any] = {
        "identifier": dataset_id,
        "title": title,
        "description": description or f"{title} (ingested from DICOM files)",
        "version": version,
        "data_holder": "node-admin",
        "subjects_count": len(per_subject),
        "studies_count": len({s.study_uid for s in series_infos}),
        "series_count": len(images),
        "files_count": len(file_rows),
        "sex": {k: v for k, v in sex_counts.items()},
        "age_range": {
            "min": min(ages) if ages else None,
            "max": max(ages) if ages else None,
            "median": statistics.median(ages) if ages else None,
        },
        "modalities": sorted({_modality(s.modality) for s in images}, key=lambda m: m.value),
        "manufacturers": sorted(set(manufacturers)),
        "acquisition_period": {
            "start": _date(dates[0]) if dates else None,
            "end": _date(dates[-1]) if dates else None,
        },
        "annotations": {
            "labels": labels,
            "method": method,
            "segmentations_count": len(segs),
            "kinds": sorted({s.kind for s in segs}),
        },
        "dataset_types": [DatasetType.ORIGINAL, DatasetType.ANNOTATED] if segs else [DatasetType.ORIGINAL],
        "size_bytes": sum(f[3] for f in file_rows),
        "checksum": f"sha3-256:{digest}",
        "issued": dt.datetime.now(dt.timezone.utc).replace(microsecond=0),
        "modified": dt.datetime.now(dt.timezone.utc).replace(microsecond=0),
    }
    for key, value in metadata.items():
        if value is None:
            continue
        if key == "annotations" and isinstance(value, Mapping):
            fields["annotations"] = {**fields["annotations"], **value}
        else:
            fields[key] = value
    fields["body_parts"] = body_parts
    record = DatasetRecord.build(**fields)
    subjects = []
    for pid in sorted(per_subject):
        eform = dict(clinical_by_subject.get(pid, {}))
        subjects.append((_safe(pid, "unknown-subject"), eform))
    known = {s for s, _ in subjects}
    for sid in unmatched:  # clinical rows for subjects without images are kept, and reported
        if _safe(sid, sid) not in known:
            subjects.append((_safe(sid, "unknown-subject"), dict(clinical_by_subject[sid])))
    report = {
        "rows": len(clinical_rows),
        "subject_column": subject_column,
        "matched_subjects": len(matched),
        "subjects_without_images": unmatched,
        "subjects_without_clinical_data": sorted(set(per_subject) - set(clinical_by_subject)) if clinical_rows else [],
    }
    return record, subjects, report
