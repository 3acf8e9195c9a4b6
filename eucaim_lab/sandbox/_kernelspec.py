"""Kernelspecs that select the sandbox provisioner for one checkout."""

from __future__ import annotations

import json
import os
import sys
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from .._errors import InvalidInputError, NotFoundError
from ._policy import SandboxLimits, python_environment_paths

__all__ = ["PROVISIONER_NAME", "install_checkout_kernel", "install_kernelspec", "list_kernelspecs", "remove_kernelspec"]

#: the entry point name in the ``jupyter_client.kernel_provisioners`` group
PROVISIONER_NAME = "eucaim-sandbox"


def _spec_manager() -> Any:
    from jupyter_client.kernelspec import KernelSpecManager

    return KernelSpecManager()


def install_kernelspec(
    checkout_dir: str | os.PathLike[str],
    workspace_dir: str | os.PathLike[str],
    *,
    name: str,
    display_name: str,
    dataset_ids: Iterable[str] = (),
    checkout_id: str | None = None,
    limits: SandboxLimits | Mapping[str, Any] | None = None,
    node_home: str | os.PathLike[str] | None = None,
    audit_user: str | None = None,
    prefix: str | None = None,
    user: bool = True,
    require_permit: bool = True,
) -> str:
    """Install a sandboxed kernelspec and return its name.

    With ``require_permit`` (the default) every start of the kernel first verifies the permit named in the
    checkout's manifest against the node (signature, holder, user, dataset, version, expiry, removal): an expired
    or revoked permit stops the kernel from starting. Only folders that are not checkouts of a node (tests of the
    sandbox itself) turn it off.

    The kernel sees ``checkout_dir`` read-only and ``workspace_dir`` writable (created if missing); ``limits``
    (a :class:`SandboxLimits` or a mapping with ``memory``, ``processes``, ``cpu_seconds``) default to 4 GiB and
    256 tasks. Audit entries go to the node at ``node_home`` (default: the current node) under ``audit_user``
    (default: the user starting the kernel). ``user``/``prefix`` choose where Jupyter installs the spec, as in
    ``jupyter kernelspec install`` (``$JUPYTER_DATA_DIR`` is honoured).
    """
    from .._config import node_home as resolve_home
    from ..catalogue._model import validate_identifier

    kernel_name = validate_identifier(name, "kernel name").lower()
    if not isinstance(display_name, str) or not display_name.strip():
        raise InvalidInputError(f"The kernel display name must be non-empty text. Got {display_name!r}.")
    checkout = Path(checkout_dir).resolve()
    if not checkout.is_dir():
        raise NotFoundError(f"The checkout folder {checkout} does not exist.")
    workspace = Path(workspace_dir).resolve()
    workspace.mkdir(parents=True, exist_ok=True)
    if workspace == checkout or checkout in workspace.parents or workspace in checkout.parents:
        raise InvalidInputError(
            f"The workspace must be outside the checkout and vice versa. Got checkout {checkout}, "
            f"workspace {workspace}."
        )
    if isinstance(limits, SandboxLimits):
        resolved_limits = limits
    else:
        resolved_limits = SandboxLimits.from_mapping(limits)
    ids = [validate_identifier(d, "dataset id") for d in dataset_ids]
    if checkout_id is not None:
        validate_identifier(checkout_id, "checkout id")
    spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": display_name.strip(),
        "language": "python",
        "interrupt_mode": "message",
        "env": {},
        "metadata": {
            "debugger": False,
            "eucaim": {"sandboxed": True, "checkout_id": checkout_id, "dataset_ids": ids},
            "kernel_provisioner": {
                "provisioner_name": PROVISIONER_NAME,
                "config": {
                    "checkout": str(checkout),
                    "workspace": str(workspace),
                    "checkout_id": checkout_id,
                    "dataset_ids": ids,
                    "node_home": str(resolve_home(node_home)),
                    "user": audit_user,
                    "limits": resolved_limits.to_dict(),
                    "python_paths": python_environment_paths(),
                    "require_permit": bool(require_permit),
                },
            },
        },
    }
    with tempfile.TemporaryDirectory(prefix="eucaim-kernelspec-") as tmp:
        (Path(tmp) / "kernel.json").write_text(json.dumps(spec, indent=2), encoding="utf-8")
        _spec_manager().install_kernel_spec(tmp, kernel_name, user=user and prefix is None, prefix=prefix)
    return kernel_name


def list_kernelspecs() -> list[dict[str, Any]]:
    """The installed sandboxed kernelspecs: name, display name, folder, checkout id, dataset ids."""
    out = []
    for kernel_name, entry in sorted(_spec_manager().get_all_specs().items()):
        spec = entry.get("spec", {})
        metadata = spec.get("metadata", {})
        provisioner = metadata.get("kernel_provisioner", {})
        if provisioner.get("provisioner_name") != PROVISIONER_NAME:
            continue
        config = provisioner.get("config", {})
        out.append({
            "kernel_name": kernel_name,
            "display_name": spec.get("display_name"),
            "resource_dir": entry.get("resource_dir"),
            "checkout_id": config.get("checkout_id"),
            "dataset_ids": config.get("dataset_ids", []),
            "checkout": config.get("checkout"),
            "workspace": config.get("workspace"),
            "limits": config.get("limits", {}),
        })
    return out


def remove_kernelspec(name: str) -> str:
    """Remove the sandboxed kernelspec ``name``; return the folder removed. Other kernelspecs are refused."""
    from ..catalogue._model import validate_identifier

    kernel_name = validate_identifier(name, "kernel name").lower()
    known = {k["kernel_name"]: k for k in list_kernelspecs()}
    if kernel_name not in known:
        raise NotFoundError(
            f"No sandboxed kernelspec named {kernel_name!r}. Installed: {sorted(known) or 'none'}."
        )
    return str(_spec_manager().remove_kernel_spec(kernel_name))


def install_checkout_kernel(
    checkout_id: str,
    *,
    home: str | os.PathLike[str] | None = None,
    limits: SandboxLimits | Mapping[str, Any] | None = None,
    prefix: str | None = None,
    user: bool = True,
    require_permit: bool = True,
) -> dict[str, Any]:
    """Install the sandboxed kernelspec of checkout ``checkout_id`` of the node at ``home``.

    The kernel is named ``eucaim-<checkout_id>`` and shown as "EUCAIM <dataset> (sandboxed)"; its workspace is
    ``<node>/workspaces/<checkout_id>`` (created). Returns ``kernel_name``, ``display_name``, ``checkout``,
    ``workspace`` and ``dataset_ids``.
    """
    from .._node import Node
    from ..catalogue._model import validate_identifier

    validate_identifier(checkout_id, "checkout id")
    node = Node(home)
    checkout = node.checkouts / checkout_id
    manifest_path = checkout / "manifest.json"
    if not manifest_path.is_file():
        removed = node.db.execute(
            "SELECT removed FROM checkout_removals WHERE checkout_id = ?", (checkout_id,)
        ).fetchone()
        if removed is not None:
            raise NotFoundError(
                f"Checkout {checkout_id} was removed on {removed[0]}; it has no kernel any more. Check the "
                "dataset out again with 'eucaim-lab checkout REQUEST'."
            )
        raise NotFoundError(
            f"No checkout {checkout_id!r} in {node.checkouts} (expected {manifest_path}). "
            "Create one with 'eucaim-lab checkout REQUEST'."
        )
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise InvalidInputError(f"The checkout manifest {manifest_path} is not valid JSON: {exc}.") from exc
    dataset_id = manifest.get("dataset_id") if isinstance(manifest, dict) else None
    if not isinstance(dataset_id, str):
        raise InvalidInputError(f"The checkout manifest {manifest_path} has no 'dataset_id'. Got {manifest!r:.200}.")
    workspace = node.workspaces / checkout_id
    display_name = f"EUCAIM {dataset_id} (sandboxed)"
    name = install_kernelspec(
        checkout,
        workspace,
        name=f"eucaim-{checkout_id}",
        display_name=display_name,
        dataset_ids=[dataset_id],
        checkout_id=checkout_id,
        limits=limits,
        node_home=node.home,
        audit_user=manifest.get("user") if isinstance(manifest.get("user"), str) else None,
        prefix=prefix,
        user=user,
        require_permit=require_permit,
    )
    return {
        "kernel_name": name,
        "display_name": display_name,
        "checkout": str(checkout),
        "workspace": str(workspace),
        "dataset_ids": [dataset_id],
    }
