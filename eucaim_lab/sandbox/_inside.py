"""Code that runs *inside* the sandbox: the audited IPython kernel.

The provisioner starts ``ipykernel_launcher`` with ``--IPKernelApp.kernel_class`` pointing here. Before the
kernel takes any request it lowers its own resource limits (they cannot be raised again: the sandbox has no
capabilities), and for every execute request it writes one JSON line to an inherited pipe, *before* the code
runs: ``{"code_sha3": ..., "execution_count": ..., "silent": ..., "code_bytes": ...}``. A reader on the host
appends each line to the node's audit trail. Code in the kernel can write extra lines to that pipe, but it
cannot remove or alter lines already written (the host has read them) nor reach the audit database.

This module must not import anything from the host side (jupyter_client, the node): it only needs ipykernel.
"""

from __future__ import annotations

import hashlib
import json
import os
import resource
from typing import Any

from ipykernel.ipkernel import IPythonKernel

__all__ = ["AuditedKernel", "apply_limits"]

LIMITS_ENV = "EUCAIM_SANDBOX_LIMITS"
AUDIT_FD_ENV = "EUCAIM_AUDIT_FD"


def apply_limits(spec: str) -> dict[str, int | None]:
    """Set hard and soft rlimits from ``"cpu_seconds=,memory=4294967296,processes=256"``; return them."""
    values: dict[str, int | None] = {}
    for item in filter(None, spec.split(",")):
        key, _, value = item.partition("=")
        values[key] = int(value) if value else None
    memory, processes, cpu = values.get("memory"), values.get("processes"), values.get("cpu_seconds")
    if memory:
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    if processes:
        resource.setrlimit(resource.RLIMIT_NPROC, (processes, processes))
    if cpu:
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu))
    return values


class AuditedKernel(IPythonKernel):
    """An IPython kernel that applies the sandbox limits and reports a hash of every execute request."""

    def __init__(self, **kwargs: Any) -> None:
        spec = os.environ.get(LIMITS_ENV)
        fd = os.environ.get(AUDIT_FD_ENV)
        if spec is None or fd is None:
            # started outside the sandbox provisioner: refuse rather than run unlimited and unaudited
            raise RuntimeError(f"AuditedKernel runs only inside the eucaim sandbox ({LIMITS_ENV} and "
                               f"{AUDIT_FD_ENV} must be set by the provisioner).")
        apply_limits(spec)
        self._audit_fd = int(fd)
        os.set_inheritable(self._audit_fd, False)  # subprocesses of the kernel do not get the pipe
        super().__init__(**kwargs)

    def _audit(self, code: str, silent: bool, user_expressions: dict[str, str] | None) -> None:
        record: dict[str, Any] = {
            "code_sha3": hashlib.sha3_256(code.encode("utf-8", "surrogatepass")).hexdigest(),
            "code_bytes": len(code.encode("utf-8", "surrogatepass")),
            "execution_count": self.execution_count,
            "silent": bool(silent),
        }
        if user_expressions:
            text = json.dumps(user_expressions, sort_keys=True)
            record["user_expressions_sha3"] = hashlib.sha3_256(text.encode()).hexdigest()
        line = (json.dumps(record, sort_keys=True, separators=(",", ":")) + "\n").encode()
        # one write below PIPE_BUF is atomic; it blocks (never drops) while the host reader catches up
        os.write(self._audit_fd, line)

    async def do_execute(
        self,
        code: str,
        silent: bool,
        store_history: bool = True,
        user_expressions: dict[str, str] | None = None,
        allow_stdin: bool = False,
        *,
        cell_meta: dict[str, Any] | None = None,
        cell_id: str | None = None,
    ) -> dict[str, Any]:
        self._audit(code, silent, user_expressions)
        return await super().do_execute(
            code,
            silent,
            store_history,
            user_expressions,
            allow_stdin,
            cell_meta=cell_meta,
            cell_id=cell_id,
        )
