"""NIfTI / NRRD / MetaImage files: images and label masks, read with SimpleITK."""

from __future__ import annotations

from typing import TYPE_CHECKING

from eucaim_lab.imaging._case import CaseError
from eucaim_lab.imaging._qc import geometry_differences

if TYPE_CHECKING:
    import SimpleITK as sitk

__all__ = ["IMAGE_SUFFIXES", "image_suffix", "read_image_file", "read_mask_file"]

IMAGE_SUFFIXES = (".nii.gz", ".nii", ".nrrd", ".nhdr", ".mha", ".mhd")


def image_suffix(name: str) -> str | None:
    """The image-file suffix of a file name (``.nii.gz``, ``.nrrd``, ...), or None if it is not an image file."""
    lower = name.lower()
    for suffix in IMAGE_SUFFIXES:
        if lower.endswith(suffix):
            return suffix
    return None


def _read(path: str, what: str) -> sitk.Image:
    import SimpleITK as sitk

    try:
        return sitk.ReadImage(path)
    except RuntimeError as exc:
        reason = str(exc).strip().splitlines()
        raise CaseError(f"Cannot read {what} file {path}: {reason[-1] if reason else 'unreadable'}") from exc


def read_image_file(path: str) -> sitk.Image:
    """A scalar image file as SimpleITK image. Raises CaseError when unreadable or not scalar."""
    image = _read(path, "image")
    if image.GetNumberOfComponentsPerPixel() != 1:
        raise CaseError(
            f"Image file {path} has {image.GetNumberOfComponentsPerPixel()} components per voxel; expected 1."
        )
    return image


def read_mask_file(path: str, image: sitk.Image) -> sitk.Image:
    """A label image file as uint8 on ``image``'s grid, values as stored (not binarised).

    A mask on the same grid up to round-off gets the image's geometry; a mask whose voxels coincide with image voxels
    (same spacing and direction, origin shifted by whole voxels, e.g. a cropped mask) is pasted into the image grid;
    any other grid raises CaseError.
    """
    import numpy as np
    import SimpleITK as sitk

    mask = _read(path, "mask")
    if mask.GetNumberOfComponentsPerPixel() != 1:
        raise CaseError(f"Mask file {path} has {mask.GetNumberOfComponentsPerPixel()} components per voxel.")
    values = sitk.GetArrayFromImage(mask)
    if values.size and (values.min() < 0 or values.max() > 255 or np.any(values != np.round(values))):
        raise CaseError(
            f"Mask file {path} holds values outside the integer labels 0..255 "
            f"(min {values.min()}, max {values.max()})."
        )
    mask = sitk.Cast(mask, sitk.sitkUInt8)
    diffs = geometry_differences(image, mask)
    if not diffs:
        mask.CopyInformation(image)
        return mask
    if mask.GetDimension() == image.GetDimension() and not any(
        d.startswith(("spacing", "direction", "dimension")) for d in diffs
    ):
        index = np.asarray(image.TransformPhysicalPointToContinuousIndex(mask.GetOrigin()))
        if np.allclose(index, np.round(index), atol=1e-3):
            pasted: sitk.Image = sitk.Resample(
                mask, image, sitk.Transform(), sitk.sitkNearestNeighbor, 0, sitk.sitkUInt8
            )
            if int(sitk.GetArrayViewFromImage(pasted).astype(bool).sum()) == int(values.astype(bool).sum()):
                return pasted
    raise CaseError(f"Mask file {path} is on another grid than the image: {'; '.join(diffs)}.")
