"""Provenance of an analysis: which data (dataset ids, versions, manifest digests, permit), which software, which
environment and which Dask cluster. Stored as a notebook output (so it travels inside the .ipynb), in the notebook
metadata by :func:`stamp`, and as a JSON sidecar in the workspace."""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

from .._errors import InvalidInputError, NotFoundError
from ._environment import check_environment

__all__ = ["MIME", "SCHEMA", "record", "stamp"]

MIME = "application/vnd.eucaim.provenance+json"
SCHEMA = "eucaim-lab/provenance/1"
PACKAGES = (
    "eucaim-lab", "numpy", "pandas", "scipy", "scikit-learn", "pyradiomics", "SimpleITK", "pydicom", "highdicom",
    "dask", "distributed", "pyarrow", "ipykernel", "ipywidgets", "matplotlib",
)


def _version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def _dataset_entry(checkout: Path) -> dict[str, Any]:
    manifest = checkout / "manifest.json"
    if not manifest.is_file():
        raise NotFoundError(f"{checkout} is not a checkout: it has no manifest.json.", path=str(checkout))
    try:
        data = json.loads(manifest.read_text())
    except json.JSONDecodeError as exc:
        raise InvalidInputError(f"{manifest} is not valid JSON: {exc}") from None
    keys = ("dataset_id", "version", "dataset_digest", "checkout_id", "permit_id", "request_id", "access_condition")
    return {k: data.get(k) for k in keys}


def _dask(client: Any) -> dict[str, Any] | None:
    if client is None:
        try:
            from distributed import get_client

            client = get_client()
        except (ImportError, ValueError):
            return None
    info = client.scheduler_info()
    workers = info.get("workers", {})
    return {
        "scheduler": info.get("address"),
        "workers": len(workers),
        "threads": sum(w.get("nthreads", 0) for w in workers.values()),
    }


def record(
    *,
    checkouts: list[str | os.PathLike[str]] | None = None,
    client: Any = None,
    name: str | None = None,
    sidecar: str | os.PathLike[str] | bool = True,
    display: bool = True,
) -> dict[str, Any]:
    """Collect provenance, write the JSON sidecar and show it as a notebook output; returns the record.

    ``checkouts`` default to ``$EUCAIM_CHECKOUT`` (set inside a sandboxed kernel). The sidecar goes to
    ``$EUCAIM_WORKSPACE/provenance/<name>.json`` (or the current folder) unless a path or False is given.
    """
    paths = [Path(p) for p in checkouts] if checkouts is not None else (
        [Path(os.environ["EUCAIM_CHECKOUT"])] if os.environ.get("EUCAIM_CHECKOUT") else []
    )
    env = check_environment()
    data: dict[str, Any] = {
        "schema": SCHEMA,
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "datasets": [_dataset_entry(p) for p in paths],
        "python": platform.python_version(),
        "platform": platform.platform(),
        "packages": {p: _version(p) for p in PACKAGES},
        "environment": env.to_dict(),
        "sandboxed": os.environ.get("EUCAIM_SANDBOXED") == "1",
        "dask": _dask(client),
    }
    if sidecar:
        if sidecar is True:
            base = Path(os.environ.get("EUCAIM_WORKSPACE") or ".") / "provenance"
            target = base / f"{name or os.environ.get('EUCAIM_NOTEBOOK_NAME') or 'analysis'}.json"
        else:
            target = Path(sidecar)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(data, indent=2))
        data_path = str(target)
    else:
        data_path = None
    if display:
        _show(data, data_path)
    return data


def _show(data: dict[str, Any], sidecar: str | None) -> None:
    from IPython.display import display as ipy_display

    ds = ", ".join(f"{d['dataset_id']} {d['version']} ({str(d['dataset_digest'])[:16]}...)" for d in data["datasets"])
    env = data["environment"]
    if env["lock_digest"] is None:
        env_line = "environment: not checked (no lock file found; set EUCAIM_ENV_LOCK)"
    else:
        env_line = f"environment: {'matches' if env['matches'] else 'differs from'} the lock {env['lock_digest']}"
    text = [f"provenance: datasets {ds or '(none)'}", env_line]
    if data["dask"]:
        text.append(f"dask: {data['dask']['workers']} workers, {data['dask']['threads']} threads")
    if sidecar:
        text.append(f"sidecar: {sidecar}")
    ipy_display({MIME: data, "text/plain": "\n".join(text)}, raw=True)


def stamp(notebook: str | os.PathLike[str]) -> dict[str, Any]:
    """Copy the last provenance output of ``notebook`` into its metadata (``metadata.eucaim.provenance``)."""
    import nbformat

    path = Path(notebook)
    nb = nbformat.read(path, as_version=4)
    found = None
    for cell in nb.cells:
        for out in cell.get("outputs", []) if cell.cell_type == "code" else []:
            if MIME in out.get("data", {}):
                found = out["data"][MIME]
    if found is None:
        raise InvalidInputError(f"{path} has no provenance output; run eucaim_lab.provenance.record() in it first.")
    nb.metadata.setdefault("eucaim", {})["provenance"] = found
    nbformat.write(nb, path)
    return dict(found)
