"""The in-situ guard applies to every path into a checkout, and a checkout verifies without the node."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from access.access_helpers import make_writable

from eucaim_lab import access, checkout
from eucaim_lab._errors import AccessDeniedError
from eucaim_lab.imaging import Case, ImageRef, MaskRef, discover_cases


def _checkout(node, dataset_id, holder):
    req = access.request([dataset_id], "guard test", node=node)
    access.approve(req.request_id, holder, node=node)
    return checkout.checkout(req.request_id, node=node)[0]


def test_in_situ_checkout_refused_outside_its_sandbox(lake, monkeypatch):
    co = _checkout(lake, "lung-a", "hospital-a")
    monkeypatch.delenv("EUCAIM_SANDBOXED", raising=False)
    with pytest.raises(AccessDeniedError, match="eucaim-lab kernel install"):
        discover_cases(co.path)
    some_file = next(p for p in Path(co.path).rglob("*.dcm"))
    with pytest.raises(AccessDeniedError):
        discover_cases(some_file.parent)  # a sub-folder is inside the checkout too
    forged = Case(case_id="x", patient_id=None, modality="CT", roi=None,
                  image=ImageRef(kind="dicom", paths=(str(some_file),)), mask=MaskRef(kind="file", path="/dev/null"))
    with pytest.raises(AccessDeniedError):
        forged.load_image()  # a hand-made case cannot bypass the guard
    # inside the sandbox made for this checkout (the sandbox sets these), the same calls work
    monkeypatch.setenv("EUCAIM_SANDBOXED", "1")
    monkeypatch.setenv("EUCAIM_CHECKOUT", str(co.path))
    found = discover_cases(co.path)
    assert len(found) == 0 and found.skipped == []  # the test dataset has images but no masks: no cases, no errors
    assert forged.load_image().GetSize()[0] > 0
    # ... but not for another checkout than the one mounted
    monkeypatch.setenv("EUCAIM_CHECKOUT", "/nonexistent")
    with pytest.raises(AccessDeniedError):
        discover_cases(co.path)


def test_download_checkout_opens_anywhere(lake, monkeypatch):
    monkeypatch.delenv("EUCAIM_SANDBOXED", raising=False)
    co = _checkout(lake, "lung-b", "hospital-b")
    assert checkout.guard_folder(co.path).checkout_id == co.checkout_id
    discover_cases(co.path)


def test_verify_folder_without_the_node(lake, tmp_path):
    co = _checkout(lake, "lung-b", "hospital-b")
    report = checkout.verify_folder(co.path)
    assert report.ok and report.files_checked == co.files_count
    target = next(p for p in Path(co.path).rglob("*.dcm"))
    os.chmod(target.parent, 0o755)  # a folder needs its x bit to be entered (root does not check)
    make_writable(target)
    with open(target, "ab") as fh:
        fh.write(b"\0")
    (target.parent / "extra.txt").write_text("x")
    os.remove(next(p for p in Path(co.path).rglob("*.dcm") if p != target))
    again = checkout.verify_folder(co.path)
    rel = str(target.relative_to(co.path))
    assert again.changed == (rel,) and len(again.missing) == 1
    assert again.extra == (str((target.parent / "extra.txt").relative_to(co.path)),)
