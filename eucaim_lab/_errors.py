"""One small exception hierarchy for the whole workbench.

Every error raised on purpose by eucaim_lab derives from :class:`EucaimLabError` and from the built-in
exception that matches its meaning, so callers may catch either. Messages say what was wrong, what was
expected and what was found. Structured details travel in ``details``; conversion to JSON or HTTP codes
happens only at the boundaries (the CLI and the server extension).
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "AccessDeniedError",
    "ConflictError",
    "EucaimLabError",
    "IntegrityError",
    "InvalidInputError",
    "MissingDependencyError",
    "NodeVersionError",
    "NotFoundError",
    "SandboxUnavailableError",
]


class EucaimLabError(Exception):
    """Base class of every deliberate eucaim-lab error."""

    #: a short machine-readable kind, used by the CLI's --json output and the REST API
    kind: str = "error"

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def to_dict(self) -> dict[str, Any]:
        return {"error": self.kind, "message": self.message, **self.details}


class InvalidInputError(EucaimLabError, ValueError):
    """A value given by the user is not acceptable (bad id, unknown facet value, malformed file)."""

    kind = "invalid_input"


class NotFoundError(EucaimLabError, LookupError):
    """Something named by the user does not exist (dataset, request, checkout, path)."""

    kind = "not_found"


class ConflictError(EucaimLabError, ValueError):
    """The operation contradicts the current state (duplicate id, request already decided)."""

    kind = "conflict"


class AccessDeniedError(EucaimLabError, PermissionError):
    """No valid permit grants what was asked (forged, expired, wrong user/dataset/version)."""

    kind = "access_denied"


class IntegrityError(EucaimLabError, RuntimeError):
    """Stored data no longer matches its recorded digests (changed, missing or extra files; broken audit chain)."""

    kind = "integrity"


class SandboxUnavailableError(EucaimLabError, RuntimeError):
    """The sandbox cannot be set up on this machine; the kernel does not start."""

    kind = "sandbox_unavailable"


class NodeVersionError(EucaimLabError, RuntimeError):
    """The local node was written by a newer eucaim-lab; it is refused, never modified."""

    kind = "node_version"


class MissingDependencyError(EucaimLabError, ImportError):
    """An optional dependency needed by a feature is not installed."""

    kind = "missing_dependency"


def require(module: str, feature: str, install: str | None = None) -> Any:
    """Import ``module`` or raise :class:`MissingDependencyError` naming the feature and the install command."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:  # pragma: no cover - depends on the environment
        hint = install or f"pip install {module.split('.')[0]}"
        raise MissingDependencyError(
            f"{feature} needs the '{module}' package, which is not installed. Install it with: {hint}",
            module=module,
        ) from exc
