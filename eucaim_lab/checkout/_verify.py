"""Integrity checks: the datalake against the catalogue (before approval and checkout), a checkout against its
manifest (``eucaim-lab checkout verify``).

Datalake checks re-hash only files whose stat (inode, size, mtime, ctime) differs from the last time their bytes
matched the catalogue, so a checkout costs time per file, not per byte. A checkout verify always re-hashes.
"""

from __future__ import annotations

import dataclasses
import json
import os
import stat as stat_mod
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._errors import IntegrityError
from .._node import Node
from ._manifest import MANIFEST_NAME, Manifest, check_relpath, dataset_digest, sha3_file, sha3_files

if TYPE_CHECKING:  # pragma: no cover
    from ._checkout import Checkout

__all__ = ["DatalakeReport", "VerifyReport", "check_datalake", "require_intact", "verify", "verify_folder"]

_StatKey = tuple[int, int, int, int]


@dataclasses.dataclass(frozen=True)
class DatalakeReport:
    """A dataset's files in the datalake compared with the catalogue's SHA3 digests."""

    dataset_id: str
    root: Path
    files: tuple[tuple[str, str, int], ...]  # (relpath, sha3, size) as catalogued
    dataset_digest: str
    changed: tuple[str, ...]
    missing: tuple[str, ...]
    rehashed: int

    @property
    def ok(self) -> bool:
        return not self.changed and not self.missing


def require_intact(report: DatalakeReport, what: str) -> None:
    """Raise :class:`IntegrityError` listing the changed and missing files, if any."""
    if report.ok:
        return
    parts = []
    if report.changed:
        parts.append(f"changed: {_listing(report.changed)}")
    if report.missing:
        parts.append(f"missing: {_listing(report.missing)}")
    raise IntegrityError(
        f"{what}: its files in the datalake ({report.root}) no longer match the catalogue's SHA3-256 digests; "
        + "; ".join(parts),
        dataset_id=report.dataset_id, changed=list(report.changed), missing=list(report.missing),
    )


def _listing(items: tuple[str, ...], limit: int = 20) -> str:
    shown = ", ".join(items[:limit])
    return shown + (f" (and {len(items) - limit} more)" if len(items) > limit else "")


def _stat_key(st: os.stat_result) -> _StatKey:
    return (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def check_datalake(node: Node, dataset_id: str) -> DatalakeReport:
    """Compare the dataset's datalake files with the catalogue, re-hashing those whose stat changed."""
    from ..catalogue import Catalogue

    cat = Catalogue(node=node)
    root = cat.dataset_root(dataset_id)
    listing = cat.files(dataset_id)
    files = tuple(
        (check_relpath(str(r)), str(h), int(s))
        for r, h, s in zip(listing["relpath"], listing["sha3"], listing["size"], strict=True)
    )
    digest = dataset_digest((r, h) for r, h, _ in files)
    checksum = cat.get(dataset_id).checksum
    if checksum and checksum.startswith("sha3-256:") and checksum != f"sha3-256:{digest}":
        raise IntegrityError(
            f"The catalogue of {dataset_id!r} is inconsistent: its file list digests to sha3-256:{digest}, but the "
            f"dataset's recorded checksum is {checksum}.",
            dataset_id=dataset_id,
        )
    cache = {
        row[0]: (tuple(row[1:5]), row[5])
        for row in node.db.execute(
            "SELECT relpath, ino, size, mtime_ns, ctime_ns, sha3 FROM datalake_file_state WHERE dataset_id = ?",
            (dataset_id,),
        )
    }
    changed: list[str] = []
    missing: list[str] = []
    to_hash: list[tuple[str, str, _StatKey]] = []
    base = str(root) + os.sep
    for relpath, sha3, size in files:
        try:
            st = os.lstat(base + relpath)
        except FileNotFoundError:
            missing.append(relpath)
            continue
        if not stat_mod.S_ISREG(st.st_mode) or st.st_size != size:
            changed.append(relpath)
            continue
        key = _stat_key(st)
        if cache.get(relpath) != (key, sha3):
            to_hash.append((relpath, sha3, key))
    digests = sha3_files([root / r for r, _, _ in to_hash])
    good: list[tuple[str, _StatKey, str]] = []
    for (relpath, sha3, key), got in zip(to_hash, digests, strict=True):
        if got is None:
            missing.append(relpath)
        elif got != sha3:
            changed.append(relpath)
        else:
            good.append((relpath, key, sha3))
    _store_state(node, dataset_id, good)
    return DatalakeReport(
        dataset_id=dataset_id, root=root, files=files,
        dataset_digest=digest,
        changed=tuple(sorted(changed)), missing=tuple(sorted(missing)), rehashed=len(to_hash),
    )


def _store_state(node: Node, dataset_id: str, rows: list[tuple[str, _StatKey, str]]) -> None:
    if not rows:
        return
    with node.transaction() as db:
        db.executemany(
            "INSERT INTO datalake_file_state(dataset_id, relpath, ino, size, mtime_ns, ctime_ns, sha3) "
            "VALUES (?,?,?,?,?,?,?) ON CONFLICT(dataset_id, relpath) DO UPDATE SET ino = excluded.ino, "
            "size = excluded.size, mtime_ns = excluded.mtime_ns, ctime_ns = excluded.ctime_ns, sha3 = excluded.sha3",
            [(dataset_id, r, *k, h) for r, k, h in rows],
        )


def refresh_state(node: Node, report: DatalakeReport) -> None:
    """After linking (which changes a file's ctime, not its bytes): record the new ctime of files whose inode,
    size and mtime are those that were just verified."""
    cache = {
        row[0]: tuple(row[1:5])
        for row in node.db.execute(
            "SELECT relpath, ino, size, mtime_ns, ctime_ns FROM datalake_file_state WHERE dataset_id = ?",
            (report.dataset_id,),
        )
    }
    rows = []
    base = str(report.root) + os.sep
    for relpath, sha3, _ in report.files:
        old = cache.get(relpath)
        try:
            key = _stat_key(os.lstat(base + relpath))
        except FileNotFoundError:
            continue
        if old is not None and old[:3] == key[:3] and old != key:
            rows.append((relpath, key, sha3))
    _store_state(node, report.dataset_id, rows)


@dataclasses.dataclass(frozen=True)
class VerifyReport:
    """A checkout re-hashed against its manifest."""

    checkout_id: str
    path: Path
    changed: tuple[str, ...]
    missing: tuple[str, ...]
    extra: tuple[str, ...]
    files_checked: int
    bytes_checked: int
    seconds: float

    @property
    def ok(self) -> bool:
        return not (self.changed or self.missing or self.extra)

    def to_dict(self) -> dict[str, Any]:
        return {
            "checkout_id": self.checkout_id, "path": str(self.path), "ok": self.ok,
            "changed": list(self.changed), "missing": list(self.missing), "extra": list(self.extra),
            "files_checked": self.files_checked, "bytes_checked": self.bytes_checked,
            "seconds": round(self.seconds, 3),
        }


def _walk(root: Path) -> tuple[set[str], set[str]]:
    """Relative paths of regular files, and of anything else that is not a directory (symlinks, fifos...)."""
    regular: set[str] = set()
    other: set[str] = set()
    stack = [root]
    while stack:
        folder = stack.pop()
        with os.scandir(folder) as entries:
            for entry in entries:
                rel = os.path.relpath(entry.path, root).replace(os.sep, "/")
                if entry.is_dir(follow_symlinks=False):
                    stack.append(Path(entry.path))
                elif entry.is_file(follow_symlinks=False):
                    regular.add(rel)
                else:
                    other.add(rel)
    return regular, other


def _compare(
    checkout_id: str, root: Path, manifest: Manifest, manifest_sha3: str | None, start: float
) -> VerifyReport:
    """Re-hash ``root`` against ``manifest``; ``manifest_sha3`` (when known) checks manifest.json itself."""
    changed: list[str] = []
    missing: list[str] = []
    regular: set[str] = set()
    other: set[str] = set()
    if root.is_dir():
        regular, other = _walk(root)
    expected = set(manifest.files)
    present_manifest = MANIFEST_NAME in regular
    regular.discard(MANIFEST_NAME)
    if not present_manifest:
        missing.append(MANIFEST_NAME)
    elif manifest_sha3 is not None and sha3_file(root / MANIFEST_NAME) != manifest_sha3:
        changed.append(MANIFEST_NAME)
    to_check = sorted(expected & regular)
    changed += sorted(expected & other)  # a listed file replaced by a symlink or other non-file
    missing += sorted(expected - regular - other)
    extra = sorted((regular | other) - expected - {MANIFEST_NAME})
    digests = sha3_files([root / r for r in to_check])
    nbytes = 0
    for relpath, got in zip(to_check, digests, strict=True):
        if got is None:
            missing.append(relpath)
        elif got != manifest.files[relpath]:
            changed.append(relpath)
    for relpath in to_check:
        try:
            nbytes += os.lstat(root / relpath).st_size
        except FileNotFoundError:
            pass
    return VerifyReport(
        checkout_id=checkout_id, path=root, changed=tuple(sorted(changed)), missing=tuple(sorted(missing)),
        extra=tuple(extra), files_checked=len(to_check), bytes_checked=nbytes,
        seconds=time.perf_counter() - start,
    )


def verify_folder(path: str | os.PathLike[str]) -> VerifyReport:
    """Re-hash a checkout folder against its own ``manifest.json``, without the node (e.g. inside the sandbox).

    Weaker than :func:`verify`: a manifest rewritten together with the files it lists goes unnoticed here; the
    node's copy of the manifest catches that.
    """
    root = Path(path)
    start = time.perf_counter()
    manifest = Manifest.read(root / MANIFEST_NAME)
    return _compare(manifest.checkout_id, root, manifest, None, start)


def verify(checkout_id: str, *, node: Node | str | os.PathLike[str] | None = None) -> VerifyReport:
    """Re-hash every file of a checkout; report changed, missing and extra files (and audit the result).

    The reference is the manifest recorded in the node when the checkout was made; a ``manifest.json`` that
    differs from it is reported as changed.
    """
    from ..access._audit import AuditTrail
    from ._checkout import get

    co: Checkout = get(checkout_id, node=node)
    n = node if isinstance(node, Node) else Node(node)
    start = time.perf_counter()
    row = n.db.execute("SELECT manifest, manifest_sha3 FROM checkouts WHERE checkout_id = ?",
                       (co.checkout_id,)).fetchone()
    manifest = Manifest(**json.loads(row["manifest"]))
    report = _compare(co.checkout_id, co.path, manifest, row["manifest_sha3"], start)
    AuditTrail(n).append("checkout.verify", dataset_ids=[co.dataset_id], details={
        "checkout_id": co.checkout_id, "ok": report.ok, "changed": list(report.changed)[:100],
        "missing": list(report.missing)[:100], "extra": list(report.extra)[:100],
        "files_checked": report.files_checked,
    })
    return report
