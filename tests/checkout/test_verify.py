"""``checkout.verify`` reports every changed, missing and extra file of a checkout."""

from __future__ import annotations

import os

import pytest

from eucaim_lab import access, checkout


@pytest.fixture()
def co(lake):
    req = access.request(["lung-b"], "Radiomics", node=lake)
    access.approve(req.request_id, "hospital-b", node=lake)
    [made] = checkout.checkout(req.request_id, node=lake)
    return made


def _dcm(co, k=0):
    return sorted(str(p.relative_to(co.path)) for p in co.path.rglob("*.dcm"))[k]


def _writable(path):
    os.chmod(path, 0o755 if path.is_dir() else 0o644)


def test_an_intact_checkout_verifies(lake, co):
    report = checkout.verify(co.checkout_id, node=lake)
    assert report.ok and report.files_checked == 8 and not (report.changed or report.missing or report.extra)
    assert report.bytes_checked == sum(p.stat().st_size for p in co.path.rglob("*") if p.is_file()) - \
        (co.path / "manifest.json").stat().st_size
    last = access.AuditTrail(lake).entries()[-1]
    assert last["action"] == "checkout.verify" and last["details"]["ok"] is True


def test_verify_finds_changed_missing_and_extra_files(lake, co):
    changed, missing = _dcm(co, 0), _dcm(co, 1)
    target = co.path / changed
    _writable(target)
    data = bytearray(target.read_bytes())
    data[200] ^= 0x55
    target.write_bytes(bytes(data))
    folder = (co.path / missing).parent
    _writable(folder)
    (co.path / missing).unlink()
    _writable(co.path)
    (co.path / "notes.txt").write_text("smuggled")
    os.symlink("/etc/hostname", co.path / "link.dcm")
    (co.path / "eforms.json").chmod(0o644)
    (co.path / "eforms.json").write_text("[]\n")
    report = checkout.verify(co.checkout_id, node=lake)
    assert not report.ok
    assert report.changed == tuple(sorted([changed, "eforms.json"]))
    assert report.missing == (missing,)
    assert report.extra == ("link.dcm", "notes.txt")
    assert access.AuditTrail(lake).entries()[-1]["details"]["ok"] is False


def test_a_rewritten_manifest_is_reported(lake, co):
    manifest = co.path / "manifest.json"
    manifest.chmod(0o644)
    manifest.write_text(manifest.read_text().replace('"user": "researcher"', '"user": "mallory"'))
    assert checkout.verify(co.checkout_id, node=lake).changed == ("manifest.json",)


def test_a_file_replaced_by_a_symlink_is_changed(lake, co):
    rel = _dcm(co, 2)
    _writable((co.path / rel).parent)
    (co.path / rel).unlink()
    os.symlink("/etc/hostname", co.path / rel)
    report = checkout.verify(co.checkout_id, node=lake)
    assert report.changed == (rel,) and not report.missing and not report.extra
