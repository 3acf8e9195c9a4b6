"""The sandbox policy: what a sandboxed kernel may see, and the bubblewrap command line that enforces it.

The policy is deliberately a list of things to *add* to an empty root: read-only system directories, a few
files from ``/etc``, the Python environment, the checkout (read-only) and the workspace (writable), plus the
kernel's own socket directory. Everything else on the machine (the user's home, ``/run``, other checkouts,
the node database, the Jupyter runtime directory) is simply absent. The kernel runs in new user, PID,
network, IPC, UTS and cgroup namespaces (``--unshare-all``), with no capabilities, as uid 1000 of its own user
namespace, which cannot create further namespaces (``--disable-userns``). The sandbox root, ``/proc`` and every
system bind are read-only.

Known limits of this policy (keep them in mind when extending it):

- The sandbox's uid maps to the uid of the process that starts it. When that is the host's root (as in many
  containers), files the sandbox can reach are accessed with root's *owner* permissions (but no capabilities):
  hence ``/proc`` is read-only and only chosen ``/etc`` entries are bound.
- ``/proc/self/mountinfo`` shows the host paths of the bound folders (their names, not their content).
- The kernel owns its socket folder; it could replace a socket with a symlink that the host then connects to
  (the host speaks only ZMTP there, signed with the session key).
- Files the kernel writes to the workspace may be symlinks; host tools must not follow them blindly.
- The seccomp filter is a deny-list (x86_64 and aarch64 only), not an allow-list.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .._errors import InvalidInputError, SandboxUnavailableError

__all__ = [
    "CHECKOUT_MOUNT",
    "SANDBOX_GID",
    "SANDBOX_HOME",
    "SANDBOX_UID",
    "WORKSPACE_MOUNT",
    "SandboxLimits",
    "SandboxPolicy",
    "check_bwrap",
    "python_environment_paths",
]

#: where the checkout appears inside the sandbox (read-only)
CHECKOUT_MOUNT = "/data/checkout"
#: where the workspace appears inside the sandbox (writable)
WORKSPACE_MOUNT = "/data/workspace"
#: where the pinned environment lock appears inside the sandbox (read-only), for environment checks
ENV_LOCK_MOUNT = "/opt/eucaim/requirements.lock"
#: the kernel's home inside the sandbox: an empty tmpfs
SANDBOX_HOME = "/home/researcher"
SANDBOX_UID = 1000
SANDBOX_GID = 1000

#: system directories bound read-only when they exist (symlinks such as /bin -> usr/bin are recreated)
_SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
#: the only parts of /etc the kernel gets (no shadow, no host names, no credentials)
_ETC_ENTRIES = (
    "/etc/ld.so.cache",
    "/etc/ld.so.conf",
    "/etc/ld.so.conf.d",
    "/etc/localtime",
    "/etc/ssl/certs",  # not /etc/ssl/private: bound files keep their host owner, who may be the caller
    "/etc/ssl/openssl.cnf",
    "/etc/ca-certificates",
    "/etc/fonts",
    "/etc/mime.types",
    "/etc/alternatives",
)

_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]i?b?|b)?\s*$", re.IGNORECASE)
_UNITS = {"": 1, "b": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}


def _parse_size(value: Any, what: str) -> int:
    if isinstance(value, bool):
        raise InvalidInputError(f"The sandbox {what} must be a size such as 4294967296 or '4GiB'. Got {value!r}.")
    if isinstance(value, int):
        size = value
    else:
        match = _SIZE_RE.match(str(value))
        if not match:
            raise InvalidInputError(
                f"The sandbox {what} must be a size such as 4294967296 or '4GiB'. Got {value!r}."
            )
        unit = (match.group(2) or "").lower()[:1]
        size = int(float(match.group(1)) * _UNITS[unit])
    if size < 64 * 1024**2:
        raise InvalidInputError(f"The sandbox {what} must be at least 64 MiB. Got {value!r}.")
    return size


@dataclasses.dataclass(frozen=True)
class SandboxLimits:
    """Resource limits of one sandboxed kernel (and everything it starts).

    ``memory``: bytes of address space per process (``RLIMIT_AS``) and, where a writable cgroup exists, of
    memory for the whole sandbox. ``processes``: tasks (processes and threads) in the sandbox, enforced by the
    pids cgroup where available and by ``RLIMIT_NPROC`` inside the sandbox's own user namespace.
    ``cpu_seconds``: CPU time per process (``RLIMIT_CPU``), or ``None`` for no limit.
    """

    memory: int = 4 * 1024**3
    processes: int = 256
    cpu_seconds: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "memory", _parse_size(self.memory, "memory limit"))
        if isinstance(self.processes, bool) or not isinstance(self.processes, int) or self.processes < 16:
            raise InvalidInputError(
                f"The sandbox process limit must be an integer >= 16. Got {self.processes!r}."
            )
        if self.cpu_seconds is not None and (
            isinstance(self.cpu_seconds, bool) or not isinstance(self.cpu_seconds, int) or self.cpu_seconds < 1
        ):
            raise InvalidInputError(
                f"The sandbox CPU time limit must be a whole number of seconds >= 1 or null. "
                f"Got {self.cpu_seconds!r}."
            )

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any] | None) -> SandboxLimits:
        """Build from kernel.json's ``limits`` mapping; unknown keys are refused."""
        data = dict(data or {})
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise InvalidInputError(
                f"Unknown sandbox limit(s) {unknown}; expected some of {sorted(known)}. Got {data!r}."
            )
        return cls(**data)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def python_environment_paths() -> list[str]:
    """Folders the kernel's Python needs, read-only: the environment, its base interpreter, editable sources."""
    paths: list[str] = []
    for prefix in (sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix):
        real = os.path.realpath(prefix)
        for candidate in (prefix, real):
            if candidate not in paths:
                paths.append(candidate)
    # an editable install of this package lives outside the environment: bind exactly the package folder
    package_dir = str(Path(__file__).resolve().parents[1])
    if not any(package_dir == p or package_dir.startswith(p.rstrip("/") + "/") for p in paths):
        paths.append(package_dir)
    return paths


@functools.lru_cache(maxsize=8)
def _bwrap_help(bwrap: str) -> str:
    proc = subprocess.run([bwrap, "--help"], capture_output=True, text=True, timeout=10, check=False)
    return proc.stdout + proc.stderr


_INSTALL_HINT = (
    "Install bubblewrap (Debian/Ubuntu: 'apt-get install bubblewrap'; Fedora: 'dnf install bubblewrap') "
    "and make sure unprivileged user namespaces are enabled (sysctl user.max_user_namespaces > 0; on Debian "
    "kernel.unprivileged_userns_clone=1; on Ubuntu 24.04+ kernel.apparmor_restrict_unprivileged_userns=0 or an "
    "AppArmor profile for bwrap). Inside a container, run it with user namespaces allowed (e.g. Docker's "
    "--security-opt seccomp=unconfined or a seccomp profile allowing unshare/clone). The kernel was not started."
)


def check_bwrap(bwrap: str = "bwrap") -> str:
    """Return the absolute path of a working bubblewrap, or raise :class:`SandboxUnavailableError`.

    "Working" means: the binary exists and can create a sandbox with new user, PID and network namespaces and
    no capabilities, and run ``true`` in it. This is checked before every kernel launch (it takes a few ms).
    """
    path = shutil.which(bwrap)
    if path is None:
        raise SandboxUnavailableError(
            f"The sandboxed kernel needs bubblewrap, but {bwrap!r} was not found "
            f"(PATH={os.environ.get('PATH', '')!r}). {_INSTALL_HINT}",
            bwrap=bwrap,
        )
    true = shutil.which("true") or "/bin/true"
    argv = [path, "--unshare-all", "--unshare-user", "--cap-drop", "ALL", "--die-with-parent"]
    argv += _system_binds() + ["--proc", "/proc", "--dev", "/dev", "--", true]
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=20, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise SandboxUnavailableError(
            f"bubblewrap at {path} could not be run: {exc}. {_INSTALL_HINT}", bwrap=path
        ) from exc
    if proc.returncode != 0:
        raise SandboxUnavailableError(
            f"bubblewrap at {path} cannot create a sandbox on this machine (exit {proc.returncode}: "
            f"{proc.stderr.strip() or 'no message'}). {_INSTALL_HINT}",
            bwrap=path,
        )
    return path


def _system_binds() -> list[str]:
    args: list[str] = []
    for entry in _SYSTEM_DIRS:
        if os.path.islink(entry):
            args += ["--symlink", os.readlink(entry), entry]
        elif os.path.isdir(entry):
            args += ["--ro-bind", entry, entry]
    return args


@dataclasses.dataclass(frozen=True)
class SandboxPolicy:
    """Everything that decides what one sandboxed kernel sees.

    ``kernel_dir`` is the kernel's private directory on the host (short absolute path, sockets and the
    connection file); it is bound writable at the same path. ``etc_dir`` holds generated ``passwd``,
    ``group`` and ``hosts`` files.
    """

    checkout: Path
    workspace: Path
    kernel_dir: Path
    etc_dir: Path
    python_paths: tuple[str, ...]
    host_home: str | None = None
    hostname: str = "eucaim-sandbox"
    #: size cap of each scratch tmpfs (bytes); ``None`` leaves bubblewrap's default (half the RAM)
    tmpfs_size: int | None = None
    #: the environment lock file, bound read-only at ENV_LOCK_MOUNT (so notebooks can check their environment)
    env_lock: Path | None = None

    def write_etc(self) -> None:
        """Minimal account and host files: the kernel learns no host user or host name."""
        self.etc_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        files = {
            "passwd": f"researcher:x:{SANDBOX_UID}:{SANDBOX_GID}:EUCAIM researcher:{SANDBOX_HOME}:/bin/sh\n"
            "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n",
            "group": f"researcher:x:{SANDBOX_GID}:\nnogroup:x:65534:\n",
            "hosts": f"127.0.0.1 localhost {self.hostname}\n::1 localhost ip6-localhost ip6-loopback\n",
            "nsswitch.conf": "passwd: files\ngroup: files\nhosts: files\n",
            "resolv.conf": "# no network in the sandbox\n",
        }
        for name, text in files.items():
            (self.etc_dir / name).write_text(text, encoding="utf-8")

    def bwrap_args(self, env: Mapping[str, str], *, disable_userns: bool, tmpfs_size: bool = True) -> list[str]:
        """bubblewrap options (without the binary and without ``--``) for this policy and environment."""
        args = [
            "--unshare-all",  # user, ipc, pid, net (loopback only), uts, cgroup
            "--unshare-user",
            "--uid", str(SANDBOX_UID),
            "--gid", str(SANDBOX_GID),
            "--hostname", self.hostname,
            "--cap-drop", "ALL",
            "--die-with-parent",
            "--new-session",
        ]
        if disable_userns:
            args.append("--disable-userns")
        args += _system_binds()
        for entry in _ETC_ENTRIES:
            if os.path.exists(entry):
                args += ["--ro-bind", entry, entry]
        for name in ("passwd", "group", "hosts", "nsswitch.conf", "resolv.conf"):
            args += ["--ro-bind", str(self.etc_dir / name), f"/etc/{name}"]
        # /proc read-only as a whole: bubblewrap covers only some of it, and when the caller is host root the
        # sandbox's uid maps to root, which may write sysctls such as kernel.core_pattern through /proc/sys
        args += ["--proc", "/proc", "--remount-ro", "/proc", "--dev", "/dev"]
        # empty, writable scratch areas; the host's content there is never visible
        size = ["--size", str(self.tmpfs_size)] if tmpfs_size and self.tmpfs_size else []
        for scratch in ("/tmp", "/run", "/var", "/var/tmp", SANDBOX_HOME):
            args += [*size, "--tmpfs", scratch]
        if self.host_home and self.host_home not in ("/", SANDBOX_HOME):
            args += ["--tmpfs", self.host_home]
        for path in self.python_paths:
            args += ["--ro-bind", path, path]
        if self.env_lock is not None:
            args += ["--ro-bind", str(self.env_lock), ENV_LOCK_MOUNT]
        args += ["--ro-bind", str(self.checkout), CHECKOUT_MOUNT]
        args += ["--bind", str(self.workspace), WORKSPACE_MOUNT]
        args += ["--bind", str(self.kernel_dir), str(self.kernel_dir)]
        args += ["--remount-ro", "/"]  # the sandbox's root itself: no writable stray folders
        args += ["--chdir", WORKSPACE_MOUNT, "--clearenv"]
        for key, value in sorted(env.items()):
            args += ["--setenv", key, value]
        return args


def bwrap_supports(bwrap: str, option: str) -> bool:
    """Whether this bubblewrap knows ``option`` (e.g. ``--disable-userns``, new in 0.8)."""
    return option in _bwrap_help(bwrap)


def sandbox_env(
    *,
    kernel_dir: Path,
    audit_fd: int,
    limits: SandboxLimits,
    extra: Mapping[str, str],
) -> dict[str, str]:
    """The kernel's whole environment (the host's is cleared)."""
    venv_bin = os.path.join(sys.prefix, "bin")
    env = {
        "PATH": f"{venv_bin}:/usr/local/bin:/usr/bin:/bin",
        "HOME": SANDBOX_HOME,
        "USER": "researcher",
        "LOGNAME": "researcher",
        "LANG": "C.UTF-8",
        "TMPDIR": "/tmp",
        "PYTHONNOUSERSITE": "1",
        "EUCAIM_SANDBOXED": "1",
        "EUCAIM_CHECKOUT": CHECKOUT_MOUNT,
        "EUCAIM_WORKSPACE": WORKSPACE_MOUNT,
        "EUCAIM_KERNEL_DIR": str(kernel_dir),
        "EUCAIM_AUDIT_FD": str(audit_fd),
        "EUCAIM_SANDBOX_LIMITS": ",".join(
            f"{k}={'' if v is None else v}" for k, v in sorted(limits.to_dict().items())
        ),
    }
    if sys.prefix != sys.base_prefix:
        env["VIRTUAL_ENV"] = sys.prefix
    env.update(extra)
    return env
