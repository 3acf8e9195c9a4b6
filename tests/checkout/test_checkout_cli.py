"""The whole path from the command line: request -> approve -> checkout -> verify -> audit verify."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

EXE = Path(sys.executable).with_name("eucaim-lab")


def _run(home, *args, user="researcher", ok=True):
    env = {**os.environ, "EUCAIM_LAB_HOME": str(home), "EUCAIM_LAB_USER": user}
    proc = subprocess.run([str(EXE), *args], check=False, capture_output=True, text=True, env=env, timeout=120)
    if ok:
        assert proc.returncode == 0, proc.stderr
    return proc


def _main(capsys, *args):
    from eucaim_lab.cli import main

    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.skipif(not EXE.exists(), reason=f"console script not installed at {EXE}")
def test_request_approve_checkout_verify_from_the_command_line(lake, node_home, capsys):
    req = json.loads(_run(node_home, "access", "request", "lung-b", "lung-a", "--purpose", "CLI study",
                          "--json").stdout)
    rid = req["request_id"]
    assert rid.startswith("REQ-") and req["status"] == "UNDER_REVIEW"

    code, _, err = _main(capsys, "access", "decline", rid, "--dataset", "lung-b", "--as", "hospital-a")
    assert code == 1 and "Only the data holder of 'lung-b'" in err
    code, _, err = _main(capsys, "access", "show", "../../etc/passwd")
    assert code == 1 and "request id" in err

    shown = json.loads(_run(node_home, "access", "approve", rid, "--dataset", "lung-b", "--as", "hospital-b",
                            "--expires", "2099-12-31", "--json").stdout)
    assert shown["status"] == "IN_PROGRESS"
    res = {r["dataset_id"]: r for r in shown["resources"]}
    assert res["lung-b"]["status"] == "RESOURCE_MADE_AVAILABLE" and res["lung-b"]["permit_id"]

    code, out, _ = _main(capsys, "access", "list", "--json")
    assert code == 0 and [r["request_id"] for r in json.loads(out)] == [rid]

    [co] = json.loads(_run(node_home, "checkout", rid, "--json").stdout)
    assert co["dataset_id"] == "lung-b" and Path(co["path"]).is_dir()
    assert (Path(co["path"]) / "manifest.json").is_file()

    verified = json.loads(_run(node_home, "checkout", "verify", co["checkout_id"], "--json").stdout)
    assert verified["ok"] is True and verified["files_checked"] == 8
    assert co["checkout_id"] in _main(capsys, "checkout", "list")[1]

    # break one file: verify exits 1 and names it
    victim = next(Path(co["path"]).rglob("*.dcm"))
    victim.chmod(0o644)
    victim.write_bytes(victim.read_bytes()[:-1] + b"\x00")
    broken = _run(node_home, "checkout", "verify", co["checkout_id"], ok=False)
    assert broken.returncode == 1 and str(victim.relative_to(co["path"])) in broken.stdout

    audit = json.loads(_run(node_home, "audit", "verify", "--json").stdout)
    assert audit["ok"] is True and audit["entries"] >= 6
    history = json.loads(_run(node_home, "audit", "list", "--dataset", "lung-b", "--json").stdout)
    actions = [e["action"] for e in history]
    assert {"access.request", "access.approve", "checkout.create", "checkout.verify"} <= set(actions)
    assert all("lung-b" in e["dataset_ids"] for e in history)
    assert history[0]["command_line"][1:3] == ["access", "request"]

    lake.db.execute("UPDATE audit_log SET user = 'nobody' WHERE seq = 2")
    tampered = _run(node_home, "audit", "verify", ok=False)
    assert tampered.returncode == 1 and "entry #2" in tampered.stdout


def test_checkout_command_refusals(lake, capsys):
    """Refusals through the same entry point, in-process (the subprocess path is covered above)."""
    code, out, _ = _main(capsys, "access", "request", "remote-c", "--purpose", "batch")
    rid = out.strip()
    assert code == 0 and _main(capsys, "access", "approve", rid, "--as", "hospital-a")[0] == 0
    code, _, err = _main(capsys, "checkout", rid)
    assert code == 1 and "REMOTE_PROCESSING" in err
    for args in (["checkout", "verify"], ["checkout", "verify", "../CO-0123456789ab"], ["checkout", rid, "extra"],
                 ["checkout", "list", "CO-0123456789ab"], ["audit", "list", "--dataset", "../x"]):
        code, _, err = _main(capsys, *args)
        assert code == 1 and err.startswith("eucaim-lab: error:"), args
