"""What the REST handlers do, without tornado: turn request arguments into eucaim_lab calls and results into JSON.

Kept apart from the handlers so each operation is one small function over the core API; errors are the core's
own (:mod:`eucaim_lab._errors`), mapped to HTTP codes only by the handlers' base class.
"""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._settings import EucaimSettings

if TYPE_CHECKING:  # pragma: no cover
    from eucaim_lab._node import Node
    from eucaim_lab.catalogue import Catalogue

__all__ = ["DEFAULT_PAGE", "Service"]

logger = logging.getLogger(__name__)

#: results per page when the client does not say
DEFAULT_PAGE = 50
_PAGING = ("offset", "limit")


class Service:
    """The operations behind ``/eucaim/``, bound to one local node and one server root folder."""

    def __init__(self, settings: EucaimSettings, *, root_dir: str | os.PathLike[str], version: str) -> None:
        self.settings = settings
        self.root_dir = Path(root_dir).expanduser().resolve()
        self.version_string = version
        self._catalogue: Catalogue | None = None

    # ----- shared objects ---------------------------------------------------------------------------------
    @property
    def catalogue(self) -> Catalogue:
        if self._catalogue is None:
            from eucaim_lab.catalogue import Catalogue

            self._catalogue = Catalogue(self.settings.node_home())
        return self._catalogue

    @property
    def node(self) -> Node:
        return self.catalogue.node

    def warm_up(self) -> None:
        """Open the node and run one empty search, so the panel's first search at start-up is answered fast."""
        from eucaim_lab._errors import EucaimLabError

        try:
            self.search({"limit": ["1"]})
        except EucaimLabError as exc:  # the panel reports it when it asks; the server starts anyway
            logger.warning("eucaim_jupyterlab: the local node could not be opened: %s", exc.message)

    # ----- version ----------------------------------------------------------------------------------------
    def version(self) -> dict[str, Any]:
        import eucaim_lab
        from eucaim_lab._config import current_user

        return {"version": self.version_string, "eucaim_lab": eucaim_lab.__version__, "user": current_user()}

    # ----- catalogue --------------------------------------------------------------------------------------
    def search(self, args: dict[str, list[str]]) -> dict[str, Any]:
        """``GET /eucaim/catalogue``: one page of matches, the facet counts and the total."""
        started = time.perf_counter()
        offset = _int_arg(args, "offset", 0, 0, None)
        limit = _int_arg(args, "limit", DEFAULT_PAGE, 1, self.settings.max_page)
        filters: dict[str, Any] = {}
        for name, values in args.items():
            if name in _PAGING:
                continue
            kept = [v for v in values if v.strip()]
            if not kept:
                continue
            filters[name] = " ".join(kept) if name == "text" else kept
        cat = self.catalogue
        page = cat.search(limit=limit, offset=offset, **filters)
        results = json.loads(page.to_json(orient="records", date_format="iso")) if len(page) else []
        total = cat.count(**filters)
        facets = cat.facets(**filters)
        return {
            "results": results,
            "facets": facets,
            "total": total,
            "offset": offset,
            "limit": limit,
            "took_ms": round((time.perf_counter() - started) * 1000, 2),
        }

    def dataset(self, dataset_id: str) -> dict[str, Any]:
        """``GET /eucaim/catalogue/<id>``: the full record."""
        return self.catalogue.get(dataset_id).to_json_dict()

    # ----- access -----------------------------------------------------------------------------------------
    def list_requests(self) -> dict[str, Any]:
        from eucaim_lab import access
        from eucaim_lab._config import current_user

        requests = access.list_requests(current_user(), node=self.node)
        return {"requests": [r.to_dict() for r in requests]}

    def create_request(self, body: dict[str, Any]) -> dict[str, Any]:
        from eucaim_lab import access
        from eucaim_lab._errors import InvalidInputError

        ids = body.get("dataset_ids")
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
            raise InvalidInputError(
                f"'dataset_ids' must be a list of dataset ids. Got {ids!r}.", field="dataset_ids"
            )
        purpose = body.get("purpose")
        if not isinstance(purpose, str):
            raise InvalidInputError(f"'purpose' must be text. Got {purpose!r}.", field="purpose")
        return access.request(ids, purpose, node=self.node).to_dict()

    def get_request(self, request_id: str) -> dict[str, Any]:
        from eucaim_lab import access

        return access.get(request_id, node=self.node).to_dict()

    # ----- checkouts --------------------------------------------------------------------------------------
    def list_checkouts(self) -> dict[str, Any]:
        from eucaim_lab import checkout
        from eucaim_lab._config import current_user

        found = checkout.list_checkouts(user=current_user(), node=self.node)
        return {"checkouts": [_jsonable(c.to_dict()) for c in found]}

    def create_checkout(self, body: dict[str, Any]) -> dict[str, Any]:
        from eucaim_lab import checkout
        from eucaim_lab._errors import InvalidInputError

        request_id = body.get("request_id")
        dataset_id = body.get("dataset_id")
        if not isinstance(request_id, str):
            raise InvalidInputError(f"'request_id' must be a request id. Got {request_id!r}.", field="request_id")
        if dataset_id is not None and not isinstance(dataset_id, str):
            raise InvalidInputError(f"'dataset_id' must be a dataset id. Got {dataset_id!r}.", field="dataset_id")
        made = checkout.checkout(request_id, dataset_id=dataset_id, node=self.node)
        return {"checkouts": [_jsonable(c.to_dict()) for c in made]}

    def create_notebook(self, checkout_id: str, body: dict[str, Any]) -> dict[str, Any]:
        """``POST /eucaim/checkouts/<id>/notebook``: kernelspec + a notebook in the checkout's workspace."""
        from ._notebook import create_sandboxed_notebook

        if set(body) - {"name"}:
            from eucaim_lab._errors import InvalidInputError

            raise InvalidInputError(f"Unknown field(s) {sorted(set(body) - {'name'})}; only 'name' is accepted.")
        return create_sandboxed_notebook(self.node, checkout_id, root_dir=self.root_dir,
                                         link_name=self.settings.workspaces_link, name=body.get("name"))


def _int_arg(args: dict[str, list[str]], name: str, default: int, low: int, high: int | None) -> int:
    from eucaim_lab._errors import InvalidInputError

    values = args.get(name)
    if not values:
        return default
    raw = values[-1]
    try:
        value = int(raw)
    except ValueError:
        value = low - 1
    if value < low or (high is not None and value > high):
        bounds = f"between {low} and {high}" if high is not None else f">= {low}"
        raise InvalidInputError(f"'{name}' must be a whole number {bounds}. Got {raw!r}.", field=name)
    return value


def _jsonable(data: dict[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(data, default=str))
