"""``eucaim-lab demo --headless``: the researcher's whole path, as a user would take it, without a browser.

search -> access request -> holder approval -> checkout -> integrity check -> sandboxed kernel -> (inside the
sandbox) isolation check, radiomics with Dask and a validated model -> audit trail check.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any

from ..catalogue import Catalogue

__all__ = ["run_workflow"]

_INSIDE = """
import json, os, socket
from eucaim_lab.demo._analysis import analyse_checkout
try:
    socket.create_connection(("192.0.2.1", 80), timeout=2)
    network = "reachable"
except OSError as exc:
    network = "blocked: " + type(exc).__name__
summary = analyse_checkout(workers={workers})
summary["network"] = network
summary["checkout_readonly"] = not os.access(os.environ["EUCAIM_CHECKOUT"], os.W_OK)
print("EUCAIM-RESULT " + json.dumps(summary))
"""


def _run_in_kernel(kernel_name: str, code: str, timeout: float) -> dict[str, Any]:
    from jupyter_client.manager import start_new_kernel

    # the kernel's own output goes to stderr, so that stdout carries only the JSON summary
    km, kc = start_new_kernel(kernel_name=kernel_name, startup_timeout=120, stdout=sys.stderr, stderr=sys.stderr)
    lines: list[str] = []
    errors: list[str] = []

    def hook(msg: dict[str, Any]) -> None:
        if msg["msg_type"] == "stream":
            lines.extend(msg["content"]["text"].splitlines())
        elif msg["msg_type"] == "error":
            errors.append(f"{msg['content']['ename']}: {msg['content']['evalue']}")

    try:
        kc.execute_interactive(code, output_hook=hook, timeout=timeout)
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
    if errors:
        raise RuntimeError(f"the analysis failed inside the sandboxed kernel: {errors[0]}")
    for line in lines:
        if line.startswith("EUCAIM-RESULT "):
            result = json.loads(line.removeprefix("EUCAIM-RESULT "))
            if not isinstance(result, dict):
                raise RuntimeError(f"the sandboxed kernel's result is not a JSON object: {line[:200]}")
            return result
    raise RuntimeError("the sandboxed kernel printed no result")


def run_workflow(cat: Catalogue, *, seeded: list[dict[str, Any]] | None = None, workers: int = 2) -> dict[str, Any]:
    from .. import access, checkout
    from ..sandbox import install_kernelspec

    steps: dict[str, Any] = {}
    t0 = time.perf_counter()
    found = cat.search(condition="lung-cancer", modality="CT")
    dataset_id = "demo-lung-ct" if "demo-lung-ct" in set(found["identifier"]) else found["identifier"].iloc[0]
    record = cat.get(dataset_id)
    steps["search"] = {"matches": int(len(found)), "dataset_id": dataset_id,
                       "access_condition": record.access_condition.value}
    req = access.request([dataset_id], "Headless demo: radiomics model of the outcome", node=cat.node)
    decided = access.approve(req.request_id, record.data_holder, node=cat.node)
    steps["access"] = {"request_id": req.request_id, "status": _status(decided)}
    checkouts = checkout.checkout(req.request_id, node=cat.node)
    co = checkouts[0]
    report = checkout.verify(co.checkout_id, node=cat.node)
    steps["checkout"] = {"checkout_id": co.checkout_id, "path": str(co.path), "intact": bool(report.ok),
                         "files": int(report.files_checked)}
    kernel = install_kernelspec(co.path, co.workspace, name=f"eucaim-{co.checkout_id.lower()}",
                                display_name=f"EUCAIM {dataset_id} (sandboxed)", dataset_ids=[dataset_id],
                                checkout_id=co.checkout_id, node_home=cat.node.home)
    steps["kernel"] = {"kernel_name": kernel}
    steps["sandboxed_analysis"] = _run_in_kernel(kernel, _INSIDE.format(workers=workers), timeout=1800)
    audit = access.AuditTrail(cat.node).verify()
    steps["audit"] = {"intact": bool(audit.ok), "entries": int(audit.entries)}
    return {
        "home": str(cat.node.home),
        "datasets": cat.ids(),
        "seeded": [s["dataset_id"] for s in (seeded or [])],
        "steps": steps,
        "seconds": round(time.perf_counter() - t0, 1),
    }


def _status(request: Any) -> str:
    status = getattr(request, "status", None)
    return getattr(status, "value", str(status))
