"""What runs inside a Dask worker: read each image once, check and extract every ROI on it, return records.

Kept apart from the client-side orchestration so that workers import only what they need. Every function here
is pure with respect to its inputs (cases and settings): the same inputs give the same record, apart from
``duration_s``.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import traceback
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from eucaim_lab.imaging import Case
    from eucaim_lab.radiomics._profiles import Settings

__all__ = ["engine_versions", "extract_group", "pin_threads"]

logger = logging.getLogger(__name__)

#: environment variables that keep numeric libraries to one thread per worker process
THREAD_ENV = {
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "ITK_GLOBAL_DEFAULT_NUMBER_OF_THREADS": "1",
}

_EXTRACTORS: dict[str, Any] = {}
_EXECUTE_LOCK = threading.Lock()


def engine_versions() -> str:
    """``pyradiomics=…;SimpleITK=…;numpy=…`` from the installed distributions (no heavy import)."""
    from importlib.metadata import PackageNotFoundError, version

    parts = []
    for dist in ("pyradiomics", "SimpleITK", "numpy"):
        try:
            parts.append(f"{dist}={version(dist)}")
        except PackageNotFoundError:
            parts.append(f"{dist}=absent")
    return ";".join(parts)


def pin_threads() -> None:
    """One thread for SimpleITK/ITK in this process (env vars cover OpenMP and BLAS for new processes)."""
    import SimpleITK as sitk

    for key, value in THREAD_ENV.items():
        os.environ.setdefault(key, value)
    if sitk.ProcessObject.GetGlobalDefaultNumberOfThreads() != 1:
        sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(1)


def _extractor(settings: Settings) -> Any:
    ext = _EXTRACTORS.get(settings.digest)
    if ext is None:
        from radiomics.featureextractor import RadiomicsFeatureExtractor

        logging.getLogger("radiomics").setLevel(logging.ERROR)
        ext = RadiomicsFeatureExtractor(
            {k: v for k, v in settings.params.items() if k in ("imageType", "featureClass", "setting")}
        )
        _EXTRACTORS[settings.digest] = ext
    return ext


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    if not hasattr(exc, "kind"):  # not one of ours: name the exception type too
        text = f"{type(exc).__name__}: {text}"
    return text[:500]


def _scalar(value: Any) -> float | int | str:
    import numpy as np

    if isinstance(value, np.ndarray) and value.size == 1:
        value = value.reshape(()).item()
    elif isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bool | int | float | str):
        return value
    return str(value)


def compute_features(image: Any, mask: Any, label: int, settings: Settings) -> tuple[dict[str, Any], dict[str, str]]:
    """pyradiomics features (and its diagnostics, as strings) of one image/mask/label under ``settings``."""
    from eucaim_lab.radiomics._ibsi import bin_edges_from, ibsi_preprocess

    if settings.ibsi is not None:
        image, mask, label = ibsi_preprocess(image, mask, label, settings.ibsi)
    # the IBSI bin edges swap a pyradiomics module function: one extraction at a time per process, so that a
    # worker with several threads never mixes profiles (our own clusters run one thread per worker anyway)
    with _EXECUTE_LOCK, bin_edges_from(settings.ibsi.bin_lower_bound if settings.ibsi else None):
        try:
            result = _extractor(settings).execute(image, mask, label=label)
        except ValueError as exc:
            # pyradiomics 3.0.1 finds "no labels" in a region that fills the whole image: one voxel of background
            # around image and mask changes no feature (every neighbourhood stops at the region's edge)
            if "No labels found" not in str(exc):
                raise
            image, mask = pad_one_voxel(image, mask)
            result = _extractor(settings).execute(image, mask, label=label)
    features: dict[str, Any] = {}
    diagnostics: dict[str, str] = {}
    for key, value in result.items():
        if key.startswith("diagnostics_"):
            diagnostics[key] = str(_scalar(value))
        else:
            features[key] = _scalar(value)
    return features, diagnostics


def pad_one_voxel(image: Any, mask: Any) -> tuple[Any, Any]:
    """Image and mask with one voxel of padding on every side (image: its minimum, mask: 0)."""
    import SimpleITK as sitk

    pad = [1] * image.GetDimension()
    low = float(sitk.GetArrayViewFromImage(image).min())
    return sitk.ConstantPad(image, pad, pad, low), sitk.ConstantPad(mask, pad, pad, 0)


def _record(case: Case, settings_digest: str, versions: str) -> dict[str, Any]:
    return {
        "case_id": case.case_id, "patient_id": case.patient_id, "modality": case.modality, "roi": case.roi,
        "label": case.label, "status": "ok", "error": None, "qc_flags": [], "duration_s": 0.0,
        "engine_versions": versions, "settings_digest": settings_digest, "features": {}, "diagnostics": {},
        "cacheable": True,
    }


def extract_group(cases: Sequence[Case], settings: Settings) -> list[dict[str, Any]]:
    """Records for ``cases`` that share one image: the image is read once, each mask checked then extracted.

    Errors of one case (unreadable mask, failed QC, pyradiomics error) go into that case's record; an image that
    cannot be read fails every case of the group. Nothing here raises for bad input.
    """
    pin_threads()
    from eucaim_lab.imaging import quality_checks

    versions = engine_versions()
    records = []
    start = time.perf_counter()
    image = None
    image_error: str | None = None
    try:
        image = cases[0].load_image()
    except Exception as exc:  # noqa: BLE001 - any failure to read is this group's error, never the batch's
        image_error = "Cannot read the image: " + _one_line(exc)
    load_time = time.perf_counter() - start
    for case in cases:
        t0 = time.perf_counter()
        rec = _record(case, settings.digest, versions)
        try:
            if image is None:
                raise _CaseFailure(image_error or "Cannot read the image.")
            mask = case.load_mask(image)
            flags = quality_checks(image, mask, case.label)
            rec["qc_flags"] = [f"{f.severity}:{f.code}: {f.message}" for f in flags]
            errors = [f for f in flags if f.severity == "error"]
            if errors:
                raise _CaseFailure("; ".join(f"{f.code}: {f.message}" for f in errors))
            rec["features"], rec["diagnostics"] = compute_features(image, mask, case.label, settings)
        except MemoryError as exc:  # may not happen again with more memory: report, do not cache
            rec.update(status="error", error=_one_line(exc), cacheable=False)
        except Exception as exc:  # noqa: BLE001 - a bad case is recorded, the batch goes on
            rec.update(status="error", error=_one_line(exc))
            if not isinstance(exc, _CaseFailure) and not hasattr(exc, "kind"):
                logger.debug("case %s failed:\n%s", case.case_id, traceback.format_exc())
        # the shared image read is charged to the group's cases in equal parts
        rec["duration_s"] = time.perf_counter() - t0 + load_time / len(cases)
        records.append(rec)
    return records


class _CaseFailure(Exception):
    """A case-level failure whose message is already meant for people (QC error, unreadable image)."""

    kind = "case_error"
