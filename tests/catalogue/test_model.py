"""The dataset record validates when built; vocabularies refuse unknown values with the known ones listed."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from eucaim_lab._errors import InvalidInputError
from eucaim_lab.catalogue import AccessCondition, BodyPart, Condition, DatasetRecord, Modality, validate_identifier
from eucaim_lab.catalogue._vocab import normalise_manufacturer, parse


def _record(**over):
    fields = dict(identifier="ds-1", title="Lung CT", description="desc", data_holder="hospital-a")
    fields.update(over)
    return DatasetRecord.build(**fields)


def test_condition_accepts_slug_code_and_label():
    assert parse(Condition, "C34") is Condition.LUNG_CANCER
    assert parse(Condition, "lung cancer") is Condition.LUNG_CANCER
    assert parse(Condition, "Malignant neoplasm of breast") is Condition.BREAST_CANCER
    assert Condition.PROSTATE_CANCER.code == "C61"


def test_unknown_value_lists_known_values():
    with pytest.raises(InvalidInputError) as err:
        parse(Modality, "XR")
    assert "Unknown modality 'XR'" in str(err.value)
    assert "CT, MR, PT" in str(err.value)


def test_radlex_codes_of_the_federated_search():
    assert parse(Modality, "RID10312") is Modality.MR
    assert Modality.PT.radlex == "RID10337"


def test_dicom_body_part_mapping():
    assert BodyPart.from_dicom("CHEST") is BodyPart.CHEST
    assert BodyPart.from_dicom("Head Neck") is BodyPart.HEAD_NECK
    assert BodyPart.from_dicom("NOTHING") is None


def test_manufacturer_names_folded():
    assert normalise_manufacturer("GE MEDICAL SYSTEMS") == "GE"
    assert normalise_manufacturer("Philips Medical Systems") == "Philips"
    assert normalise_manufacturer("Generic Imaging Inc") == "Generic Imaging Inc"
    assert normalise_manufacturer("  ") is None


def test_record_round_trips_through_json():
    rec = _record(conditions=["C34"], modalities=["CT", "PT"], sex={"male": 3, "female": 2},
                  access_condition="download", age_range={"min": 40, "max": 80})
    data = rec.to_json_dict()
    assert data["conditions"] == [{"id": "lung-cancer", "code": "C34", "label": Condition.LUNG_CANCER.label}]
    assert data["access_condition"] == "DOWNLOAD"
    assert data["sex"] == {"male": 3, "female": 2}
    assert DatasetRecord.from_json_dict(data) == rec


def test_record_cannot_be_invalid():
    with pytest.raises(InvalidInputError) as err:
        _record(identifier="../etc", title="  ", subjects_count=-1, age_range={"min": 80, "max": 40})
    text = str(err.value)
    for field in ("identifier", "title", "subjects_count", "age_range"):
        assert field in text
    rec = _record()
    with pytest.raises(Exception):
        rec.title = "changed"  # frozen


def test_access_condition_enum_values_match_dcat_ap():
    assert {a.value for a in AccessCondition} == {"DOWNLOAD", "IN_SITU_PROCESSING", "REMOTE_PROCESSING"}


@given(st.text(min_size=1, max_size=40))
def test_identifier_never_allows_path_tricks(text):
    try:
        value = validate_identifier(text)
    except InvalidInputError:
        return
    assert "/" not in value and "\\" not in value and ".." not in value and not value.startswith(".")


@pytest.mark.parametrize("bad", ["lung-a\n", "a/b", "..", ".hidden", "", "x" * 129, "a b"])
def test_identifier_refuses_trailing_newline_and_path_parts(bad):
    with pytest.raises(InvalidInputError):
        validate_identifier(bad)
