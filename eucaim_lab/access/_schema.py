"""Tables of access requests, decisions, permits and the audit trail (filled in by the access subsystem)."""

DDL = ""
