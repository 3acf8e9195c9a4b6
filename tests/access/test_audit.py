"""The audit trail is append-only and hash-chained: editing, deleting or reordering entries is detected."""

from __future__ import annotations

import hashlib
import itertools
import json

import pytest

from eucaim_lab._errors import IntegrityError, InvalidInputError
from eucaim_lab.access import AuditTrail
from eucaim_lab.access._audit import GENESIS_HASH, canonical_json


@pytest.fixture()
def trail(node):
    t = AuditTrail(node)
    for i in range(5):
        t.append("test.event", dataset_ids=[f"ds-{i % 2}"], details={"i": i, "note": "é"})
    return t


def test_entries_chain_and_carry_the_use_record(trail):
    entries = trail.entries()
    assert [e["seq"] for e in entries] == [1, 2, 3, 4, 5]
    assert entries[0]["prev_hash"] == GENESIS_HASH
    for before, after in itertools.pairwise(entries):
        assert after["prev_hash"] == before["hash"]
    e = entries[2]
    recomputed = {k: e[k] for k in e if k != "hash"}
    assert hashlib.sha3_256(canonical_json(recomputed).encode()).hexdigest() == e["hash"]
    assert e["user"] == "researcher" and e["dataset_ids"] == ["ds-0"]
    assert e["tool"]["name"] == "eucaim-lab"
    assert {"python", "platform", "env_lock_sha3"} <= set(e["environment"])
    assert e["command_line"]
    report = trail.verify()
    assert report.ok and report.entries == 5 and report.head_hash == entries[-1]["hash"]
    assert [x["details"]["i"] for x in trail.entries(dataset_id="ds-1")] == [1, 3]


def _broken(trail):
    report = trail.verify()
    assert not report.ok
    with pytest.raises(IntegrityError):
        report.raise_if_broken()
    return report


def test_an_edited_entry_is_named(trail, node):
    node.db.execute("UPDATE audit_log SET details = ? WHERE seq = 3", (json.dumps({"i": 99, "note": "é"}),))
    report = _broken(trail)
    assert report.first_broken == 3
    assert "entry #3" in report.problems[0]["message"] and "edited" in report.problems[0]["message"]


@pytest.mark.parametrize("column, value", [("user", "someone-else"), ("action", "test.other"),
                                           ("ts", "2020-01-01T00:00:00+00:00"), ("dataset_ids", '["ds-9"]')])
def test_any_edited_column_is_detected(trail, node, column, value):
    node.db.execute(f"UPDATE audit_log SET {column} = ? WHERE seq = 2", (value,))
    assert _broken(trail).first_broken == 2


def test_an_edit_with_a_recomputed_hash_breaks_the_chain_after_it(trail, node):
    row = trail.entries()[1]
    row["details"] = {"i": 42}
    row["hash"] = hashlib.sha3_256(canonical_json({k: row[k] for k in row if k != "hash"}).encode()).hexdigest()
    node.db.execute("UPDATE audit_log SET details = ?, hash = ? WHERE seq = 2",
                    (canonical_json(row["details"]), row["hash"]))
    report = _broken(trail)
    assert report.first_broken == 3 and "does not follow" in report.problems[0]["message"]


def test_a_deleted_entry_is_named(trail, node):
    node.db.execute("DELETE FROM audit_log WHERE seq = 2")
    report = _broken(trail)
    assert report.first_broken == 3
    assert "#2" in report.problems[0]["message"] and "missing" in report.problems[0]["message"]


def test_a_deleted_last_entry_is_detected(trail, node):
    node.db.execute("DELETE FROM audit_log WHERE seq = 5")
    report = _broken(trail)
    assert any(p["kind"] == "truncated" for p in report.problems)


def test_reordered_entries_are_detected(trail, node):
    with node.transaction() as db:  # entries 2 and 3 swap places
        db.execute("UPDATE audit_log SET seq = -1 WHERE seq = 2")
        db.execute("UPDATE audit_log SET seq = 2 WHERE seq = 3")
        db.execute("UPDATE audit_log SET seq = 3 WHERE seq = -1")
    report = _broken(trail)
    assert report.first_broken == 2
    assert {p["seq"] for p in report.problems} >= {2, 3}


def test_appends_after_verification_keep_the_chain(trail):
    trail.append("test.more", details={"x": [1, 2.5, None]})
    assert trail.verify().ok and len(trail) == 6


def test_bad_input_is_refused(trail):
    with pytest.raises(InvalidInputError):
        trail.append("")
    with pytest.raises(InvalidInputError):
        trail.append("x", details=["not", "a", "dict"])  # type: ignore[arg-type]
