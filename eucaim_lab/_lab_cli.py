"""``eucaim-lab lab``: start JupyterLab with the EUCAIM extension on the local node."""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
from pathlib import Path
from typing import Any

from ._config import HOME_ENV, node_home
from ._errors import MissingDependencyError


def register(sub: Any) -> None:
    p = sub.add_parser("lab", help="start JupyterLab with the extension and the local node")
    p.add_argument("--root", default=".", help="folder JupyterLab shows (default: the current folder)")
    p.add_argument("--port", type=int, default=None)
    p.add_argument("--no-browser", action="store_true")
    p.add_argument("jupyter_args", nargs=argparse.REMAINDER, help="further arguments for jupyter lab (after --)")
    p.set_defaults(func=_lab)


def lab_command(args: argparse.Namespace) -> tuple[list[str], dict[str, str]]:
    """The command line and environment that start JupyterLab for ``args``."""
    for module, what in (("jupyterlab", "JupyterLab"), ("eucaim_jupyterlab", "the eucaim-jupyterlab extension")):
        if importlib.util.find_spec(module) is None:
            raise MissingDependencyError(
                f"'eucaim-lab lab' needs {what}, which is not installed in {sys.prefix}. "
                "Run 'make lab' in the eucaim-lab repository, which builds and installs it."
            )
    home = node_home(args.home)
    env = dict(os.environ)
    env[HOME_ENV] = str(home)
    cmd = [sys.executable, "-m", "jupyterlab", f"--ServerApp.root_dir={Path(args.root).resolve()}"]
    if args.port:
        cmd.append(f"--port={args.port}")
    if args.no_browser:
        cmd.append("--no-browser")
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        # containers and teaching VMs often run as root; JupyterLab refuses that unless told
        print("warning: running JupyterLab as root (--allow-root); prefer an ordinary account", file=sys.stderr)
        cmd.append("--allow-root")
    extra = list(args.jupyter_args)
    if extra and extra[0] == "--":
        extra = extra[1:]
    return cmd + extra, env


def _lab(args: argparse.Namespace) -> int:
    cmd, env = lab_command(args)
    print(f"Starting JupyterLab on the local node {env[HOME_ENV]}", file=sys.stderr)
    os.execve(cmd[0], cmd, env)  # replaces this process: never returns
