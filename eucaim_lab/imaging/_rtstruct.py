"""RTSTRUCT ROI -> binary mask on an image grid, by our own polygon filling.

Each CLOSED_PLANAR contour is mapped from patient coordinates to continuous voxel indices of the image (inverse of
origin, direction and spacing), assigned to the nearest slice, and filled in that slice by a point-in-polygon test at
the voxel centres. Contours of one ROI within one slice are combined by XOR, so a contour inside another makes a hole
(and a contour inside that hole an island again).
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

from eucaim_lab.imaging._case import CaseError
from eucaim_lab.imaging._qc import META_FRAME_OF_REFERENCE

if TYPE_CHECKING:
    import numpy as np
    import SimpleITK as sitk

__all__ = ["rasterise_contours", "read_rtstruct_mask", "roi_contours"]

#: contours further than this (in slices) from the nearest slice centre are reported as off-plane
OFF_PLANE_TOLERANCE = 0.5


def _contour_points(contour: Any) -> np.ndarray:
    """ContourData as an (n, 3) float array, parsed from the raw bytes where possible (pydicom's DS objects are slow)."""
    import numpy as np

    raw = contour.get_item(0x30060050)  # ContourData
    if raw is None:
        raise ValueError("no ContourData")
    value = raw.value
    if isinstance(value, bytes):
        text = value.decode("ascii").strip(" \x00")
        numbers = np.array([float(v) for v in text.split("\\")], dtype=np.float64) if text else np.zeros(0)
    else:
        numbers = np.asarray([float(v) for v in value], dtype=np.float64)
    if numbers.size % 3:
        raise ValueError(f"{numbers.size} values, not a multiple of 3")
    return numbers.reshape(-1, 3)


def roi_contours(ds: Any, roi_number: int, path: str) -> list[np.ndarray]:
    """The CLOSED_PLANAR contours of one ROI as (n, 3) arrays of patient coordinates (mm)."""

    for item in ds.get("ROIContourSequence", []):
        if int(item.get("ReferencedROINumber", -1)) != roi_number:
            continue
        contours = []
        skipped = set()
        for contour in item.get("ContourSequence", []):
            kind = str(contour.get("ContourGeometricType", "CLOSED_PLANAR")).upper()
            if kind != "CLOSED_PLANAR":
                skipped.add(kind)
                continue
            try:
                points = _contour_points(contour)
            except (AttributeError, ValueError, UnicodeDecodeError) as exc:
                raise CaseError(f"Malformed ContourData for ROI {roi_number} in {path}: {exc}.") from exc
            if len(points) >= 3:
                contours.append(points)
        if skipped:
            warnings.warn(
                f"RTSTRUCT {path}, ROI {roi_number}: ignored contours of type {', '.join(sorted(skipped))}.",
                stacklevel=3,
            )
        return contours
    raise CaseError(f"RTSTRUCT {path} has no contours for ROI number {roi_number}.")


def rasterise_contours(contours: list[np.ndarray], image: sitk.Image, where: str = "") -> np.ndarray:
    """Fill closed planar contours (patient coordinates) on the grid of ``image``; returns a (z, y, x) uint8 array."""
    import numpy as np
    from matplotlib.path import Path as MplPath

    size = image.GetSize()
    if len(size) != 3:
        raise CaseError(f"RTSTRUCT contours need a 3-D image; got a {len(size)}-D one{where}.")
    nx, ny, nz = size
    direction = np.asarray(image.GetDirection(), dtype=np.float64).reshape(3, 3)
    spacing = np.asarray(image.GetSpacing(), dtype=np.float64)
    origin = np.asarray(image.GetOrigin(), dtype=np.float64)
    # physical = origin + direction @ (spacing * index)  =>  index = (direction @ diag(spacing))^-1 (physical - origin)
    to_index = np.linalg.inv(direction @ np.diag(spacing))

    out = np.zeros((nz, ny, nx), dtype=np.uint8)
    off_plane = 0
    outside = 0
    for points in contours:
        idx = (points - origin) @ to_index.T
        k_float = float(idx[:, 2].mean())
        k = int(np.floor(k_float + 0.5))
        if np.abs(idx[:, 2] - k).max() > OFF_PLANE_TOLERANCE:
            off_plane += 1
        if k < 0 or k >= nz:
            outside += 1
            continue
        xy = idx[:, :2]
        x0 = max(int(np.ceil(xy[:, 0].min())), 0)
        x1 = min(int(np.floor(xy[:, 0].max())), nx - 1)
        y0 = max(int(np.ceil(xy[:, 1].min())), 0)
        y1 = min(int(np.floor(xy[:, 1].max())), ny - 1)
        if x1 < x0 or y1 < y0:
            continue
        gx, gy = np.meshgrid(np.arange(x0, x1 + 1), np.arange(y0, y1 + 1))
        centres = np.column_stack([gx.ravel(), gy.ravel()]).astype(float)
        inside = MplPath(xy, closed=False).contains_points(centres).reshape(gx.shape)
        out[k, y0 : y1 + 1, x0 : x1 + 1] ^= inside.astype(np.uint8)
    if off_plane:
        warnings.warn(
            f"{off_plane} contour(s) lie more than half a slice away from the image slices{where}.",
            stacklevel=2,
        )
    if outside:
        warnings.warn(f"{outside} contour(s) lie outside the image{where}; they are left out.", stacklevel=2)
    return out


def read_rtstruct_mask(path: str, roi_number: int, image: sitk.Image) -> sitk.Image:
    """Rasterise ROI ``roi_number`` of the RTSTRUCT at ``path`` on ``image``'s grid: uint8, values 0 and 1."""
    import pydicom
    import SimpleITK as sitk

    try:
        ds = pydicom.dcmread(path)
    except Exception as exc:  # pydicom raises many kinds on corrupt files
        raise CaseError(f"Cannot read RTSTRUCT {path}: {exc}".splitlines()[0]) from exc
    if str(ds.get("Modality", "")) != "RTSTRUCT":
        raise CaseError(f"{path} is not an RTSTRUCT (Modality {ds.get('Modality')!r}).")
    frame_uid = None
    for roi in ds.get("StructureSetROISequence", []):
        if int(roi.get("ROINumber", -1)) == roi_number:
            frame_uid = roi.get("ReferencedFrameOfReferenceUID")
    image_frame = (
        image.GetMetaData(META_FRAME_OF_REFERENCE) if image.HasMetaDataKey(META_FRAME_OF_REFERENCE) else None
    )
    if frame_uid and image_frame and str(frame_uid) != image_frame:
        raise CaseError(
            f"RTSTRUCT {path} ROI {roi_number} is in frame of reference {frame_uid}, the image in {image_frame}."
        )
    contours = roi_contours(ds, roi_number, path)
    array = rasterise_contours(contours, image, where=f" (RTSTRUCT {path}, ROI {roi_number})")
    mask = sitk.GetImageFromArray(array)
    mask.CopyInformation(image)
    return mask
