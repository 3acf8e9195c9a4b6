"""Sandboxed kernels: a bubblewrap kernel provisioner, its policy and the kernelspecs that select it.

A notebook on a sandboxed kernel sees its checkout read-only at ``$EUCAIM_CHECKOUT`` (``/data/checkout``), a
writable workspace at ``$EUCAIM_WORKSPACE`` (``/data/workspace``) and the Python environment read-only; it has
no network, no view of the user's home, other checkouts, the node database, the Jupyter runtime directory or
host processes, and bounded memory and process count. Kernel starts, stops and every execute request are
recorded in the node's audit trail.
"""

from typing import TYPE_CHECKING, Any

from ._kernelspec import install_checkout_kernel, install_kernelspec, list_kernelspecs, remove_kernelspec
from ._policy import CHECKOUT_MOUNT, WORKSPACE_MOUNT, SandboxLimits, SandboxPolicy, check_bwrap

if TYPE_CHECKING:
    from ._provisioner import SandboxProvisioner

__all__ = [
    "CHECKOUT_MOUNT",
    "WORKSPACE_MOUNT",
    "SandboxLimits",
    "SandboxPolicy",
    "SandboxProvisioner",
    "check_bwrap",
    "install_checkout_kernel",
    "install_kernelspec",
    "list_kernelspecs",
    "remove_kernelspec",
]


def __getattr__(name: str) -> Any:
    # the provisioner pulls in jupyter_client; load it only when asked (by Jupyter's entry point, or a user)
    if name == "SandboxProvisioner":
        from ._provisioner import SandboxProvisioner

        return SandboxProvisioner
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
