"""``eucaim-lab reproduce NOTEBOOK`` and ``eucaim-lab env check``."""

from __future__ import annotations

import argparse
from typing import Any

from .cli import print_json


def register(sub: Any) -> None:
    p = sub.add_parser("reproduce", help="re-run a notebook and report which outputs differ")
    p.add_argument("notebook", metavar="NOTEBOOK")
    p.add_argument("--kernel", default=None, help="kernel to run it on (default: the notebook's own)")
    p.add_argument("--rtol", type=float, default=1e-6, help="relative tolerance for numbers")
    p.add_argument("--atol", type=float, default=1e-9, help="absolute tolerance for numbers")
    p.add_argument("--timeout", type=int, default=1200, help="seconds per cell")
    p.add_argument("--output", default=None, help="also write the re-executed notebook here")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_reproduce)

    env = sub.add_parser("env", help="check the Python environment against the pinned lock")
    esub = env.add_subparsers(dest="env_command", metavar="ACTION", parser_class=type(env))
    esub.required = True
    check = esub.add_parser("check", help="list packages that differ from environments/requirements.lock")
    check.add_argument("--lock", default=None)
    check.add_argument("--json", action="store_true")
    check.set_defaults(func=_env_check)


def _reproduce(args: argparse.Namespace) -> int:
    from .provenance import reproduce

    report = reproduce(args.notebook, kernel_name=args.kernel, timeout=args.timeout, rtol=args.rtol,
                       atol=args.atol, output=args.output)
    if args.json:
        print_json(report.to_dict())
    else:
        print(report)
    return 0 if report.identical else 1


def _env_check(args: argparse.Namespace) -> int:
    from .provenance import check_environment

    report = check_environment(args.lock)
    if args.json:
        print_json(report.to_dict())
    else:
        print(report)
    return 0 if report.matches else 1
