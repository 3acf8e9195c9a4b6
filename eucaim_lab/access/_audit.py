"""The audit trail: an append-only, hash-chained record of every use of the node's data.

Each entry carries EUCAIM's use-record fields (user, dataset ids, tool name and version, environment, command
line) plus the action and its details. Its hash is the SHA3-256 of the entry's canonical JSON, which includes
the previous entry's hash and the entry's sequence number; the newest hash is also kept in ``audit_head``.
Editing, deleting, inserting or reordering rows therefore breaks the chain, and :meth:`AuditTrail.verify`
names the first entry where it breaks.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import hashlib
import json
import os
import platform
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from .._errors import IntegrityError, InvalidInputError
from .._node import Node

__all__ = ["GENESIS_HASH", "AuditReport", "AuditTrail", "canonical_json"]

#: the ``prev_hash`` of the first entry
GENESIS_HASH = "0" * 64

_FIELDS = (
    "seq", "ts", "action", "user", "dataset_ids", "details", "tool", "environment", "command_line", "prev_hash",
)


def canonical_json(data: Any) -> str:
    """Deterministic JSON: sorted keys, no spaces, UTF-8 text; the form that is hashed and signed."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def _normalise(value: Any) -> Any:
    """Round-trip through JSON so that what is hashed is exactly what is stored and read back."""
    return json.loads(json.dumps(value, default=str, allow_nan=False))


def _entry_hash(entry: dict[str, Any]) -> str:
    return hashlib.sha3_256(canonical_json({k: entry[k] for k in _FIELDS}).encode("utf-8")).hexdigest()


@functools.lru_cache(maxsize=1)
def _lock_digest() -> str | None:
    """SHA3-256 of the pinned environment lock file, when running from a source tree that has one."""
    lock = Path(__file__).resolve().parents[2] / "environments" / "requirements.lock"
    try:
        return hashlib.sha3_256(lock.read_bytes()).hexdigest()
    except OSError:
        return None


def _tool() -> dict[str, str]:
    from .. import __version__

    return {"name": "eucaim-lab", "version": __version__}


def _environment() -> dict[str, Any]:
    env: dict[str, Any] = {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "executable": sys.executable,
        "env_lock_sha3": _lock_digest(),
        "sandboxed": os.environ.get("EUCAIM_SANDBOXED") == "1",
    }
    image = os.environ.get("EUCAIM_CONTAINER_IMAGE")
    if image:
        env["container_image"] = image
    return env


@dataclasses.dataclass(frozen=True)
class AuditReport:
    """Result of :meth:`AuditTrail.verify`: ``ok`` when every entry is intact and in order."""

    ok: bool
    entries: int
    head_hash: str
    problems: tuple[dict[str, Any], ...] = ()

    @property
    def first_broken(self) -> int | None:
        """Sequence number of the first entry where the chain breaks (``None`` when intact)."""
        return self.problems[0]["seq"] if self.problems else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "entries": self.entries,
            "head_hash": self.head_hash,
            "first_broken": self.first_broken,
            "problems": list(self.problems),
        }

    def raise_if_broken(self) -> None:
        """Raise :class:`IntegrityError` describing the problems, if any."""
        if not self.ok:
            lines = "; ".join(p["message"] for p in self.problems[:10])
            more = f" (and {len(self.problems) - 10} more)" if len(self.problems) > 10 else ""
            raise IntegrityError(f"The audit trail is broken: {lines}{more}", problems=list(self.problems))


class AuditTrail:
    """The node's audit trail. ``AuditTrail(node)`` with a :class:`Node`, a node folder, or ``None`` (default)."""

    def __init__(self, node: Node | str | os.PathLike[str] | None = None) -> None:
        self.node = node if isinstance(node, Node) else Node(node)

    def __repr__(self) -> str:
        return f"AuditTrail({self.node!r})"

    # ----- writing ------------------------------------------------------------------------------------
    def append(
        self,
        action: str,
        *,
        user: str | None = None,
        dataset_ids: Iterable[str] = (),
        details: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Append one entry and return it (with ``seq`` and ``hash``).

        ``action`` is a short dotted name such as ``"access.request"`` or ``"kernel.execute"``; ``details`` any
        JSON-able mapping (values that JSON cannot express are stored as their ``str``).
        """
        from .._config import current_user

        if not isinstance(action, str) or not action.strip() or len(action) > 100:
            raise InvalidInputError(f"An audit action must be a non-empty name of at most 100 characters. "
                                    f"Got {action!r}.")
        if isinstance(dataset_ids, str):
            dataset_ids = (dataset_ids,)
        if details is not None and not isinstance(details, dict):
            raise InvalidInputError(f"Audit details must be a dict or None. Got {type(details).__name__}.")
        entry: dict[str, Any] = {
            "ts": dt.datetime.now(dt.timezone.utc).isoformat(timespec="microseconds"),
            "action": action.strip(),
            "user": user or current_user(),
            "dataset_ids": [str(d) for d in dataset_ids],
            "details": _normalise(details or {}),
            "tool": _tool(),
            "environment": _normalise(_environment()),
            "command_line": [str(a) for a in sys.argv],
        }
        with self.node.transaction() as db:
            head = db.execute("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()
            entry["seq"] = (head["seq"] + 1) if head else 1
            entry["prev_hash"] = head["hash"] if head else GENESIS_HASH
            entry["hash"] = _entry_hash(entry)
            db.execute(
                "INSERT INTO audit_log(seq, ts, action, user, dataset_ids, details, tool, environment, "
                "command_line, prev_hash, hash) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                (
                    entry["seq"], entry["ts"], entry["action"], entry["user"],
                    canonical_json(entry["dataset_ids"]), canonical_json(entry["details"]),
                    canonical_json(entry["tool"]), canonical_json(entry["environment"]),
                    canonical_json(entry["command_line"]), entry["prev_hash"], entry["hash"],
                ),
            )
            db.execute(
                "INSERT INTO audit_head(id, seq, hash) VALUES (1, ?, ?) "
                "ON CONFLICT(id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash",
                (entry["seq"], entry["hash"]),
            )
        return entry

    # ----- reading ------------------------------------------------------------------------------------
    def entries(
        self,
        *,
        dataset_id: str | None = None,
        user: str | None = None,
        actions: Sequence[str] | None = None,
    ) -> list[dict[str, Any]]:
        """Entries in order, optionally only those naming ``dataset_id``, by ``user``, or with given actions."""
        sql = "SELECT * FROM audit_log"
        where: list[str] = []
        params: list[Any] = []
        if dataset_id is not None:
            where.append("EXISTS (SELECT 1 FROM json_each(audit_log.dataset_ids) WHERE json_each.value = ?)")
            params.append(dataset_id)
        if user is not None:
            where.append("user = ?")
            params.append(user)
        if actions:
            where.append(f"action IN ({','.join('?' * len(actions))})")
            params.extend(actions)
        if where:
            sql += " WHERE " + " AND ".join(where)
        rows = self.node.db.execute(sql + " ORDER BY seq", params).fetchall()
        return [_row_to_entry(r) for r in rows]

    def __len__(self) -> int:
        return int(self.node.db.execute("SELECT COUNT(*) FROM audit_log").fetchone()[0])

    # ----- checking -----------------------------------------------------------------------------------
    def verify(self) -> AuditReport:
        """Re-hash every entry in storage order and check the chain, the numbering and the stored head."""
        problems: list[dict[str, Any]] = []
        prev_hash = GENESIS_HASH
        expected_seq = 1
        count = 0
        db = self.node.db
        # seq is hashed: moving content between rows breaks the hash and the chain
        for row in db.execute("SELECT * FROM audit_log ORDER BY seq"):
            count += 1
            seq = row["seq"]
            label = f"entry #{seq} ({row['action']} by {row['user']} at {row['ts']})"
            try:
                entry = _row_to_entry(row)
            except (ValueError, TypeError):
                problems.append(_problem(seq, "unreadable", f"{label} is not valid JSON: it was edited"))
                prev_hash, expected_seq = row["hash"], seq + 1
                continue
            if seq != expected_seq:
                kind = "missing" if seq > expected_seq else "reordered"
                what = (f"entries #{expected_seq}..#{seq - 1} are missing before {label}" if kind == "missing"
                        else f"{label} is out of order (expected entry #{expected_seq} here)")
                problems.append(_problem(seq, kind, what))
            if _entry_hash(entry) != row["hash"]:
                problems.append(_problem(seq, "edited", f"{label} does not match its hash: it was edited"))
            if row["prev_hash"] != prev_hash:
                problems.append(_problem(
                    seq, "chain", f"{label} does not follow the entry before it: an entry was removed, "
                    "inserted or moved"))
            prev_hash, expected_seq = row["hash"], seq + 1
        head = db.execute("SELECT seq, hash FROM audit_head WHERE id = 1").fetchone()
        if head is None and count:
            problems.append(_problem(None, "head", "the audit head record is missing"))
        elif head is not None and (head["hash"] != prev_hash or head["seq"] != expected_seq - 1):
            problems.append(_problem(
                head["seq"], "truncated",
                f"the trail ends at entry #{expected_seq - 1} but its head records entry #{head['seq']}: "
                "entries at the end were removed or the head was changed"))
        return AuditReport(ok=not problems, entries=count, head_hash=prev_hash, problems=tuple(problems))


def _problem(seq: int | None, kind: str, message: str) -> dict[str, Any]:
    return {"seq": seq, "kind": kind, "message": message}


def _row_to_entry(row: Any) -> dict[str, Any]:
    return {
        "seq": row["seq"],
        "ts": row["ts"],
        "action": row["action"],
        "user": row["user"],
        "dataset_ids": json.loads(row["dataset_ids"]),
        "details": json.loads(row["details"]),
        "tool": json.loads(row["tool"]),
        "environment": json.loads(row["environment"]),
        "command_line": json.loads(row["command_line"]),
        "prev_hash": row["prev_hash"],
        "hash": row["hash"],
    }
