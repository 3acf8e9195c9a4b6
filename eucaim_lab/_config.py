"""Where the local node lives and who the current user is."""

from __future__ import annotations

import getpass
import os
from pathlib import Path

__all__ = ["current_user", "node_home"]

HOME_ENV = "EUCAIM_LAB_HOME"
USER_ENV = "EUCAIM_LAB_USER"


def node_home(home: str | os.PathLike[str] | None = None) -> Path:
    """The local node's directory: ``home`` if given, else ``$EUCAIM_LAB_HOME``, else the platform data dir."""
    if home is not None:
        return Path(home).expanduser().resolve()
    env = os.environ.get(HOME_ENV)
    if env:
        return Path(env).expanduser().resolve()
    from platformdirs import user_data_dir

    return Path(user_data_dir("eucaim-lab", appauthor=False)).resolve()


def current_user() -> str:
    """The researcher's identity on this node: ``$EUCAIM_LAB_USER`` or the login name."""
    return os.environ.get(USER_ENV) or getpass.getuser()
