"""Removing a checkout: its read-only folder, its sandboxed kernelspecs and (by policy) its workspace.

The folder holds hard links into the datalake: only the links are unlinked (directories are made writable first;
files are never chmod-ed, since a hard link shares its mode with the datalake file). The checkout's row and
manifest stay in the node, marked removed in ``checkout_removals``, so the audit history keeps its meaning; a
removed checkout can no longer be opened or verified.

Workspace policy (the workspace holds the user's results): an empty workspace is removed; one that holds files is
kept and reported, unless ``delete_workspace``; ``keep_workspace`` keeps it even when empty. A checkout whose
sandboxed kernel may still be running (its start audited, no stop) is left alone unless ``force``.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
from pathlib import Path
from typing import Any

from .._config import current_user
from .._errors import AccessDeniedError, ConflictError, IntegrityError, InvalidInputError
from .._node import Node
from ..access._audit import AuditTrail
from ..access._ids import validate_id
from ..access._permits import iso
from ..access._requests import as_node
from ..catalogue._model import validate_identifier
from ._checkout import Checkout, NodeLike, get

__all__ = ["remove"]

#: how often a kernelspec of the same name is looked for again (a copy may sit in several Jupyter data dirs)
_MAX_KERNELSPEC_ROUNDS = 8


def remove(
    checkout_id: str,
    *,
    keep_workspace: bool = False,
    delete_workspace: bool = False,
    force: bool = False,
    user: str | None = None,
    node: NodeLike = None,
) -> dict[str, Any]:
    """Remove checkout ``checkout_id``: its kernelspecs, its folder, then its workspace by policy; audit it.

    The workspace is removed when it holds no files; when it holds files it is kept (your results), unless
    ``delete_workspace``. ``keep_workspace`` keeps it in any case. Running this again on a removed checkout
    finishes what is left (e.g. deletes a kept workspace with ``delete_workspace``); with nothing left it raises
    :class:`ConflictError`. A sandboxed kernel of this checkout whose start the audit trail records without a
    stop may still be running: nothing is removed (:class:`ConflictError`) unless ``force``. Returns what was
    removed and where the workspace is.
    """
    validate_id(checkout_id, "CO")
    if keep_workspace and delete_workspace:
        raise InvalidInputError("Give keep_workspace or delete_workspace, not both. Got both.")
    n = as_node(node)
    by = validate_identifier(user or current_user(), "user name")
    co = get(checkout_id, include_removed=True, node=n)
    folder = _own_path(n.checkouts, co.path, checkout_id, "checkout folder")
    workspace = _own_path(n.workspaces, co.workspace, checkout_id, "workspace")

    running = _kernels_without_stop(n, co)
    if running and not force:
        listing = ", ".join(f"{k['kernel_id']} (started {k['started']})" for k in running)
        raise ConflictError(
            f"Checkout {checkout_id} may be in use: the audit trail records kernel(s) {listing} starting on it and "
            "no stop. Shut them down first (JupyterLab: Kernel > Shut Down Kernel) and run this again; if they "
            "are gone (e.g. the Jupyter server was killed), add --force. Nothing was removed.",
            checkout_id=checkout_id, kernels=running,
        )
    kernelspecs = _remove_kernelspecs(co)
    folder_existed = folder.exists() or folder.is_symlink()
    unlinked = _remove_tree(folder)
    ws_files = _count_files(workspace)
    if not (workspace.exists() or workspace.is_symlink()):
        ws_action = "absent"
    elif keep_workspace or (ws_files and not delete_workspace):
        ws_action = "kept"
    else:
        _remove_tree(workspace)
        ws_action = "removed"

    did_something = bool(kernelspecs or folder_existed or ws_action == "removed")
    if co.removed is not None and not did_something:
        hint = (f" Its workspace {workspace} was kept ({ws_files} file(s)); delete it with: eucaim-lab checkout "
                f"remove {checkout_id} --delete-workspace" if ws_action == "kept" else "")
        raise ConflictError(f"Checkout {checkout_id} was already removed on {co.removed}; nothing left to remove."
                            + hint, checkout_id=checkout_id, removed=co.removed)
    removed = co.removed or iso(dt.datetime.now(dt.timezone.utc))
    result: dict[str, Any] = {
        "checkout_id": checkout_id, "dataset_id": co.dataset_id, "version": co.version, "user": co.user,
        "removed": removed, "removed_by": by, "already_removed": co.removed is not None,
        "folder": str(folder), "folder_removed": folder_existed, "links_removed": unlinked,
        "workspace": str(workspace), "workspace_action": ws_action, "workspace_files": ws_files,
        "kernelspecs_removed": kernelspecs, "kernels_without_stop": running,
    }
    with n.transaction() as db:
        if co.removed is None:
            db.execute("INSERT INTO checkout_removals(checkout_id, removed, removed_by) VALUES (?,?,?)",
                       (checkout_id, removed, by))
        AuditTrail(n).append("checkout.remove", user=by, dataset_ids=[co.dataset_id], details={
            k: v for k, v in result.items() if k not in ("dataset_id", "removed_by", "user")
        } | {"owner": co.user})
    return result


def _own_path(parent: Path, path: Path, checkout_id: str, what: str) -> Path:
    """``parent/checkout_id``, checked against the path recorded in the node (never delete anything else)."""
    expected = parent / checkout_id
    if os.path.normpath(path) != os.path.normpath(expected):
        raise IntegrityError(
            f"The node records the {what} of {checkout_id} at {path}, expected {expected}; nothing removed.",
            checkout_id=checkout_id,
        )
    return expected


def _kernels_without_stop(node: Node, co: Checkout) -> list[dict[str, str]]:
    """Sandboxed kernels on this checkout whose last audit entry is ``kernel.start`` (a restart is recorded as a
    stop then a start), oldest first: ``kernel_id`` and ``started``."""
    last: dict[str, dict[str, str]] = {}
    for entry in AuditTrail(node).entries(dataset_id=co.dataset_id, actions=("kernel.start", "kernel.stop")):
        details = entry["details"]
        if details.get("checkout_id") != co.checkout_id or not details.get("kernel_id"):
            continue
        kernel_id = str(details["kernel_id"])
        last.pop(kernel_id, None)
        if entry["action"] == "kernel.start":
            last[kernel_id] = {"kernel_id": kernel_id, "started": str(entry["ts"])}
    return list(last.values())


def _remove_kernelspecs(co: Checkout) -> list[str]:
    """Remove the sandboxed kernelspecs whose metadata names this checkout id and folder; their names."""
    from ..sandbox._kernelspec import list_kernelspecs, remove_kernelspec

    folder = co.path.resolve()
    removed: list[str] = []
    for _ in range(_MAX_KERNELSPEC_ROUNDS):
        mine = [k for k in list_kernelspecs()
                if k["checkout_id"] == co.checkout_id and k["checkout"] and Path(k["checkout"]).resolve() == folder]
        if not mine:
            return removed
        for spec in mine:
            try:
                remove_kernelspec(spec["kernel_name"])
            except OSError as exc:
                done = f" (kernelspecs removed before it: {removed})" if removed else ""
                raise AccessDeniedError(
                    f"Cannot remove kernelspec {spec['kernel_name']!r} of checkout {co.checkout_id} at "
                    f"{spec['resource_dir']}: {exc.strerror}. Remove it as its owner (jupyter kernelspec remove "
                    f"{spec['kernel_name']}) and run this again; the checkout folder and workspace are untouched"
                    f"{done}.",
                    checkout_id=co.checkout_id, kernel_name=spec["kernel_name"],
                ) from exc
            removed.append(spec["kernel_name"])
    raise ConflictError(f"Kernelspecs of checkout {co.checkout_id} keep reappearing after removal: {removed}.",
                        checkout_id=co.checkout_id)


def _count_files(root: Path) -> int:
    """Entries under ``root`` that are not directories (files, symlinks...); 0 if ``root`` is absent.

    A folder that cannot be listed counts as one entry: what it holds is unknown, so it is not "empty".
    """
    if root.is_symlink() or root.is_file():
        return 1
    if not root.exists():
        return 0
    count = 0
    stack = [str(root)]
    while stack:
        try:
            with os.scandir(stack.pop()) as entries:
                for entry in entries:
                    if entry.is_dir(follow_symlinks=False):
                        stack.append(entry.path)
                    else:
                        count += 1
        except OSError:
            count += 1
    return count


def _remove_tree(root: Path) -> int:
    """Delete ``root`` without following symlinks or changing any file's mode; return the entries unlinked.

    Directories are made writable (owner) top-down before being listed, so a read-only checkout, or a folder
    the user made unreadable in a workspace, can be emptied.
    """
    if root.is_symlink() or root.is_file():
        root.unlink()
        return 1
    if not root.exists():
        return 0
    count = 0
    stack = [str(root)]
    while stack:
        folder = stack.pop()
        os.chmod(folder, 0o700)
        with os.scandir(folder) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    stack.append(entry.path)
                else:
                    count += 1
    shutil.rmtree(root)
    return count

