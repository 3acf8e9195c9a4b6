"""A QC montage: every case of a checkout on one page, the slice with the most mask, its outline in colour."""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["qc_montage"]


def qc_montage(
    cases: Any,
    *,
    columns: int = 6,
    window: tuple[float, float] = (400.0, 40.0),
    path: str | os.PathLike[str] | None = None,
    max_cases: int | None = None,
) -> Any:
    """Matplotlib figure with one panel per case (a list of cases, or a folder / checkout to discover).

    Panels of cases that fail to load show the error; cases with QC errors have a red title, warnings orange.
    """
    import matplotlib

    if path is not None:
        matplotlib.use("agg")  # writing a file needs no display
    import matplotlib.pyplot as plt
    import SimpleITK as sitk

    from ..imaging import discover_cases, quality_checks

    if isinstance(cases, (str, os.PathLike)):
        cases = discover_cases(cases)
    cases = list(cases)[: max_cases or None]
    rows = max(1, math.ceil(len(cases) / columns))
    fig, axes = plt.subplots(rows, columns, figsize=(2.2 * columns, 2.4 * rows), squeeze=False)
    width, level = window
    for ax in axes.ravel():
        ax.axis("off")
    for ax, case in zip(axes.ravel(), cases):
        try:
            image, mask = case.load()
            flags = quality_checks(image, mask, case.label)
        except Exception as exc:  # a broken case gets a panel saying why, the montage goes on
            ax.text(0.5, 0.5, f"{case.case_id}\n{str(exc)[:80]}", ha="center", va="center", fontsize=6,
                    color="red", wrap=True, transform=ax.transAxes)
            continue
        arr = sitk.GetArrayFromImage(image).astype(np.float32)
        m = sitk.GetArrayFromImage(mask) == case.label
        z = int(np.argmax(m.reshape(m.shape[0], -1).sum(axis=1))) if m.any() else arr.shape[0] // 2
        ax.imshow(np.clip((arr[z] - (level - width / 2)) / width, 0, 1), cmap="gray", interpolation="nearest")
        if m[z].any():
            ax.contour(m[z].astype(float), levels=[0.5], colors=["#ff3030"], linewidths=0.8)
        errors = [f for f in flags if f.severity == "error"]
        colour = "red" if errors else ("darkorange" if flags else "black")
        ax.set_title(f"{case.case_id}\n{case.roi} z={z}" + (f" [{len(flags)} QC]" if flags else ""),
                     fontsize=6, color=colour)
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=120)
    return fig


