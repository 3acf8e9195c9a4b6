"""The ``eucaim-lab`` command.

Each subsystem owns its sub-commands in a private ``_cli.py`` module exposing ``register(subparsers)``;
this module only assembles them and turns eucaim-lab errors into one line on stderr and a non-zero exit.
Handlers return an exit code. Heavy libraries are imported inside handlers so that ``--help`` is fast.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

from ._errors import EucaimLabError

__all__ = ["main", "print_json"]

#: modules that contribute sub-commands, in the order they appear in --help
COMMAND_MODULES = (
    "eucaim_lab.demo._cli",
    "eucaim_lab._lab_cli",
    "eucaim_lab.catalogue._cli",
    "eucaim_lab.access._cli",
    "eucaim_lab.checkout._cli",
    "eucaim_lab.sandbox._cli",
    "eucaim_lab.imaging._cli",
    "eucaim_lab.radiomics._cli",
    "eucaim_lab._provenance_cli",
)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one line, exit 2, like every other failure
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = _Parser(prog="eucaim-lab", description="EUCAIM research workbench: catalogue, access, radiomics.")
    parser.add_argument("--version", action="version", version=f"eucaim-lab {__version__}")
    parser.add_argument("--home", help="local node folder (default: $EUCAIM_LAB_HOME or the platform data dir)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    for name in COMMAND_MODULES:
        if importlib.util.find_spec(name) is None:
            continue
        importlib.import_module(name).register(sub)
    return parser


def print_json(data: Any) -> None:
    """Print ``data`` as indented JSON (dates and paths as strings)."""
    print(json.dumps(data, indent=2, default=str, ensure_ascii=False))


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code = args.func(args)
    except EucaimLabError as exc:
        print(f"eucaim-lab: error: {exc.message}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("eucaim-lab: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    return int(code or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
