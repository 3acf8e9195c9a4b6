"""Checkouts: permit first, datalake integrity second, then a read-only folder of hard links with a manifest."""

from __future__ import annotations

import hashlib
import json
import os
import stat
from pathlib import Path

import pytest

from eucaim_lab import access, checkout
from eucaim_lab._errors import AccessDeniedError, IntegrityError, InvalidInputError
from eucaim_lab.catalogue import Catalogue


def _approved(node, dataset_id, holder, user=None):
    req = access.request([dataset_id], "Radiomics", user=user, node=node)
    return access.approve(req.request_id, holder, node=node)


def _checkouts_on_disk(node):
    return sorted(p.name for p in node.checkouts.iterdir()) if node.checkouts.exists() else []


def test_checkout_is_a_read_only_folder_of_hard_links_with_a_manifest(lake):
    req = _approved(lake, "lung-a", "hospital-a")
    [co] = checkout.checkout(req.request_id, node=lake)
    assert co.checkout_id.startswith("CO-") and co.path == lake.checkouts / co.checkout_id
    assert co.version == "1.0.0" and co.link_mode == "hardlink"
    assert co.permit_id == req.resource("lung-a").permit_id
    cat = Catalogue(node=lake)
    root = cat.dataset_root("lung-a")
    files = cat.files("lung-a")
    for relpath, sha3 in zip(files["relpath"], files["sha3"]):
        linked, original = co.path / relpath, root / relpath
        assert os.stat(linked).st_ino == os.stat(original).st_ino  # a hard link, not a copy
        assert stat.S_IMODE(os.stat(linked).st_mode) == 0o444
        assert hashlib.sha3_256(linked.read_bytes()).hexdigest() == sha3
    for folder, _, _ in os.walk(co.path):
        assert stat.S_IMODE(os.stat(folder).st_mode) == 0o555
    manifest = json.loads((co.path / "manifest.json").read_text())
    assert set(manifest) >= {"checkout_id", "dataset_id", "version", "request_id", "permit_id", "user",
                             "access_condition", "created", "files", "dataset_digest"}
    on_disk = {str(p.relative_to(co.path)) for p in co.path.rglob("*") if p.is_file()}
    assert set(manifest["files"]) == on_disk - {"manifest.json"}  # every file, index and eforms included
    for relpath, digest in manifest["files"].items():
        assert hashlib.sha3_256((co.path / relpath).read_bytes()).hexdigest() == digest
    assert f"sha3-256:{manifest['dataset_digest']}" == cat.get("lung-a").checksum
    assert manifest["version"] == "1.0.0" and manifest["user"] == "researcher"
    index = json.loads((co.path / "index.json").read_text())
    assert {s["subjectName"] for s in index} == {"P001", "P002"}
    for study in index:  # CHAIMELEON layout: <path>/<folderName>/*.dcm
        for series in study["series"]:
            assert list((co.path / study["path"] / series["folderName"]).glob("*.dcm"))
    assert co.workspace == lake.workspaces / co.checkout_id and co.workspace.is_dir()
    (co.workspace / "result.txt").write_text("writable")
    assert checkout.get(co.checkout_id, node=lake) == co
    assert [c.checkout_id for c in checkout.list_checkouts(node=lake)] == [co.checkout_id]
    entry = access.AuditTrail(lake).entries(dataset_id="lung-a")[-1]
    assert entry["action"] == "checkout.create" and entry["details"]["checkout_id"] == co.checkout_id


def test_checkout_of_several_datasets_and_of_one(lake):
    req = access.request(["lung-a", "lung-b"], "Radiomics", node=lake)
    access.approve(req.request_id, "hospital-a", node=lake)
    access.approve(req.request_id, "hospital-b", node=lake)
    both = checkout.checkout(req.request_id, node=lake)
    assert sorted(c.dataset_id for c in both) == ["lung-a", "lung-b"]
    [one] = checkout.checkout(req.request_id, dataset_id="lung-b", node=lake)
    assert one.dataset_id == "lung-b" and one.checkout_id not in {c.checkout_id for c in both}


def test_nothing_is_checked_out_before_approval_or_for_another_user(lake):
    req = access.request(["lung-a"], "Radiomics", node=lake)
    with pytest.raises(AccessDeniedError, match="must approve"):
        checkout.checkout(req.request_id, node=lake)
    access.approve(req.request_id, "hospital-a", node=lake)
    with pytest.raises(AccessDeniedError, match="belongs to 'researcher'"):
        checkout.checkout(req.request_id, user="mallory", node=lake)
    declined = access.request(["lung-b"], "Radiomics", node=lake)
    access.decline(declined.request_id, "hospital-b", node=lake)
    with pytest.raises(AccessDeniedError, match="RESOURCE_DECLINED"):
        checkout.checkout(declined.request_id, node=lake)
    assert _checkouts_on_disk(lake) == []


def test_a_tampered_permit_checks_out_nothing(lake):
    req = _approved(lake, "lung-a", "hospital-a")
    sig = bytearray(bytes.fromhex(lake.db.execute("SELECT signature FROM access_permits").fetchone()[0]))
    sig[10] ^= 0xFF
    lake.db.execute("UPDATE access_permits SET signature = ?", (sig.hex(),))
    with pytest.raises(AccessDeniedError, match="signature does not verify"):
        checkout.checkout(req.request_id, node=lake)
    assert _checkouts_on_disk(lake) == []


def test_a_permit_swapped_in_from_another_request_checks_out_nothing(lake):
    mine = access.request(["lung-b"], "Radiomics", node=lake)
    theirs = _approved(lake, "lung-a", "hospital-a", user="colleague")
    # point my undecided resource at the colleague's valid permit
    lake.db.execute("UPDATE access_request_resources SET status = 'RESOURCE_MADE_AVAILABLE', permit_id = ? "
                    "WHERE request_id = ?", (theirs.resource("lung-a").permit_id, mine.request_id))
    with pytest.raises(AccessDeniedError):
        checkout.checkout(mine.request_id, node=lake)
    assert _checkouts_on_disk(lake) == []


@pytest.mark.parametrize("restore_mtime", [False, True])
def test_a_datalake_file_changed_after_approval_is_not_checked_out(lake, restore_mtime):
    req = _approved(lake, "lung-a", "hospital-a")
    cat = Catalogue(node=lake)
    relpath = cat.files("lung-a")["relpath"].iloc[1]
    victim = cat.dataset_root("lung-a") / relpath
    before = os.stat(victim)
    os.chmod(victim, 0o644)
    data = bytearray(victim.read_bytes())
    data[-1] ^= 0x01  # same size: only the bytes differ
    victim.write_bytes(bytes(data))
    if restore_mtime:  # hide the edit from mtime: ctime still tells
        os.utime(victim, ns=(before.st_atime_ns, before.st_mtime_ns))
    with pytest.raises(IntegrityError, match="changed: " + relpath.replace(".", r"\.")) as info:
        checkout.checkout(req.request_id, node=lake)
    assert info.value.details["changed"] == [relpath]
    assert _checkouts_on_disk(lake) == []


def test_a_missing_datalake_file_is_not_checked_out(lake):
    req = _approved(lake, "lung-b", "hospital-b")
    cat = Catalogue(node=lake)
    relpath = cat.files("lung-b")["relpath"].iloc[0]
    (cat.dataset_root("lung-b") / relpath).unlink()
    with pytest.raises(IntegrityError, match="missing") as info:
        checkout.checkout(req.request_id, node=lake)
    assert info.value.details["missing"] == [relpath]


def test_remote_processing_is_never_checked_out(lake):
    req = _approved(lake, "remote-c", "hospital-a")
    with pytest.raises(AccessDeniedError, match="REMOTE_PROCESSING.*never checked out"):
        checkout.checkout(req.request_id, node=lake)
    assert _checkouts_on_disk(lake) == []


def test_a_mixed_basket_checks_out_the_rest_and_names_the_remote_one(lake):
    req = access.request(["lung-b", "remote-c"], "Radiomics", node=lake)
    access.approve(req.request_id, "hospital-b", node=lake)
    access.approve(req.request_id, "hospital-a", node=lake)
    with pytest.warns(UserWarning, match="Not checked out: remote-c"):
        done = checkout.checkout(req.request_id, node=lake)
    assert [co.dataset_id for co in done] == ["lung-b"]
    with pytest.raises(AccessDeniedError, match="REMOTE_PROCESSING"):
        checkout.checkout(req.request_id, dataset_id="remote-c", node=lake)


def test_in_situ_data_opens_only_in_its_sandboxed_kernel(lake, monkeypatch):
    [co] = checkout.checkout(_approved(lake, "lung-a", "hospital-a").request_id, node=lake)
    [other] = checkout.checkout(_approved(lake, "lung-b", "hospital-b").request_id, node=lake)
    monkeypatch.delenv("EUCAIM_SANDBOXED", raising=False)
    monkeypatch.delenv("EUCAIM_CHECKOUT", raising=False)
    with pytest.raises(AccessDeniedError, match=f"eucaim-lab kernel install {co.checkout_id}"):
        checkout.open(co.checkout_id, node=lake)
    with pytest.raises(AccessDeniedError, match="sandboxed kernel"):
        co.index()
    monkeypatch.setenv("EUCAIM_CHECKOUT", str(co.path))  # the variable alone is not the sandbox
    with pytest.raises(AccessDeniedError):
        checkout.open(co.checkout_id, node=lake)
    monkeypatch.setenv("EUCAIM_SANDBOXED", "1")
    monkeypatch.setenv("EUCAIM_CHECKOUT", str(other.path))  # a sandbox made for another checkout
    with pytest.raises(AccessDeniedError):
        checkout.require_allowed(co)
    monkeypatch.setenv("EUCAIM_CHECKOUT", str(co.path))
    monkeypatch.setenv("EUCAIM_WORKSPACE", str(co.workspace))
    inside = checkout.open()  # inside the sandbox: no id and no node database needed
    assert inside.checkout_id == co.checkout_id and inside.dataset_id == "lung-a"
    assert {s["subjectName"] for s in inside.index()} == {"P001", "P002"}
    assert len(inside.files()) == 6 and all(p.is_file() for p in inside.files())


def test_download_data_opens_anywhere(lake, monkeypatch):
    monkeypatch.delenv("EUCAIM_SANDBOXED", raising=False)
    [co] = checkout.checkout(_approved(lake, "lung-b", "hospital-b").request_id, node=lake)
    opened = checkout.open(co.checkout_id, node=lake)
    assert len(opened.files()) == 6 and opened.eforms() == json.loads(co.eforms_path.read_text())


@pytest.mark.parametrize("bad", ["../CO-0123456789ab", "/tmp/CO-0123456789ab", "CO-0123456789ab/../..", "CO-*",
                                 "REQ-0123456789ab"])
def test_bad_checkout_ids_are_refused(lake, bad):
    with pytest.raises(InvalidInputError, match="checkout id"):
        checkout.get(bad, node=lake)
    with pytest.raises(InvalidInputError, match="checkout id"):
        checkout.verify(bad, node=lake)


def test_bad_request_ids_are_refused_by_checkout(lake):
    with pytest.raises(InvalidInputError, match="request id"):
        checkout.checkout("../../etc", node=lake)


def test_across_filesystems_files_are_copied_and_that_is_recorded(node, tmp_path):
    """A datalake on another filesystem (tmpfs) cannot be hard-linked: the checkout copies and says so."""
    import shutil
    import tempfile

    from access.access_helpers import write_ct_series

    shm = Path("/dev/shm")
    if not shm.is_dir() or os.stat(shm).st_dev == os.stat(tmp_path).st_dev:
        pytest.skip("no second filesystem (/dev/shm) on this machine")
    src = tmp_path / "src"
    write_ct_series(src / "P009", patient="P009")
    cat = Catalogue(node=node)
    cat.ingest(src, dataset_id="shm-ds", title="on tmpfs", data_holder="hospital-a", access_condition="DOWNLOAD")
    lake_root = cat.dataset_root("shm-ds")
    other_fs = Path(tempfile.mkdtemp(dir=shm))
    try:  # move the dataset's datalake folder to tmpfs and point the catalogue at it
        moved = other_fs / "1.0.0"
        shutil.copytree(lake_root, moved)
        node.db.execute("UPDATE datasets SET root = ? WHERE id = 'shm-ds'", (str(moved),))
        req = _approved(node, "shm-ds", "hospital-a")
        [co] = checkout.checkout(req.request_id, node=node)
        assert co.link_mode in {"copy", "reflink"}
        some = next(co.path.rglob("*.dcm"))
        twin = moved / some.relative_to(co.path)
        assert os.stat(some).st_ino != os.stat(twin).st_ino and some.read_bytes() == twin.read_bytes()
        assert stat.S_IMODE(os.stat(some).st_mode) == 0o444
        assert checkout.verify(co.checkout_id, node=node).ok
    finally:
        shutil.rmtree(other_fs, ignore_errors=True)
