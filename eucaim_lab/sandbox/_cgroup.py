"""Whole-sandbox memory and task limits with cgroups, where this process may create them.

``RLIMIT_AS`` bounds each process and ``RLIMIT_NPROC`` (set inside the sandbox's own user namespace) bounds
tasks, but the kernel ignores ``RLIMIT_NPROC`` for processes whose host user is root. A cgroup closes both
gaps: ``pids.max`` counts every task in the sandbox, ``memory.max`` / ``memory.limit_in_bytes`` all of its
memory. Both cgroup v2 (a delegated subtree) and v1 (separate ``memory`` and ``pids`` hierarchies) are
supported. The bubblewrap process joins the cgroups before it executes, so nothing in the sandbox escapes them.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from pathlib import Path

from ._policy import SandboxLimits

__all__ = ["SandboxCgroups"]

log = logging.getLogger(__name__)

_ROOT = Path("/sys/fs/cgroup")


def _own_paths() -> dict[str, str]:
    """Controller (or '' for v2) -> this process's cgroup path, from /proc/self/cgroup."""
    paths: dict[str, str] = {}
    try:
        text = Path("/proc/self/cgroup").read_text()
    except OSError:
        return paths
    for line in text.splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        for controller in parts[1].split(",") if parts[1] else [""]:
            paths[controller] = parts[2]
    return paths


class SandboxCgroups:
    """The cgroup directories of one sandbox (possibly none, where cgroups cannot be created)."""

    def __init__(self, dirs: dict[str, Path]) -> None:
        self.dirs = dirs

    @property
    def controllers(self) -> list[str]:
        return sorted(self.dirs)

    @property
    def procs_files(self) -> list[str]:
        return sorted({str(d / "cgroup.procs") for d in self.dirs.values()})

    @classmethod
    def create(cls, name: str, limits: SandboxLimits) -> SandboxCgroups:
        """Create cgroups named ``name`` with the limits; controllers that cannot be used are left out."""
        own = _own_paths()
        dirs: dict[str, Path] = {}
        if (_ROOT / "cgroup.controllers").exists():  # v2, unified
            base = _ROOT / own.get("", "/").lstrip("/")
            target = base / name
            with contextlib.suppress(OSError):
                target.mkdir(mode=0o755)
                available = (target / "cgroup.controllers").read_text().split()
                if "memory" in available and _write(target / "memory.max", limits.memory):
                    _write(target / "memory.swap.max", 0)
                    dirs["memory"] = target
                if "pids" in available and _write(target / "pids.max", limits.processes):
                    dirs["pids"] = target
                if not dirs:
                    target.rmdir()
        else:  # v1: one hierarchy per controller
            for controller, files in (
                ("memory", {"memory.limit_in_bytes": limits.memory}),
                ("pids", {"pids.max": limits.processes}),
            ):
                mount = _ROOT / controller
                if not mount.is_dir():
                    continue
                base = mount / own.get(controller, "/").lstrip("/")
                if not base.is_dir():
                    base = mount
                target = base / name
                try:
                    target.mkdir(mode=0o755)
                except OSError:
                    continue
                if all(_write(target / f, v) for f, v in files.items()):
                    dirs[controller] = target
                else:
                    with contextlib.suppress(OSError):
                        target.rmdir()
        if not dirs:
            log.info("No writable cgroup hierarchy: the sandbox relies on rlimits only")
        return cls(dirs)

    def join(self) -> None:
        """Move the calling process into the cgroups (called in the child between fork and exec)."""
        pid = str(os.getpid()).encode()
        for procs in self.procs_files:
            fd = os.open(procs, os.O_WRONLY)
            try:
                os.write(fd, pid)
            finally:
                os.close(fd)

    def remove(self, timeout: float = 5.0) -> None:
        """Remove the cgroups once their processes are gone (waits up to ``timeout`` seconds)."""
        deadline = time.monotonic() + timeout
        for target in sorted(set(self.dirs.values())):
            while True:
                try:
                    target.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        log.warning("Could not remove cgroup %s (still busy)", target)
                        break
                    time.sleep(0.05)
        self.dirs = {}


def _write(path: Path, value: int) -> bool:
    try:
        path.write_text(str(value))
    except OSError:
        return False
    return True
