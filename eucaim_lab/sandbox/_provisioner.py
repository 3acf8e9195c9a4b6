"""A jupyter_client kernel provisioner that runs ipykernel inside bubblewrap.

Registered as ``eucaim-sandbox`` in the ``jupyter_client.kernel_provisioners`` entry point group; a kernelspec
selects it with ``metadata.kernel_provisioner.provisioner_name`` and configures it with ``config`` (see
:func:`eucaim_lab.sandbox.install_kernelspec`). What the kernel sees is decided by
:class:`eucaim_lab.sandbox.SandboxPolicy`; this module adds the plumbing:

- ZMQ over ``ipc`` sockets in a private per-kernel directory (``/tmp/eucaim-<uid>/<8 hex>``), the only host
  directory the kernel may write besides its workspace. The connection file the kernel reads lives there too;
  the Jupyter runtime directory (with the server's token) is never bound.
- Fail closed: bubblewrap and user namespaces are checked before every launch; if anything is missing the
  launch raises :class:`SandboxUnavailableError`, never falls back to an unsandboxed kernel.
- A seccomp deny-list (see :mod:`eucaim_lab.sandbox._seccomp`) on top of the namespaces.
- Limits: cgroups where this process may create them, plus rlimits that the kernel sets on itself before it
  takes any request (they cannot be raised again: the sandbox has no capabilities).
- Audit: ``kernel.start`` (before launch; if it cannot be recorded, the kernel does not start),
  ``kernel.execute`` for every execute request (code hash, read from a pipe the kernel writes), and
  ``kernel.stop``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import secrets
import shutil
import signal
import stat
import threading
from pathlib import Path
from typing import Any

from jupyter_client.connect import KernelConnectionInfo
from jupyter_client.provisioning import LocalProvisioner
from traitlets import Bool, Dict, List, Unicode

from .._errors import InvalidInputError, NotFoundError, SandboxUnavailableError
from ._cgroup import SandboxCgroups
from ._policy import (
    ENV_LOCK_MOUNT,
    SandboxLimits,
    SandboxPolicy,
    bwrap_supports,
    check_bwrap,
    python_environment_paths,
    sandbox_env,
)
from ._seccomp import seccomp_program

__all__ = ["SandboxProvisioner"]

log = logging.getLogger(__name__)

_KERNEL_CLASS = "eucaim_lab.sandbox._inside.AuditedKernel"
_MAX_AUDIT_LINE = 4096
_HEX64 = frozenset("0123456789abcdef")
#: host environment variables handed to the kernel (everything else is cleared)
_PASS_ENV = ("JPY_SESSION_NAME", "TZ")


class SandboxProvisioner(LocalProvisioner):
    """Launch the kernel of a kernelspec inside a bubblewrap sandbox (see the module docstring)."""

    checkout = Unicode(help="Host folder of the checkout, bound read-only at /data/checkout.").tag(config=True)
    workspace = Unicode(help="Host folder of the workspace, bound writable at /data/workspace.").tag(config=True)
    checkout_id = Unicode(None, allow_none=True, help="Checkout id, for the audit trail.").tag(config=True)
    dataset_ids = List(Unicode(), help="Dataset ids of the checkout, for the audit trail.").tag(config=True)
    node_home = Unicode(None, allow_none=True, help="Local node whose audit trail records the kernel.").tag(
        config=True
    )
    user = Unicode(None, allow_none=True, help="User recorded in the audit trail (default: current user).").tag(
        config=True
    )
    limits = Dict(help="Resource limits: memory (bytes or '4GiB'), processes, cpu_seconds.").tag(config=True)
    bwrap = Unicode("bwrap", help="bubblewrap executable (name on PATH or absolute path).").tag(config=True)
    python_paths = List(
        Unicode(), help="Folders of the kernel's Python bound read-only (default: this interpreter's)."
    ).tag(config=True)
    require_permit = Bool(
        True, help="Verify the checkout's permit (signature, expiry, user, dataset, version) before every start."
    ).tag(config=True)
    socket_root = Unicode("/tmp", help="Where per-kernel socket folders are made (short absolute path).").tag(
        config=True
    )

    _kernel_dir: Path | None = None
    _cgroups: SandboxCgroups | None = None
    _audit_read_fd: int | None = None
    _audit_write_fd: int | None = None
    _args_fd: int | None = None
    _seccomp_fd: int | None = None
    _readers: list[threading.Thread]
    _launches: int = 0

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._readers = []

    # ----- launch ---------------------------------------------------------------------------------------
    async def pre_launch(self, **kwargs: Any) -> dict[str, Any]:
        km = self.parent
        if km is None:
            raise SandboxUnavailableError("The sandbox provisioner needs a KernelManager as parent.")
        checkout, workspace = self._check_folders()
        limits = SandboxLimits.from_mapping(self.limits)
        python_paths = tuple(self.python_paths) or tuple(python_environment_paths())
        missing = [p for p in python_paths if not os.path.isdir(p)]
        if missing:
            raise SandboxUnavailableError(
                f"The kernel's Python environment folders {missing} do not exist; reinstall the kernelspec "
                "with 'eucaim-lab kernel install'. The kernel was not started."
            )
        bwrap = check_bwrap(self.bwrap)  # fail closed before anything else happens
        if self.require_permit:
            self._check_permit(checkout)
        fresh_dir = self._kernel_dir is None
        kernel_dir = self._ensure_kernel_dir()
        try:
            return await self._prepare(kwargs, checkout, workspace, limits, python_paths, bwrap, kernel_dir)
        except BaseException:
            self._close_audit_fds()
            if self._cgroups is not None:
                self._cgroups.remove()
                self._cgroups = None
            if fresh_dir:
                self._remove_kernel_dir()
            raise

    def _check_permit(self, checkout: Path) -> None:
        """The kernel of a checkout starts only while the checkout exists and its permit still verifies."""
        from .._node import Node
        from ..access._permits import load_permit, verify_permit
        from ..checkout import Manifest
        from ..checkout import get as get_checkout

        node = Node(self.node_home or None)
        manifest = Manifest.read(checkout / "manifest.json")
        get_checkout(manifest.checkout_id, node=node)  # refuses a removed or unknown checkout
        verify_permit(load_permit(node, manifest.permit_id), user=manifest.user, dataset_id=manifest.dataset_id,
                      version=manifest.version, node=node)

    async def _prepare(
        self,
        kwargs: dict[str, Any],
        checkout: Path,
        workspace: Path,
        limits: SandboxLimits,
        python_paths: tuple[str, ...],
        bwrap: str,
        kernel_dir: Path,
    ) -> dict[str, Any]:
        km = self.parent
        # ZMQ over ipc sockets in the kernel's own folder; interrupts as messages (SIGINT would kill bwrap)
        km.transport = "ipc"
        km.ip = str(kernel_dir / "k")
        km.cache_ports = False
        self.kernel_spec.interrupt_mode = "message"

        kwargs = await super().pre_launch(**kwargs)
        host_connection_file = os.path.realpath(km.connection_file)
        cmd = [str(a) for a in kwargs.pop("cmd")]
        if host_connection_file not in cmd:
            raise InvalidInputError(
                "The sandboxed kernelspec's argv must contain '{connection_file}'. Got "
                f"{self.kernel_spec.argv!r}."
            )
        # the kernel reads a copy of the connection file in its own folder, never the Jupyter runtime dir
        inner_connection_file = kernel_dir / "connection.json"
        _write_private(inner_connection_file, Path(host_connection_file).read_bytes())
        cmd = [str(inner_connection_file) if a == host_connection_file else a for a in cmd]
        cmd.append(f"--IPKernelApp.kernel_class={_KERNEL_CLASS}")

        host_env: dict[str, str] = kwargs.pop("env")
        extra = {k: host_env[k] for k in (*self.kernel_spec.env, *_PASS_ENV) if k in host_env}
        self._close_audit_fds()
        self._audit_read_fd, self._audit_write_fd = os.pipe()
        from ..provenance._environment import default_lock

        lock = default_lock()
        if lock is not None:
            extra["EUCAIM_ENV_LOCK"] = ENV_LOCK_MOUNT
        env = sandbox_env(kernel_dir=kernel_dir, audit_fd=self._audit_write_fd, limits=limits, extra=extra)
        policy = SandboxPolicy(
            env_lock=lock,
            checkout=checkout,
            workspace=workspace,
            kernel_dir=kernel_dir,
            etc_dir=kernel_dir.parent / f"{kernel_dir.name}-etc",
            python_paths=python_paths,
            host_home=os.path.expanduser("~"),
            tmpfs_size=limits.memory // 4,  # several scratch mounts share the memory limit
        )
        policy.write_etc()
        args = policy.bwrap_args(
            env,
            disable_userns=bwrap_supports(bwrap, "--disable-userns"),
            tmpfs_size=bwrap_supports(bwrap, "--size"),
        )

        self._launches += 1
        if self._cgroups is not None:
            self._cgroups.remove()
        self._cgroups = SandboxCgroups.create(f"eucaim-{kernel_dir.name}-{self._launches}", limits)
        # RLIMIT_NPROC is ignored for processes whose host user is root: only the pids cgroup bounds them then
        if "pids" in self._cgroups.controllers:
            process_limit = "cgroup"
        elif os.getuid() != 0:
            process_limit = "rlimit"
        else:
            process_limit = "none"
            log.warning("Running as root without a writable pids cgroup: the sandbox's process limit "
                        "(%d) cannot be enforced", limits.processes)
        program = seccomp_program()
        if program is None:
            log.warning("No seccomp filter for this machine type; the sandbox relies on namespaces only")
        # recorded before the launch: a kernel whose start cannot be audited does not start
        self._record(
            "kernel.start",
            {
                "kernel_id": self.kernel_id,
                "checkout_id": self.checkout_id,
                "checkout": str(checkout),
                "workspace": str(workspace),
                "limits": limits.to_dict(),
                "cgroup_controllers": self._cgroups.controllers,
                "process_limit_enforced_by": process_limit,
                "seccomp": program is not None,
                "bwrap": bwrap,
                "launch": self._launches,
                "kernel_argv": cmd,
            },
        )
        # the options go through a pipe (--args), so /proc/1/cmdline in the sandbox does not list host paths
        pass_fds = [self._audit_write_fd]
        if program is not None:
            self._seccomp_fd = _data_pipe(program)
            pass_fds.append(self._seccomp_fd)
            args += ["--seccomp", str(self._seccomp_fd)]
        self._args_fd = _data_pipe(b"".join(a.encode() + b"\0" for a in args))
        pass_fds.append(self._args_fd)
        kwargs["cmd"] = [bwrap, "--args", str(self._args_fd), "--", *cmd]
        kwargs["env"] = {"PATH": host_env.get("PATH", os.defpath), "LANG": "C.UTF-8"}
        kwargs["pass_fds"] = tuple(pass_fds)
        if self._cgroups.dirs:
            kwargs["preexec_fn"] = self._cgroups.join
        return kwargs

    async def launch_kernel(self, cmd: list[str], **kwargs: Any) -> KernelConnectionInfo:
        try:
            info = await super().launch_kernel(cmd, **kwargs)
        except BaseException as exc:
            self._close_audit_fds()
            self._record("kernel.stop", {"kernel_id": self.kernel_id, "checkout_id": self.checkout_id,
                                         "restart": False, "launch_failed": repr(exc)})
            raise
        # the kernel holds the only write end now; EOF on the read end means the sandbox is gone
        for name in ("_audit_write_fd", "_args_fd", "_seccomp_fd"):
            fd = getattr(self, name)
            if fd is not None:
                os.close(fd)
                setattr(self, name, None)
        read_fd, self._audit_read_fd = self._audit_read_fd, None
        if read_fd is not None:
            reader = threading.Thread(
                target=self._read_audit, args=(read_fd,), name=f"eucaim-audit-{self.kernel_id}", daemon=True
            )
            reader.start()
            self._readers.append(reader)
        return info

    def resolve_path(self, path_str: str) -> str | None:
        """Paths inside the sandbox are not resolved to host paths (that would disclose the host layout)."""
        return None

    async def cleanup(self, restart: bool = False) -> None:
        await super().cleanup(restart=restart)
        self._close_audit_fds()
        for reader in self._readers:  # the last execute entries land before the stop entry
            await asyncio.to_thread(reader.join, 5)
        self._readers = [r for r in self._readers if r.is_alive()]
        if self._cgroups is not None:
            self._cgroups.remove()
            self._cgroups = None
        try:
            self._record("kernel.stop", {"kernel_id": self.kernel_id, "checkout_id": self.checkout_id,
                                         "restart": restart})
        finally:
            if not restart:
                self._remove_kernel_dir()

    def _remove_kernel_dir(self) -> None:
        if self._kernel_dir is not None:
            shutil.rmtree(self._kernel_dir, ignore_errors=True)
            shutil.rmtree(self._kernel_dir.parent / f"{self._kernel_dir.name}-etc", ignore_errors=True)
            self._kernel_dir = None

    async def get_provisioner_info(self) -> dict[str, Any]:
        info = await super().get_provisioner_info()
        info["kernel_dir"] = str(self._kernel_dir) if self._kernel_dir else None
        return info

    async def load_provisioner_info(self, provisioner_info: dict[str, Any]) -> None:
        await super().load_provisioner_info(provisioner_info)
        kernel_dir = provisioner_info.get("kernel_dir")
        self._kernel_dir = Path(kernel_dir) if kernel_dir else None

    # ----- helpers --------------------------------------------------------------------------------------
    def _check_folders(self) -> tuple[Path, Path]:
        if not self.checkout or not self.workspace:
            raise InvalidInputError(
                "The sandboxed kernelspec must set 'checkout' and 'workspace' in its provisioner config. "
                f"Got checkout={self.checkout!r}, workspace={self.workspace!r}."
            )
        checkout = Path(self.checkout).resolve()
        workspace = Path(self.workspace).resolve()
        if not checkout.is_dir():
            raise NotFoundError(f"The checkout folder {checkout} does not exist; the kernel was not started.")
        workspace.mkdir(parents=True, exist_ok=True)
        return checkout, workspace

    def _ensure_kernel_dir(self) -> Path:
        if self._kernel_dir is not None and self._kernel_dir.is_dir():
            return self._kernel_dir
        root = Path(self.socket_root)
        if not root.is_absolute():
            raise InvalidInputError(f"socket_root must be an absolute path. Got {self.socket_root!r}.")
        base = root / f"eucaim-{os.getuid()}"
        try:
            base.mkdir(mode=0o700, exist_ok=True)
        except OSError as exc:
            raise SandboxUnavailableError(f"Cannot create the kernel socket folder {base}: {exc}.") from exc
        st = os.lstat(base)
        if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid() or st.st_mode & 0o077:
            raise SandboxUnavailableError(
                f"{base} must be a folder owned by uid {os.getuid()} with mode 0700 (it holds kernel sockets). "
                f"Got mode {oct(st.st_mode)}, owner {st.st_uid}. Remove it and retry."
            )
        for _ in range(16):
            kernel_dir = base / secrets.token_hex(4)
            try:
                kernel_dir.mkdir(mode=0o700)
            except FileExistsError:
                continue
            break
        else:  # pragma: no cover - 16 collisions of 32 random bits
            raise SandboxUnavailableError(f"Could not create a fresh kernel folder under {base}.")
        if len(str(kernel_dir / "k-99999")) >= 100:
            shutil.rmtree(kernel_dir, ignore_errors=True)
            raise SandboxUnavailableError(
                f"The kernel socket folder {kernel_dir} is too long for Unix sockets (limit 107 bytes); "
                "set a shorter socket_root."
            )
        self._kernel_dir = kernel_dir
        return kernel_dir

    def _close_audit_fds(self) -> None:
        for name in ("_audit_read_fd", "_audit_write_fd", "_args_fd", "_seccomp_fd"):
            fd = getattr(self, name)
            if fd is not None:
                try:
                    os.close(fd)
                except OSError:
                    pass
                setattr(self, name, None)

    def _trail(self) -> Any:
        from ..access import AuditTrail

        return AuditTrail(self.node_home or None)

    def _record(self, action: str, details: dict[str, Any], trail: Any = None) -> None:
        """Append to the audit trail (``trail`` reused if given, else opened and closed here)."""
        from .._config import current_user

        own = trail is None
        trail = self._trail() if own else trail
        try:
            trail.append(action, user=self.user or current_user(), dataset_ids=list(self.dataset_ids),
                         details=details)
        finally:
            if own:
                trail.node.close()

    def _read_audit(self, fd: int) -> None:
        """Host side of the audit pipe: one ``kernel.execute`` entry per line the kernel wrote."""
        trail = None
        try:
            with os.fdopen(fd, "rb") as stream:
                while True:
                    line = stream.readline(_MAX_AUDIT_LINE)
                    if not line:
                        return
                    details = {"kernel_id": self.kernel_id, "checkout_id": self.checkout_id, **_parse(line)}
                    try:
                        trail = trail or self._trail()  # one connection per reader thread
                        self._record("kernel.execute", details, trail)
                    except Exception:  # any failure (sqlite, disk, node version): no execution without a record
                        log.exception("Audit of an execute request failed; killing the kernel")
                        self._kill_now()
                        return
        finally:
            if trail is not None:
                trail.node.close()

    def _kill_now(self) -> None:
        process = self.process
        if process is not None:
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except OSError:
                process.kill()


def _parse(line: bytes) -> dict[str, Any]:
    """Keep the known fields of one audit line; anything else is recorded as malformed (with its hash)."""
    import hashlib

    try:
        data = json.loads(line)
    except ValueError:
        data = None
    if (
        isinstance(data, dict)
        and isinstance(data.get("code_sha3"), str)
        and len(data["code_sha3"]) == 64
        and set(data["code_sha3"]) <= _HEX64
    ):
        out: dict[str, Any] = {"code_sha3": data["code_sha3"]}
        for key, kind in (("execution_count", int), ("code_bytes", int), ("silent", bool),
                          ("user_expressions_sha3", str)):
            if isinstance(data.get(key), kind):
                out[key] = data[key]
        return out
    return {"malformed": True, "line_sha3": hashlib.sha3_256(line).hexdigest(), "line_bytes": len(line)}


def _data_pipe(data: bytes) -> int:
    """A pipe already holding ``data`` (for ``bwrap --args FD`` / ``--seccomp FD``); returns the read end."""
    read_fd, write_fd = os.pipe()
    try:
        if len(data) >= 65536:  # the pipe must hold it all: bwrap reads only after exec
            raise InvalidInputError(f"The sandbox set-up data is too long ({len(data)} bytes).")
        os.write(write_fd, data)
    except BaseException:
        os.close(read_fd)
        raise
    finally:
        os.close(write_fd)
    return read_fd


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)

