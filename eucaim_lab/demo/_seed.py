"""Seed a local node with the generated demo cohort."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..catalogue import Catalogue

__all__ = ["seed_node"]


def seed_node(
    home: str | os.PathLike[str] | None = None,
    *,
    seed: int = 0,
    scale: float = 1.0,
    if_empty: bool = False,
    on_dataset: Callable[[dict[str, Any]], None] | None = None,
) -> list[dict[str, Any]]:
    """Generate the demo datasets and ingest each into the node; returns the ingest summaries.

    Datasets already in the node are left as they are. With ``if_empty`` nothing happens when the catalogue holds
    any dataset.
    """
    from ._generate import generate_all

    cat = Catalogue(home)
    if if_empty and len(cat):
        return []
    summaries = []
    cat.node.home.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".demo-", dir=cat.node.home))
    try:
        for info in generate_all(staging, seed=seed, scale=scale):
            spec = info.spec
            if spec.dataset_id in cat:
                continue
            summary = cat.ingest(
                info.dicom_dir, dataset_id=spec.dataset_id, clinical=info.clinical_csv, **spec.catalogue_metadata()
            )
            summaries.append(summary)
            if on_dataset is not None:
                on_dataset(summary)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return summaries
