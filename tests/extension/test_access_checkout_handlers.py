"""Access requests, checkouts and sandboxed notebooks through /eucaim/, against real ingested DICOM."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from access.access_helpers import ingest_dataset

from eucaim_jupyterlab._handlers import STATUS_BY_KIND


@pytest.fixture()
def lake(node: Any, tmp_path: Path) -> Any:
    ingest_dataset(node, tmp_path, "lung-a", holder="hospital-a", access_condition="IN_SITU_PROCESSING")
    ingest_dataset(node, tmp_path, "lung-b", holder="hospital-b", access_condition="DOWNLOAD", patients=("P009",))
    return node


async def _requested(api: Any, *ids: str) -> dict[str, Any]:
    status, body = await api("POST", "access/requests", body={"dataset_ids": list(ids), "purpose": "NSCLC radiomics"})
    assert status == 201, body
    return body


async def test_request_lists_and_shows_with_negotiator_statuses(api: Any, lake: Any) -> None:
    created = await _requested(api, "lung-a", "lung-b")
    assert created["request_id"].startswith("REQ-")
    assert created["user"] == "researcher"
    assert {r["dataset_id"]: r["status"] for r in created["resources"]} == {
        "lung-a": "ACCESS_CONDITIONS_INDICATED",
        "lung-b": "ACCESS_CONDITIONS_INDICATED",
    }
    status, listed = await api("GET", "access/requests")
    assert status == 200 and [r["request_id"] for r in listed["requests"]] == [created["request_id"]]
    status, shown = await api("GET", f"access/requests/{created['request_id']}")
    assert status == 200 and shown == created


async def test_approval_by_the_holder_shows_up_and_a_second_request_conflicts(api: Any, lake: Any) -> None:
    from eucaim_lab import access

    created = await _requested(api, "lung-a")
    access.approve(created["request_id"], "hospital-a", node=lake)
    _, shown = await api("GET", f"access/requests/{created['request_id']}")
    [res] = shown["resources"]
    assert res["status"] == "RESOURCE_MADE_AVAILABLE" and res["permit_id"].startswith("PERMIT-")
    status, body = await api("POST", "access/requests", body={"dataset_ids": ["lung-a"], "purpose": "again"})
    assert status == 409
    assert body["error"] == "conflict" and created["request_id"] in body["message"]


@pytest.mark.parametrize(
    ("body", "status", "needle"),
    [
        ("not json", 400, "JSON object"),
        ([1, 2], 400, "JSON object"),
        ({"dataset_ids": "lung-a", "purpose": "p"}, 400, "dataset_ids"),
        ({"dataset_ids": ["lung-a"], "purpose": 3}, 400, "purpose"),
        ({"dataset_ids": ["lung-a"], "purpose": "   "}, 400, "purpose"),
        ({"dataset_ids": ["nope"], "purpose": "p"}, 404, "nope"),
    ],
)
async def test_bad_requests_say_what_is_wrong(api: Any, lake: Any, body: Any, status: int, needle: str) -> None:
    got, answer = await api("POST", "access/requests", body=body if isinstance(body, str) else json.dumps(body))
    assert got == status
    assert needle in answer["message"]
    assert STATUS_BY_KIND[answer["error"]] == status


async def test_unknown_and_malformed_request_ids(api: Any, lake: Any) -> None:
    status, body = await api("GET", "access/requests/REQ-0123456789ab")
    assert (status, body["error"]) == (404, "not_found")
    status, body = await api("GET", "access/requests/REQ-zz")
    assert (status, body["error"]) == (400, "invalid_input")


async def test_checkout_before_approval_is_refused(api: Any, lake: Any) -> None:
    created = await _requested(api, "lung-a")
    status, body = await api("POST", "checkouts", body={"request_id": created["request_id"]})
    assert status in (403, 409)
    assert STATUS_BY_KIND[body["error"]] == status
    _, listed = await api("GET", "checkouts")
    assert listed["checkouts"] == []


async def test_checkout_of_an_expired_permit_is_refused(api: Any, lake: Any) -> None:
    from eucaim_lab import access

    created = await _requested(api, "lung-b")
    soon = dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=1)
    access.approve(created["request_id"], "hospital-b", expires=soon.isoformat(), node=lake)
    await asyncio.sleep(1.5)
    status, body = await api("POST", "checkouts", body={"request_id": created["request_id"]})
    assert status == 403
    assert body["error"] == "access_denied" and "expire" in body["message"].lower()


async def test_checkout_then_sandboxed_notebook_reachable_by_the_server(
    api: Any, jp_fetch: Any, jp_root_dir: Path, lake: Any
) -> None:
    from eucaim_lab import access

    created = await _requested(api, "lung-a")
    access.approve(created["request_id"], "hospital-a", node=lake)
    status, made = await api("POST", "checkouts", body={"request_id": created["request_id"], "dataset_id": "lung-a"})
    assert status == 201, made
    [co] = made["checkouts"]
    assert co["dataset_id"] == "lung-a"
    manifest = json.loads((Path(co["path"]) / "manifest.json").read_text())
    assert manifest["checkout_id"] == co["checkout_id"]
    assert co["files_count"] == len(manifest["files"])
    assert sum(name.endswith(".dcm") for name in manifest["files"]) == 6  # 2 patients x 3 slices
    _, listed = await api("GET", "checkouts")
    assert [c["checkout_id"] for c in listed["checkouts"]] == [co["checkout_id"]]

    status, nb = await api("POST", f"checkouts/{co['checkout_id']}/notebook")
    assert status == 201, nb
    assert nb["created"] is True
    # the node lives outside the server's root: the notebook is reached through the workspaces link
    assert nb["path"] == f"eucaim-workspaces/{co['checkout_id']}/lung-a.ipynb"
    assert (jp_root_dir / "eucaim-workspaces").resolve() == (lake.home / "workspaces").resolve()
    response = await jp_fetch("api", "contents", *nb["path"].split("/"))
    model = json.loads(response.body)
    assert model["type"] == "notebook"
    assert model["content"]["metadata"]["kernelspec"]["name"] == nb["kernel_name"]
    assert "checkout.open()" in model["content"]["cells"][0]["source"]
    specs = json.loads((await jp_fetch("api", "kernelspecs")).body)["kernelspecs"]
    provisioner = specs[nb["kernel_name"]]["spec"]["metadata"]["kernel_provisioner"]
    assert provisioner["provisioner_name"] == "eucaim-sandbox"
    assert Path(provisioner["config"]["checkout"]) == Path(co["path"]).resolve()

    # opening again reuses the notebook (never overwrites work)
    (lake.workspaces / co["checkout_id"] / "lung-a.ipynb").write_text(json.dumps(model["content"]) + "\n")
    before = (lake.workspaces / co["checkout_id"] / "lung-a.ipynb").read_text()
    status, again = await api("POST", f"checkouts/{co['checkout_id']}/notebook")
    assert status == 201 and again["created"] is False and again["path"] == nb["path"]
    assert (lake.workspaces / co["checkout_id"] / "lung-a.ipynb").read_text() == before


async def test_notebook_for_unknown_checkout_and_bad_name(api: Any, lake: Any) -> None:
    status, body = await api("POST", "checkouts/CO-0123456789ab/notebook")
    assert (status, body["error"]) == (404, "not_found")
    status, body = await api("POST", "checkouts/CO-0123456789ab/notebook", body={"path": "x"})
    assert (status, body["error"]) == (400, "invalid_input")


async def test_a_foreign_file_in_place_of_the_link_is_a_conflict(api: Any, jp_root_dir: Path, lake: Any) -> None:
    from eucaim_lab import access

    (jp_root_dir / "eucaim-workspaces").write_text("mine")
    created = await _requested(api, "lung-b")
    access.approve(created["request_id"], "hospital-b", node=lake)
    _, made = await api("POST", "checkouts", body={"request_id": created["request_id"]})
    status, body = await api("POST", f"checkouts/{made['checkouts'][0]['checkout_id']}/notebook")
    assert (status, body["error"]) == (409, "conflict")
    assert "workspaces_link" in body["message"]
    assert (jp_root_dir / "eucaim-workspaces").read_text() == "mine"


async def test_a_link_planted_in_the_workspace_is_not_opened(api: Any, lake: Any, tmp_path: Path) -> None:
    from eucaim_lab import access

    created = await _requested(api, "lung-b")
    access.approve(created["request_id"], "hospital-b", node=lake)
    _, made = await api("POST", "checkouts", body={"request_id": created["request_id"]})
    co = made["checkouts"][0]
    outside = tmp_path / "outside.txt"
    outside.write_text("host file")
    workspace = lake.workspaces / co["checkout_id"]
    workspace.mkdir(parents=True, exist_ok=True)
    (workspace / "lung-b.ipynb").symlink_to(outside)
    status, body = await api("POST", f"checkouts/{co['checkout_id']}/notebook")
    assert (status, body["error"]) == (409, "conflict")
    assert "link" in body["message"]
    assert outside.read_text() == "host file"
