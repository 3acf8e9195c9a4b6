"""Compare the running Python environment with the pinned lock file it was written for."""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

__all__ = ["EnvironmentReport", "check_environment", "installed_versions", "lock_digest", "read_lock"]

LOCK_ENV = "EUCAIM_ENV_LOCK"
_LINE = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*==\s*([^\s;#]+)")


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def default_lock() -> Path | None:
    """``$EUCAIM_ENV_LOCK``, else ``environments/requirements.lock`` of the source tree this package runs from."""
    env = os.environ.get(LOCK_ENV)
    if env:
        return Path(env)
    candidate = Path(__file__).resolve().parents[2] / "environments" / "requirements.lock"
    return candidate if candidate.is_file() else None


def read_lock(path: str | os.PathLike[str]) -> dict[str, str]:
    """``name==version`` pins of a lock file (normalised names)."""
    pins = {}
    for line in Path(path).read_text().splitlines():
        m = _LINE.match(line)
        if m:
            pins[_normalise(m.group(1))] = m.group(2)
    return pins


def lock_digest(path: str | os.PathLike[str]) -> str:
    return "sha256:" + hashlib.sha256(Path(path).read_bytes()).hexdigest()


def installed_versions() -> dict[str, str]:
    out = {}
    for dist in metadata.distributions():
        # PackageMetadata has no .get() before Python 3.12; a broken install can lack the Name field
        if "Name" in dist.metadata and dist.metadata["Name"]:
            out[_normalise(dist.metadata["Name"])] = dist.version
    return out


@dataclass(frozen=True)
class EnvironmentReport:
    """What differs between the lock and the running environment."""

    lock: str | None
    digest: str | None
    missing: tuple[str, ...] = ()
    different: dict[str, tuple[str, str]] = field(default_factory=dict)

    @property
    def matches(self) -> bool:
        return self.lock is not None and not self.missing and not self.different

    def __str__(self) -> str:
        if self.lock is None:
            return "No environment lock file found (set EUCAIM_ENV_LOCK); the environment cannot be checked."
        if self.matches:
            return f"The environment matches {self.lock} ({self.digest})."
        lines = [f"The environment differs from {self.lock} ({self.digest}):"]
        lines += [f"  {n}: locked {a}, installed {b}" for n, (a, b) in sorted(self.different.items())]
        lines += [f"  {n}: locked but not installed" for n in self.missing]
        return "\n".join(lines)

    def to_dict(self) -> dict[str, object]:
        return {
            "lock": self.lock,
            "lock_digest": self.digest,
            "matches": self.matches,
            "missing": list(self.missing),
            "different": {k: {"locked": a, "installed": b} for k, (a, b) in self.different.items()},
        }


def check_environment(lock: str | os.PathLike[str] | None = None) -> EnvironmentReport:
    """Compare installed package versions with ``lock`` (default: :func:`default_lock`)."""
    path = Path(lock) if lock is not None else default_lock()
    if path is None or not path.is_file():
        return EnvironmentReport(lock=None if path is None else str(path), digest=None)
    pins = read_lock(path)
    have = installed_versions()
    missing = tuple(sorted(n for n in pins if n not in have))
    different = {n: (v, have[n]) for n, v in pins.items() if n in have and have[n] != v}
    return EnvironmentReport(lock=str(path), digest=lock_digest(path), missing=missing, different=different)
