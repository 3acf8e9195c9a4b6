"""The catalogue: dataset records after EUCAIM's DCAT-AP profile, a local store, faceted search, DICOM ingest."""

from ._catalogue import Catalogue
from ._indexer import IndexResult, InstanceHeader, SeriesInfo, SkippedFile, group_series, index_folder
from ._model import AgeRange, Annotations, DatasetRecord, Period, validate_identifier
from ._vocab import (
    AccessCondition,
    AccessRights,
    AnnotationMethod,
    BodyPart,
    CollectionMethod,
    Condition,
    DatasetType,
    DataUse,
    Modality,
    Sex,
    Tier,
)

__all__ = [
    "AccessCondition",
    "AccessRights",
    "AgeRange",
    "AnnotationMethod",
    "Annotations",
    "BodyPart",
    "Catalogue",
    "CollectionMethod",
    "Condition",
    "DataUse",
    "DatasetRecord",
    "DatasetType",
    "IndexResult",
    "InstanceHeader",
    "Modality",
    "Period",
    "SeriesInfo",
    "Sex",
    "SkippedFile",
    "Tier",
    "group_series",
    "index_folder",
    "validate_identifier",
]
