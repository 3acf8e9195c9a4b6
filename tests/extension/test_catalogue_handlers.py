"""GET /eucaim/version, /eucaim/catalogue (search, facets, paging, bad input) and /eucaim/catalogue/<id>."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

EXTENSION = Path(__file__).resolve().parents[2] / "extensions" / "eucaim-jupyterlab"


def _add(node_home: Path, identifier: str, **fields: Any) -> None:
    from eucaim_lab.catalogue import Catalogue, DatasetRecord

    base = {
        "identifier": identifier,
        "title": f"Dataset {identifier}",
        "description": "test record",
        "data_holder": "hospital-a",
        "provider": "Hospital A",
    }
    cat = Catalogue(node_home)
    cat.add(DatasetRecord.build(**{**base, **fields}))
    cat.node.close()


@pytest.fixture()
def three(node_home: Path) -> None:
    _add(node_home, "lung-ct", title="Lung CT radiomics", modalities=["CT"], conditions=["lung-cancer"],
         body_parts=["lung"], manufacturers=["Siemens"], subjects_count=120)
    _add(node_home, "prostate-mr", title="Prostate MR", modalities=["MR"], conditions=["prostate-cancer"],
         body_parts=["prostate"], manufacturers=["Philips"], provider="Hospital B", data_holder="hospital-b")
    _add(node_home, "lung-pet", title="Lung PET CT", modalities=["PT", "CT"], conditions=["lung-cancer"],
         body_parts=["lung"], manufacturers=["GE"], access_condition="DOWNLOAD", license="CC-BY-4.0",
         doi="10.1234/lung-pet")


async def test_version_matches_the_front_end(api: Any) -> None:
    import eucaim_jupyterlab

    status, body = await api("GET", "version")
    assert status == 200
    assert body["version"] == eucaim_jupyterlab.__version__
    package = json.loads((EXTENSION / "package.json").read_text())
    assert body["version"] == package["version"], "package.json and _version.py must carry the same version"
    assert body["user"] == "researcher"


async def test_search_filters_and_counts_facets(api: Any, three: None) -> None:
    status, body = await api("GET", "catalogue", params=[("modality", "CT")])
    assert status == 200
    assert {r["identifier"] for r in body["results"]} == {"lung-ct", "lung-pet"}
    assert body["total"] == 2
    assert all("CT" in r["modalities"] for r in body["results"])
    # a facet's own selection is left out of its counts; other facets count the matches only
    assert body["facets"]["modality"] == {"CT": 2, "MR": 1, "PT": 1}
    assert body["facets"]["body_part"] == {"lung": 2}
    assert body["facets"]["access_condition"] == {"DOWNLOAD": 1, "IN_SITU_PROCESSING": 1}


async def test_values_of_one_facet_are_ored_and_facets_anded(api: Any, three: None) -> None:
    _, body = await api("GET", "catalogue", params=[("modality", "CT"), ("modality", "MR")])
    assert body["total"] == 3
    _, body = await api("GET", "catalogue", params=[("modality", "CT"), ("manufacturer", "GE")])
    assert [r["identifier"] for r in body["results"]] == ["lung-pet"]


async def test_free_text_matches_word_prefixes(api: Any, three: None) -> None:
    _, body = await api("GET", "catalogue", params=[("text", "prost")])
    assert [r["identifier"] for r in body["results"]] == ["prostate-mr"]
    _, body = await api("GET", "catalogue", params=[("text", "lung"), ("provider", "Hospital B")])
    assert body["total"] == 0 and body["results"] == []


async def test_paging_returns_disjoint_pages_covering_all(api: Any, three: None) -> None:
    _, first = await api("GET", "catalogue", params=[("limit", "2")])
    _, second = await api("GET", "catalogue", params=[("limit", "2"), ("offset", "2")])
    ids = [r["identifier"] for r in first["results"] + second["results"]]
    assert len(first["results"]) == 2 and len(second["results"]) == 1
    assert sorted(ids) == ["lung-ct", "lung-pet", "prostate-mr"]
    assert first["total"] == second["total"] == 3


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ([("limit", "0")], "limit"),
        ([("limit", "100000")], "limit"),
        ([("offset", "-3")], "offset"),
        ([("limit", "ten")], "limit"),
    ],
)
async def test_bad_paging_is_400_with_the_field(api: Any, three: None, params: Any, field: str) -> None:
    status, body = await api("GET", "catalogue", params=params)
    assert status == 400
    assert body["error"] == "invalid_input"
    assert f"'{field}'" in body["message"]


async def test_unknown_filter_and_unknown_value_are_400_naming_known_ones(api: Any, three: None) -> None:
    status, body = await api("GET", "catalogue", params=[("colour", "red")])
    assert status == 400 and body["error"] == "invalid_input"
    assert "modality" in body["message"]
    status, body = await api("GET", "catalogue", params=[("modality", "XRAYZ")])
    assert status == 400 and "CT" in body["message"]


async def test_dataset_details_and_unknown_id(api: Any, three: None) -> None:
    status, body = await api("GET", "catalogue/lung-pet")
    assert status == 200
    assert body["identifier"] == "lung-pet"
    assert body["license"] == "CC-BY-4.0" and body["doi"] == "10.1234/lung-pet"
    assert body["access_condition"] == "DOWNLOAD"
    assert body["conditions"][0]["code"] == "C34"
    status, body = await api("GET", "catalogue/no-such-dataset")
    assert status == 404
    assert body["error"] == "not_found" and "no-such-dataset" in body["message"]


async def test_path_like_ids_are_refused(jp_fetch: Any, api: Any, three: None) -> None:
    # slashes never match the route
    response = await jp_fetch("eucaim", "catalogue", "..%2F..%2Fetc", raise_error=False)
    assert response.code == 404
    # an id that matches the route but not the id rules is refused by the core's validation
    status, body = await api("GET", "catalogue/a..b")
    assert status == 400
    assert body["error"] == "invalid_input" and "'..'" in body["message"]


@pytest.fixture()
def newer_node(node_home: Path) -> Path:
    """A node written by a future eucaim-lab (schema version 999), made before the server starts."""
    import sqlite3

    node_home.mkdir(parents=True)
    with sqlite3.connect(node_home / "node.sqlite") as db:
        db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        db.execute("INSERT INTO meta VALUES ('schema_version', '999')")
    return node_home


async def test_other_core_errors_are_500_with_their_kind_and_message(newer_node: Path, api: Any) -> None:
    status, body = await api("GET", "catalogue")
    assert status == 500
    assert body["error"] == "node_version"
    assert "newer eucaim-lab" in body["message"]
    # the server stays up and answers what does not need the node
    status, body = await api("GET", "version")
    assert status == 200


async def test_token_in_the_url_authenticates_and_is_not_a_filter(jp_fetch: Any, jp_server_config: Any,
                                                                   three: None) -> None:
    # API users often pass Jupyter's token as ?token=...; it must not be read as a search filter
    from jupyter_server.serverapp import ServerApp

    token = ServerApp.instance().identity_provider.token
    response = await jp_fetch("eucaim", "catalogue", params={"token": token, "modality": "MR"}, headers={})
    body = json.loads(response.body)
    assert [r["identifier"] for r in body["results"]] == ["prostate-mr"]
