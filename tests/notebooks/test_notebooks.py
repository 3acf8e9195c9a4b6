"""The workshop notebooks run top to bottom on a fresh demo node: 01 on the workbench kernel (it talks to the
node), 02-05 on the sandboxed kernel of the checkout 01 makes. Outputs are checked, then discarded."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
pytestmark = [pytest.mark.sandbox, pytest.mark.slow]


def _text(nb) -> str:
    parts = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            parts.append("".join(out.get("text", "")))
            parts.append("".join(out.get("data", {}).get("text/plain", "")))
    return "\n".join(parts)


def _execute(name: str, kernel: str, workdir: Path, timeout: int = 900):
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    NotebookClient(nb, kernel_name=kernel, timeout=timeout, resources={"metadata": {"path": str(workdir)}}).execute()
    out = workdir / name
    nb.metadata["kernelspec"] = {"name": kernel, "display_name": kernel, "language": "python"}
    nbformat.write(nb, out)
    return nb, out


@pytest.fixture(scope="module")
def workshop(tmp_path_factory):
    base = tmp_path_factory.mktemp("workshop")
    saved = dict(os.environ)
    os.environ.update(EUCAIM_LAB_HOME=str(base / "node"), JUPYTER_DATA_DIR=str(base / "jupyter"),
                      EUCAIM_LAB_USER="student")
    try:
        yield base
    finally:
        os.environ.clear()
        os.environ.update(saved)


def test_workshop_path(workshop):
    nb1, _ = _execute("01-catalogue-and-access.ipynb", "python3", workshop)
    text1 = _text(nb1)
    assert "refused:" in text1 and "REMOTE_PROCESSING" in text1
    from eucaim_lab import checkout

    (co,) = checkout.list_checkouts()
    kernel = f"eucaim-{co.checkout_id.lower()}"
    assert f"Open notebooks 02-05 on the kernel: {kernel}" in text1

    nb2, path2 = _execute("02-checkout-qc-and-viewing.ipynb", kernel, workshop)
    text2 = _text(nb2)
    assert "network: blocked" in text2 and "checkout: read-only" in text2
    assert "intact: True" in text2
    assert any("image/png" in o.get("data", {}) for c in nb2.cells for o in c.get("outputs", []))  # montage

    nb3, _ = _execute("03-radiomics-with-dask.ipynb", kernel, workshop)
    assert "identical: True" in _text(nb3)
    assert (Path(co.workspace) / "features.parquet").is_file()

    nb4, _ = _execute("04-predictive-model.ipynb", kernel, workshop)
    assert "auc" in _text(nb4)
    assert (Path(co.workspace) / "model-card.html").is_file()

    nb5, _ = _execute("05-reproduce-and-share.ipynb", kernel, workshop)
    record = json.loads((Path(co.workspace) / "provenance" / "workshop.json").read_text())
    assert record["datasets"][0]["dataset_id"] == "demo-lung-ct" and record["sandboxed"] is True

    # an unchanged notebook reproduces identically on the same checkout
    repro = subprocess.run([sys.executable, "-m", "eucaim_lab.cli", "reproduce", str(path2)], capture_output=True,
                           text=True, timeout=600)
    assert repro.returncode == 0, repro.stdout + repro.stderr[-1000:]
    assert repro.stdout.startswith("identical")
