"""IBSI image processing around pyradiomics, where pyradiomics alone deviates from the IBSI 1 reference manual.

- Resampling grid: IBSI aligns the centres of the original and the resampled grid and sizes the new grid as
  ``ceil(n * s_old / s_new)`` per axis; pyradiomics aligns the grid corner to the mask's bounding box. We resample
  here (SimpleITK) and call pyradiomics with resampling off.
- Intensities interpolated from CT are rounded to integers (IBSI), pyradiomics keeps them fractional.
- The mask is interpolated linearly as a fraction and kept where >= 0.5 (partial-volume threshold); pyradiomics
  uses nearest-neighbour on the label.
- Fixed bin size: IBSI bin edges start at the re-segmentation lower bound; pyradiomics starts them at the multiple of
  the bin width just below the ROI minimum. :func:`bin_edges_from` swaps pyradiomics' bin-edge function for the
  duration of one extraction in the worker (single-threaded), leaving fixed bin number untouched.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from eucaim_lab.radiomics._profiles import IbsiProcessing

if TYPE_CHECKING:
    import SimpleITK as sitk

__all__ = ["bin_edges_from", "ibsi_grid", "ibsi_preprocess"]


def ibsi_grid(
    image: sitk.Image, spacing: tuple[float | None, float | None, float | None]
) -> tuple[tuple[int, ...], tuple[float, ...], tuple[float, ...]]:
    """Size, spacing and origin of the IBSI resampling grid (centres aligned) for ``image`` at ``spacing``."""
    old_size, old_sp = image.GetSize(), image.GetSpacing()
    new_sp = tuple(o if s is None else float(s) for o, s in zip(old_sp, spacing, strict=True))
    new_size = tuple(
        n if s is None else max(1, math.ceil(n * o / ns - 1e-9))
        for n, o, s, ns in zip(old_size, old_sp, spacing, new_sp, strict=True)
    )
    # first new grid point, in continuous index units of the old grid, so that both grid centres coincide
    start = tuple(
        (n_o - 1) / 2.0 - (n_n - 1) / 2.0 * s_n / s_o
        for n_o, n_n, s_o, s_n in zip(old_size, new_size, old_sp, new_sp, strict=True)
    )
    origin = image.TransformContinuousIndexToPhysicalPoint(start)
    return new_size, new_sp, tuple(origin)


def _resample(image: sitk.Image, size: tuple[int, ...], spacing: tuple[float, ...], origin: tuple[float, ...],
              interpolator: int) -> sitk.Image:
    import SimpleITK as sitk

    return sitk.Resample(
        sitk.Cast(image, sitk.sitkFloat64), size, sitk.Transform(), interpolator, origin, spacing,
        image.GetDirection(), 0.0, sitk.sitkFloat64, True,  # nearest-neighbour extrapolation at the rim
    )


def ibsi_preprocess(image: sitk.Image, mask: sitk.Image, label: int,
                    cfg: IbsiProcessing) -> tuple[sitk.Image, sitk.Image, int]:
    """Apply the IBSI steps of ``cfg``; returns (image, binary uint8 mask, label 1 of the returned mask)."""
    import numpy as np
    import SimpleITK as sitk

    region = sitk.Cast(sitk.Equal(mask, label), sitk.sitkUInt8)
    if cfg.spacing is not None:
        size, spacing, origin = ibsi_grid(image, cfg.spacing)
        interp = sitk.sitkLinear if cfg.interpolator == "linear" else sitk.sitkBSpline
        resampled = _resample(image, size, spacing, origin, interp)
        fraction = _resample(region, size, spacing, origin, sitk.sitkLinear)
        arr = sitk.GetArrayFromImage(resampled)
        if cfg.round_intensities:
            arr = np.floor(arr + 0.5)  # round half up, as the manual does
        keep = sitk.GetArrayFromImage(fraction) >= cfg.mask_threshold - 1e-9
        new_image = sitk.GetImageFromArray(arr)
        new_image.CopyInformation(resampled)
        new_mask = sitk.GetImageFromArray(keep.astype(np.uint8))
        new_mask.CopyInformation(resampled)
        image, region = new_image, new_mask
    elif cfg.round_intensities:
        arr = np.floor(sitk.GetArrayFromImage(image).astype(np.float64) + 0.5)
        new_image = sitk.GetImageFromArray(arr)
        new_image.CopyInformation(image)
        image = new_image
    if cfg.pre_resegment_range is not None:
        lo, hi = cfg.pre_resegment_range
        arr = sitk.GetArrayViewFromImage(image)
        keep = sitk.GetArrayFromImage(region).astype(bool) & (arr >= lo) & (arr <= hi)
        new_mask = sitk.GetImageFromArray(keep.astype(np.uint8))
        new_mask.CopyInformation(region)
        region = new_mask
    return image, region, 1


@contextlib.contextmanager
def bin_edges_from(lower: float | None) -> Iterator[None]:
    """Within the block, pyradiomics' fixed-bin-width edges start at ``lower`` (IBSI); no-op for ``None``."""
    if lower is None:
        yield
        return
    import numpy as np
    from radiomics import imageoperations

    original = imageoperations.getBinEdges

    def ibsi_edges(parameterValues: Any, **kwargs: Any) -> Any:
        if kwargs.get("binCount") is not None or len(parameterValues) == 0:
            return original(parameterValues, **kwargs)
        width = float(kwargs.get("binWidth", 25))
        minimum, maximum = float(np.min(parameterValues)), float(np.max(parameterValues))
        if minimum < lower:  # not re-segmented at the bound: IBSI's definition does not apply
            return original(parameterValues, **kwargs)
        edges = np.arange(lower, maximum + 2 * width, width)
        return edges if len(edges) > 1 else np.array([lower, lower + width])

    imageoperations.getBinEdges = ibsi_edges
    try:
        yield
    finally:
        imageoperations.getBinEdges = original
