"""Test helpers that Dask workers must import by name (this folder is put on sys.path before the cluster starts)."""

from __future__ import annotations

import os
from dataclasses import dataclass

from eucaim_lab.imaging import Case


@dataclass(frozen=True)
class CrashingCase(Case):
    """A case whose image read kills the interpreter (as a segfault in a native reader would)."""

    @property
    def image_key(self) -> str:  # never grouped with the real case that has the same files
        return f"crash:{self.case_id}"

    def load_image(self):  # type: ignore[override]
        os._exit(1)
