"""A sandboxed kernel is a working kernel: interrupt, restart, Dask inside, and every use audited."""

from __future__ import annotations

import hashlib
import time

import pytest
from sandbox.sandbox_helpers import execute, probe, running_kernel, sandbox_setup

pytestmark = [pytest.mark.sandbox, pytest.mark.timeout(180)]


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory):
    with sandbox_setup(tmp_path_factory.mktemp("kernel")) as setup, running_kernel(setup.kernel_name) as (km, kc):
        yield setup, km, kc


def _audit(setup, actions):
    from eucaim_lab.access import AuditTrail

    trail = AuditTrail(setup.home)
    try:
        return trail.entries(actions=actions)
    finally:
        trail.node.close()


def _wait_for(predicate, timeout: float = 10.0):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.1)


def test_kernelspec_asks_for_message_interrupts(sandbox) -> None:
    km = sandbox[1]
    assert km.kernel_spec.interrupt_mode == "message"
    assert km.transport == "ipc"
    assert km.ip.startswith("/tmp/eucaim-") and len(km.ip) < 90


def test_interrupt_stops_a_long_cell_quickly(sandbox) -> None:
    km, kc = sandbox[1], sandbox[2]
    msg_id = kc.execute("import time; time.sleep(60)")
    while True:  # wait until the kernel runs the cell (a busy machine may take a while to get there)
        msg = kc.get_iopub_msg(timeout=30)
        if msg["msg_type"] == "execute_input" and msg["parent_header"].get("msg_id") == msg_id:
            break
    time.sleep(0.5)
    started = time.monotonic()
    km.interrupt_kernel()
    while True:  # skip replies to earlier requests (kernel_info from wait_for_ready)
        reply = kc.get_shell_msg(timeout=10)
        if reply["parent_header"].get("msg_id") == msg_id:
            break
    elapsed = time.monotonic() - started
    assert reply["content"]["status"] == "error"
    assert reply["content"]["ename"] == "KeyboardInterrupt"
    assert elapsed < 10
    assert km.is_alive()
    # ipykernel aborts requests that arrive just after an error (stop_on_error); that is not the sandbox
    for _ in range(10):
        status, out = execute(kc, "print('still here')")
        if status != "aborted":
            break
        time.sleep(0.2)
    assert (status, out.strip()) == ("ok", "still here")


def test_dask_local_cluster_computes_inside(sandbox) -> None:
    kc = sandbox[2]
    res = probe(kc, """
from dask.distributed import Client, LocalCluster
with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
    with Client(cluster) as client:
        result = [client.submit(sum, range(101)).result(), list(client.scheduler_info()['workers'])[0]]
""", timeout=120)
    assert res["ok"], res
    total, worker = res["value"]
    assert total == 5050
    assert worker.startswith(("tcp://127.0.0.1", "inproc://", "tcp://localhost")), worker


def test_every_execute_request_is_audited(sandbox) -> None:
    setup, kc = sandbox[0], sandbox[2]
    code = f"x = {time.time_ns()}  # unique cell"
    status, _ = execute(kc, code)
    assert status == "ok"
    digest = hashlib.sha3_256(code.encode()).hexdigest()

    def found():
        return [e for e in _audit(setup, ["kernel.execute"]) if e["details"].get("code_sha3") == digest]

    entries = _wait_for(found)
    assert len(entries) == 1, entries
    entry = entries[0]
    assert entry["dataset_ids"] == ["ds-a"]
    assert entry["user"] == "researcher"
    assert entry["details"]["checkout_id"] == "co-1"
    assert entry["details"]["kernel_id"] == sandbox[1].kernel_id
    assert entry["details"]["code_bytes"] == len(code.encode())
    starts = _audit(setup, ["kernel.start"])
    assert starts and starts[0]["details"]["kernel_id"] == sandbox[1].kernel_id
    assert starts[0]["details"]["limits"] == {"memory": 4 * 1024**3, "processes": 256, "cpu_seconds": None}
    assert starts[0]["details"]["process_limit_enforced_by"] in ("cgroup", "rlimit")


def test_forged_audit_lines_are_recorded_as_such(sandbox) -> None:
    """The kernel may add lines to its audit pipe; they are kept (marked malformed when they are junk)."""
    setup, kc = sandbox[0], sandbox[2]
    status, _ = execute(kc, "import os; os.write(int(os.environ['EUCAIM_AUDIT_FD']), b'not json\\n')")
    assert status == "ok"
    junk_hash = hashlib.sha3_256(b"not json\n").hexdigest()
    entries = _wait_for(lambda: [e for e in _audit(setup, ["kernel.execute"])
                                 if e["details"].get("line_sha3") == junk_hash])
    assert entries and entries[0]["details"]["malformed"] is True


def test_restart_gives_a_fresh_sandboxed_kernel(sandbox) -> None:
    setup, km, kc = sandbox
    status, _ = execute(kc, "marker = 'before restart'")
    assert status == "ok"
    km.restart_kernel(now=False)
    kc.wait_for_ready(timeout=60)
    res = probe(kc, "result = [('marker' in globals()), open('/data/checkout/data/a.txt').read()]")
    assert res["ok"] and res["value"] == [False, "visible data\n"], res
    res = probe(kc, "import socket; result = sorted(n for _, n in socket.if_nameindex())")
    assert res["value"] == ["lo"], res
    stops = _audit(setup, ["kernel.stop"])
    assert [s["details"]["restart"] for s in stops] == [True]
    assert len(_audit(setup, ["kernel.start"])) == 2


def test_stop_is_audited_and_the_trail_verifies(tmp_path) -> None:
    from eucaim_lab.access import AuditTrail

    with sandbox_setup(tmp_path) as setup:
        with running_kernel(setup.kernel_name) as (km, kc):
            kernel_dir = km.ip.rsplit("/", 1)[0]
            assert execute(kc, "1 + 1")[0] == "ok"
        actions = [e["action"] for e in _audit(setup, ["kernel.start", "kernel.execute", "kernel.stop"])]
        assert actions[0] == "kernel.start" and actions[-1] == "kernel.stop"
        assert "kernel.execute" in actions
        trail = AuditTrail(setup.home)
        assert trail.verify().ok
        trail.node.close()
        import os

        assert not os.path.exists(kernel_dir)  # the socket folder is removed on shutdown


def test_cpu_time_limit_ends_a_runaway_kernel(tmp_path) -> None:
    with sandbox_setup(tmp_path, limits={"cpu_seconds": 4}) as setup, running_kernel(setup.kernel_name) as (km, kc):
        res = probe(kc, "import resource; result = resource.getrlimit(resource.RLIMIT_CPU)")
        assert res["value"] == [4, 4], res
        kc.execute("while True: pass")
        assert _wait_for(lambda: not km.is_alive(), timeout=30)


def test_kernel_is_killed_when_its_executions_cannot_be_audited(tmp_path) -> None:
    import sqlite3

    with sandbox_setup(tmp_path) as setup, running_kernel(setup.kernel_name) as (km, kc):
        assert execute(kc, "1 + 1")[0] == "ok"
        db = sqlite3.connect(setup.home / "node.sqlite", isolation_level=None)
        db.execute("ALTER TABLE audit_log RENAME TO audit_log_away")
        try:
            kc.execute("import time; time.sleep(30)")
            assert _wait_for(lambda: not km.is_alive(), timeout=15)
        finally:
            db.execute("ALTER TABLE audit_log_away RENAME TO audit_log")
            db.close()
