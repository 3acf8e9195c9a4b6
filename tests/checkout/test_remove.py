"""Removing a checkout: the links go, the datalake stays; kernelspecs go; the workspace by policy; audited."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from pathlib import Path

import pytest

from eucaim_lab import access, checkout
from eucaim_lab._errors import AccessDeniedError, ConflictError, IntegrityError, InvalidInputError, NotFoundError
from eucaim_lab.catalogue import Catalogue
from eucaim_lab.checkout._verify import check_datalake
from eucaim_lab.cli import main
from eucaim_lab.sandbox import install_checkout_kernel, list_kernelspecs


@pytest.fixture()
def jupyter_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    data = tmp_path / "jupyter-data"
    monkeypatch.setenv("JUPYTER_DATA_DIR", str(data))
    return data


def _checkout(node, *, again=None, user=None):
    """A checkout of lung-b (DOWNLOAD): of a new request, or another one of the request of checkout ``again``."""
    if again is None:
        req = access.request(["lung-b"], "Radiomics", user=user, node=node)
        access.approve(req.request_id, "hospital-b", node=node)
        request_id = req.request_id
    else:
        request_id = again.request_id
    [co] = checkout.checkout(request_id, user=user, node=node)
    return co


def _datalake_state(node, dataset_id):
    cat = Catalogue(node=node)
    root = cat.dataset_root(dataset_id)
    state = {}
    for relpath in cat.files(dataset_id)["relpath"]:
        st = os.stat(root / relpath)
        digest = hashlib.sha3_256((root / relpath).read_bytes()).hexdigest()
        state[relpath] = (st.st_ino, st.st_mode, st.st_nlink, digest)
    return state


def test_remove_unlinks_the_checkout_and_leaves_the_datalake_intact(lake, jupyter_data):
    co = _checkout(lake)
    other = _checkout(lake, again=co)  # a second checkout of the same files: shares the same inodes
    install_checkout_kernel(co.checkout_id, home=lake.home)
    install_checkout_kernel(other.checkout_id, home=lake.home)
    before = _datalake_state(lake, "lung-b")
    assert all(nlink == 3 for _, _, nlink, _ in before.values())  # datalake + two checkouts

    result = checkout.remove(co.checkout_id, node=lake)

    assert not co.path.exists() and not co.workspace.exists()  # the workspace was empty: removed
    assert result["folder_removed"] and result["links_removed"] == co.files_count + 1  # + manifest.json
    assert result["workspace_action"] == "removed" and result["workspace_files"] == 0
    assert result["kernelspecs_removed"] == [f"eucaim-{co.checkout_id.lower()}"]
    after = _datalake_state(lake, "lung-b")
    assert after.keys() == before.keys()
    for relpath, (ino, mode, nlink, digest) in before.items():  # same inode, mode and bytes; one link fewer
        assert after[relpath] == (ino, mode, nlink - 1, digest), relpath
    assert check_datalake(lake, "lung-b").ok
    assert checkout.verify(other.checkout_id, node=lake).ok  # the other checkout still shares the inodes
    assert [k["checkout_id"] for k in list_kernelspecs()] == [other.checkout_id]

    history = access.AuditTrail(lake).entries(dataset_id="lung-b")
    [entry] = [e for e in history if e["action"] == "checkout.remove"]
    assert entry["user"] == "researcher"
    assert entry["details"]["kernelspecs_removed"] == result["kernelspecs_removed"]
    assert entry["details"]["checkout_id"] == co.checkout_id
    assert entry["details"]["workspace_action"] == "removed"
    assert access.AuditTrail(lake).verify().ok

    # the record stays for the audit history, hidden from the default listing
    assert [c.checkout_id for c in checkout.list_checkouts(node=lake)] == [other.checkout_id]
    listed = {c.checkout_id: c for c in checkout.list_checkouts(include_removed=True, node=lake)}
    assert listed[co.checkout_id].removed == result["removed"] and listed[other.checkout_id].removed is None
    for refused in (checkout.get, checkout.verify, checkout.open):
        with pytest.raises(NotFoundError, match=re.escape(f"{co.checkout_id} was removed on {result['removed']}")):
            refused(co.checkout_id, node=lake)

    again = _checkout(lake, user="colleague")  # a new request's checkout of the dataset works (re-verified)
    assert checkout.verify(again.checkout_id, node=lake).ok


def test_a_workspace_with_results_is_kept_until_asked(lake, jupyter_data):
    co = _checkout(lake)
    results = co.workspace / "run1"
    results.mkdir()
    (results / "features.csv").write_text("a,b\n1,2\n")
    (co.workspace / "notes.txt").write_text("keep me")

    result = checkout.remove(co.checkout_id, node=lake)
    assert result["workspace_action"] == "kept" and result["workspace_files"] == 2
    assert not co.path.exists()
    assert (results / "features.csv").read_text() == "a,b\n1,2\n"

    # a second run deletes the kept workspace, even with a folder the user made read-only
    results.chmod(0o500)
    second = checkout.remove(co.checkout_id, delete_workspace=True, node=lake)
    assert second["already_removed"] and second["removed"] == result["removed"]
    assert second["workspace_action"] == "removed" and not co.workspace.exists()
    actions = [e["details"].get("workspace_action") for e in access.AuditTrail(lake).entries(dataset_id="lung-b")
               if e["action"] == "checkout.remove"]
    assert actions == ["kept", "removed"]
    with pytest.raises(ConflictError, match="already removed .* nothing left to remove"):
        checkout.remove(co.checkout_id, node=lake)
    assert access.AuditTrail(lake).verify().ok


def test_keep_workspace_keeps_even_an_empty_one_and_the_flags_exclude_each_other(lake, jupyter_data):
    co = _checkout(lake)
    with pytest.raises(InvalidInputError, match="not both"):
        checkout.remove(co.checkout_id, keep_workspace=True, delete_workspace=True, node=lake)
    assert co.path.is_dir()  # refused before anything was removed
    result = checkout.remove(co.checkout_id, keep_workspace=True, node=lake)
    assert result["workspace_action"] == "kept" and co.workspace.is_dir() and not co.path.exists()


def test_a_folder_removed_by_hand_is_still_marked_removed(lake, jupyter_data):
    co = _checkout(lake)
    for folder, _, _ in os.walk(co.path):
        os.chmod(folder, 0o755)
    shutil.rmtree(co.path)
    result = checkout.remove(co.checkout_id, node=lake)
    assert not result["folder_removed"] and result["links_removed"] == 0
    with pytest.raises(NotFoundError, match="was removed"):
        checkout.verify(co.checkout_id, node=lake)


def test_only_the_recorded_folder_is_ever_deleted(lake, jupyter_data):
    co = _checkout(lake)
    lake.db.execute("UPDATE checkouts SET path = 'datalake' WHERE checkout_id = ?", (co.checkout_id,))
    with pytest.raises(IntegrityError, match="expected"):
        checkout.remove(co.checkout_id, node=lake)
    assert co.path.is_dir() and lake.datalake.is_dir() and check_datalake(lake, "lung-b").ok


def _main(capsys, *args):
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_remove_from_the_command_line(lake, jupyter_data, capsys):
    co = _checkout(lake)
    (co.workspace / "model.pkl").write_bytes(b"results")
    assert _main(capsys, "kernel", "install", co.checkout_id)[0] == 0

    code, out, _ = _main(capsys, "checkout", "remove", co.checkout_id)
    assert code == 0 and f"Removed checkout {co.checkout_id}" in out
    assert f"Removed kernelspec eucaim-{co.checkout_id.lower()}" in out
    assert f"Kept workspace {co.workspace}: it holds 1 file (your results)" in out and "--delete-workspace" in out
    assert not (jupyter_data / "kernels" / f"eucaim-{co.checkout_id.lower()}").exists()

    code, out, _ = _main(capsys, "checkout", "list")
    assert code == 0 and co.checkout_id not in out
    code, out, _ = _main(capsys, "checkout", "list", "--all", "--json")
    [row] = json.loads(out)
    assert code == 0 and row["checkout_id"] == co.checkout_id and row["removed"]

    code, _, err = _main(capsys, "kernel", "install", co.checkout_id)
    assert code == 1 and f"Checkout {co.checkout_id} was removed on" in err

    code, _, err = _main(capsys, "checkout", "verify", co.checkout_id)
    assert code == 1 and err.startswith(f"eucaim-lab: error: Checkout {co.checkout_id} was removed on")
    assert err.count("\n") == 1

    code, out, _ = _main(capsys, "checkout", "remove", co.checkout_id, "--delete-workspace", "--json")
    assert code == 0 and json.loads(out)["workspace_action"] == "removed" and not co.workspace.exists()
    code, _, err = _main(capsys, "checkout", "remove", co.checkout_id)
    assert code == 1 and "nothing left to remove" in err

    for args in (["checkout", "remove"], ["checkout", "remove", "../CO-0123456789ab"],
                 ["checkout", "remove", "CO-0123456789ab"], ["checkout", "remove", co.checkout_id, "--all"],
                 ["checkout", "list", "--delete-workspace"], ["checkout", "list", "--force"],
                 ["checkout", "verify", co.checkout_id, "--dataset", "x"]):
        code, _, err = _main(capsys, *args)
        assert code == 1 and err.startswith("eucaim-lab: error:") and err.count("\n") == 1, args
    with pytest.raises(SystemExit) as info:  # argparse: the two workspace flags exclude each other
        main(["checkout", "remove", co.checkout_id, "--delete-workspace", "--keep-workspace"])
    assert info.value.code == 2 and "not allowed with" in capsys.readouterr().err


def test_a_node_made_before_removal_existed_gains_the_table_on_open(lake, jupyter_data):
    from eucaim_lab._node import Node

    co = _checkout(lake)
    lake.db.execute("DROP TABLE checkout_removals")
    lake.close()
    reopened = Node(lake.home)
    try:
        assert checkout.remove(co.checkout_id, node=reopened)["folder_removed"]
        assert checkout.list_checkouts(node=reopened) == []
    finally:
        reopened.close()


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores directory permissions")
def test_a_kernelspec_that_cannot_be_removed_stops_before_anything_else(lake, jupyter_data):
    co = _checkout(lake)
    install_checkout_kernel(co.checkout_id, home=lake.home)
    kernels = jupyter_data / "kernels"
    kernels.chmod(0o555)
    try:
        with pytest.raises(AccessDeniedError, match="jupyter kernelspec remove"):
            checkout.remove(co.checkout_id, node=lake)
    finally:
        kernels.chmod(0o755)
    assert checkout.verify(co.checkout_id, node=lake).ok and co.workspace.is_dir()
    assert checkout.remove(co.checkout_id, node=lake)["folder_removed"]
    assert list_kernelspecs() == []


def test_a_kernel_started_and_not_stopped_blocks_removal_unless_forced(lake, jupyter_data):
    co = _checkout(lake)
    trail = access.AuditTrail(lake)

    def kernel(action, kernel_id, **extra):  # the entries the sandbox provisioner records
        trail.append(action, dataset_ids=["lung-b"], details={"kernel_id": kernel_id, "checkout_id": co.checkout_id,
                                                             **extra})

    kernel("kernel.start", "k1")
    kernel("kernel.stop", "k1", restart=True)
    kernel("kernel.start", "k1")  # restarted: still running
    kernel("kernel.start", "k2")
    kernel("kernel.stop", "k2", restart=False)
    with pytest.raises(ConflictError, match="may be in use: .*k1 .*--force") as info:
        checkout.remove(co.checkout_id, node=lake)
    assert [k["kernel_id"] for k in info.value.details["kernels"]] == ["k1"]
    assert checkout.verify(co.checkout_id, node=lake).ok  # nothing was removed

    forced = checkout.remove(co.checkout_id, force=True, node=lake)
    assert forced["folder_removed"] and [k["kernel_id"] for k in forced["kernels_without_stop"]] == ["k1"]


@pytest.mark.sandbox
@pytest.mark.timeout(180)
def test_a_running_sandboxed_kernel_blocks_removal_until_shut_down(lake, jupyter_data, tmp_path, monkeypatch):
    from sandbox.sandbox_helpers import probe, running_kernel

    runtime = tmp_path / "runtime"
    runtime.mkdir()
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(runtime))
    co = _checkout(lake)
    name = install_checkout_kernel(co.checkout_id, home=lake.home)["kernel_name"]
    with running_kernel(name) as (_, kc):
        seen = probe(kc, "import os\nresult = os.path.isfile(os.environ['EUCAIM_CHECKOUT'] + '/manifest.json')")
        assert seen == {"ok": True, "value": True}
        with pytest.raises(ConflictError, match="may be in use"):
            checkout.remove(co.checkout_id, node=lake)
        assert co.path.is_dir()
    result = checkout.remove(co.checkout_id, node=lake)
    assert result["kernels_without_stop"] == [] and result["kernelspecs_removed"] == [name]
    assert not co.path.exists()
