"""``eucaim-lab checkout REQUEST``, ``checkout verify CHECKOUT``, ``checkout remove CHECKOUT`` and
``checkout list``.

``checkout`` is both a command on a request and a group with ``verify``/``remove``/``list``: the first positional
decides (request ids start with ``REQ-``, so they never collide with the action names).
"""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["register"]

_USAGE = (
    "eucaim-lab checkout REQUEST [--dataset ID] [--json] | checkout verify CHECKOUT [--json] | "
    "checkout remove CHECKOUT [--delete-workspace | --keep-workspace] [--force] [--json] | checkout list [--all] [--json]"
)
_FLAGS = {"verify": set(), "remove": {"--delete-workspace", "--keep-workspace", "--force"}, "list": {"--all"}}


def register(sub: Any) -> None:
    p = sub.add_parser(
        "checkout",
        help="check out approved datasets (REQUEST), verify or remove a checkout, or list checkouts",
        usage=_USAGE,
        description="Check out every dataset made available in REQUEST as a read-only folder of hard links; "
        "'verify CHECKOUT' re-hashes a checkout against its manifest (exit 1 if anything changed); "
        "'remove CHECKOUT' deletes the checkout folder (only its links: the datalake is untouched) and the "
        "checkout's sandboxed kernelspecs, and marks it removed (its record stays for the audit history). "
        "Its workspace holds your results: an empty workspace is removed, one that holds files is KEPT and its "
        "path printed, unless --delete-workspace. Run 'remove' again with --delete-workspace to delete a kept "
        "workspace later. A checkout whose sandboxed kernel the audit trail shows started and not stopped is not removed "
        "without --force. 'list' lists checkouts (removed ones too with --all).",
    )
    p.add_argument("target", metavar="REQUEST|verify|remove|list",
                   help="a request id, or 'verify', 'remove' or 'list'")
    p.add_argument("checkout_id", nargs="?", metavar="CHECKOUT", help="the checkout to verify or remove")
    p.add_argument("--dataset", dest="dataset_id", metavar="ID", help="check out only this dataset of the request")
    ws = p.add_mutually_exclusive_group()
    ws.add_argument("--delete-workspace", action="store_true",
                    help="remove: also delete the workspace when it holds files (your results are lost)")
    ws.add_argument("--keep-workspace", action="store_true",
                    help="remove: keep the workspace even when it is empty")
    p.add_argument("--force", action="store_true",
                   help="remove: even if the audit trail shows a kernel on this checkout started and not stopped")
    p.add_argument("--all", action="store_true", help="list: include removed checkouts")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=_dispatch)


def _dispatch(args: argparse.Namespace) -> int:
    from .._errors import InvalidInputError

    given = {flag for flag, value in (("--dataset", args.dataset_id), ("--delete-workspace", args.delete_workspace),
                                      ("--keep-workspace", args.keep_workspace), ("--all", args.all),
                                      ("--force", args.force)) if value}
    misplaced = sorted(given - _FLAGS.get(args.target, {"--dataset"}))
    if misplaced:
        raise InvalidInputError(f"'checkout {args.target}' does not take {', '.join(misplaced)}. Usage: {_USAGE}")
    if args.target in ("verify", "remove"):
        if not args.checkout_id:
            raise InvalidInputError(f"'checkout {args.target}' takes one checkout id. Usage: {_USAGE}")
        return _verify(args) if args.target == "verify" else _remove(args)
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

    cos = list_checkouts(include_removed=args.all, node=_node(args))
    if args.json:
        print_json([co.to_dict() for co in cos])
        return 0
    if not cos:
        print("No checkouts." if args.all else "No checkouts (removed ones are listed with --all).")
    for co in cos:
        where = f"removed {co.removed}" if co.removed else str(co.path)
        print(f"{co.checkout_id}  {co.dataset_id} v{co.version}  {co.access_condition.value:<18} {co.user:<12} "
              f"{co.created}  {where}")
    return 0


def _remove(args: argparse.Namespace) -> int:
    from ..cli import print_json
    from ._remove import remove

    result = remove(args.checkout_id, keep_workspace=args.keep_workspace, delete_workspace=args.delete_workspace,
                    force=args.force, node=_node(args))
    if args.json:
        print_json(result)
        return 0
    cid = result["checkout_id"]
    what = f"checkout {cid} ({result['dataset_id']} v{result['version']})"
    if result["folder_removed"]:
        print(f"Removed {what}: {result['folder']} ({_files(result['links_removed'])} unlinked; the datalake "
              "files are untouched).")
    elif result["already_removed"]:
        print(f"Checkout {cid} was already removed on {result['removed']}.")
    else:
        print(f"Marked {what} removed (its folder {result['folder']} was already gone).")
    for name in result["kernelspecs_removed"]:
        print(f"Removed kernelspec {name}.")
    ws, n = result["workspace"], result["workspace_files"]
    if result["workspace_action"] == "removed":
        print(f"Removed workspace {ws}" + (f" with its {_files(n)}." if n else " (it was empty)."))
    elif result["workspace_action"] == "kept" and n:
        print(f"Kept workspace {ws}: it holds {_files(n)} (your results). Delete it with: "
              f"eucaim-lab checkout remove {cid} --delete-workspace")
    elif result["workspace_action"] == "kept":
        print(f"Kept workspace {ws} (empty).")
    return 0


def _files(n: int) -> str:
    return f"{n} file" + ("" if n == 1 else "s")
