"""A small seccomp filter for the sandbox: system calls a notebook never needs fail with ``EPERM``.

The filter is a classic BPF program handed to ``bwrap --seccomp FD``. It is a deny-list on top of what the
user namespace already forbids: tracing, kernel keyrings, eBPF, perf, userfaultfd, io_uring, module loading,
mounts and namespace changes, clock and host settings, and file-handle lookups. Calls from another ABI than the
host's 64-bit one (i386 via ``int 0x80``, x32) are refused as a whole. Only x86_64 and aarch64 are known;
elsewhere no filter is built (the namespaces still apply).
"""

from __future__ import annotations

import platform
import struct

__all__ = ["DENIED_SYSCALLS", "seccomp_program"]

_EPERM = 1
_RET_ALLOW = 0x7FFF0000
_RET_ERRNO = 0x00050000
_LD_W_ABS = 0x20
_JEQ_K = 0x15
_JGE_K = 0x35
_RET_K = 0x06
_X32_BIT = 0x40000000

#: system call names refused inside the sandbox
DENIED_SYSCALLS = (
    "ptrace", "process_vm_readv", "process_vm_writev",
    "keyctl", "add_key", "request_key",
    "bpf", "perf_event_open", "userfaultfd",
    "io_uring_setup", "io_uring_enter", "io_uring_register",
    "kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module",
    "mount", "umount2", "pivot_root", "chroot", "move_mount", "open_tree", "fsopen", "fsconfig", "fsmount",
    "fspick", "mount_setattr", "unshare", "setns",
    "name_to_handle_at", "open_by_handle_at",
    "swapon", "swapoff", "reboot", "sethostname", "setdomainname", "acct",
    "settimeofday", "clock_settime", "adjtimex", "clock_adjtime",
)

# (AUDIT_ARCH, {name: number}) per machine
_X86_64 = {
    "ptrace": 101, "process_vm_readv": 310, "process_vm_writev": 311,
    "keyctl": 250, "add_key": 248, "request_key": 249,
    "bpf": 321, "perf_event_open": 298, "userfaultfd": 323,
    "io_uring_setup": 425, "io_uring_enter": 426, "io_uring_register": 427,
    "kexec_load": 246, "kexec_file_load": 320, "init_module": 175, "finit_module": 313, "delete_module": 176,
    "mount": 165, "umount2": 166, "pivot_root": 155, "chroot": 161, "move_mount": 429, "open_tree": 428,
    "fsopen": 430, "fsconfig": 431, "fsmount": 432, "fspick": 433, "mount_setattr": 442,
    "unshare": 272, "setns": 308,
    "name_to_handle_at": 303, "open_by_handle_at": 304,
    "swapon": 167, "swapoff": 168, "reboot": 169, "sethostname": 170, "setdomainname": 171, "acct": 163,
    "settimeofday": 164, "clock_settime": 227, "adjtimex": 159, "clock_adjtime": 305,
}
_AARCH64 = {
    "ptrace": 117, "process_vm_readv": 270, "process_vm_writev": 271,
    "keyctl": 219, "add_key": 217, "request_key": 218,
    "bpf": 280, "perf_event_open": 241, "userfaultfd": 282,
    "io_uring_setup": 425, "io_uring_enter": 426, "io_uring_register": 427,
    "kexec_load": 104, "kexec_file_load": 294, "init_module": 105, "finit_module": 273, "delete_module": 106,
    "mount": 40, "umount2": 39, "pivot_root": 41, "chroot": 51, "move_mount": 429, "open_tree": 428,
    "fsopen": 430, "fsconfig": 431, "fsmount": 432, "fspick": 433, "mount_setattr": 442,
    "unshare": 97, "setns": 268,
    "name_to_handle_at": 264, "open_by_handle_at": 265,
    "swapon": 224, "swapoff": 225, "reboot": 142, "sethostname": 161, "setdomainname": 162, "acct": 89,
    "settimeofday": 170, "clock_settime": 112, "adjtimex": 171, "clock_adjtime": 266,
}
_ARCHES = {
    "x86_64": (0xC000003E, _X86_64, True),
    "aarch64": (0xC00000B7, _AARCH64, False),
}


def _insn(code: int, jt: int, jf: int, k: int) -> bytes:
    return struct.pack("=HBBI", code, jt, jf, k)


def seccomp_program(machine: str | None = None) -> bytes | None:
    """The filter as raw ``struct sock_filter`` records, or ``None`` on an unknown machine."""
    known = _ARCHES.get(machine or platform.machine())
    if known is None:
        return None
    audit_arch, numbers, has_x32 = known
    denied = sorted({numbers[name] for name in DENIED_SYSCALLS})
    body: list[tuple[int, int, int, int]] = []
    # instructions are (code, jt, jf, k) with jumps given as "to DENY" (-1) or "next" (0), fixed up below
    body.append((_LD_W_ABS, 0, 0, 4))  # seccomp_data.arch
    body.append((_JEQ_K, 0, -1, audit_arch))  # another ABI: deny
    body.append((_LD_W_ABS, 0, 0, 0))  # seccomp_data.nr
    if has_x32:
        body.append((_JGE_K, -1, 0, _X32_BIT))
    for nr in denied:
        body.append((_JEQ_K, -1, 0, nr))
    allow_at = len(body)
    deny_at = allow_at + 1
    out = []
    for i, (code, jt, jf, k) in enumerate(body):
        jt = deny_at - i - 1 if jt == -1 else jt
        jf = deny_at - i - 1 if jf == -1 else jf
        out.append(_insn(code, jt, jf, k))
    out.append(_insn(_RET_K, 0, 0, _RET_ALLOW))
    out.append(_insn(_RET_K, 0, 0, _RET_ERRNO | _EPERM))
    if len(out) > 255:  # pragma: no cover - jump offsets are 8 bits
        raise RuntimeError("seccomp program too long for 8-bit jumps")
    return b"".join(out)
