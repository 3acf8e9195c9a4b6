"""Ids given by users never name a path outside their folder (property-based)."""

from __future__ import annotations

import posixpath

import pytest
from hypothesis import given
from hypothesis import strategies as st

from eucaim_lab._errors import IntegrityError, InvalidInputError
from eucaim_lab.access._ids import new_id, validate_id
from eucaim_lab.catalogue import validate_identifier as check_name
from eucaim_lab.checkout._manifest import check_relpath

_TEXT = st.text(alphabet=st.sampled_from("REQCOPMIT-0123456789abcdef./\\ \n\x00~"), max_size=40) | st.text(max_size=40)


@pytest.mark.parametrize("prefix", ["REQ", "CO", "PERMIT"])
def test_generated_ids_validate(prefix):
    ids = {new_id(prefix) for _ in range(50)}
    assert len(ids) == 50 and all(validate_id(i, prefix) == i for i in ids)


@given(_TEXT, st.sampled_from(["REQ", "CO", "PERMIT"]))
def test_an_accepted_id_is_a_plain_file_name(value, prefix):
    try:
        validate_id(value, prefix)
    except InvalidInputError:
        return
    assert "/" not in value and ".." not in value and value.isascii() and value == value.strip()
    assert value.startswith(prefix + "-")


@given(_TEXT)
def test_an_accepted_name_stays_one_path_component(value):
    try:
        check_name(value, "user name")
    except InvalidInputError:
        return
    assert posixpath.normpath(posixpath.join("/keys", value)) == "/keys/" + value


@given(_TEXT)
def test_an_accepted_relpath_stays_inside_the_dataset(value):
    try:
        check_relpath(value)
    except IntegrityError:
        return
    joined = posixpath.normpath(posixpath.join("/root", value))
    assert joined.startswith("/root/") and joined == "/root/" + value
