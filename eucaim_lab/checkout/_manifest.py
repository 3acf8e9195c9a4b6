"""Checkout manifests and the hashing they rest on (SHA3-256 everywhere, as in CHAIMELEON's dataset service)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from .._errors import IntegrityError, InvalidInputError
from ..catalogue._model import validate_identifier
from ..access._ids import validate_id
from ..catalogue._vocab import AccessCondition

__all__ = [
    "MANIFEST_NAME",
    "Manifest",
    "check_relpath",
    "dataset_digest",
    "sha3_file",
    "sha3_files",
]

MANIFEST_NAME = "manifest.json"
INDEX_NAME = "index.json"
EFORMS_NAME = "eforms.json"
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


def sha3_file(path: str | os.PathLike[str]) -> str:
    """SHA3-256 hex digest of a file's bytes."""
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha3_256").hexdigest()


def _sha3_or_none(path: Path) -> str | None:
    try:
        return sha3_file(path)
    except FileNotFoundError:
        return None


def sha3_files(paths: Sequence[Path], *, workers: int | None = None) -> list[str | None]:
    """Digests of many files in order (``None`` for a missing file); hashing releases the GIL, so threads help."""
    workers = workers or min(4, os.cpu_count() or 1)
    if workers <= 1 or len(paths) < 2:
        return [_sha3_or_none(p) for p in paths]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(_sha3_or_none, paths, chunksize=64))


def dataset_digest(files: Iterable[tuple[str, str]]) -> str:
    """One digest for a dataset version, as the catalogue computes it at ingest (its ``checksum``)."""
    from ..catalogue._ingest import dataset_digest as catalogue_digest

    return str(catalogue_digest([(str(r), str(h)) for r, h in files]))


def check_relpath(relpath: str) -> str:
    """A relative POSIX path inside a dataset: no absolute paths, no '..', no empty parts."""
    if (not relpath or relpath[0] == "/" or "\\" in relpath or "\x00" in relpath
            or any(part in ("", ".", "..") for part in relpath.split("/"))):
        raise IntegrityError(f"A dataset file path must be relative and stay inside the dataset. Got {relpath!r}.")
    return relpath


@dataclasses.dataclass(frozen=True)
class Manifest:
    """``manifest.json`` of a checkout. ``files`` maps every file's relpath (index.json and eforms.json included,
    manifest.json itself excluded) to its SHA3-256."""

    checkout_id: str
    dataset_id: str
    version: str
    request_id: str
    permit_id: str
    user: str
    access_condition: AccessCondition
    created: str
    files: Mapping[str, str]
    dataset_digest: str

    def __post_init__(self) -> None:
        validate_id(self.checkout_id, "CO")
        validate_id(self.request_id, "REQ")
        validate_id(self.permit_id, "PERMIT")
        validate_identifier(self.dataset_id)
        if not isinstance(self.access_condition, AccessCondition):
            object.__setattr__(self, "access_condition", AccessCondition(self.access_condition))
        if not _HEX64.match(self.dataset_digest):
            raise InvalidInputError(f"dataset_digest must be 64 hex digits. Got {self.dataset_digest!r}.")
        for relpath, digest in self.files.items():
            check_relpath(relpath)
            if relpath == MANIFEST_NAME or not _HEX64.match(str(digest)):
                raise InvalidInputError(f"Bad manifest entry {relpath!r}: {digest!r}.")
        object.__setattr__(self, "files", dict(sorted(self.files.items())))

    def to_dict(self) -> dict[str, Any]:
        data = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        data["access_condition"] = self.access_condition.value
        data["files"] = dict(self.files)
        return data

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=1, sort_keys=True, ensure_ascii=False) + "\n"

    @classmethod
    def read(cls, path: str | os.PathLike[str]) -> Manifest:
        """Load and validate a ``manifest.json``; a malformed one is an :class:`IntegrityError`."""
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
            return cls(**data)
        except (OSError, ValueError, TypeError) as exc:
            raise IntegrityError(f"The checkout manifest {path} is unreadable or malformed: {exc}",
                                 path=str(path)) from None
