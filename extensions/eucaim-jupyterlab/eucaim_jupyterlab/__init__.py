"""JupyterLab extension of the EUCAIM workbench: the server part.

The front end (the "EUCAIM Catalogue" panel) talks to REST handlers under ``/eucaim/``; they stay thin over
``eucaim_lab`` (which never imports jupyter_server) and turn its errors into HTTP status codes in one place.
"""

from __future__ import annotations

from typing import Any

from ._version import __version__

__all__ = ["__version__"]


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    return [{"src": "labextension", "dest": "eucaim-jupyterlab"}]


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    return [{"module": "eucaim_jupyterlab"}]


def _load_jupyter_server_extension(server_app: Any) -> None:
    """Register the ``/eucaim/`` handlers with the Jupyter server."""
    from ._handlers import setup_handlers
    from ._settings import EucaimSettings

    settings = EucaimSettings(parent=server_app)
    setup_handlers(server_app.web_app, settings, root_dir=getattr(server_app, "root_dir", "."))
    server_app.log.info(
        "eucaim_jupyterlab %s: /eucaim/ handlers registered (node home: %s)", __version__, settings.node_home()
    )
