"""Generate demo datasets: folders of real DICOM (CT + SEG + RTSTRUCT), ``clinical.csv`` and ``truth.json``.

Layout of one dataset folder::

    <out_dir>/clinical.csv                             one row per patient
    <out_dir>/truth.json                               generating model, sites and per-patient latent values
    <out_dir>/dicom/<patient_id>/CT/CT_001.dcm ...     the CT series, one file per slice
    <out_dir>/dicom/<patient_id>/SEG/SEG.dcm           DICOM SEG, segment "Tumour"
    <out_dir>/dicom/<patient_id>/RTSTRUCT/RTSTRUCT.dcm ROI "GTV" (every ``spec.rtstruct_every``-th patient)

The DICOM files sit apart from the tables so that ``dicom/`` can be ingested as is (with ``clinical.csv``) while
``truth.json`` -- the answer key -- stays out of the published dataset.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from .._errors import ConflictError, InvalidInputError
from ._dicom import UidFactory, write_ct_series, write_rtstruct, write_seg
from ._phantom import GRID_SHAPE, OUTCOME_MODEL, SPACING_MM, PatientLatents, draw_patients, make_phantom
from ._spec import DEMO_DATASETS, CohortInfo, DatasetSpec

__all__ = ["CLINICAL_COLUMNS", "generate_all", "generate_cohort", "load_truth"]

#: columns of clinical.csv, in order
CLINICAL_COLUMNS: tuple[str, ...] = (
    "patient_id",
    "site",
    "manufacturer",
    "sex",
    "age",
    "study_date",
    "stage",
    "tumour_volume_ml",
    "followup_months",
    "outcome",
)


def _prepare(out_dir: str | os.PathLike[str]) -> tuple[Path, bool]:
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise ConflictError(f"The output path {str(out)!r} must be a folder. Got a file.", path=str(out))
    if out.is_dir() and any(out.iterdir()):
        raise ConflictError(
            f"The output folder {str(out)!r} must be empty or absent, so no old files mix in. Got a non-empty folder.",
            path=str(out),
        )
    created = not out.exists()
    out.mkdir(parents=True, exist_ok=True)
    return out, created


def _has_rtstruct(spec: DatasetSpec, patient: PatientLatents) -> bool:
    return spec.rtstruct_every > 0 and patient.index % spec.rtstruct_every == 0


def generate_cohort(
    out_dir: str | os.PathLike[str],
    *,
    seed: int = 0,
    n_patients: int | None = None,
    dataset: DatasetSpec | None = None,
) -> CohortInfo:
    """Write one demo dataset into ``out_dir`` (created; must be empty) and describe what was written.

    ``dataset`` defaults to the first of :data:`DEMO_DATASETS` (``demo-lung-ct``); ``n_patients`` overrides the
    spec's number of patients. The same seed gives byte-identical files.
    """
    spec = DEMO_DATASETS[0] if dataset is None else dataset
    if not isinstance(spec, DatasetSpec):
        raise InvalidInputError(f"dataset must be a DatasetSpec or None. Got {type(spec).__name__}.")
    if n_patients is not None:
        if isinstance(n_patients, bool) or not isinstance(n_patients, int) or n_patients < 1:
            raise InvalidInputError(f"n_patients must be an integer >= 1. Got {n_patients!r}.")
        spec = spec.with_patients(n_patients)
    patients = draw_patients(spec, seed)  # validates the seed before anything is written
    out, created = _prepare(out_dir)
    try:
        return _write(out, spec, patients, seed)
    except BaseException:
        if created:
            shutil.rmtree(out, ignore_errors=True)
        else:
            for child in out.iterdir():
                shutil.rmtree(child) if child.is_dir() else child.unlink()
        raise


def _write(out: Path, spec: DatasetSpec, patients: Sequence[PatientLatents], seed: int) -> CohortInfo:
    rows: list[dict[str, Any]] = []
    truth_patients: list[dict[str, Any]] = []
    files = 0
    for patient in patients:
        site = spec.site(patient.site_id)
        phantom = make_phantom(spec, patient, seed)
        uids = UidFactory(seed, spec.dataset_id, patient.patient_id)
        folder = out / "dicom" / patient.patient_id
        ct = write_ct_series(folder / "CT", spec, patient, site, phantom.hu, uids)
        write_seg(folder / "SEG" / "SEG.dcm", spec, patient, site, ct, phantom.tumour, uids)
        files += len(ct) + 1
        rtstruct = _has_rtstruct(spec, patient)
        if rtstruct:
            write_rtstruct(
                folder / "RTSTRUCT" / "RTSTRUCT.dcm", spec, patient, site, ct, phantom.tumour, uids
            )
            files += 1
        volume = round(phantom.tumour_volume_ml, 3)
        rows.append(
            {
                "patient_id": patient.patient_id,
                "site": site.site_id,
                "manufacturer": site.manufacturer,
                "sex": patient.sex,
                "age": patient.age,
                "study_date": patient.study_date.isoformat(),
                "stage": patient.stage,
                "tumour_volume_ml": f"{volume:.3f}",
                "followup_months": f"{patient.followup_months:.1f}",
                "outcome": patient.outcome,
            }
        )
        latent = _rounded(asdict(patient))
        latent["study_date"] = patient.study_date.isoformat()
        latent.update(
            tumour_volume_ml=volume,
            tumour_voxels=int(phantom.tumour.sum()),
            ct_series_uid=str(ct[0].SeriesInstanceUID),
            has_rtstruct=rtstruct,
        )
        truth_patients.append(latent)
    clinical = out / "clinical.csv"
    clinical.write_text(_csv(rows), encoding="utf-8")
    truth = out / "truth.json"
    truth.write_text(
        json.dumps(_truth(spec, seed, truth_patients), indent=2, sort_keys=True) + "\n", encoding="utf-8"
    )
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    return CohortInfo(
        path=out,
        spec=spec,
        dicom_dir=out / "dicom",
        clinical_csv=clinical,
        truth_json=truth,
        n_patients=len(patients),
        files_count=files,
        size_bytes=size,
    )


def _csv(rows: Sequence[dict[str, Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(CLINICAL_COLUMNS), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def _rounded(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 6)
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_rounded(v) for v in value]
    return value


def _truth(spec: DatasetSpec, seed: int, patients: list[dict[str, Any]]) -> dict[str, Any]:
    model = OUTCOME_MODEL
    return {
        "dataset_id": spec.dataset_id,
        "seed": seed,
        "seed_offset": spec.seed_offset,
        "grid": {"shape_zyx": list(GRID_SHAPE), "spacing_mm_zyx": list(SPACING_MM)},
        "outcome_model": {
            "link": "logit",
            "formula": "logit P(outcome=1) = intercept + heterogeneity*z_heterogeneity + "
            "irregularity*z_irregularity + size*z_size",
            "intercept": model.intercept,
            "coefficients": {
                "heterogeneity": model.heterogeneity,
                "irregularity": model.irregularity,
                "size": model.size,
            },
            "latents": {
                "z_heterogeneity": "standard normal; tumour texture SD = 22 HU * exp(0.4 z)",
                "z_irregularity": "standard normal; surface perturbation = clip(0.16 * exp(0.45 z), 0.03, 0.4)",
                "z_size": "standard normal; equivalent radius = clip(8.5 mm * exp(0.2 z), 5, 13)",
            },
        },
        "sites": [_rounded(asdict(site)) for site in spec.sites],
        "patients": patients,
    }


def load_truth(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a dataset's ``truth.json`` (give the file or its dataset folder)."""
    p = Path(path)
    if p.is_dir():
        p = p / "truth.json"
    if not p.is_file():
        raise InvalidInputError(
            f"Expected a demo dataset's truth.json. Got {str(p)!r}, which does not exist."
        )
    data: dict[str, Any] = json.loads(p.read_text(encoding="utf-8"))
    return data


def generate_all(
    out_root: str | os.PathLike[str],
    *,
    seed: int = 0,
    scale: float = 1.0,
    datasets: Sequence[DatasetSpec] = DEMO_DATASETS,
) -> list[CohortInfo]:
    """Write every spec of ``datasets`` to ``out_root/<dataset_id>``; ``scale`` multiplies the patient counts."""
    if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not 0 < scale <= 100:
        raise InvalidInputError(f"scale must be a number in (0, 100]. Got {scale!r}.")
    ids = [spec.dataset_id for spec in datasets]
    if len(set(ids)) != len(ids):
        raise InvalidInputError(f"Dataset ids must be unique. Got {ids}.")
    root = Path(out_root)
    return [
        generate_cohort(
            root / spec.dataset_id,
            seed=seed,
            n_patients=max(len(spec.sites), round(spec.n_patients * scale)),
            dataset=spec,
        )
        for spec in datasets
    ]
