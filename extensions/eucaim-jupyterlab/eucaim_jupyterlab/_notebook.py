"""A notebook on a checkout's sandboxed kernel, written in the checkout's workspace and reachable by the server.

The sandboxed kernel sees the workspace at ``/data/workspace`` and starts there; the Jupyter server must also
reach the notebook through its contents API, i.e. below its root folder. When the node's workspaces lie outside
that folder, a symbolic link ``<root>/<link_name>`` -> ``<node>/workspaces`` is made once (``link_name`` is the
``EucaimSettings.workspaces_link`` setting; empty refuses instead).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from eucaim_lab._node import Node

__all__ = ["create_sandboxed_notebook", "first_cell_source", "server_path"]

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._-]{0,120}\.ipynb$")


def first_cell_source() -> str:
    """The first cell: open the checkout mounted in the sandbox and list its files."""
    return "\n".join(
        [
            "# Load the checked-out dataset (read-only at $EUCAIM_CHECKOUT) and list its files",
            "from eucaim_lab import checkout",
            "",
            "co = checkout.open()",
            "files = sorted(str(p.relative_to(co.path)) for p in co.files())",
            'print(f"checkout {co.checkout_id}: dataset {co.dataset_id} version {co.version}, {len(files)} files")',
            "for relpath in files[:20]:",
            '    print("  ", relpath)',
            "if len(files) > 20:",
            '    print(f"   ... and {len(files) - 20} more")',
        ]
    )


def _notebook(kernel_name: str, display_name: str, dataset_id: str, checkout_id: str) -> Any:
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": kernel_name, "display_name": display_name, "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    nb.metadata["eucaim"] = {"checkout_id": checkout_id, "dataset_id": dataset_id}
    nb.cells = [
        nbformat.v4.new_code_cell(first_cell_source()),
        nbformat.v4.new_markdown_cell(
            f"This notebook runs on the sandboxed kernel of checkout `{checkout_id}` (dataset `{dataset_id}`): "
            "the data is read-only at `$EUCAIM_CHECKOUT`, this folder (`$EUCAIM_WORKSPACE`) is writable, and "
            "there is no network. Every execution is recorded in the node's audit trail."
        ),
    ]
    return nb


def server_path(target: Path, *, root_dir: Path, workspaces: Path, link_name: str) -> str:
    """Path of ``target`` (inside ``workspaces``) relative to the server's ``root_dir``, linking if needed."""
    from eucaim_lab._errors import ConflictError

    root = root_dir.resolve()
    real = target.resolve()
    if real == root or root in real.parents:
        return real.relative_to(root).as_posix()
    if not link_name:
        raise ConflictError(
            f"The notebook {real} is outside the Jupyter server's root folder {root} and linking is switched off "
            "(EucaimSettings.workspaces_link is empty). Start JupyterLab with a root folder that contains "
            f"{workspaces.resolve()}, or set EucaimSettings.workspaces_link.",
        )
    link = root / link_name
    spaces = workspaces.resolve()
    if link.is_symlink() or link.exists():
        if not (link.is_symlink() and link.resolve() == spaces):
            raise ConflictError(
                f"{link} exists and is not a link to the node's workspaces ({spaces}). Remove it, or set "
                "EucaimSettings.workspaces_link to another name.",
                path=str(link),
            )
    else:
        os.symlink(spaces, link, target_is_directory=True)
    return (Path(link_name) / real.relative_to(spaces)).as_posix()


def create_sandboxed_notebook(
    node: Node, checkout_id: str, *, root_dir: Path, link_name: str, name: str | None = None
) -> dict[str, Any]:
    """Install the checkout's sandboxed kernelspec and write (or reuse) a notebook in its workspace.

    Without ``name`` the notebook is ``<dataset_id>.ipynb`` and an existing one is reused, never overwritten;
    a given ``name`` that exists already is a :class:`ConflictError`.
    """
    from eucaim_lab import checkout, sandbox
    from eucaim_lab._config import current_user
    from eucaim_lab._errors import AccessDeniedError, ConflictError, InvalidInputError

    co = checkout.get(checkout_id, node=node)
    user = current_user()
    if co.user != user:
        raise AccessDeniedError(
            f"Checkout {checkout_id} belongs to {co.user!r}, not to {user!r}: open your own checkouts only.",
            checkout_id=checkout_id,
        )
    if name is not None and (not isinstance(name, str) or not _NAME_RE.match(name)):
        raise InvalidInputError(
            "The notebook name must be a file name ending in .ipynb (letters, digits, space, '.', '_', '-'). "
            f"Got {name!r}.",
            field="name",
        )
    info = sandbox.install_checkout_kernel(checkout_id, home=node.home)
    workspace = Path(info["workspace"])
    workspace.mkdir(parents=True, exist_ok=True)
    path = workspace / (name or f"{co.dataset_id}.ipynb")
    if path.is_symlink() or (path.exists() and not path.is_file()):
        # the sandboxed kernel writes in this folder: a link planted there must not lead the server
        # (which follows links when it saves) to a file outside the workspace
        raise ConflictError(
            f"{path} is a link or not a regular file; it is not opened. Remove it from the workspace, or "
            "give another notebook name.",
            path=str(path),
        )
    created = not path.exists()
    if not created and name is not None:
        raise ConflictError(f"A notebook {path.name!r} already exists in the workspace of {checkout_id}.",
                            path=str(path))
    if created:
        import nbformat

        nb = _notebook(info["kernel_name"], info["display_name"], co.dataset_id, checkout_id)
        tmp = path.with_name(f".{path.name}.tmp")
        nbformat.write(nb, str(tmp))
        os.replace(tmp, path)
    return {
        "path": server_path(path, root_dir=root_dir, workspaces=node.workspaces, link_name=link_name),
        "kernel_name": info["kernel_name"],
        "display_name": info["display_name"],
        "checkout_id": checkout_id,
        "dataset_id": co.dataset_id,
        "created": created,
    }
