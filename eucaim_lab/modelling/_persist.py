"""Saving and loading a fitted model with its metadata and a SHA-256 of the model file."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .._errors import IntegrityError, InvalidInputError, NotFoundError

__all__ = ["load_model", "save_model"]


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _metadata_path(path: Path) -> Path:
    return path.with_name(path.name + ".json")


def save_model(model: Any, path: Path, result: Any = None, *, provenance: dict[str, Any]) -> Path:
    """Write ``model`` to ``path`` with joblib and ``<path>.json`` beside it (settings, metrics, versions, hash)."""
    import joblib

    from ._report import software_versions

    path = Path(path)
    if path.suffix != ".joblib":
        raise InvalidInputError(f"The model file name must end in '.joblib'. Got {path.name!r}.")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".partial")
    joblib.dump(model, tmp)
    tmp.replace(path)
    metadata: dict[str, Any] = {
        "format": "eucaim-lab-model/1",
        "model_file": path.name,
        "sha256": _sha256(path),
        "saved": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "estimator": repr(model),
        "software": software_versions(),
        "provenance": provenance,
    }
    if result is not None:
        settings = dict(result.settings)
        metadata["settings"] = settings
        metadata["classes"] = {"positive_label": settings.get("positive_label"), "encoded_as": [0, 1]}
        metadata["features"] = settings.get("feature_names")
        metadata["metrics"] = {
            name: {k: (None if row[k] != row[k] else float(row[k])) for k in ("estimate", "ci_low", "ci_high")}
            for name, row in result.metrics.iterrows()
        }
    _metadata_path(path).write_text(json.dumps(metadata, indent=2, default=str))
    return path


def load_model(path: str | Path) -> Any:
    """Load a model saved by ``EvaluationResult.save_model`` after checking its SHA-256 against the metadata.

    Loading a joblib file runs code from it: load only models whose origin you trust. The hash check detects a
    changed or truncated file, not a forged one with forged metadata.
    """
    import joblib

    path = Path(path)
    meta_path = _metadata_path(path)
    if not path.exists():
        raise NotFoundError(f"Model file {str(path)!r} does not exist.")
    if not meta_path.exists():
        raise NotFoundError(f"Model metadata {str(meta_path)!r} is missing; it holds the hash to verify the model.")
    metadata = json.loads(meta_path.read_text())
    expected = metadata.get("sha256")
    actual = _sha256(path)
    if actual != expected:
        raise IntegrityError(
            f"Model file {path.name!r} does not match its metadata: SHA-256 expected {expected}, got {actual}. "
            "The file was changed or corrupted; do not use it.", expected=expected, actual=actual,
        )
    return joblib.load(path)
