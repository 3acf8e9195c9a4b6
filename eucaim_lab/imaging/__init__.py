"""Imaging input: find (image, region) cases in folders, checkouts and batch CSVs, load them, check them.

``discover_cases(path)`` returns :class:`Case` objects; ``case.load()`` gives the image and its mask as SimpleITK
images on the same grid; ``quality_checks(image, mask, label)`` lists what is wrong or doubtful about them.
"""

from __future__ import annotations

from eucaim_lab.imaging._case import Case, CaseError, ImageRef, MaskRef

__all__ = ["Case", "CaseError", "ImageRef", "MaskRef"]
