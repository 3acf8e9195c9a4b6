"""Quality checks of a loaded image and mask: what is wrong (error) or doubtful (warning), never a silent pass."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    import SimpleITK as sitk

__all__ = ["QCFlag", "geometry_differences", "quality_checks"]

#: metadata keys the DICOM series reader puts on the images it builds (SimpleITK image metadata)
META_MISSING_SLICES = "eucaim_lab.missing_slices"
META_UNEVEN_SLICES = "eucaim_lab.uneven_slices"
META_SOP_UIDS = "eucaim_lab.sop_instance_uids"
META_FRAME_OF_REFERENCE = "eucaim_lab.frame_of_reference_uid"

TINY_MASK_VOXELS = 10
MAX_ANISOTROPY = 5.0


@dataclass(frozen=True)
class QCFlag:
    """One finding of :func:`quality_checks`; ``code`` is stable (for filtering), ``message`` is for people."""

    code: str
    severity: Literal["warning", "error"]
    message: str


def geometry_differences(image: sitk.Image, mask: sitk.Image, rtol: float = 1e-4) -> list[str]:
    """Human-readable differences between the grids of two images (empty when they share one grid).

    Spacing and origin are compared with a tolerance relative to the voxel size, direction with an absolute one.
    """
    import numpy as np

    diffs: list[str] = []
    if image.GetDimension() != mask.GetDimension():
        return [f"dimension {image.GetDimension()} vs {mask.GetDimension()}"]
    if image.GetSize() != mask.GetSize():
        diffs.append(f"size {image.GetSize()} vs {mask.GetSize()}")
    sp_i, sp_m = np.array(image.GetSpacing()), np.array(mask.GetSpacing())
    if not np.allclose(sp_i, sp_m, rtol=rtol, atol=1e-6):
        diffs.append(f"spacing {tuple(sp_i.round(6))} vs {tuple(sp_m.round(6))}")
    tol = max(float(sp_i.min()), 1e-6) * 1e-3 + 1e-4
    or_i, or_m = np.array(image.GetOrigin()), np.array(mask.GetOrigin())
    if not np.allclose(or_i, or_m, rtol=0, atol=tol):
        diffs.append(f"origin {tuple(or_i.round(4))} vs {tuple(or_m.round(4))}")
    if not np.allclose(image.GetDirection(), mask.GetDirection(), rtol=0, atol=1e-4):
        diffs.append(
            f"direction {tuple(round(v, 4) for v in image.GetDirection())} vs "
            f"{tuple(round(v, 4) for v in mask.GetDirection())}"
        )
    return diffs


def quality_checks(image: sitk.Image, mask: sitk.Image, label: int = 1) -> list[QCFlag]:
    """Check an image and the mask of one region (value ``label``) before feature extraction.

    Errors: ``geometry_mismatch`` (mask not on the image grid), ``empty_mask``, ``label_absent``, ``uneven_slices``
    (a DICOM series whose slice positions could not be put on a regular grid).
    Warnings: ``tiny_mask`` (< 10 voxels), ``mask_touches_border``, ``missing_slices`` (a few slices missing from a
    DICOM series, filled by interpolation), ``anisotropic_spacing`` (largest/smallest spacing > 5).
    The slice findings come from metadata that the DICOM series reader puts on the images it returns.
    """
    import numpy as np
    import SimpleITK as sitk

    flags: list[QCFlag] = []
    size = image.GetSize()
    spacing = [s for s, n in zip(image.GetSpacing(), size, strict=True) if n > 1]
    if spacing and max(spacing) / min(spacing) > MAX_ANISOTROPY:
        flags.append(
            QCFlag(
                "anisotropic_spacing",
                "warning",
                f"Voxel spacing {tuple(round(s, 4) for s in image.GetSpacing())} has a ratio "
                f"{max(spacing) / min(spacing):.1f}:1, above {MAX_ANISOTROPY:g}:1.",
            )
        )
    if image.HasMetaDataKey(META_MISSING_SLICES):
        flags.append(QCFlag("missing_slices", "warning", image.GetMetaData(META_MISSING_SLICES)))
    if image.HasMetaDataKey(META_UNEVEN_SLICES):
        flags.append(QCFlag("uneven_slices", "error", image.GetMetaData(META_UNEVEN_SLICES)))

    diffs = geometry_differences(image, mask)
    if diffs:
        flags.append(
            QCFlag(
                "geometry_mismatch", "error", "The mask is not on the image grid: " + "; ".join(diffs) + "."
            )
        )
        return flags

    arr = sitk.GetArrayViewFromImage(mask)
    region = arr == label
    count = int(region.sum())
    if count == 0:
        present = np.unique(arr)
        present = present[present != 0]
        if present.size == 0:
            flags.append(QCFlag("empty_mask", "error", "The mask contains no voxel of any label (all zero)."))
        else:
            flags.append(
                QCFlag(
                    "label_absent",
                    "error",
                    f"Label {label} does not occur in the mask; labels present: "
                    f"{', '.join(str(int(v)) for v in present[:20])}.",
                )
            )
        return flags
    if count < TINY_MASK_VOXELS:
        flags.append(
            QCFlag("tiny_mask", "warning", f"The region has {count} voxels, fewer than {TINY_MASK_VOXELS}.")
        )
    touching = []
    # numpy axes are (z, y, x) for SimpleITK's (x, y, z)
    for axis in range(region.ndim):
        if region.shape[axis] <= 1:
            continue
        first = np.take(region, 0, axis=axis).any()
        last = np.take(region, region.shape[axis] - 1, axis=axis).any()
        if first or last:
            touching.append("xyz"[region.ndim - 1 - axis] if region.ndim == 3 else str(axis))
    if touching:
        flags.append(
            QCFlag(
                "mask_touches_border",
                "warning",
                f"The region touches the image border along {', '.join(sorted(touching))}: it may be cut off.",
            )
        )
    return flags
