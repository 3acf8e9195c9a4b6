"""Permits: a data holder's signed statement that one user may use one version of one dataset until a date.

The signed bytes are the canonical JSON of every field except the signature (sorted keys, no spaces, UTF-8).
:func:`verify_permit` grants only when the signature verifies under the public key of the dataset's data holder
(as recorded in the catalogue and pinned in the node) and the permit is for that user, dataset and version, and
has not expired. Anything else raises :class:`AccessDeniedError`: fail closed.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
from typing import Any

from .._errors import AccessDeniedError, InvalidInputError, NotFoundError
from .._node import Node
from ..catalogue._vocab import AccessCondition
from ._audit import canonical_json
from ..catalogue._model import validate_identifier
from ._ids import validate_id

__all__ = ["PERMIT_FORMAT", "Permit", "get_permit", "load_permit", "parse_expiry", "sign_permit", "verify_permit"]

PERMIT_FORMAT = "eucaim-lab.permit/1"
DEFAULT_VALIDITY = dt.timedelta(days=365)


def _utc(text: str, what: str) -> dt.datetime:
    try:
        value = dt.datetime.fromisoformat(text)
    except (TypeError, ValueError):
        raise InvalidInputError(f"The permit's {what} must be an ISO 8601 date-time. Got {text!r}.") from None
    if value.tzinfo is None:
        raise InvalidInputError(f"The permit's {what} must carry a time zone. Got {text!r}.")
    return value.astimezone(dt.timezone.utc)


def iso(value: dt.datetime) -> str:
    return value.astimezone(dt.timezone.utc).replace(microsecond=0).isoformat()


def parse_expiry(value: str | dt.date | dt.datetime | None, *, now: dt.datetime | None = None) -> dt.datetime:
    """Expiry of a new permit: ``None`` means one year from now; a date means the end of that day (UTC)."""
    now = now or dt.datetime.now(dt.timezone.utc)
    if value is None:
        return now + DEFAULT_VALIDITY
    if isinstance(value, str):
        text = value.strip()
        try:
            value = dt.date.fromisoformat(text) if len(text) == 10 else dt.datetime.fromisoformat(text)
        except ValueError:
            raise InvalidInputError(
                f"The expiry must be a date like 2027-06-30 or an ISO date-time. Got {text!r}.", value=text
            ) from None
    if isinstance(value, dt.datetime):
        expires = value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)
        given = iso(expires)
    else:
        expires = dt.datetime.combine(value + dt.timedelta(days=1), dt.time(), tzinfo=dt.timezone.utc)
        given = value.isoformat()  # a date means "through the end of that day": show the date as given
    if expires <= now:
        raise InvalidInputError(
            f"The expiry must be in the future. Got {given} (today is {now.date().isoformat()}).", value=given
        )
    return expires


@dataclasses.dataclass(frozen=True)
class Permit:
    """A signed permit. Built only with valid fields; ``signature`` is hex of the Ed25519 signature."""

    permit_id: str
    request_id: str
    user: str
    dataset_id: str
    version: str
    dataset_digest: str
    purpose: str
    access_condition: AccessCondition
    issued: str
    expires: str
    holder: str
    signature: str = ""

    def __post_init__(self) -> None:
        validate_id(self.permit_id, "PERMIT")
        validate_id(self.request_id, "REQ")
        validate_identifier(self.dataset_id)
        validate_identifier(self.holder, "data holder")
        if not isinstance(self.access_condition, AccessCondition):
            object.__setattr__(self, "access_condition", AccessCondition(self.access_condition))
        for name in ("user", "version", "dataset_digest", "purpose"):
            if not isinstance(getattr(self, name), str) or not getattr(self, name):
                raise InvalidInputError(f"The permit's {name} must be a non-empty string. Got {getattr(self, name)!r}.")
        if _utc(self.expires, "expiry") <= _utc(self.issued, "issue time"):
            raise InvalidInputError(f"A permit must expire after it is issued. Got {self.issued} -> {self.expires}.")

    @property
    def issued_at(self) -> dt.datetime:
        return _utc(self.issued, "issue time")

    @property
    def expires_at(self) -> dt.datetime:
        return _utc(self.expires, "expiry")

    def body(self) -> dict[str, Any]:
        """Every field except the signature, plus the format tag: what is signed."""
        data = dataclasses.asdict(self)
        data.pop("signature")
        data["access_condition"] = self.access_condition.value
        data["format"] = PERMIT_FORMAT
        return data

    def signed_bytes(self) -> bytes:
        return canonical_json(self.body()).encode("utf-8")

    def to_dict(self) -> dict[str, Any]:
        return {**self.body(), "signature": self.signature}

    def to_json(self) -> str:
        return canonical_json(self.to_dict())

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Permit:
        data = dict(data)
        fmt = data.pop("format", None)
        if fmt != PERMIT_FORMAT:
            raise InvalidInputError(f"Not a permit of format {PERMIT_FORMAT!r}. Got format {fmt!r}.")
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise InvalidInputError(f"A permit has no fields {unknown}.")
        try:
            return cls(**data)
        except (TypeError, ValueError) as exc:
            raise InvalidInputError(f"Malformed permit: {exc}") from None


def sign_permit(node: Node, permit: Permit) -> Permit:
    """Return ``permit`` signed with its holder's key (created on first use)."""
    from ._keys import holder_private_key

    key = holder_private_key(node, permit.holder)
    return dataclasses.replace(permit, signature=key.sign(permit.signed_bytes()).hex())


def load_permit(node: Node, permit_id: str) -> Permit:
    """The permit stored in the node; a stored permit that no longer parses grants nothing."""
    validate_id(permit_id, "PERMIT")
    row = node.db.execute("SELECT body, signature FROM access_permits WHERE permit_id = ?", (permit_id,)).fetchone()
    if row is None:
        raise NotFoundError(f"No permit {permit_id!r} on this node.", permit_id=permit_id)
    try:
        permit = Permit.from_dict({**json.loads(row["body"]), "signature": row["signature"]})
    except (ValueError, TypeError) as exc:
        raise AccessDeniedError(f"Permit {permit_id} is unreadable and grants nothing: {exc}",
                                permit_id=permit_id) from None
    if permit.permit_id != permit_id:
        raise AccessDeniedError(f"The permit stored as {permit_id} names itself {permit.permit_id}; it grants nothing.",
                                permit_id=permit_id)
    return permit


def get_permit(permit_id: str, *, node: Node | str | os.PathLike[str] | None = None) -> Permit:
    """The stored permit with this id (not yet verified: see :func:`verify_permit`)."""
    return load_permit(node if isinstance(node, Node) else Node(node), permit_id)


def verify_permit(
    permit: Permit,
    *,
    user: str,
    dataset_id: str,
    version: str,
    node: Node | None = None,
    now: dt.datetime | None = None,
) -> Permit:
    """Return ``permit`` if it grants ``user`` access to ``dataset_id`` at ``version`` now; else raise.

    Raises :class:`AccessDeniedError` for a bad or missing signature, a signer that is not the dataset's data
    holder, an expired permit, or another user, dataset or version.
    """
    from cryptography.exceptions import InvalidSignature

    from ..catalogue import Catalogue
    from ._keys import holder_public_key

    node = node or Node()
    pid = permit.permit_id

    def deny(reason: str, **details: Any) -> AccessDeniedError:
        return AccessDeniedError(f"Permit {pid} grants nothing: {reason}", permit_id=pid, **details)

    holder = Catalogue(node=node).get(dataset_id).data_holder
    if permit.holder != holder:
        raise deny(f"it is signed by {permit.holder!r}, but the data holder of {dataset_id!r} is {holder!r}.")
    try:
        signature = bytes.fromhex(permit.signature)
    except ValueError:
        raise deny("its signature is not hexadecimal.") from None
    try:
        holder_public_key(node, holder).verify(signature, permit.signed_bytes())
    except InvalidSignature:
        raise deny(f"its signature does not verify under the key of data holder {holder!r} "
                   "(forged, altered, or signed with another key).") from None
    now = now or dt.datetime.now(dt.timezone.utc)
    if permit.expires_at <= now:
        raise deny(f"it expired at {permit.expires}. Request access again.", expired=permit.expires)
    if permit.issued_at > now + dt.timedelta(minutes=5):
        raise deny(f"it is issued in the future ({permit.issued}).")
    if permit.user != user:
        raise deny(f"it is for user {permit.user!r}, not {user!r}.")
    if permit.dataset_id != dataset_id:
        raise deny(f"it is for dataset {permit.dataset_id!r}, not {dataset_id!r}.")
    if permit.version != version:
        raise deny(f"it is for version {permit.version} of {dataset_id!r}, not version {version}.")
    return permit
