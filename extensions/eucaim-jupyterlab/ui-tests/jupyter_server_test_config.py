"""Jupyter server configuration of the UI tests (Galata's test settings: no token, test helpers loaded)."""

import os

from jupyterlab.galata import configure_jupyter_server

c = get_config()  # noqa: F821 (provided by the config loader)
configure_jupyter_server(c)
c.ServerApp.port = int(os.environ.get("EUCAIM_UI_PORT", "8917"))
c.ServerApp.ip = "127.0.0.1"
c.ServerApp.jpserver_extensions = {"eucaim_jupyterlab": True}
c.LabApp.check_for_updates_class = "jupyterlab.NeverCheckForUpdate"
c.LabApp.news_url = None
# CI containers run as root; the server binds 127.0.0.1 only and lives for the test run
c.ServerApp.allow_root = True
