"""REST handlers under ``/eucaim/``: thin, authenticated, JSON in and out, domain errors mapped in one place.

Every route is listed in :data:`ROUTES`. Work that touches the node (SQLite, the file system, kernelspecs) runs
in a small thread pool so a slow checkout never stalls the server's event loop.
"""

from __future__ import annotations

import asyncio
import functools
import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import tornado.web
from jupyter_server.base.handlers import APIHandler
from jupyter_server.utils import url_path_join

from . import _service
from ._settings import EucaimSettings
from ._version import __version__

__all__ = ["ROUTES", "STATUS_BY_KIND", "EucaimHandler", "setup_handlers"]

T = TypeVar("T")

#: HTTP status of each eucaim_lab error kind (``EucaimLabError.kind``); anything else is 500
STATUS_BY_KIND: dict[str, int] = {
    "invalid_input": 400,
    "access_denied": 403,
    "not_found": 404,
    "conflict": 409,
    "integrity": 409,
    "sandbox_unavailable": 503,
}

_ID = r"(?P<item_id>[A-Za-z0-9][A-Za-z0-9._-]{0,127})"


class _DomainError(tornado.web.HTTPError):
    """Carries an eucaim_lab error to :meth:`EucaimHandler.write_error` with its status and JSON body."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(status, "%s", body.get("message", ""))
        self.body = body


class EucaimHandler(APIHandler):
    """Base of every ``/eucaim/`` handler: settings, the thread pool, JSON bodies and error mapping."""

    @property
    def eucaim(self) -> _service.Service:
        return self.settings["eucaim_service"]

    async def run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run ``fn`` in the extension's thread pool; eucaim_lab errors become JSON errors with their status."""
        from eucaim_lab._errors import EucaimLabError

        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self.settings["eucaim_executor"], functools.partial(fn, *args, **kwargs))
        except EucaimLabError as exc:
            status = STATUS_BY_KIND.get(exc.kind, 500)
            raise _DomainError(status, _jsonable(exc.to_dict())) from exc

    def json_body(self) -> dict[str, Any]:
        from eucaim_lab._errors import InvalidInputError

        try:
            data = json.loads(self.request.body or b"{}")
        except ValueError:
            data = None
        if not isinstance(data, dict):
            raise _DomainError(
                400,
                {"error": InvalidInputError.kind, "message": "The request body must be a JSON object."},
            )
        return data

    def reply(self, data: Any, status: int = 200) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(data, default=str))

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info", (None, None, None))[1]
        self.set_header("Content-Type", "application/json")
        if isinstance(exc, _DomainError):
            body = exc.body
        elif status_code >= 500:
            body = {
                "error": "server_error",
                "message": "The EUCAIM server extension failed unexpectedly; the Jupyter server log has the details.",
            }
        else:
            reason = getattr(exc, "log_message", None) or self._reason
            body = {"error": "http_error", "message": str(reason)}
        self.finish(json.dumps(body, default=str))


def _jsonable(data: dict[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(data, default=str))


# ----- handlers ------------------------------------------------------------------------------------------------
class VersionHandler(EucaimHandler):
    @tornado.web.authenticated
    async def get(self) -> None:
        self.reply(await self.run(self.eucaim.version))


#: query arguments that belong to Jupyter's authentication, not to the search
_AUTH_ARGUMENTS = frozenset({"token", "_xsrf"})


class CatalogueSearchHandler(EucaimHandler):
    @tornado.web.authenticated
    async def get(self) -> None:
        args = {
            k: [v.decode("utf-8", "replace") for v in vs]
            for k, vs in self.request.query_arguments.items()
            if k not in _AUTH_ARGUMENTS
        }
        self.reply(await self.run(self.eucaim.search, args))


class DatasetHandler(EucaimHandler):
    @tornado.web.authenticated
    async def get(self, item_id: str) -> None:
        self.reply(await self.run(self.eucaim.dataset, item_id))


class RequestsHandler(EucaimHandler):
    @tornado.web.authenticated
    async def get(self) -> None:
        self.reply(await self.run(self.eucaim.list_requests))

    @tornado.web.authenticated
    async def post(self) -> None:
        body = self.json_body()
        self.reply(await self.run(self.eucaim.create_request, body), status=201)


class RequestHandler(EucaimHandler):
    @tornado.web.authenticated
    async def get(self, item_id: str) -> None:
        self.reply(await self.run(self.eucaim.get_request, item_id))


class CheckoutsHandler(EucaimHandler):
    @tornado.web.authenticated
    async def get(self) -> None:
        self.reply(await self.run(self.eucaim.list_checkouts))

    @tornado.web.authenticated
    async def post(self) -> None:
        body = self.json_body()
        self.reply(await self.run(self.eucaim.create_checkout, body), status=201)


class NotebookHandler(EucaimHandler):
    @tornado.web.authenticated
    async def post(self, item_id: str) -> None:
        body = self.json_body()
        self.reply(await self.run(self.eucaim.create_notebook, item_id, body), status=201)


#: every route of the extension, relative to ``<base_url>/eucaim/``
ROUTES: list[tuple[str, type[EucaimHandler]]] = [
    ("version", VersionHandler),
    ("catalogue", CatalogueSearchHandler),
    (f"catalogue/{_ID}", DatasetHandler),
    ("access/requests", RequestsHandler),
    (f"access/requests/{_ID}", RequestHandler),
    ("checkouts", CheckoutsHandler),
    (f"checkouts/{_ID}/notebook", NotebookHandler),
]


def setup_handlers(web_app: Any, settings: EucaimSettings, *, root_dir: str) -> None:
    """Add the ``/eucaim/`` routes to the server's tornado application."""
    service = _service.Service(settings, root_dir=root_dir, version=__version__)
    executor = ThreadPoolExecutor(max_workers=max(1, settings.request_threads), thread_name_prefix="eucaim")
    web_app.settings["eucaim_service"] = service
    web_app.settings["eucaim_executor"] = executor
    executor.submit(service.warm_up)
    base = url_path_join(web_app.settings["base_url"], "eucaim")
    web_app.add_handlers(".*$", [(url_path_join(base, path) + "/?", handler) for path, handler in ROUTES])
