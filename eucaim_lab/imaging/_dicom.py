"""DICOM image series -> one SimpleITK image, with the geometry checked.

Single-frame series are stacked by our own code: slices sorted by ImagePositionPatient projected on the slice normal,
orientation and in-plane geometry checked to agree, RescaleSlope/Intercept applied per slice. A few missing slices
(gaps that are whole multiples of the slice spacing) are filled by linear interpolation so that the grid stays true
to the patient coordinates; other uneven spacing is stacked as is. Both are noted in the image's metadata for
:func:`quality_checks` (``missing_slices`` warning, ``uneven_slices`` error). A multi-frame image (enhanced / legacy
converted) is read with highdicom's volume API.
"""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from eucaim_lab.imaging._case import CaseError
from eucaim_lab.imaging._qc import (
    META_FRAME_OF_REFERENCE,
    META_MISSING_SLICES,
    META_SOP_UIDS,
    META_UNEVEN_SLICES,
)

if TYPE_CHECKING:
    import numpy as np
    import SimpleITK as sitk

__all__ = ["read_series", "slice_geometry"]

#: relative deviation of a slice gap from the typical gap above which slices count as uneven
SPACING_RTOL = 0.1
ORIENTATION_ATOL = 1e-3
#: missing slices are filled by interpolation when there are at most this many, or this fraction of the series
MAX_FILLED_SLICES = 2
MAX_FILLED_FRACTION = 0.1


def _read(path: str, stop_before_pixels: bool = False) -> Any:
    import pydicom

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = pydicom.dcmread(path, stop_before_pixels=stop_before_pixels)
    except Exception as exc:  # pydicom raises many kinds on corrupt files
        raise CaseError(
            f"Cannot read DICOM file {path}: {type(exc).__name__}: {exc}".splitlines()[0]
        ) from exc
    if "SOPClassUID" not in ds:
        raise CaseError(f"DICOM file {path} has no SOPClassUID: truncated or not a DICOM object.")
    return ds


def slice_geometry(ds: Any, path: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, tuple[float, float]]:
    """(row direction, column direction, position, (row spacing, column spacing)) of a single-frame image."""
    import numpy as np

    try:
        iop = np.asarray([float(v) for v in ds.ImageOrientationPatient], dtype=float)
        ipp = np.asarray([float(v) for v in ds.ImagePositionPatient], dtype=float)
        ps = [float(v) for v in ds.PixelSpacing]
    except (AttributeError, TypeError, ValueError) as exc:
        raise CaseError(
            f"DICOM image {path} lacks a valid ImageOrientationPatient, ImagePositionPatient or PixelSpacing."
        ) from exc
    if iop.size != 6 or ipp.size != 3 or len(ps) != 2:
        raise CaseError(
            f"DICOM image {path} has malformed geometry attributes (orientation, position, spacing)."
        )
    return iop[:3], iop[3:], ipp, (ps[0], ps[1])


def read_series(paths: Sequence[str]) -> sitk.Image:
    """Read one DICOM image series (its files) as a SimpleITK image. Raises CaseError on broken input."""
    if len(paths) == 1:
        ds = _read(paths[0], stop_before_pixels=True)
        if int(ds.get("NumberOfFrames", 1) or 1) > 1:
            return _read_multiframe(paths[0])
    return _read_stack(paths)


def _read_multiframe(path: str) -> sitk.Image:
    import highdicom as hd
    import numpy as np

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            img = hd.imread(path)
            vol = img.get_volume()
    except Exception as exc:  # highdicom raises ValueError/RuntimeError/... for unsupported geometry
        raise CaseError(
            f"Cannot read multi-frame DICOM image {path} as a volume: {exc}".splitlines()[0]
        ) from exc
    arr = np.asarray(vol.array)
    if arr.ndim != 3:
        raise CaseError(
            f"Multi-frame DICOM image {path} has channels (shape {arr.shape}); only grey images load."
        )
    return _volume_to_sitk(arr, np.asarray(vol.affine, dtype=float), img, path)


def _volume_to_sitk(arr: np.ndarray, affine: np.ndarray, ds: Any, path: str) -> sitk.Image:
    """Array indexed (slice, row, column) with an affine from (slice, row, column) to patient coordinates."""
    import numpy as np
    import SimpleITK as sitk

    cols = affine[:3, :3]
    spacing = np.linalg.norm(cols, axis=0)
    unit = cols / spacing
    col_dir, row_dir, slice_dir = unit[:, 2], unit[:, 1], unit[:, 0]
    origin = affine[:3, 3].copy()
    if np.dot(np.cross(col_dir, row_dir), slice_dir) < 0 and arr.shape[0] > 1:
        origin = origin + cols[:, 0] * (arr.shape[0] - 1)
        slice_dir = -slice_dir
        arr = arr[::-1]
    if arr.dtype.kind == "f" and np.all(np.isfinite(arr)) and np.all(arr == np.round(arr)):
        arr = arr.astype(np.int16 if arr.min() >= -32768 and arr.max() <= 32767 else np.int32)
    elif arr.dtype.kind == "f" or arr.dtype.itemsize > 4:
        arr = arr.astype(np.float32)
    image = sitk.GetImageFromArray(np.ascontiguousarray(arr))
    image.SetSpacing((float(spacing[2]), float(spacing[1]), float(spacing[0])))
    image.SetOrigin(tuple(float(v) for v in origin))
    image.SetDirection(tuple(float(v) for v in np.column_stack([col_dir, row_dir, slice_dir]).ravel()))
    if "FrameOfReferenceUID" in ds:
        image.SetMetaData(META_FRAME_OF_REFERENCE, str(ds.FrameOfReferenceUID))
    return image


def _read_stack(paths: Sequence[str]) -> sitk.Image:
    import numpy as np
    import SimpleITK as sitk

    slices = []
    for path in paths:
        ds = _read(path)
        if int(ds.get("NumberOfFrames", 1) or 1) > 1:
            raise CaseError(f"DICOM file {path} is multi-frame inside a series of {len(paths)} files.")
        if int(ds.get("SamplesPerPixel", 1)) != 1:
            raise CaseError(
                f"DICOM image {path} has {ds.SamplesPerPixel} samples per pixel; only grey images load."
            )
        row, col, pos, spacing = slice_geometry(ds, path)
        slices.append((ds, path, row, col, pos, spacing))

    ds0, path0, row0, col0, _, sp0 = slices[0]
    for ds, path, row, col, _, sp in slices[1:]:
        if not (
            np.allclose(row, row0, atol=ORIENTATION_ATOL) and np.allclose(col, col0, atol=ORIENTATION_ATOL)
        ):
            raise CaseError(
                f"Inconsistent ImageOrientationPatient in the series: {path} differs from {path0}."
            )
        if (ds.Rows, ds.Columns) != (ds0.Rows, ds0.Columns) or not np.allclose(sp, sp0, rtol=1e-4):
            raise CaseError(
                f"Inconsistent image size or pixel spacing in the series: {path} differs from {path0}."
            )
    normal = np.cross(row0, col0)
    norm = np.linalg.norm(normal)
    if norm < 0.5:
        raise CaseError(
            f"ImageOrientationPatient of {path0} is degenerate (row and column directions parallel)."
        )
    normal = normal / norm
    slices.sort(key=lambda s: float(np.dot(s[4], normal)))
    heights = np.array([float(np.dot(s[4], normal)) for s in slices])
    steps = np.diff(heights)
    if steps.size and steps.min() < 1e-3 * max(float(np.median(steps)), 1e-6):
        i = int(np.argmin(steps))
        raise CaseError(
            f"Two slices share one position in the series: {slices[i][1]} and {slices[i + 1][1]}."
        )

    metadata: dict[str, str] = {}
    # grid slot of every stacked slice; slots left empty are missing slices filled by interpolation
    slots = list(range(len(slices)))
    if steps.size:
        spacing_z = float(np.median(steps))
        ratio = steps / spacing_z
        whole = np.round(ratio)
        missing = int((whole - 1).sum())
        if np.all(np.abs(ratio - 1) <= SPACING_RTOL):
            pass
        elif (
            np.all(np.abs(ratio - whole) <= SPACING_RTOL)
            and whole.min() >= 1
            and missing <= max(MAX_FILLED_SLICES, int(MAX_FILLED_FRACTION * len(slices)))
        ):
            slots = [0, *np.cumsum(whole).astype(int).tolist()]
            where = [f"after {slices[i][1]}" for i in np.nonzero(whole > 1)[0][:3]]
            metadata[META_MISSING_SLICES] = (
                f"{missing} slice(s) missing from the series (gap of {steps.max():.4g} mm against "
                f"{spacing_z:.4g} mm) {'; '.join(where)}: filled by linear interpolation between neighbours."
            )
        else:
            metadata[META_UNEVEN_SLICES] = (
                f"Slice spacing is uneven ({steps.min():.4g} to {steps.max():.4g} mm, median {spacing_z:.4g} mm): "
                f"the image is stacked with {spacing_z:.4g} mm, so positions along the slice normal are wrong."
            )
        offsets = [s[4] - slices[0][4] for s in slices]
        shear = max(float(np.linalg.norm(o - np.dot(o, normal) * normal)) for o in offsets)
        if shear > 0.1 * min(sp0):
            metadata[META_UNEVEN_SLICES] = (
                f"Slice positions drift {shear:.3g} mm within the slice plane (gantry tilt or mixed stacks): "
                "the image is stacked along the slice normal, so its geometry is approximate."
            )
    else:
        spacing_z = float(ds0.get("SpacingBetweenSlices", 0) or ds0.get("SliceThickness", 0) or 1.0)

    arrays = []
    integral = True
    for ds, path, *_ in slices:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                arr = ds.pixel_array
        except Exception as exc:  # decoders raise many kinds on corrupt pixel data
            raise CaseError(f"Cannot decode the pixel data of {path}: {exc}".splitlines()[0]) from exc
        if arr.shape != (ds0.Rows, ds0.Columns):
            raise CaseError(
                f"Pixel data of {path} has shape {arr.shape}, expected ({ds0.Rows}, {ds0.Columns})."
            )
        slope = float(ds.get("RescaleSlope", 1) or 1)
        intercept = float(ds.get("RescaleIntercept", 0) or 0)
        if slope != int(slope) or intercept != int(intercept):
            integral = False
        arrays.append(arr.astype(np.float64) * slope + intercept)
    volume = np.empty((slots[-1] + 1, *arrays[0].shape), dtype=np.float64)
    sop_uids = [""] * volume.shape[0]
    for slot, arr, (ds, *_) in zip(slots, arrays, slices, strict=True):
        volume[slot] = arr
        sop_uids[slot] = str(ds.SOPInstanceUID)
    for a, b in itertools.pairwise(slots):
        for slot in range(a + 1, b):
            t = (slot - a) / (b - a)
            volume[slot] = (1 - t) * volume[a] + t * volume[b]
    if integral and np.all(np.isfinite(volume)):
        volume = np.round(volume)
        lo, hi = volume.min(), volume.max()
        dtype = np.int16 if lo >= -32768 and hi <= 32767 else np.int32
        out_arr = volume.astype(dtype)
    else:
        out_arr = volume.astype(np.float32)
    image = sitk.GetImageFromArray(out_arr)
    image.SetSpacing((sp0[1], sp0[0], spacing_z))
    image.SetOrigin(tuple(float(v) for v in slices[0][4]))
    direction = np.column_stack([row0, col0, normal])
    image.SetDirection(tuple(float(v) for v in direction.ravel()))
    for key, value in metadata.items():
        image.SetMetaData(key, value)
    image.SetMetaData(META_SOP_UIDS, "\\".join(sop_uids))
    if "FrameOfReferenceUID" in ds0:
        image.SetMetaData(META_FRAME_OF_REFERENCE, str(ds0.FrameOfReferenceUID))
    return image
