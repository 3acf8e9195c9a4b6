"""``eucaim-lab checkout REQUEST``, ``eucaim-lab checkout verify CHECKOUT`` and ``eucaim-lab checkout list``.

``checkout`` is both a command on a request and a group with ``verify``/``list``: the first positional decides
(request ids start with ``REQ-``, so they never collide with the two action names).
"""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["register"]

_USAGE = "eucaim-lab checkout REQUEST [--dataset ID] [--json] | checkout verify CHECKOUT [--json] | checkout list"


def register(sub: Any) -> None:
    p = sub.add_parser(
        "checkout",
        help="check out approved datasets (REQUEST), verify a checkout (verify CHECKOUT), or list checkouts",
        usage=_USAGE,
        description="Check out every dataset made available in REQUEST as a read-only folder of hard links; "
        "'verify CHECKOUT' re-hashes a checkout against its manifest (exit 1 if anything changed); "
        "'list' lists checkouts.",
    )
    p.add_argument("target", metavar="REQUEST|verify|list", help="a request id, or 'verify', or 'list'")
    p.add_argument("checkout_id", nargs="?", metavar="CHECKOUT", help="the checkout to verify")
    p.add_argument("--dataset", dest="dataset_id", metavar="ID", help="check out only this dataset of the request")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=_dispatch)


def _dispatch(args: argparse.Namespace) -> int:
    from .._errors import InvalidInputError

    if args.target == "verify":
        if not args.checkout_id or args.dataset_id:
            raise InvalidInputError(f"Usage: {_USAGE}. 'verify' takes one checkout id and no --dataset.")
        return _verify(args)
    if args.target == "list":
        if args.checkout_id:
            raise InvalidInputError(f"'checkout list' takes no id. Got {args.checkout_id!r}.")
        return _list(args)
    if args.checkout_id:
        raise InvalidInputError(
            f"'checkout {args.target}' takes one request id. Got an extra argument {args.checkout_id!r}. "
            f"Usage: {_USAGE}"
        )
    return _checkout(args)


def _node(args: argparse.Namespace) -> Any:
    from .._node import Node

    return Node(args.home)


def _checkout(args: argparse.Namespace) -> int:
    from ..cli import print_json
    from ._checkout import checkout

    cos = checkout(args.target, dataset_id=args.dataset_id, node=_node(args))
    if args.json:
        print_json([co.to_dict() for co in cos])
    else:
        for co in cos:
            print(f"{co.checkout_id}\t{co.path}")
    return 0


def _verify(args: argparse.Namespace) -> int:
    from ..cli import print_json
    from ._verify import verify

    report = verify(args.checkout_id, node=_node(args))
    if args.json:
        print_json(report.to_dict())
    elif report.ok:
        mb = report.bytes_checked / 1e6
        print(f"{report.checkout_id}: intact ({report.files_checked} files, {mb:.1f} MB, {report.seconds:.2f} s)")
    else:
        print(f"{report.checkout_id}: CHANGED")
        for kind in ("changed", "missing", "extra"):
            for rel in getattr(report, kind):
                print(f"  {kind}: {rel}")
    return 0 if report.ok else 1


def _list(args: argparse.Namespace) -> int:
    from ..cli import print_json
    from ._checkout import list_checkouts

    cos = list_checkouts(node=_node(args))
    if args.json:
        print_json([co.to_dict() for co in cos])
        return 0
    if not cos:
        print("No checkouts.")
    for co in cos:
        print(f"{co.checkout_id}  {co.dataset_id} v{co.version}  {co.access_condition.value:<18} {co.user:<12} "
              f"{co.created}  {co.path}")
    return 0
