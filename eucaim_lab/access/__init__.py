"""Access to datasets: requests (BBMRI Negotiator v3 lifecycle), data-holder decisions, signed permits, audit.

>>> from eucaim_lab import access                                        # doctest: +SKIP
>>> req = access.request(["lung-ct"], "Radiomics of NSCLC survival")     # doctest: +SKIP
>>> access.approve(req.request_id, "hospital-a")                         # doctest: +SKIP
"""

from ._audit import AuditReport, AuditTrail
from ._permits import Permit, get_permit, verify_permit
from ._requests import (
    Request,
    RequestStatus,
    Resource,
    ResourceStatus,
    abandon,
    approve,
    decline,
    get,
    list_requests,
    request,
)

__all__ = [
    "AuditReport",
    "AuditTrail",
    "Permit",
    "Request",
    "RequestStatus",
    "Resource",
    "ResourceStatus",
    "abandon",
    "approve",
    "decline",
    "get",
    "get_permit",
    "list_requests",
    "request",
    "verify_permit",
]
