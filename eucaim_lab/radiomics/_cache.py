"""Content-addressed cache of per-case extraction results.

Key: SHA3-256 over the case's input digest (image and mask bytes plus the region selection), its label, the settings
digest and the engine versions. A changed byte, label, setting or library version gives another key, so a stale
result is never returned. Each result is one JSON file written atomically (temporary file + ``os.replace``) as soon as
the case finishes, so a run killed half-way keeps every finished case and the next run resumes from there.

What is cached: successful results, and errors the task itself raised while reading or checking the input or
computing features (they are deterministic: the same bytes and settings fail the same way). Not cached: failures of
the infrastructure (a worker that died, a task the scheduler gave up on, a lost connection); those cases are computed
again next time.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import tempfile
import warnings
from pathlib import Path
from typing import Any

__all__ = ["ResultCache", "cache_key"]

#: bump when the layout of a cached record changes
CACHE_FORMAT = 1


def cache_key(input_digest: str, label: int, settings_digest: str, engine_versions: str) -> str:
    h = hashlib.sha3_256()
    for part in (f"format={CACHE_FORMAT}", input_digest, f"label={label}", settings_digest, engine_versions):
        h.update(part.encode())
        h.update(b"\x00")
    return h.hexdigest()


def _encode(value: Any) -> Any:
    # JSON has no NaN/inf: keep them as strings and restore them on read
    if isinstance(value, float) and not math.isfinite(value):
        return {"__float__": repr(value)}
    if isinstance(value, dict):
        return {k: _encode(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_encode(v) for v in value]
    return value


def _decode(value: Any) -> Any:
    if isinstance(value, dict):
        if set(value) == {"__float__"}:
            return float(value["__float__"])
        return {k: _decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_decode(v) for v in value]
    return value


class ResultCache:
    """Finished case records under ``root`` (``<node>/cache/radiomics`` by default), one JSON file per key."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)

    def __repr__(self) -> str:
        return f"ResultCache({str(self.root)!r})"

    def _path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.json"

    def get(self, key: str) -> dict[str, Any] | None:
        path = self._path(key)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        try:
            record = _decode(json.loads(text))
        except ValueError:
            warnings.warn(f"Ignoring an unreadable radiomics cache entry {path}; the case is computed again.",
                          stacklevel=2)
            return None
        return record if isinstance(record, dict) else None

    def put(self, key: str, record: dict[str, Any]) -> Path:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".json", dir=path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(_encode(record), fh, allow_nan=False, separators=(",", ":"))
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return path

    def __len__(self) -> int:
        return sum(1 for _ in self.root.glob("*/*.json")) if self.root.exists() else 0
