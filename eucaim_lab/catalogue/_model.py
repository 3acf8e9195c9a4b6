"""The dataset record: EUCAIM DCAT-AP v2 (HealthDCAT-AP based) fields with snake_case names.

A :class:`DatasetRecord` validates when it is built, so a record that exists is a valid one. Closed
vocabularies are Enums (see ``_vocab``); free text is stripped and must not be empty where mandatory.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .._errors import InvalidInputError
from ._vocab import (
    AccessCondition,
    AccessRights,
    AnnotationMethod,
    BodyPart,
    CollectionMethod,
    Condition,
    DataUse,
    DatasetType,
    Modality,
    Sex,
    Tier,
    parse,
)

__all__ = ["AgeRange", "Annotations", "DatasetRecord", "Period", "validate_identifier"]

_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_VERSION_RE = re.compile(r"^\d+(\.\d+){0,2}([-+][0-9A-Za-z.-]+)?$")


def validate_identifier(value: object, what: str = "dataset id") -> str:
    """Ids name folders on disk: letters, digits, '.', '_' and '-', starting alphanumeric; never '..' or '/'."""
    if not isinstance(value, str) or not _ID_RE.fullmatch(value) or ".." in value:
        raise InvalidInputError(
            f"The {what} must be 1-128 characters of letters, digits, '.', '_' or '-', starting with a letter "
            f"or digit, without '..'. Got {value!r}.",
            field=what,
            value=str(value),
        )
    return value


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", use_enum_values=False)


class AgeRange(_Frozen):
    """Typical age of the subjects, in years."""

    min: float | None = Field(default=None, ge=0, le=130)
    max: float | None = Field(default=None, ge=0, le=130)
    median: float | None = Field(default=None, ge=0, le=130)

    @model_validator(mode="after")
    def _ordered(self) -> AgeRange:
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"age_range.min must be <= age_range.max. Got {self.min} > {self.max}.")
        return self


class Period(_Frozen):
    """Acquisition period (dates of the first and last study)."""

    start: dt.date | None = None
    end: dt.date | None = None

    @model_validator(mode="after")
    def _ordered(self) -> Period:
        if self.start and self.end and self.start > self.end:
            raise ValueError(f"acquisition_period.start must be <= end. Got {self.start} > {self.end}.")
        return self


class Annotations(_Frozen):
    """Segmentations shipped with the dataset."""

    labels: tuple[str, ...] = ()
    method: AnnotationMethod | None = None
    segmentations_count: int = Field(default=0, ge=0)
    kinds: tuple[str, ...] = ()  # "SEG", "RTSTRUCT", "NIFTI"


class DatasetRecord(_Frozen):
    """One catalogue dataset, after EUCAIM's DCAT-AP profile."""

    # identification
    identifier: str
    title: str = Field(min_length=1)
    description: str = Field(min_length=1)
    version: str = "1.0.0"
    tier: Tier = Tier.PROCESSABLE
    contact_point: str = Field(default="eucaim-lab local node", min_length=1)
    landing_page: str | None = None
    doi: str | None = None
    # classification and population
    dataset_types: tuple[DatasetType, ...] = (DatasetType.ORIGINAL,)
    conditions: tuple[Condition, ...] = ()
    collection_method: CollectionMethod = CollectionMethod.COHORT
    subjects_count: int = Field(default=0, ge=0)
    studies_count: int = Field(default=0, ge=0)
    series_count: int = Field(default=0, ge=0)
    files_count: int = Field(default=0, ge=0)
    sex: dict[Sex, int] = Field(default_factory=dict)
    age_range: AgeRange = Field(default_factory=AgeRange)
    # imaging
    modalities: tuple[Modality, ...] = ()
    body_parts: tuple[BodyPart, ...] = ()
    manufacturers: tuple[str, ...] = ()
    acquisition_period: Period = Field(default_factory=Period)
    annotations: Annotations = Field(default_factory=Annotations)
    # access and distribution
    access_rights: AccessRights = AccessRights.RESTRICTED
    access_condition: AccessCondition = AccessCondition.IN_SITU_PROCESSING
    data_use_conditions: tuple[DataUse, ...] = ()
    license: str = Field(default="proprietary", min_length=1)
    provider: str = Field(default="local", min_length=1)
    data_holder: str = Field(min_length=1)
    keywords: tuple[str, ...] = ()
    provenance: str = Field(default="", max_length=10_000)
    size_bytes: int = Field(default=0, ge=0)
    checksum: str | None = None
    issued: dt.datetime | None = None
    modified: dt.datetime | None = None

    @field_validator("identifier")
    @classmethod
    def _identifier(cls, value: str) -> str:
        try:
            return validate_identifier(value)
        except InvalidInputError as exc:
            raise ValueError(exc.message) from None

    @field_validator("version")
    @classmethod
    def _version(cls, value: str) -> str:
        if not _VERSION_RE.fullmatch(value):
            raise ValueError(f"version must be SemVer or CalVer like '1.0.0' or '2024.05'. Got {value!r}.")
        return value

    @field_validator("data_holder")
    @classmethod
    def _holder(cls, value: str) -> str:
        return validate_identifier(value, "data holder") if _ID_RE.fullmatch(value) else _bad_holder(value)

    @field_validator("title", "description", "license", "provider", "contact_point")
    @classmethod
    def _strip(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("must not be empty")
        return value

    @field_validator("keywords", "manufacturers")
    @classmethod
    def _unique_text(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(dict.fromkeys(v.strip() for v in value if v and v.strip()))

    @field_validator(
        "conditions", "modalities", "body_parts", "dataset_types", "data_use_conditions", mode="before"
    )
    @classmethod
    def _parse_enums(cls, value: Any, info: Any) -> Any:
        enum = _ENUM_FIELDS[info.field_name]
        if isinstance(value, (str, enum)):
            value = [value]
        try:
            return tuple(parse(enum, v) for v in value)
        except InvalidInputError as exc:
            raise ValueError(exc.message) from None

    @field_validator("access_rights", "access_condition", "collection_method", mode="before")
    @classmethod
    def _parse_enum(cls, value: Any, info: Any) -> Any:
        try:
            return parse(_ENUM_FIELDS[info.field_name], value)
        except InvalidInputError as exc:
            raise ValueError(exc.message) from None

    @field_validator("sex", mode="before")
    @classmethod
    def _parse_sex(cls, value: Any) -> Any:
        try:
            return {parse(Sex, k): int(v) for k, v in dict(value).items()}
        except InvalidInputError as exc:
            raise ValueError(exc.message) from None

    @field_validator("conditions", "modalities", "body_parts", "dataset_types", "data_use_conditions")
    @classmethod
    def _unique(cls, value: tuple[Any, ...]) -> tuple[Any, ...]:
        return tuple(dict.fromkeys(value))

    # ----- conversion ------------------------------------------------------------------------------------
    @classmethod
    def build(cls, **fields: Any) -> DatasetRecord:
        """Build a record, turning pydantic's errors into one :class:`InvalidInputError` that names the fields."""
        try:
            return cls(**fields)
        except ValidationError as exc:
            parts = []
            for err in exc.errors():
                loc = ".".join(str(p) for p in err["loc"]) or "record"
                parts.append(f"{loc}: {err['msg']}")
            raise InvalidInputError(
                "Invalid dataset record: " + "; ".join(parts), fields=[p.split(":")[0] for p in parts]
            ) from None

    def to_json_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict with snake_case keys; enums as their values, conditions with code and label."""
        data = self.model_dump(mode="json")
        data["conditions"] = [{"id": c.value, "code": c.code, "label": c.label} for c in self.conditions]
        data["sex"] = {k.value: v for k, v in self.sex.items()}
        data["tier"] = int(self.tier)
        data["segmentations_count"] = self.annotations.segmentations_count
        return data

    @classmethod
    def from_json_dict(cls, data: dict[str, Any]) -> DatasetRecord:
        data = dict(data)
        data.pop("segmentations_count", None)
        data["conditions"] = [c["id"] if isinstance(c, dict) else c for c in data.get("conditions", [])]
        return cls.build(**data)


_ENUM_FIELDS: dict[str, type[Any]] = {
    "conditions": Condition,
    "modalities": Modality,
    "body_parts": BodyPart,
    "dataset_types": DatasetType,
    "data_use_conditions": DataUse,
    "access_rights": AccessRights,
    "access_condition": AccessCondition,
    "collection_method": CollectionMethod,
}


def _bad_holder(value: str) -> str:
    raise ValueError(
        f"data_holder must be an id of letters, digits, '.', '_' or '-' (the holder's account). Got {value!r}."
    )
