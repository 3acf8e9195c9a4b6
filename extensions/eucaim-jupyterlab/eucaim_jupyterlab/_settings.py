"""Settings of the server extension, declared once as traitlets (``--EucaimSettings.<name>=...`` or config files)."""

from __future__ import annotations

from pathlib import Path

from traitlets import Int, Unicode
from traitlets.config import Configurable

__all__ = ["EucaimSettings"]


class EucaimSettings(Configurable):
    """Where the local node lives and how its workspaces are reached from the Jupyter server's root folder."""

    home = Unicode(
        None,
        allow_none=True,
        help="Folder of the local eucaim-lab node. Default: $EUCAIM_LAB_HOME, else the platform data folder.",
    ).tag(config=True)

    workspaces_link = Unicode(
        "eucaim-workspaces",
        help=(
            "Name of a symbolic link created in the server's root folder, pointing at the node's workspaces, "
            "when those lie outside the root folder; sandboxed notebooks open through it. Empty: never create "
            "the link (then start the server with a root folder that contains the node's workspaces)."
        ),
    ).tag(config=True)

    max_page = Int(
        500, help="Largest number of catalogue results one request may ask for (the panel pages through the rest)."
    ).tag(config=True)

    request_threads = Int(
        4, help="Threads that run catalogue, access and checkout work so the server's event loop never blocks."
    ).tag(config=True)

    def node_home(self) -> Path:
        from eucaim_lab._config import node_home

        return node_home(self.home)
