"""Every /eucaim/ route registered in the running server refuses requests without a token."""

from __future__ import annotations

import re
from typing import Any

from tornado.routing import PathMatches
from tornado.web import RequestHandler

from eucaim_jupyterlab._handlers import ROUTES

METHODS = ("get", "post", "put", "patch", "delete")


def _rules(router: Any) -> list[tuple[str, type]]:
    """(path regex, handler class) of every rule, walking nested routers."""
    found = []
    for rule in getattr(router, "rules", []):
        target = rule.target
        if hasattr(target, "rules"):
            found += _rules(target)
        elif isinstance(rule.matcher, PathMatches) and isinstance(target, type):
            found.append((rule.matcher.regex.pattern, target))
    return found


def _concrete(pattern: str) -> str:
    path = re.sub(r"\(\?P<\w+>[^)]*\)", "x-1", pattern)
    return path.rstrip("$").replace("/?", "").replace("\\", "")


async def test_every_eucaim_route_needs_authentication(jp_serverapp: Any, http_server_client: Any, jp_base_url: str) -> None:
    rules = [(p, h) for p, h in _rules(jp_serverapp.web_app.default_router) if "/eucaim/" in p]
    # the server serves exactly the route table, nothing registered elsewhere
    assert {h for _, h in rules} == {h for _, h in ROUTES}
    assert len(rules) == len(ROUTES)
    checked = 0
    for pattern, handler in rules:
        path = _concrete(pattern)
        assert path.startswith(jp_base_url.rstrip("/") + "/eucaim/"), path
        for method in METHODS:
            if getattr(handler, method) is getattr(RequestHandler, method):
                continue
            response = await http_server_client.fetch(
                path, method=method.upper(), body=b"{}" if method in ("post", "put", "patch") else None,
                raise_error=False, follow_redirects=False,
            )
            checked += 1
            assert response.code in (401, 403) or (
                response.code == 302 and "login" in response.headers.get("Location", "")
            ), f"{method.upper()} {path} answered {response.code} without a token"
    assert checked >= len(ROUTES)


async def test_with_a_token_the_same_routes_answer(jp_fetch: Any) -> None:
    response = await jp_fetch("eucaim", "version")
    assert response.code == 200
