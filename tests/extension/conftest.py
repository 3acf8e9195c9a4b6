"""Fixtures of the server-extension tests: pytest-jupyter's real Jupyter server with eucaim_jupyterlab enabled.

pytest-jupyter's fixtures and hooks are imported here (not registered as a plugin for the whole run), so only
these tests start servers and use its event loop.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("eucaim_jupyterlab", reason="the extension is installed by `make -C extensions/eucaim-jupyterlab install`")

from pytest_jupyter.jupyter_server import *  # noqa: E402,F401,F403


@pytest.fixture()
def jp_server_config(node_home: Path) -> dict[str, Any]:
    return {
        "ServerApp": {"jpserver_extensions": {"eucaim_jupyterlab": True}},
        "EucaimSettings": {"home": str(node_home)},
    }


@pytest.fixture()
def api(jp_fetch: Any) -> Any:
    """``await api("GET", "catalogue", params={...})`` -> (status, JSON body); never raises on HTTP errors."""

    async def call(method: str, path: str, *, params: dict[str, Any] | None = None, body: Any = None) -> tuple[int, Any]:
        kwargs: dict[str, Any] = {"method": method, "raise_error": False}
        if params:
            kwargs["params"] = params
        if body is not None:
            kwargs["body"] = body if isinstance(body, (str, bytes)) else json.dumps(body)
        elif method == "POST":
            kwargs["body"] = "{}"
        response = await jp_fetch("eucaim", *path.split("/"), **kwargs)
        text = response.body.decode() if response.body else ""
        return response.code, (json.loads(text) if text else None)

    return call
