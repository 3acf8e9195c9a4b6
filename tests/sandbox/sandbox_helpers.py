"""Shared pieces of the sandbox tests: a fake node with checkouts, a real sandboxed kernel, probes run in it."""

from __future__ import annotations

import contextlib
import hashlib
import json
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest


@dataclass
class SandboxSetup:
    root: Path
    home: Path  # node home
    checkout: Path
    other_checkout: Path
    workspace: Path
    runtime_dir: Path
    kernel_name: str


def make_checkout(home: Path, checkout_id: str, dataset_id: str, files: dict[str, bytes]) -> Path:
    """A checkout folder as the checkout subsystem lays it out (files + manifest.json), made read-only."""
    folder = home / "checkouts" / checkout_id
    folder.mkdir(parents=True)
    for rel, data in files.items():
        path = folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    manifest = {
        "checkout_id": checkout_id,
        "dataset_id": dataset_id,
        "version": "1.0.0",
        "request_id": "req-1",
        "permit_id": "permit-1",
        "user": "researcher",
        "access_condition": "IN_SITU_PROCESSING",
        "created": "2026-01-01T00:00:00+00:00",
        "files": {rel: hashlib.sha3_256(data).hexdigest() for rel, data in files.items()},
        "dataset_digest": "0" * 64,
    }
    (folder / "manifest.json").write_text(json.dumps(manifest))
    (folder / "index.json").write_text("[]")
    (folder / "eforms.json").write_text("[]")
    for path in folder.rglob("*"):
        path.chmod(0o444 if path.is_file() else 0o555)
    folder.chmod(0o555)
    return folder


@contextlib.contextmanager
def sandbox_setup(tmp: Path, limits: dict[str, Any] | None = None) -> Iterator[SandboxSetup]:
    """Environment of one test module: JUPYTER_* dirs, a node with two checkouts, the kernelspec of one."""
    from eucaim_lab._node import Node
    from eucaim_lab.sandbox import install_checkout_kernel

    with pytest.MonkeyPatch.context() as mp:
        home = tmp / "node"
        runtime = tmp / "runtime"
        runtime.mkdir()
        mp.setenv("JUPYTER_DATA_DIR", str(tmp / "jupyter-data"))
        mp.setenv("JUPYTER_RUNTIME_DIR", str(runtime))
        mp.setenv("EUCAIM_LAB_HOME", str(home))
        mp.setenv("EUCAIM_LAB_USER", "researcher")
        node = Node(home)
        node.db.execute("CREATE TABLE IF NOT EXISTS secret_probe (x TEXT)")
        node.close()
        checkout = make_checkout(home, "co-1", "ds-a", {"data/a.txt": b"visible data\n", "b.bin": b"\x00" * 128})
        other = make_checkout(home, "co-2", "ds-b", {"secret.txt": b"other checkout secret\n"})
        # what a running Jupyter server leaves in its runtime dir: the token must stay out of reach
        (runtime / "jpserver-4242.json").write_text(json.dumps({"token": "server-token-do-not-leak"}))
        # these checkout folders are made by hand, with no request or permit behind them: the permit check that
        # guards real checkouts (tests/sandbox/test_sandbox_workflow.py) is turned off for the battery
        info = install_checkout_kernel("co-1", home=home, limits=limits, require_permit=False)
        try:
            yield SandboxSetup(
                root=tmp, home=home, checkout=checkout, other_checkout=other,
                workspace=Path(info["workspace"]), runtime_dir=runtime, kernel_name=info["kernel_name"],
            )
        finally:
            for path in [home / "checkouts", *(home / "checkouts").rglob("*")]:
                if path.is_dir():
                    path.chmod(0o755)


@contextlib.contextmanager
def running_kernel(kernel_name: str) -> Iterator[tuple[Any, Any]]:
    from jupyter_client import KernelManager

    km = KernelManager(kernel_name=kernel_name)
    km.start_kernel()
    kc = km.client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=60)
        yield km, kc
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=False)


def execute(kc: Any, code: str, timeout: float = 60) -> tuple[str, str]:
    """Run ``code``; return (status, stdout+stderr text)."""
    chunks: list[str] = []

    def hook(msg: dict[str, Any]) -> None:
        if msg["msg_type"] == "stream":
            chunks.append(msg["content"]["text"])
        elif msg["msg_type"] == "error":
            chunks.append(f"{msg['content']['ename']}: {msg['content']['evalue']}")

    reply = kc.execute_interactive(code, timeout=timeout, output_hook=hook)
    return reply["content"]["status"], "".join(chunks)


def probe(kc: Any, body: str, timeout: float = 60) -> dict[str, Any]:
    """Run ``body`` in the kernel; it may set ``result``. Returns {"ok": bool, "value"|"error", "message"}."""
    code = (
        "import json as _j\n"
        "try:\n"
        "    result = None\n"
        + textwrap.indent(textwrap.dedent(body), "    ")
        + "\n    _r = {'ok': True, 'value': result}\n"
        "except BaseException as _e:\n"
        "    _r = {'ok': False, 'error': type(_e).__name__, 'message': str(_e)[:500]}\n"
        "print('@@' + _j.dumps(_r, default=repr))\n"
    )
    status, out = execute(kc, code, timeout=timeout)
    for line in out.splitlines():
        if line.startswith("@@"):
            return dict(json.loads(line[2:]))
    raise AssertionError(f"probe printed no result (status {status}): {out[-2000:]}")


def assert_fails(kc: Any, body: str, *errors: str) -> dict[str, Any]:
    """The attempt in ``body`` must raise (one of ``errors`` if given)."""
    res = probe(kc, body)
    assert not res["ok"], f"escape attempt succeeded: {body!r} -> {res}"
    if errors:
        assert res["error"] in errors, f"{body!r} failed with {res}, expected one of {errors}"
    return res
