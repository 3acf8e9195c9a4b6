"""``eucaim-lab access ...`` (requests and decisions) and ``eucaim-lab audit ...`` (the audit trail)."""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["register"]


def register(sub: Any) -> None:
    p = sub.add_parser("access", help="request access to datasets; data holders approve or decline")
    acc = p.add_subparsers(dest="access_command", metavar="ACTION", parser_class=type(p))
    acc.required = True

    r = acc.add_parser("request", help="ask for access to datasets, with a purpose")
    r.add_argument("dataset_ids", nargs="+", metavar="ID", help="dataset ids")
    r.add_argument("--purpose", required=True, help="what the data will be used for")
    r.add_argument("--json", action="store_true", help="print JSON")
    r.set_defaults(func=_request)

    ls = acc.add_parser("list", help="list access requests")
    ls.add_argument("--mine", action="store_true", help="only the current user's requests")
    ls.add_argument("--as", dest="holder", metavar="HOLDER", help="only requests for datasets held by HOLDER")
    ls.add_argument("--json", action="store_true", help="print JSON")
    ls.set_defaults(func=_list)

    sh = acc.add_parser("show", help="show one request and the status of each dataset in it")
    sh.add_argument("request_id", metavar="REQUEST")
    sh.add_argument("--json", action="store_true", help="print JSON")
    sh.set_defaults(func=_show)

    for name, helptext in (("approve", "approve (issues signed permits)"), ("decline", "decline")):
        d = acc.add_parser(name, help=f"as a data holder, {helptext} the datasets you hold in a request")
        d.add_argument("request_id", metavar="REQUEST")
        d.add_argument("--dataset", dest="dataset_id", metavar="ID", help="decide only on this dataset")
        d.add_argument("--as", dest="holder", metavar="HOLDER", required=True, help="your data-holder id")
        if name == "approve":
            d.add_argument("--expires", metavar="DATE", help="permit expiry (YYYY-MM-DD; default: one year)")
        else:
            d.add_argument("--reason", help="why the request is declined")
        d.add_argument("--json", action="store_true", help="print JSON")
        d.set_defaults(func=_approve if name == "approve" else _decline)

    ab = acc.add_parser("abandon", help="withdraw your request")
    ab.add_argument("request_id", metavar="REQUEST")
    ab.add_argument("--json", action="store_true", help="print JSON")
    ab.set_defaults(func=_abandon)

    a = sub.add_parser("audit", help="check or list the node's hash-chained audit trail")
    aud = a.add_subparsers(dest="audit_command", metavar="ACTION", parser_class=type(a))
    aud.required = True
    v = aud.add_parser("verify", help="re-hash the whole audit trail; exit 1 if it was altered")
    v.add_argument("--json", action="store_true", help="print JSON")
    v.set_defaults(func=_audit_verify)
    al = aud.add_parser("list", help="list audit entries (a dataset's access history with --dataset)")
    al.add_argument("--dataset", dest="dataset_id", metavar="ID", help="only entries naming this dataset")
    al.add_argument("--user", help="only entries by this user")
    al.add_argument("--json", action="store_true", help="print JSON")
    al.set_defaults(func=_audit_list)


def _node(args: argparse.Namespace) -> Any:
    from .._node import Node

    return Node(args.home)


def _print_request(req: Any, as_json: bool) -> None:
    from ..cli import print_json

    if as_json:
        print_json(req.to_dict())
        return
    print(f"{req.request_id}  {req.status.value}  user={req.user}  created={req.created}")
    print(f"  purpose: {req.purpose}")
    for r in req.resources:
        extra = f"  permit={r.permit_id}" if r.permit_id else ""
        reason = f"  reason={r.reason}" if r.reason else ""
        print(f"  {r.dataset_id} v{r.version} [{r.access_condition.value}] holder={r.holder}: "
              f"{r.status.value}{extra}{reason}")


def _request(args: argparse.Namespace) -> int:
    from ..cli import print_json
    from ._requests import request

    req = request(args.dataset_ids, args.purpose, node=_node(args))
    if args.json:
        print_json(req.to_dict())
    else:
        print(req.request_id)
    return 0


def _list(args: argparse.Namespace) -> int:
    from .._config import current_user
    from ..cli import print_json
    from ._requests import list_requests

    reqs = list_requests(current_user() if args.mine else None, holder=args.holder, node=_node(args))
    if args.json:
        print_json([r.to_dict() for r in reqs])
        return 0
    if not reqs:
        print("No access requests.")
    for req in reqs:
        datasets = ", ".join(f"{r.dataset_id}:{r.status.value}" for r in req.resources)
        print(f"{req.request_id}  {req.status.value:<12}  {req.user:<12}  {datasets}")
    return 0


def _show(args: argparse.Namespace) -> int:
    from ._requests import get

    _print_request(get(args.request_id, node=_node(args)), args.json)
    return 0


def _approve(args: argparse.Namespace) -> int:
    from ._requests import approve

    req = approve(args.request_id, args.holder, dataset_id=args.dataset_id, expires=args.expires, node=_node(args))
    _print_request(req, args.json)
    return 0


def _decline(args: argparse.Namespace) -> int:
    from ._requests import decline

    req = decline(args.request_id, args.holder, dataset_id=args.dataset_id, reason=args.reason, node=_node(args))
    _print_request(req, args.json)
    return 0


def _abandon(args: argparse.Namespace) -> int:
    from ._requests import abandon

    _print_request(abandon(args.request_id, node=_node(args)), args.json)
    return 0


def _audit_verify(args: argparse.Namespace) -> int:
    from ..cli import print_json
    from ._audit import AuditTrail

    report = AuditTrail(_node(args)).verify()
    if args.json:
        print_json(report.to_dict())
    elif report.ok:
        print(f"Audit trail intact: {report.entries} entries, head {report.head_hash[:16]}...")
    else:
        print(f"Audit trail BROKEN ({len(report.problems)} problem(s) in {report.entries} entries):")
        for p in report.problems:
            print(f"  {p['message']}")
    return 0 if report.ok else 1


def _audit_list(args: argparse.Namespace) -> int:
    from ..catalogue._model import validate_identifier
    from ..cli import print_json
    from ._audit import AuditTrail

    if args.dataset_id is not None:
        validate_identifier(args.dataset_id)
    entries = AuditTrail(_node(args)).entries(dataset_id=args.dataset_id, user=args.user)
    if args.json:
        print_json(entries)
        return 0
    for e in entries:
        ids = ",".join(e["dataset_ids"]) or "-"
        keys = ("request_id", "checkout_id", "permit_id", "kernel_name", "status", "ok")
        info = " ".join(f"{k}={e['details'][k]}" for k in keys if k in e["details"])
        print(f"#{e['seq']:<5} {e['ts']}  {e['action']:<24} {e['user']:<12} {ids}  {info}")
    return 0
