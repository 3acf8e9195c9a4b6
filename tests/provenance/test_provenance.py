"""Provenance records, environment checks and notebook reproduction with a real kernel."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from eucaim_lab.provenance import MIME, check_environment, compare_notebooks, record, reproduce, stamp
from eucaim_lab.provenance._environment import read_lock


def test_environment_check_names_what_differs(tmp_path):
    report = check_environment()
    assert report.lock is not None and report.matches, str(report)
    pins = read_lock(report.lock)
    lock = tmp_path / "lock.txt"
    lines = [f"{n}=={v}" for n, v in pins.items()]
    lines[lines.index(f"numpy=={pins['numpy']}")] = "numpy==1.0.0"
    lock.write_text("\n".join(lines + ["no-such-package-xyz==1.2.3"]) + "\n")
    other = check_environment(lock)
    assert not other.matches
    assert other.different == {"numpy": ("1.0.0", pins["numpy"])}
    assert other.missing == ("no-such-package-xyz",)
    assert "numpy: locked 1.0.0, installed" in str(other)


def test_record_reads_checkout_manifest_and_writes_sidecar(tmp_path, monkeypatch):
    checkout = tmp_path / "CO-1"
    checkout.mkdir()
    (checkout / "manifest.json").write_text(json.dumps({
        "checkout_id": "CO-1", "dataset_id": "demo-lung-ct", "version": "1.0.0", "dataset_digest": "ab" * 32,
        "permit_id": "PERMIT-1", "request_id": "REQ-1", "access_condition": "IN_SITU_PROCESSING", "files": {},
    }))
    monkeypatch.setenv("EUCAIM_CHECKOUT", str(checkout))
    monkeypatch.setenv("EUCAIM_WORKSPACE", str(tmp_path / "ws"))
    data = record(name="nb1", display=False)
    assert data["datasets"] == [{
        "dataset_id": "demo-lung-ct", "version": "1.0.0", "dataset_digest": "ab" * 32, "checkout_id": "CO-1",
        "permit_id": "PERMIT-1", "request_id": "REQ-1", "access_condition": "IN_SITU_PROCESSING",
    }]
    assert data["packages"]["numpy"] and data["environment"]["lock_digest"].startswith("sha256:")
    sidecar = json.loads((tmp_path / "ws" / "provenance" / "nb1.json").read_text())
    assert sidecar == data


def _notebook(bins: int) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [
        nbformat.v4.new_code_cell(f"bins = {bins}\nimport numpy as np\nrng = np.random.default_rng(3)"),
        nbformat.v4.new_code_cell("x = rng.normal(size=5000)\nh, _ = np.histogram(x, bins=bins)\nprint('entropy', "
                                  "float(-(h / h.sum() * np.log2(h / h.sum() + 1e-12)).sum()))"),
        nbformat.v4.new_code_cell("import matplotlib\nmatplotlib.use('agg')\nimport matplotlib.pyplot as plt\n"
                                  "from IPython.display import Image, display\nimport io\nfig, ax = plt.subplots("
                                  "figsize=(2, 2), dpi=50)\nax.hist(x, bins=bins)\nbuf = io.BytesIO()\n"
                                  "fig.savefig(buf, format='png')\ndisplay(Image(buf.getvalue()))"),
        nbformat.v4.new_markdown_cell("text"),
        nbformat.v4.new_code_cell("print('mean', x.mean())"),
    ]
    return nb


def _run(nb, path: Path) -> Path:
    NotebookClient(nb, kernel_name="python3", timeout=120).execute()
    nbformat.write(nb, path)
    return path


@pytest.mark.slow
def test_reproduce_identical_then_points_at_changed_cell(tmp_path):
    path = _run(_notebook(bins=32), tmp_path / "analysis.ipynb")
    report = reproduce(path)
    assert report.identical, str(report)
    assert report.cells_compared == 4
    # a deliberate change of settings: the stored outputs were made with 32 bins, the source now says 16
    nb = nbformat.read(path, as_version=4)
    nb.cells[0].source = nb.cells[0].source.replace("bins = 32", "bins = 16")
    nbformat.write(nb, path)
    changed = reproduce(path)
    assert not changed.identical
    assert [d.cell for d in changed.differences] == [1, 2]  # entropy line and the histogram figure
    assert changed.differences[0].kind == "number"
    assert changed.differences[1].kind == "figure"
    cli = subprocess.run([sys.executable, "-m", "eucaim_lab.cli", "reproduce", str(path)], capture_output=True,
                         text=True)
    assert cli.returncode == 1 and "cell 1" in cli.stdout and "cell 2" in cli.stdout


def test_numbers_within_tolerance_are_identical():
    a = _notebook(8)
    b = _notebook(8)
    a.cells[1].outputs = [nbformat.v4.new_output("stream", name="stdout", text="auc 0.8123456789\n")]
    b.cells[1].outputs = [nbformat.v4.new_output("stream", name="stdout", text="auc 0.8123456790\n")]
    assert compare_notebooks(a, b).identical
    b.cells[1].outputs = [nbformat.v4.new_output("stream", name="stdout", text="auc 0.8200000000\n")]
    diff = compare_notebooks(a, b)
    assert [(d.cell, d.kind) for d in diff.differences] == [(1, "number")]
    b.cells[1].outputs = [nbformat.v4.new_output("stream", name="stdout", text="accuracy 0.8123456789\n")]
    assert compare_notebooks(a, b).differences[0].kind == "text"
    b.cells[1].metadata["tags"] = ["reproduce-skip"]
    a.cells[1].metadata["tags"] = ["reproduce-skip"]
    assert compare_notebooks(a, b).identical


def test_stamp_copies_provenance_into_metadata(tmp_path):
    nb = _notebook(4)
    nb.cells[0].outputs = [nbformat.v4.new_output("display_data", data={MIME: {"datasets": [], "schema": "x"},
                                                                         "text/plain": "p"})]
    path = tmp_path / "n.ipynb"
    nbformat.write(nb, path)
    stamp(path)
    assert nbformat.read(path, as_version=4).metadata["eucaim"]["provenance"]["schema"] == "x"
