"""Access requests with the BBMRI-ERIC Negotiator v3 lifecycle, decided by each dataset's data holder.

A request holds a basket of datasets (resources) and a purpose. The request moves SUBMITTED -> UNDER_REVIEW ->
IN_PROGRESS -> CONCLUDED (at least one dataset made available) / DECLINED (none) / ABANDONED (withdrawn by the
requester). Each resource moves CHECKING_AVAILABILITY -> RESOURCE_AVAILABLE -> ACCESS_CONDITIONS_INDICATED
(the dataset's access condition is shown to the requester) -> ACCESS_CONDITIONS_MET -> RESOURCE_MADE_AVAILABLE
when its holder approves (a signed permit is issued), or ends RESOURCE_DECLINED / RESOURCE_UNAVAILABLE /
RESOURCE_NOT_MADE_AVAILABLE. Every transition is written to the audit trail.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
from collections.abc import Iterable
from enum import Enum
from typing import Any

from .._config import current_user
from .._errors import AccessDeniedError, ConflictError, InvalidInputError, NotFoundError
from .._node import Node
from ..catalogue._vocab import AccessCondition
from ._audit import AuditTrail
from ..catalogue._model import validate_identifier
from ._ids import new_id, validate_id
from ._permits import Permit, iso, load_permit, parse_expiry, sign_permit

__all__ = [
    "Request",
    "RequestStatus",
    "Resource",
    "ResourceStatus",
    "abandon",
    "approve",
    "decline",
    "get",
    "list_requests",
    "request",
    "valid_permit_for",
]

NodeLike = Node | str | os.PathLike[str] | None


class RequestStatus(str, Enum):
    """Negotiator v3 states of a negotiation."""

    SUBMITTED = "SUBMITTED"
    UNDER_REVIEW = "UNDER_REVIEW"
    IN_PROGRESS = "IN_PROGRESS"
    CONCLUDED = "CONCLUDED"
    ABANDONED = "ABANDONED"
    DECLINED = "DECLINED"


class ResourceStatus(str, Enum):
    """Negotiator v3 states of one resource (dataset) inside a negotiation."""

    SUBMITTED = "SUBMITTED"
    CHECKING_AVAILABILITY = "CHECKING_AVAILABILITY"
    RESOURCE_AVAILABLE = "RESOURCE_AVAILABLE"
    RESOURCE_UNAVAILABLE = "RESOURCE_UNAVAILABLE"
    ACCESS_CONDITIONS_INDICATED = "ACCESS_CONDITIONS_INDICATED"
    ACCESS_CONDITIONS_MET = "ACCESS_CONDITIONS_MET"
    RESOURCE_MADE_AVAILABLE = "RESOURCE_MADE_AVAILABLE"
    RESOURCE_NOT_MADE_AVAILABLE = "RESOURCE_NOT_MADE_AVAILABLE"
    RESOURCE_DECLINED = "RESOURCE_DECLINED"

    @property
    def is_final(self) -> bool:
        return self in _FINAL


_FINAL = {
    ResourceStatus.RESOURCE_MADE_AVAILABLE,
    ResourceStatus.RESOURCE_UNAVAILABLE,
    ResourceStatus.RESOURCE_NOT_MADE_AVAILABLE,
    ResourceStatus.RESOURCE_DECLINED,
}
_CLOSED = {RequestStatus.CONCLUDED, RequestStatus.ABANDONED, RequestStatus.DECLINED}


@dataclasses.dataclass(frozen=True)
class Resource:
    """One dataset inside a request, with the decision of its data holder."""

    dataset_id: str
    version: str
    holder: str
    access_condition: AccessCondition
    status: ResourceStatus
    decided_by: str | None = None
    decided_at: str | None = None
    reason: str | None = None
    permit_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["access_condition"] = self.access_condition.value
        data["status"] = self.status.value
        return data


@dataclasses.dataclass(frozen=True)
class Request:
    """An access request (a Negotiator negotiation) and its resources."""

    request_id: str
    user: str
    purpose: str
    status: RequestStatus
    created: str
    updated: str
    resources: tuple[Resource, ...]

    def resource(self, dataset_id: str) -> Resource:
        for res in self.resources:
            if res.dataset_id == dataset_id:
                return res
        raise NotFoundError(
            f"Request {self.request_id} does not include dataset {dataset_id!r}; it includes "
            f"{[r.dataset_id for r in self.resources]}.",
            request_id=self.request_id,
            dataset_id=dataset_id,
        )

    @property
    def dataset_ids(self) -> list[str]:
        return [r.dataset_id for r in self.resources]

    def to_dict(self) -> dict[str, Any]:
        return {
            "request_id": self.request_id,
            "user": self.user,
            "purpose": self.purpose,
            "status": self.status.value,
            "created": self.created,
            "updated": self.updated,
            "resources": [r.to_dict() for r in self.resources],
        }


def as_node(node: NodeLike) -> Node:
    return node if isinstance(node, Node) else Node(node)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _validate_user(user: str | None) -> str:
    user = user or current_user()
    return validate_identifier(user, "user name")


# ----- reading -----------------------------------------------------------------------------------------------
def _load(node: Node, request_id: str) -> Request:
    validate_id(request_id, "REQ")
    row = node.db.execute("SELECT * FROM access_requests WHERE request_id = ?", (request_id,)).fetchone()
    if row is None:
        raise NotFoundError(
            f"No access request {request_id!r} on this node. List requests with: eucaim-lab access list",
            request_id=request_id,
        )
    res = node.db.execute(
        "SELECT * FROM access_request_resources WHERE request_id = ? ORDER BY dataset_id", (request_id,)
    ).fetchall()
    return Request(
        request_id=row["request_id"],
        user=row["user"],
        purpose=row["purpose"],
        status=RequestStatus(row["status"]),
        created=row["created"],
        updated=row["updated"],
        resources=tuple(
            Resource(
                dataset_id=r["dataset_id"], version=r["version"], holder=r["holder"],
                access_condition=AccessCondition(r["access_condition"]), status=ResourceStatus(r["status"]),
                decided_by=r["decided_by"], decided_at=r["decided_at"], reason=r["reason"], permit_id=r["permit_id"],
            )
            for r in res
        ),
    )


def get(request_id: str, *, node: NodeLike = None) -> Request:
    """The request with this id; :class:`NotFoundError` if there is none."""
    return _load(as_node(node), request_id)


def list_requests(
    user: str | None = None, *, holder: str | None = None, node: NodeLike = None
) -> list[Request]:
    """Requests on the node, newest first; only ``user``'s, or only those asking for ``holder``'s datasets."""
    n = as_node(node)
    sql = "SELECT request_id FROM access_requests"
    where: list[str] = []
    params: list[str] = []
    if user is not None:
        where.append("user = ?")
        params.append(user)
    if holder is not None:
        where.append("request_id IN (SELECT request_id FROM access_request_resources WHERE holder = ?)")
        params.append(holder)
    if where:
        sql += " WHERE " + " AND ".join(where)
    rows = n.db.execute(sql + " ORDER BY created DESC, request_id", params).fetchall()
    return [_load(n, r[0]) for r in rows]


def valid_permit_for(node: Node, user: str, dataset_id: str, version: str) -> Permit | None:
    """The user's current permit for this dataset version, if one was made available and has not expired."""
    rows = node.db.execute(
        "SELECT p.permit_id, p.expires FROM access_permits p JOIN access_request_resources r "
        "ON r.permit_id = p.permit_id WHERE p.user = ? AND p.dataset_id = ? AND p.version = ? AND r.status = ? "
        "ORDER BY p.expires DESC",
        (user, dataset_id, version, ResourceStatus.RESOURCE_MADE_AVAILABLE.value),
    ).fetchall()
    now = _now()
    for row in rows:
        if dt.datetime.fromisoformat(row["expires"]) > now:
            return load_permit(node, row["permit_id"])
    return None


# ----- the requester -----------------------------------------------------------------------------------------
def request(
    dataset_ids: Iterable[str] | str, purpose: str, *, user: str | None = None, node: NodeLike = None
) -> Request:
    """Ask for access to one or more datasets for ``purpose``; returns the request, under review by the holders."""
    from ..catalogue import Catalogue

    n = as_node(node)
    user = _validate_user(user)
    ids = [dataset_ids] if isinstance(dataset_ids, str) else list(dataset_ids)
    ids = list(dict.fromkeys(validate_identifier(d) for d in ids))
    if not ids:
        raise InvalidInputError("An access request needs at least one dataset id. Got none.")
    if not isinstance(purpose, str) or not purpose.strip():
        raise InvalidInputError("An access request needs a purpose (what the data will be used for). Got none.")
    purpose = purpose.strip()
    if len(purpose) > 10_000:
        raise InvalidInputError(f"The purpose must be at most 10000 characters. Got {len(purpose)}.")
    cat = Catalogue(node=n)
    records = {d: cat.get(d) for d in ids}
    has_files = {d: _has_files(cat, d) for d in ids}
    for d, rec in records.items():
        existing = valid_permit_for(n, user, d, rec.version)
        if existing is not None:
            raise ConflictError(
                f"User {user!r} already has access to {d!r} version {rec.version} with permit "
                f"{existing.permit_id} (request {existing.request_id}, valid until {existing.expires}). "
                f"Check it out with: eucaim-lab checkout {existing.request_id}",
                permit_id=existing.permit_id,
                request_id=existing.request_id,
                dataset_id=d,
            )
    request_id = new_id("REQ")
    now = iso(_now())
    audit = AuditTrail(n)
    with n.transaction() as db:
        db.execute(
            "INSERT INTO access_requests(request_id, user, purpose, status, created, updated) VALUES (?,?,?,?,?,?)",
            (request_id, user, purpose, RequestStatus.SUBMITTED.value, now, now),
        )
        audit.append("access.request", user=user, dataset_ids=ids,
                     details={"request_id": request_id, "purpose": purpose, "status": RequestStatus.SUBMITTED.value})
        for d, rec in records.items():
            status = (ResourceStatus.ACCESS_CONDITIONS_INDICATED if has_files[d]
                      else ResourceStatus.RESOURCE_UNAVAILABLE)
            db.execute(
                "INSERT INTO access_request_resources(request_id, dataset_id, version, holder, access_condition, "
                "status, reason) VALUES (?,?,?,?,?,?,?)",
                (request_id, d, rec.version, rec.data_holder, rec.access_condition.value, status.value,
                 None if has_files[d] else "the dataset has no files on this node (metadata only)"),
            )
            audit.append("access.resource_status", user=user, dataset_ids=[d], details={
                "request_id": request_id, "status": status.value, "version": rec.version,
                "access_condition": rec.access_condition.value, "holder": rec.data_holder,
                "data_use_conditions": [c.value for c in rec.data_use_conditions],
            })
        _update_request_status(n, request_id, actor=user)
    return _load(n, request_id)


def _has_files(cat: Any, dataset_id: str) -> bool:
    try:
        cat.dataset_root(dataset_id)
    except NotFoundError:
        return False
    return True


def abandon(request_id: str, *, user: str | None = None, node: NodeLike = None) -> Request:
    """Withdraw a request (only its requester may). Datasets already made available stay available."""
    n = as_node(node)
    user = _validate_user(user)
    req = _load(n, request_id)
    if req.user != user:
        raise AccessDeniedError(
            f"Only the requester ({req.user!r}) may abandon request {request_id}. Got user {user!r}.",
            request_id=request_id,
        )
    if req.status in _CLOSED:
        raise ConflictError(f"Request {request_id} is already {req.status.value}; it cannot be abandoned.",
                            request_id=request_id, status=req.status.value)
    audit = AuditTrail(n)
    with n.transaction() as db:
        pending = [r for r in req.resources if not r.status.is_final]
        for res in pending:
            db.execute(
                "UPDATE access_request_resources SET status = ?, decided_by = ?, decided_at = ?, reason = ? "
                "WHERE request_id = ? AND dataset_id = ?",
                (ResourceStatus.RESOURCE_NOT_MADE_AVAILABLE.value, user, iso(_now()), "abandoned by the requester",
                 request_id, res.dataset_id),
            )
        made = any(r.status is ResourceStatus.RESOURCE_MADE_AVAILABLE for r in req.resources)
        status = RequestStatus.CONCLUDED if made else RequestStatus.ABANDONED
        db.execute("UPDATE access_requests SET status = ?, updated = ? WHERE request_id = ?",
                   (status.value, iso(_now()), request_id))
        audit.append("access.abandon", user=user, dataset_ids=[r.dataset_id for r in pending],
                     details={"request_id": request_id, "status": status.value})
    return _load(n, request_id)


# ----- the data holder ---------------------------------------------------------------------------------------
def _targets(req: Request, holder: str, dataset_id: str | None) -> list[Resource]:
    validate_identifier(holder, "data holder")
    if req.status in _CLOSED:
        raise ConflictError(f"Request {req.request_id} is {req.status.value}; nothing is left to decide.",
                            request_id=req.request_id, status=req.status.value)
    if dataset_id is not None:
        res = req.resource(validate_identifier(dataset_id))
        if res.holder != holder:
            raise AccessDeniedError(
                f"Only the data holder of {dataset_id!r} ({res.holder!r}) may decide on it. Got --as {holder!r}.",
                request_id=req.request_id, dataset_id=dataset_id, holder=holder,
            )
        if res.status.is_final:
            raise ConflictError(
                f"Dataset {dataset_id!r} in request {req.request_id} is already decided: {res.status.value}.",
                request_id=req.request_id, dataset_id=dataset_id, status=res.status.value,
            )
        return [res]
    mine = [r for r in req.resources if r.holder == holder]
    if not mine:
        raise AccessDeniedError(
            f"{holder!r} is not the data holder of any dataset in request {req.request_id} (holders: "
            f"{sorted({r.holder for r in req.resources})}).",
            request_id=req.request_id, holder=holder,
        )
    pending = [r for r in mine if not r.status.is_final]
    if not pending:
        raise ConflictError(
            f"Every dataset of {holder!r} in request {req.request_id} is already decided.",
            request_id=req.request_id, holder=holder,
        )
    return pending


def approve(
    request_id: str,
    holder: str,
    *,
    dataset_id: str | None = None,
    expires: str | dt.date | dt.datetime | None = None,
    node: NodeLike = None,
) -> Request:
    """Approve the holder's datasets in a request (or only ``dataset_id``), issuing one signed permit each.

    The datalake files are checked against the catalogue first; a dataset whose files changed is not approved.
    """
    from ..catalogue import Catalogue
    from ..checkout._verify import check_datalake, require_intact

    n = as_node(node)
    req = _load(n, request_id)
    targets = _targets(req, holder, dataset_id)
    expiry = parse_expiry(expires)
    cat = Catalogue(node=n)
    permits: list[tuple[Resource, Permit]] = []
    for res in targets:
        rec = cat.get(res.dataset_id)
        if rec.version != res.version:
            raise ConflictError(
                f"Dataset {res.dataset_id!r} is now version {rec.version}, but request {request_id} asked for "
                f"version {res.version}; the requester must request it again.",
                dataset_id=res.dataset_id,
            )
        if res.status is ResourceStatus.RESOURCE_UNAVAILABLE:
            raise ConflictError(f"Dataset {res.dataset_id!r} has no files on this node; it cannot be made available.",
                                dataset_id=res.dataset_id)
        report = check_datalake(n, res.dataset_id)
        require_intact(report, f"Dataset {res.dataset_id!r} is not approved")
        permit = Permit(
            permit_id=new_id("PERMIT"), request_id=request_id, user=req.user, dataset_id=res.dataset_id,
            version=res.version, dataset_digest=report.dataset_digest, purpose=req.purpose,
            access_condition=res.access_condition, issued=iso(_now()), expires=iso(expiry), holder=holder,
        )
        permits.append((res, sign_permit(n, permit)))
    audit = AuditTrail(n)
    with n.transaction() as db:
        _require_unchanged(n, req)
        for res, permit in permits:
            db.execute(
                "INSERT INTO access_permits(permit_id, request_id, user, dataset_id, version, holder, issued, "
                "expires, body, signature) VALUES (?,?,?,?,?,?,?,?,?,?)",
                (permit.permit_id, request_id, permit.user, permit.dataset_id, permit.version, holder,
                 permit.issued, permit.expires, _body_json(permit), permit.signature),
            )
            for status in (ResourceStatus.ACCESS_CONDITIONS_MET, ResourceStatus.RESOURCE_MADE_AVAILABLE):
                db.execute(
                    "UPDATE access_request_resources SET status = ?, decided_by = ?, decided_at = ?, permit_id = ? "
                    "WHERE request_id = ? AND dataset_id = ?",
                    (status.value, holder, permit.issued, permit.permit_id, request_id, res.dataset_id),
                )
            audit.append("access.approve", user=holder, dataset_ids=[res.dataset_id], details={
                "request_id": request_id, "requester": req.user, "permit_id": permit.permit_id,
                "version": permit.version, "dataset_digest": permit.dataset_digest, "expires": permit.expires,
                "access_condition": permit.access_condition.value,
                "status": ResourceStatus.RESOURCE_MADE_AVAILABLE.value,
            })
        _update_request_status(n, request_id, actor=holder)
    return _load(n, request_id)


def decline(
    request_id: str,
    holder: str,
    *,
    dataset_id: str | None = None,
    reason: str | None = None,
    node: NodeLike = None,
) -> Request:
    """Decline the holder's datasets in a request (or only ``dataset_id``)."""
    n = as_node(node)
    req = _load(n, request_id)
    targets = _targets(req, holder, dataset_id)
    audit = AuditTrail(n)
    now = iso(_now())
    with n.transaction() as db:
        _require_unchanged(n, req)
        for res in targets:
            db.execute(
                "UPDATE access_request_resources SET status = ?, decided_by = ?, decided_at = ?, reason = ? "
                "WHERE request_id = ? AND dataset_id = ?",
                (ResourceStatus.RESOURCE_DECLINED.value, holder, now, reason, request_id, res.dataset_id),
            )
            audit.append("access.decline", user=holder, dataset_ids=[res.dataset_id], details={
                "request_id": request_id, "requester": req.user, "reason": reason,
                "status": ResourceStatus.RESOURCE_DECLINED.value,
            })
        _update_request_status(n, request_id, actor=holder)
    return _load(n, request_id)


def _body_json(permit: Permit) -> str:
    from ._audit import canonical_json

    return canonical_json(permit.body())


def _require_unchanged(node: Node, before: Request) -> None:
    """Inside the write transaction: nobody decided on this request meanwhile."""
    now = _load(node, before.request_id)
    if now != before:
        raise ConflictError(f"Request {before.request_id} changed while this decision was prepared; try again.",
                            request_id=before.request_id)


def _update_request_status(node: Node, request_id: str, *, actor: str) -> None:
    req = _load(node, request_id)
    statuses = [r.status for r in req.resources]
    if all(s.is_final for s in statuses):
        made = ResourceStatus.RESOURCE_MADE_AVAILABLE in statuses
        new = RequestStatus.CONCLUDED if made else RequestStatus.DECLINED
    elif any(s.is_final for s in statuses):
        new = RequestStatus.IN_PROGRESS
    else:
        new = RequestStatus.UNDER_REVIEW
    if new is not req.status:
        node.db.execute("UPDATE access_requests SET status = ?, updated = ? WHERE request_id = ?",
                        (new.value, iso(_now()), request_id))
        AuditTrail(node).append("access.request_status", user=actor, dataset_ids=req.dataset_ids,
                                details={"request_id": request_id, "from": req.status.value, "to": new.value})


def check_permit_row(node: Node, permit: Permit) -> None:
    """The permit must be the one recorded for its resource, and that resource must be made available."""
    row = node.db.execute(
        "SELECT status, permit_id FROM access_request_resources WHERE request_id = ? AND dataset_id = ?",
        (permit.request_id, permit.dataset_id),
    ).fetchone()
    if row is None or row["permit_id"] != permit.permit_id or row["status"] != ResourceStatus.RESOURCE_MADE_AVAILABLE:
        raise AccessDeniedError(
            f"Permit {permit.permit_id} is not the permit of a dataset made available in request "
            f"{permit.request_id}; it grants nothing.",
            permit_id=permit.permit_id,
        )
