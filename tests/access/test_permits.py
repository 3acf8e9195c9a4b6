"""Permits grant only what their data holder signed: forged, expired or misdirected permits grant nothing."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import stat

import pytest

from eucaim_lab import access
from eucaim_lab._errors import AccessDeniedError, InvalidInputError
from eucaim_lab.access import Permit, get_permit, verify_permit
from eucaim_lab.access._keys import holder_private_key, key_paths
from eucaim_lab.access._permits import iso, sign_permit
from eucaim_lab.catalogue import Catalogue


@pytest.fixture()
def granted(lake):
    req = access.request(["lung-a"], "Radiomics of lung nodules", node=lake)
    req = access.approve(req.request_id, "hospital-a", node=lake)
    return lake, get_permit(req.resource("lung-a").permit_id, node=lake)


def _check(node, permit, **over):
    args = {"user": "researcher", "dataset_id": "lung-a", "version": "1.0.0", **over}
    return verify_permit(permit, node=node, **args)


def test_an_approved_permit_is_signed_and_scoped(granted):
    node, permit = granted
    assert _check(node, permit) == permit
    assert permit.user == "researcher" and permit.holder == "hospital-a" and permit.version == "1.0.0"
    assert permit.purpose == "Radiomics of lung nodules"
    assert permit.access_condition.value == "IN_SITU_PROCESSING"
    assert f"sha3-256:{permit.dataset_digest}" == Catalogue(node=node).get("lung-a").checksum
    validity = permit.expires_at - permit.issued_at
    assert dt.timedelta(days=364) < validity <= dt.timedelta(days=366)
    assert len(bytes.fromhex(permit.signature)) == 64


def test_key_files_are_private_and_pinned(granted):
    node, _ = granted
    key, pub = key_paths(node, "hospital-a")
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert stat.S_IMODE(node.keys.stat().st_mode) == 0o700
    assert pub.exists() and b"PUBLIC KEY" in pub.read_bytes()


@pytest.mark.parametrize("position", [0, 31, 63])
def test_a_flipped_signature_byte_grants_nothing(granted, position):
    node, permit = granted
    sig = bytearray(bytes.fromhex(permit.signature))
    sig[position] ^= 0x01
    with pytest.raises(AccessDeniedError, match="signature does not verify"):
        _check(node, dataclasses.replace(permit, signature=sig.hex()))


@pytest.mark.parametrize("field, value", [
    ("user", "mallory"), ("expires", "2099-01-01T00:00:00+00:00"), ("purpose", "anything"),
    ("access_condition", "DOWNLOAD"), ("dataset_digest", "0" * 64),
])
def test_an_altered_permit_grants_nothing(granted, field, value):
    node, permit = granted
    forged = dataclasses.replace(permit, **{field: value})
    over = {"user": "mallory"} if field == "user" else {}
    with pytest.raises(AccessDeniedError, match="signature does not verify"):
        _check(node, forged, **over)


def test_a_permit_edited_in_the_database_grants_nothing(granted):
    node, permit = granted
    body = json.loads(node.db.execute("SELECT body FROM access_permits").fetchone()[0])
    body["expires"] = "2099-12-31T00:00:00+00:00"
    node.db.execute("UPDATE access_permits SET body = ?", (json.dumps(body),))
    with pytest.raises(AccessDeniedError, match="signature"):
        _check(node, get_permit(permit.permit_id, node=node))


def test_an_expired_permit_grants_nothing(granted):
    node, permit = granted
    with pytest.raises(AccessDeniedError, match="expired"):
        _check(node, permit, now=permit.expires_at + dt.timedelta(seconds=1))
    # a permit validly signed by the holder, but already past its expiry
    past = dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=10)
    old = sign_permit(node, dataclasses.replace(permit, issued=iso(past), expires=iso(past + dt.timedelta(days=1))))
    with pytest.raises(AccessDeniedError, match="expired"):
        _check(node, old)


@pytest.mark.parametrize("over, message", [
    ({"user": "colleague"}, "not 'colleague'"),
    ({"dataset_id": "lung-b"}, "signed by 'hospital-a', but the data holder of 'lung-b' is 'hospital-b'"),
    ({"dataset_id": "remote-c"}, "for dataset 'lung-a', not 'remote-c'"),
    ({"version": "2.0.0"}, "version 1.0.0"),
])
def test_a_permit_for_someone_or_something_else_grants_nothing(granted, over, message):
    node, permit = granted
    with pytest.raises(AccessDeniedError, match=message):
        _check(node, permit, **over)


def test_a_permit_for_another_version_grants_nothing_even_if_signed(granted):
    node, permit = granted
    other = sign_permit(node, dataclasses.replace(permit, version="0.9.0"))
    with pytest.raises(AccessDeniedError, match="version 0.9.0"):
        _check(node, other)


def test_a_permit_signed_by_a_non_holder_key_grants_nothing(granted):
    node, permit = granted
    mallory = holder_private_key(node, "mallory")
    # claims to be from hospital-a, signed with mallory's key
    forged = dataclasses.replace(permit, signature=mallory.sign(permit.signed_bytes()).hex())
    with pytest.raises(AccessDeniedError, match="signature does not verify under the key of data holder"):
        _check(node, forged)
    # honestly from mallory, who does not hold lung-a
    honest = sign_permit(node, dataclasses.replace(permit, holder="mallory"))
    with pytest.raises(AccessDeniedError, match="signed by 'mallory'"):
        _check(node, honest)


def test_a_replaced_public_key_file_is_not_trusted(granted):
    node, permit = granted
    _, pub = key_paths(node, "hospital-a")
    _, mallory_pub = key_paths(node, "mallory")
    holder_private_key(node, "mallory")
    pub.write_bytes(mallory_pub.read_bytes())
    with pytest.raises(AccessDeniedError, match="differs from the key pinned"):
        _check(node, permit)


def test_permits_validate_when_built(granted):
    _, permit = granted
    with pytest.raises(InvalidInputError):
        dataclasses.replace(permit, permit_id="PERMIT-../../x")
    with pytest.raises(InvalidInputError, match="expire after"):
        dataclasses.replace(permit, expires=permit.issued)
    assert Permit.from_dict(json.loads(permit.to_json())) == permit


def test_expiry_option(lake):
    req = access.request(["lung-a"], "Radiomics", node=lake)
    with pytest.raises(InvalidInputError, match="future"):
        access.approve(req.request_id, "hospital-a", expires="2001-01-01", node=lake)
    with pytest.raises(InvalidInputError, match="date like"):
        access.approve(req.request_id, "hospital-a", expires="next week", node=lake)
    day = (dt.date.today() + dt.timedelta(days=30)).isoformat()
    req = access.approve(req.request_id, "hospital-a", expires=day, node=lake)
    permit = get_permit(req.resource("lung-a").permit_id, node=lake)
    assert permit.expires_at.date() == dt.date.fromisoformat(day) + dt.timedelta(days=1)
    assert permit.expires_at.time() == dt.time(0, 0)
