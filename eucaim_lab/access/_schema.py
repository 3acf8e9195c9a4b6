"""Tables of access requests, per-dataset decisions, signed permits, holder keys, checkouts and the audit trail.

The checkout table lives here too: the node applies only the schemas listed in ``eucaim_lab._node``, and a
checkout is the last step of an access request. ``datalake_file_state`` caches each datalake file's stat
(inode, size, mtime, ctime) at the moment its bytes last matched the catalogue's SHA3, so that checkouts re-hash
only files whose stat changed (ctime cannot be set back by an unprivileged writer). A removed checkout keeps its
``checkouts`` row (and manifest) for the audit history and gains a ``checkout_removals`` row: a table of its own,
so that nodes made before removal existed need no migration. No triggers (the node splits this script on
semicolons); the audit trail's append-only property is enforced by its hash chain, which :meth:`AuditTrail.verify` checks.
"""

DDL = """
CREATE TABLE IF NOT EXISTS access_requests (
    request_id TEXT PRIMARY KEY,
    user TEXT NOT NULL,
    purpose TEXT NOT NULL,
    status TEXT NOT NULL,
    created TEXT NOT NULL,
    updated TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS access_requests_user ON access_requests(user);
CREATE TABLE IF NOT EXISTS access_request_resources (
    request_id TEXT NOT NULL REFERENCES access_requests(request_id),
    dataset_id TEXT NOT NULL,
    version TEXT NOT NULL,
    holder TEXT NOT NULL,
    access_condition TEXT NOT NULL,
    status TEXT NOT NULL,
    decided_by TEXT,
    decided_at TEXT,
    reason TEXT,
    permit_id TEXT,
    PRIMARY KEY (request_id, dataset_id)
);
CREATE INDEX IF NOT EXISTS access_request_resources_dataset ON access_request_resources(dataset_id);
CREATE TABLE IF NOT EXISTS access_permits (
    permit_id TEXT PRIMARY KEY,
    request_id TEXT NOT NULL,
    user TEXT NOT NULL,
    dataset_id TEXT NOT NULL,
    version TEXT NOT NULL,
    holder TEXT NOT NULL,
    issued TEXT NOT NULL,
    expires TEXT NOT NULL,
    body TEXT NOT NULL,
    signature TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS access_permits_user_dataset ON access_permits(user, dataset_id);
CREATE TABLE IF NOT EXISTS access_holder_keys (
    holder TEXT PRIMARY KEY,
    public_key TEXT NOT NULL,
    created TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS checkouts (
    checkout_id TEXT PRIMARY KEY,
    request_id TEXT NOT NULL,
    permit_id TEXT NOT NULL,
    user TEXT NOT NULL,
    dataset_id TEXT NOT NULL,
    version TEXT NOT NULL,
    access_condition TEXT NOT NULL,
    path TEXT NOT NULL,
    workspace TEXT NOT NULL,
    created TEXT NOT NULL,
    link_mode TEXT NOT NULL,
    link_counts TEXT NOT NULL,
    files_count INTEGER NOT NULL,
    size_bytes INTEGER NOT NULL,
    dataset_digest TEXT NOT NULL,
    manifest_sha3 TEXT NOT NULL,
    manifest TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS checkouts_dataset ON checkouts(dataset_id);
CREATE TABLE IF NOT EXISTS checkout_removals (
    checkout_id TEXT PRIMARY KEY REFERENCES checkouts(checkout_id),
    removed TEXT NOT NULL,
    removed_by TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS datalake_file_state (
    dataset_id TEXT NOT NULL,
    relpath TEXT NOT NULL,
    ino INTEGER NOT NULL,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    ctime_ns INTEGER NOT NULL,
    sha3 TEXT NOT NULL,
    PRIMARY KEY (dataset_id, relpath)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS audit_log (
    seq INTEGER PRIMARY KEY,
    ts TEXT NOT NULL,
    action TEXT NOT NULL,
    user TEXT NOT NULL,
    dataset_ids TEXT NOT NULL,
    details TEXT NOT NULL,
    tool TEXT NOT NULL,
    environment TEXT NOT NULL,
    command_line TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL UNIQUE
);
CREATE TABLE IF NOT EXISTS audit_head (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    seq INTEGER NOT NULL,
    hash TEXT NOT NULL
)
"""
