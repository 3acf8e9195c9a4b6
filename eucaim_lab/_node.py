"""The embedded local node: one folder holding ``node.sqlite``, the datalake, checkouts, workspaces and cache.

The database schema has one version number for the whole node. Each subsystem declares its tables in a
``_schema.py`` module exposing ``DDL`` (idempotent ``CREATE ... IF NOT EXISTS`` statements); the node applies
them all when it opens. A node whose stored version is newer than this code is refused and left untouched.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

from ._config import node_home
from ._errors import NodeVersionError

__all__ = ["SCHEMA_VERSION", "Node"]

#: bump when any subsystem's DDL changes incompatibly, and add a migration step below
SCHEMA_VERSION = 1

#: subsystems whose ``DDL`` the node applies, in order
SCHEMA_MODULES = (
    "eucaim_lab.catalogue._schema",
    "eucaim_lab.access._schema",
)

_META_DDL = "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)"


class Node:
    """A local node rooted at ``home`` (default: :func:`eucaim_lab._config.node_home`)."""

    def __init__(self, home: str | os.PathLike[str] | None = None) -> None:
        self.home = node_home(home)
        self._local = threading.local()
        self._opened = False

    # ----- layout -------------------------------------------------------------------------------------
    @property
    def db_path(self) -> Path:
        return self.home / "node.sqlite"

    @property
    def datalake(self) -> Path:
        return self.home / "datalake"

    @property
    def checkouts(self) -> Path:
        return self.home / "checkouts"

    @property
    def workspaces(self) -> Path:
        return self.home / "workspaces"

    @property
    def cache(self) -> Path:
        return self.home / "cache"

    @property
    def keys(self) -> Path:
        return self.home / "keys"

    def __repr__(self) -> str:
        return f"Node({str(self.home)!r})"

    # ----- database -----------------------------------------------------------------------------------
    def _open(self) -> sqlite3.Connection:
        self.home.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.db_path, timeout=30, isolation_level=None, check_same_thread=False)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("PRAGMA busy_timeout = 30000")
        if not self._opened:
            self._check_and_migrate(conn)
            self._opened = True
        return conn

    def _check_and_migrate(self, conn: sqlite3.Connection) -> None:
        conn.execute(_META_DDL)
        row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        stored = int(row[0]) if row else None
        if stored is not None and stored > SCHEMA_VERSION:
            conn.close()
            raise NodeVersionError(
                f"The local node at {self.home} was written by a newer eucaim-lab (schema {stored}); this "
                f"version understands schema {SCHEMA_VERSION}. Upgrade eucaim-lab or set EUCAIM_LAB_HOME to "
                "another folder; the node was not modified.",
                stored=stored,
                supported=SCHEMA_VERSION,
            )
        conn.execute("PRAGMA journal_mode = WAL")
        with _transaction(conn):
            for name in SCHEMA_MODULES:
                ddl = importlib.import_module(name).DDL
                for statement in _split_sql(ddl):
                    conn.execute(statement)
            conn.execute(
                "INSERT INTO meta(key, value) VALUES('schema_version', ?) "
                "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (str(SCHEMA_VERSION),),
            )

    @property
    def db(self) -> sqlite3.Connection:
        """A connection for the calling thread (autocommit; use :meth:`transaction` to group writes)."""
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._open()
            self._local.conn = conn
        return conn

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """``BEGIN IMMEDIATE`` ... ``COMMIT``; rolls back on any exception so the node is unchanged."""
        conn = self.db
        with _transaction(conn):
            yield conn

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None


@contextlib.contextmanager
def _transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    if conn.in_transaction:  # nested: join the outer transaction
        yield conn
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    else:
        conn.execute("COMMIT")


def _split_sql(script: str) -> list[str]:
    """Split a DDL script into statements (no semicolons inside our DDL strings)."""
    return [s.strip() for s in script.split(";") if s.strip()]
