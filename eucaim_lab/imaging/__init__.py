"""Imaging input: find (image, region) cases in folders, checkouts and batch CSVs, load them, check them.

``discover_cases(path)`` returns :class:`Case` objects (and, in ``.skipped``, the inputs it could not use);
``case.load()`` gives the image and its mask as SimpleITK images on the same grid; ``quality_checks(image, mask,
label)`` lists what is wrong (errors) or doubtful (warnings) about them.
"""

from __future__ import annotations

from eucaim_lab.imaging._case import Case, CaseError, ImageRef, MaskRef
from eucaim_lab.imaging._discover import DiscoveredCases, SkippedInput, discover_cases
from eucaim_lab.imaging._qc import QCFlag, quality_checks
from eucaim_lab.imaging._seg import clear_seg_cache

__all__ = [
    "Case",
    "CaseError",
    "DiscoveredCases",
    "ImageRef",
    "MaskRef",
    "QCFlag",
    "SkippedInput",
    "clear_seg_cache",
    "discover_cases",
    "quality_checks",
]
