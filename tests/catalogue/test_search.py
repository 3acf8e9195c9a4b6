"""Faceted search: AND across facets, OR within one, counts that leave out a facet's own selection."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys

import pytest

from eucaim_lab._errors import ConflictError, InvalidInputError, NodeVersionError, NotFoundError
from eucaim_lab._node import SCHEMA_VERSION, Node
from eucaim_lab.catalogue import Catalogue, DatasetRecord


def _add(cat, ident, **over):
    fields = dict(identifier=ident, title=f"Title {ident}", description="d", data_holder="holder-1")
    fields.update(over)
    cat.add(DatasetRecord.build(**fields))


@pytest.fixture()
def cat(node):
    c = Catalogue(node=node)
    _add(c, "lung-a", conditions=["lung-cancer"], modalities=["CT"], manufacturers=["Siemens"], subjects_count=120,
         body_parts=["lung"], access_condition="IN_SITU_PROCESSING", keywords=["radiomics", "screening"])
    _add(c, "lung-b", conditions=["lung-cancer"], modalities=["CT", "PT"], manufacturers=["GE"], subjects_count=8,
         body_parts=["lung"], access_condition="DOWNLOAD", provider="node-b")
    _add(c, "breast-a", conditions=["breast-cancer"], modalities=["MR"], manufacturers=["Philips"],
         subjects_count=45, body_parts=["breast"], access_condition="DOWNLOAD", title="Breast DCE-MRI")
    return c


def ids(df):
    return sorted(df["identifier"])


def test_filters_combine_and_across_or_within(cat):
    assert ids(cat.search(modality="CT")) == ["lung-a", "lung-b"]
    assert ids(cat.search(modality=["MR", "PT"])) == ["breast-a", "lung-b"]
    assert ids(cat.search(modality="CT", access_condition="DOWNLOAD")) == ["lung-b"]
    assert ids(cat.search(condition="C34", min_subjects=10)) == ["lung-a"]
    assert ids(cat.search(manufacturer="ge")) == ["lung-b"]
    assert ids(cat.search()) == ["breast-a", "lung-a", "lung-b"]


def test_free_text_matches_words_and_prefixes(cat):
    assert ids(cat.search(text="breast")) == ["breast-a"]
    assert ids(cat.search(text="radiom")) == ["lung-a"]  # prefix of a keyword
    assert ids(cat.search(text="neoplasm lung")) == ["lung-a", "lung-b"]  # condition label is searchable
    assert ids(cat.search(text='"; DROP TABLE datasets; --')) == []
    assert len(cat) == 3


def test_facet_counts_exclude_own_selection(cat):
    facets = cat.facets(modality="CT")
    # other facets are counted among CT datasets only
    assert facets["condition"] == {"lung-cancer": 2}
    assert facets["access_condition"] == {"DOWNLOAD": 1, "IN_SITU_PROCESSING": 1}
    # the modality facet still shows what choosing MR would give
    assert facets["modality"] == {"CT": 2, "MR": 1, "PT": 1}
    assert facets["subjects_magnitude"] == {"1-9": 1, "100-999": 1}


def test_unknown_filter_and_values_are_refused(cat):
    with pytest.raises(InvalidInputError, match="Known values: Philips, GE, Siemens|Known values: GE, Philips, Siemens"):
        cat.search(manufacturer="Hitachi")
    with pytest.raises(InvalidInputError, match="Unknown search filter 'colour'"):
        cat.search(colour="red")
    with pytest.raises(InvalidInputError, match="min_subjects"):
        cat.search(min_subjects=-3)


def test_get_missing_and_duplicate(cat):
    with pytest.raises(NotFoundError, match="No dataset 'nope'"):
        cat.get("nope")
    with pytest.raises(InvalidInputError):
        cat.get("../x")
    with pytest.raises(ConflictError, match="already exists"):
        _add(cat, "lung-a")
    assert cat.get("lung-a").subjects_count == 120


def test_failed_add_leaves_node_unchanged(cat):
    before = cat.node.db.execute("SELECT COUNT(*) FROM dataset_facets").fetchone()[0]
    rec = DatasetRecord.build(identifier="new-one", title="t", description="d", data_holder="h")
    with pytest.raises(sqlite3.IntegrityError):
        # a file row with a NULL sha3 violates the schema after the dataset row was written: all rolls back
        cat.add(rec, files=[("a.dcm", None, None, 1, None)])
    assert "new-one" not in cat
    assert cat.node.db.execute("SELECT COUNT(*) FROM dataset_facets").fetchone()[0] == before


def test_node_written_by_newer_version_is_refused_untouched(node_home):
    node = Node(node_home)
    node.db  # creates the schema
    node.db.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION + 1),))
    node.close()
    before = (node_home / "node.sqlite").read_bytes()
    with pytest.raises(NodeVersionError, match="newer eucaim-lab"):
        Catalogue(node_home).search()
    assert (node_home / "node.sqlite").read_bytes() == before


def _cli(*args, home):
    env = {"EUCAIM_LAB_HOME": str(home), "PATH": "/usr/bin:/bin"}
    return subprocess.run([sys.executable, "-m", "eucaim_lab.cli", *args], capture_output=True, text=True, env=env)


def test_cli_search_json_and_errors(cat):
    home = cat.node.home
    out = _cli("catalogue", "search", "--modality", "CT", "--json", home=home)
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["total"] == 2 and {r["identifier"] for r in data["results"]} == {"lung-a", "lung-b"}
    assert data["facets"]["manufacturer"] == {"GE": 1, "Siemens": 1}
    bad = _cli("catalogue", "search", "--body-part", "elbow", home=home)
    assert bad.returncode == 1
    assert bad.stderr.count("\n") == 1 and "Known values:" in bad.stderr
    show = _cli("catalogue", "show", "breast-a", "--json", home=home)
    rec = json.loads(show.stdout)
    assert rec["title"] == "Breast DCE-MRI" and rec["subjects_count"] == 45 and rec["modalities"] == ["MR"]
    missing = _cli("catalogue", "show", "nope", home=home)
    assert missing.returncode == 1 and "No dataset 'nope'" in missing.stderr


def test_cached_facet_index_sees_new_datasets(cat):
    assert ids(cat.search(modality="MR")) == ["breast-a"]
    _add(cat, "brain-mr", modalities=["MR"], conditions=["brain-tumour"], title="Brain MR")
    assert ids(cat.search(modality="MR")) == ["brain-mr", "breast-a"]
    assert cat.facets()["condition"]["brain-tumour"] == 1
    # another Catalogue on the same node (e.g. the server's) sees it too
    other = Catalogue(cat.node.home)
    assert other.count(condition="brain-tumour") == 1


def test_paging_is_stable_and_ordered_by_title(cat):
    all_ids = list(cat.search()["identifier"])
    assert all_ids == ["breast-a", "lung-a", "lung-b"]  # titles: Breast DCE-MRI, Title lung-a, Title lung-b
    assert list(cat.search(limit=2)["identifier"]) == all_ids[:2]
    assert list(cat.search(limit=2, offset=2)["identifier"]) == all_ids[2:]
