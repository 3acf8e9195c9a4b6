"""Identifiers of requests, permits and checkouts: generated at random, validated wherever a user gives one."""

from __future__ import annotations

import re
import secrets

from .._errors import InvalidInputError

__all__ = ["new_id", "validate_id"]

_PATTERNS = {
    "REQ": re.compile(r"^REQ-[0-9a-f]{12}$"),
    "CO": re.compile(r"^CO-[0-9a-f]{12}$"),
    "PERMIT": re.compile(r"^PERMIT-[0-9a-f]{16}$"),
}
_WHAT = {"REQ": "request id", "CO": "checkout id", "PERMIT": "permit id"}
_EXAMPLE = {"REQ": "REQ-0123456789ab", "CO": "CO-0123456789ab", "PERMIT": "PERMIT-0123456789abcdef"}


def new_id(prefix: str) -> str:
    """A fresh random id such as ``REQ-3f2a9c0d1e4b``."""
    nbytes = 8 if prefix == "PERMIT" else 6
    return f"{prefix}-{secrets.token_hex(nbytes)}"


def validate_id(value: object, prefix: str) -> str:
    """Return ``value`` if it is a well-formed id of this kind; refuse paths, '..' and odd characters."""
    if not isinstance(value, str) or not _PATTERNS[prefix].fullmatch(value):
        raise InvalidInputError(
            f"The {_WHAT[prefix]} must look like {_EXAMPLE[prefix]} ('{prefix}-' and lower-case hex digits, no "
            f"paths or other characters). Got {value!r}.",
            field=_WHAT[prefix],
            value=str(value),
        )
    return value
