"""``eucaim-lab kernel install|list|remove``: sandboxed kernelspecs for checkouts."""

from __future__ import annotations

import argparse
from typing import Any

from ..cli import print_json


def register(sub: Any) -> None:
    kernel = sub.add_parser("kernel", help="install, list and remove sandboxed kernels for checkouts")
    ksub = kernel.add_subparsers(dest="kernel_command", metavar="ACTION", parser_class=type(kernel))
    ksub.required = True

    install = ksub.add_parser("install", help="install the sandboxed kernelspec of a checkout")
    install.add_argument("checkout_id", metavar="CHECKOUT", help="checkout id (folder under <node>/checkouts)")
    install.add_argument("--memory", default=None, help="memory limit, e.g. 4GiB (default 4GiB)")
    install.add_argument("--processes", type=int, default=None, help="process/thread limit (default 256)")
    install.add_argument("--cpu-seconds", type=int, default=None, help="CPU time limit per process")
    install.add_argument("--prefix", default=None, help="install under this prefix instead of the user dir")
    install.add_argument("--json", action="store_true", help='print {"kernel_name": ...}')
    install.set_defaults(func=_install)

    lst = ksub.add_parser("list", help="list installed sandboxed kernelspecs")
    lst.add_argument("--json", action="store_true")
    lst.set_defaults(func=_list)

    remove = ksub.add_parser("remove", help="remove a sandboxed kernelspec")
    remove.add_argument("kernel_name", metavar="NAME")
    remove.add_argument("--json", action="store_true")
    remove.set_defaults(func=_remove)


def _install(args: argparse.Namespace) -> int:
    from ._kernelspec import install_checkout_kernel

    limits: dict[str, Any] = {}
    if args.memory is not None:
        limits["memory"] = args.memory
    if args.processes is not None:
        limits["processes"] = args.processes
    if args.cpu_seconds is not None:
        limits["cpu_seconds"] = args.cpu_seconds
    info = install_checkout_kernel(
        args.checkout_id, home=args.home, limits=limits, prefix=args.prefix, user=args.prefix is None
    )
    if args.json:
        print_json(info)
    else:
        print(f"Installed kernel {info['kernel_name']} ({info['display_name']})")
    return 0


def _list(args: argparse.Namespace) -> int:
    from ._kernelspec import list_kernelspecs

    specs = list_kernelspecs()
    if args.json:
        print_json(specs)
    else:
        for spec in specs:
            print(f"{spec['kernel_name']}\t{spec['display_name']}\t{spec['checkout']}")
    return 0


def _remove(args: argparse.Namespace) -> int:
    from ._kernelspec import remove_kernelspec

    path = remove_kernelspec(args.kernel_name)
    if args.json:
        print_json({"kernel_name": args.kernel_name.lower(), "removed": path})
    else:
        print(f"Removed kernel {args.kernel_name.lower()} ({path})")
    return 0
