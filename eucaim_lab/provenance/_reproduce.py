"""Re-run a notebook and report which outputs differ: numbers within tolerances, figures by pixel content.

Cells tagged ``reproduce-skip`` are executed but not compared (timings, random ids). Provenance outputs are
compared on what must not change (dataset ids, versions, manifest digests), not on their timestamps.
"""

from __future__ import annotations

import base64
import copy
import io
import os
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._errors import InvalidInputError, NotFoundError
from ._record import MIME

__all__ = ["CellDifference", "ReproduceReport", "compare_notebooks", "reproduce"]

_NUMBER = re.compile(r"[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?")
_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")
SKIP_TAG = "reproduce-skip"


@dataclass(frozen=True)
class CellDifference:
    cell: int  # index in the notebook
    execution_count: int | None
    kind: str  # "text", "number", "figure", "error", "outputs", "provenance"
    detail: str

    def __str__(self) -> str:
        where = f"cell {self.cell}" + (f" (In [{self.execution_count}])" if self.execution_count else "")
        return f"{where}: {self.kind}: {self.detail}"


@dataclass
class ReproduceReport:
    notebook: str
    cells_compared: int = 0
    differences: list[CellDifference] = field(default_factory=list)

    @property
    def identical(self) -> bool:
        return not self.differences

    def __str__(self) -> str:
        if self.identical:
            return f"identical: {self.notebook} ({self.cells_compared} code cells compared)"
        lines = [f"differs: {self.notebook}: {len(self.differences)} difference(s)"]
        lines += [f"  {d}" for d in self.differences]
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {
            "notebook": self.notebook,
            "identical": self.identical,
            "cells_compared": self.cells_compared,
            "differences": [d.__dict__ for d in self.differences],
        }


def _texts(outputs: list[dict[str, Any]]) -> list[tuple[str, Any]]:
    """Comparable items of a cell's outputs, in order."""
    items: list[tuple[str, Any]] = []
    for out in outputs:
        kind = out.get("output_type")
        if kind == "stream":
            items.append(("text", "".join(out.get("text", ""))))
        elif kind == "error":
            items.append(("error", f"{out.get('ename')}: {out.get('evalue')}"))
        elif kind in ("execute_result", "display_data"):
            data = out.get("data", {})
            if MIME in data:
                prov = data[MIME]
                items.append(("provenance", [
                    (d.get("dataset_id"), d.get("version"), d.get("dataset_digest")) for d in prov.get("datasets", [])
                ]))
            elif "image/png" in data:
                items.append(("figure", data["image/png"]))
            elif "text/plain" in data:
                items.append(("text", "".join(data["text/plain"])))
    return items


def _merge_streams(items: list[tuple[str, Any]]) -> list[tuple[str, Any]]:
    merged: list[tuple[str, Any]] = []
    for kind, value in items:
        if kind == "text" and merged and merged[-1][0] == "text":
            merged[-1] = ("text", merged[-1][1] + value)
        else:
            merged.append((kind, value))
    return merged


def _compare_text(a: str, b: str, rtol: float, atol: float) -> tuple[str, str] | None:
    a, b = _ADDRESS.sub(" at 0x?", a), _ADDRESS.sub(" at 0x?", b)
    if a == b:
        return None
    if _NUMBER.sub("#", a) != _NUMBER.sub("#", b):
        for la, lb in zip(a.splitlines(), b.splitlines()):
            if _NUMBER.sub("#", la) != _NUMBER.sub("#", lb):
                return "text", f"expected {la.strip()[:120]!r}, got {lb.strip()[:120]!r}"
        return "text", f"expected {len(a.splitlines())} lines, got {len(b.splitlines())}"
    for na, nb in zip(_NUMBER.findall(a), _NUMBER.findall(b)):
        x, y = float(na), float(nb)
        if abs(x - y) > atol + rtol * abs(x):
            return "number", f"expected {na}, got {nb} (rtol {rtol:g}, atol {atol:g})"
    return None


def _png(data: str) -> Any:
    import matplotlib.image as mpimg

    return mpimg.imread(io.BytesIO(base64.b64decode(data)), format="png")


def _compare_figure(a: str, b: str, tolerance: float) -> str | None:
    if a == b:
        return None
    import numpy as np

    x, y = _png(a), _png(b)
    if x.shape != y.shape:
        return f"figure size changed from {x.shape[1]}x{x.shape[0]} to {y.shape[1]}x{y.shape[0]} pixels"
    diff = np.abs(x.astype(float) - y.astype(float))
    changed = float((diff.max(axis=-1) > tolerance).mean()) if diff.ndim == 3 else float((diff > tolerance).mean())
    if changed > 0:
        return f"{changed:.2%} of the pixels changed"
    return None


def compare_notebooks(
    expected: Any, actual: Any, *, rtol: float = 1e-6, atol: float = 1e-9, figure_tolerance: float = 2 / 255,
    name: str = "notebook",
) -> ReproduceReport:
    """Compare the outputs of two versions of the same notebook (nbformat nodes or dicts)."""
    report = ReproduceReport(notebook=name)
    cells_a = [c for c in expected["cells"]]
    cells_b = [c for c in actual["cells"]]
    if len(cells_a) != len(cells_b):
        raise InvalidInputError(f"The notebooks have different cells: {len(cells_a)} against {len(cells_b)}.")
    for index, (ca, cb) in enumerate(zip(cells_a, cells_b)):
        if ca["cell_type"] != "code":
            continue
        if SKIP_TAG in ca.get("metadata", {}).get("tags", []):
            continue
        report.cells_compared += 1
        count = cb.get("execution_count")
        ia, ib = _merge_streams(_texts(ca.get("outputs", []))), _merge_streams(_texts(cb.get("outputs", [])))
        if [k for k, _ in ia] != [k for k, _ in ib]:
            report.differences.append(CellDifference(
                index, count, "outputs", f"expected outputs {[k for k, _ in ia]}, got {[k for k, _ in ib]}"
            ))
            continue
        for (kind, va), (_, vb) in zip(ia, ib):
            problem: tuple[str, str] | None = None
            if kind == "text":
                problem = _compare_text(va, vb, rtol, atol)
            elif kind == "figure":
                detail = _compare_figure(va, vb, figure_tolerance)
                problem = ("figure", detail) if detail else None
            elif va != vb:
                problem = (kind, f"expected {va!r}, got {vb!r}")
            if problem:
                report.differences.append(CellDifference(index, count, problem[0], problem[1]))
                break
    return report


def reproduce(
    notebook: str | os.PathLike[str],
    *,
    kernel_name: str | None = None,
    timeout: int = 1200,
    rtol: float = 1e-6,
    atol: float = 1e-9,
    output: str | os.PathLike[str] | None = None,
) -> ReproduceReport:
    """Execute a copy of ``notebook`` on its kernel (or ``kernel_name``) and compare it with the stored outputs."""
    import nbformat
    from nbclient import NotebookClient

    path = Path(notebook)
    if not path.is_file():
        raise NotFoundError(f"No notebook at {path}.", path=str(path))
    try:
        stored = nbformat.read(path, as_version=4)
    except Exception as exc:  # nbformat raises several unrelated types for a bad file
        raise InvalidInputError(f"{path} is not a readable notebook: {exc}".splitlines()[0]) from None
    if not any(c.cell_type == "code" and c.get("outputs") for c in stored.cells):
        raise InvalidInputError(f"{path} has no stored outputs to compare with; run and save it first.")
    fresh = copy.deepcopy(stored)
    for cell in fresh.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    name = kernel_name or stored.metadata.get("kernelspec", {}).get("name") or "python3"
    client = NotebookClient(fresh, kernel_name=name, timeout=timeout, allow_errors=True,
                            resources={"metadata": {"path": str(path.parent)}})
    # the kernel process's own stdout/stderr (start-up notes) must not mix with the report; cell outputs come
    # over the kernel protocol and a dying kernel is reported by nbclient
    client.execute(stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if output is not None:
        nbformat.write(fresh, output)
    return compare_notebooks(stored, fresh, rtol=rtol, atol=atol, name=str(path))
