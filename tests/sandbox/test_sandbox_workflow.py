"""The whole path from Python: ingest -> request -> approve -> checkout -> kernel install -> work in the sandbox."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from access.access_helpers import ingest_dataset
from sandbox.sandbox_helpers import probe, running_kernel

pytestmark = [pytest.mark.sandbox, pytest.mark.timeout(120)]


def test_in_situ_checkout_is_usable_only_inside_its_sandboxed_kernel(
    node, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from eucaim_lab import access, checkout
    from eucaim_lab._errors import AccessDeniedError
    from eucaim_lab.sandbox import install_checkout_kernel

    monkeypatch.setenv("JUPYTER_DATA_DIR", str(tmp_path / "jupyter-data"))
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path / "runtime"))
    ingest_dataset(node, tmp_path, "lung-a", access_condition="IN_SITU_PROCESSING")
    req = access.request(["lung-a"], "Radiomics of lung nodules", node=node)
    access.approve(req.request_id, "hospital-a", node=node)
    [co] = checkout.checkout(req.request_id, node=node)
    with pytest.raises(AccessDeniedError, match="sandboxed kernel"):
        checkout.open(co.checkout_id, node=node)

    info = install_checkout_kernel(co.checkout_id, home=node.home)
    assert info["display_name"] == "EUCAIM lung-a (sandboxed)"
    manifest = json.loads((co.path / "manifest.json").read_text())
    first = min(manifest["files"])
    with running_kernel(info["kernel_name"]) as (_, kc):
        res = probe(kc, f"""
import hashlib, pydicom
from eucaim_lab import checkout
co = checkout.open()
ds = pydicom.dcmread(co.path / {first!r})
digest = hashlib.sha3_256((co.path / {first!r}).read_bytes()).hexdigest()
(co.workspace / 'summary.txt').write_text(ds.Modality)
result = [co.checkout_id, co.dataset_id, str(co.path), ds.Modality, digest]
""")
    assert res["ok"], res
    assert res["value"] == [co.checkout_id, "lung-a", "/data/checkout", "CT", manifest["files"][first]]
    assert (Path(info["workspace"]) / "summary.txt").read_text() == "CT"
    assert checkout.verify(co.checkout_id, node=node).ok
    actions = [e["action"] for e in access.AuditTrail(node).entries(dataset_id="lung-a")]
    assert {"kernel.start", "kernel.execute", "kernel.stop"} <= set(actions)


def test_kernel_start_requires_a_permit_that_still_verifies(
    node, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from eucaim_lab import access, checkout
    from eucaim_lab._errors import AccessDeniedError
    from eucaim_lab.sandbox import install_checkout_kernel

    monkeypatch.setenv("JUPYTER_DATA_DIR", str(tmp_path / "jupyter-data"))
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path / "runtime"))
    ingest_dataset(node, tmp_path, "lung-a", access_condition="IN_SITU_PROCESSING")
    req = access.request(["lung-a"], "Radiomics of lung nodules", node=node)
    access.approve(req.request_id, "hospital-a", node=node)
    [co] = checkout.checkout(req.request_id, node=node)
    info = install_checkout_kernel(co.checkout_id, home=node.home)
    with running_kernel(info["kernel_name"]) as (_, kc):
        # the pinned lock is visible read-only inside, so notebooks can check their environment
        res = probe(kc, """
from eucaim_lab.provenance import check_environment
report = check_environment()
result = [report.lock, report.matches]
""")
    assert res["ok"], res
    assert res["value"] == ["/opt/eucaim/requirements.lock", True]
    # a permit that no longer verifies (here its signature is damaged) grants nothing: the kernel does not start
    sig = node.db.execute("SELECT signature FROM access_permits WHERE permit_id = ?", (co.permit_id,)).fetchone()[0]
    forged = ("A" if sig[0] != "A" else "B") + sig[1:]
    node.db.execute("UPDATE access_permits SET signature = ? WHERE permit_id = ?", (forged, co.permit_id))
    with pytest.raises(AccessDeniedError):
        with running_kernel(info["kernel_name"]):
            pass
