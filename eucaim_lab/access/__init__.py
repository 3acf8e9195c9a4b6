"""Access to datasets: requests (BBMRI Negotiator v3 lifecycle), holder decisions, signed permits, audit trail."""

from ._audit import AuditReport, AuditTrail

__all__ = ["AuditReport", "AuditTrail"]
