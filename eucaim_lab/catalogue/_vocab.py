"""Closed vocabularies of the EUCAIM catalogue (DCAT-AP v2 profile, federated-search values).

Each vocabulary is an Enum converted once at the boundary with :func:`parse`, which accepts the value, the
member name, a code or a label (case-insensitive) and otherwise raises an error listing the known values.
"""

from __future__ import annotations

from enum import Enum, IntEnum
from typing import TypeVar

from .._errors import InvalidInputError

__all__ = [
    "AccessCondition",
    "AccessRights",
    "AnnotationMethod",
    "BodyPart",
    "CollectionMethod",
    "Condition",
    "DataUse",
    "DatasetType",
    "Modality",
    "Sex",
    "Tier",
    "normalise_manufacturer",
    "parse",
]


class AccessRights(str, Enum):
    """Access rights of a dataset (``dct:accessRights``)."""

    PUBLIC = "PUBLIC"
    RESTRICTED = "RESTRICTED"
    NON_PUBLIC = "NON_PUBLIC"


class AccessCondition(str, Enum):
    """Access condition of a distribution (``dct:rights``)."""

    DOWNLOAD = "DOWNLOAD"
    IN_SITU_PROCESSING = "IN_SITU_PROCESSING"
    REMOTE_PROCESSING = "REMOTE_PROCESSING"


class Tier(IntEnum):
    """Interoperability tier: 1 metadata in the catalogue, 2 searchable at a node, 3 materialised for processing."""

    METADATA = 1
    SEARCHABLE = 2
    PROCESSABLE = 3


class Sex(str, Enum):
    """Birth sex as in the federated search (``SNOMEDCT263495000``)."""

    MALE = "male"
    FEMALE = "female"
    OTHER = "other"
    UNKNOWN = "unknown"

    @classmethod
    def from_dicom(cls, value: str | None) -> Sex:
        return {"M": cls.MALE, "F": cls.FEMALE, "O": cls.OTHER}.get((value or "").strip().upper(), cls.UNKNOWN)


class Modality(str, Enum):
    """Image modality: DICOM (0008,0060) codes; RadLex ids for the federated search."""

    CT = "CT"
    MR = "MR"
    PT = "PT"
    NM = "NM"
    US = "US"
    MG = "MG"
    CR = "CR"
    DX = "DX"
    XA = "XA"
    RF = "RF"
    OT = "OT"

    @property
    def radlex(self) -> str | None:
        return _RADLEX.get(self)

    @property
    def label(self) -> str:
        return _MODALITY_LABELS[self]


_RADLEX = {Modality.CT: "RID10321", Modality.MR: "RID10312", Modality.PT: "RID10337", Modality.NM: "RID10334"}
_MODALITY_LABELS = {
    Modality.CT: "Computed tomography",
    Modality.MR: "Magnetic resonance",
    Modality.PT: "Positron emission tomography",
    Modality.NM: "Nuclear medicine (SPECT)",
    Modality.US: "Ultrasound",
    Modality.MG: "Mammography",
    Modality.CR: "Computed radiography",
    Modality.DX: "Digital radiography",
    Modality.XA: "X-ray angiography",
    Modality.RF: "Radio fluoroscopy",
    Modality.OT: "Other",
}


class BodyPart(str, Enum):
    """Image body part (ICD-O-3 topography based; EUCAIM federated-search values first)."""

    BREAST = "breast"
    COLON = "colon"
    LUNG = "lung"
    PELVIS = "pelvis"
    PROSTATE = "prostate"
    ABDOMEN = "abdomen"
    HEAD = "head"
    BRAIN = "brain"
    CHEST = "chest"
    HEAD_NECK = "head-neck"
    LIVER = "liver"
    KIDNEY = "kidney"
    PANCREAS = "pancreas"
    RECTUM = "rectum"
    EXTREMITY = "extremity"
    WHOLE_BODY = "whole-body"

    @property
    def topography(self) -> str | None:
        return _TOPOGRAPHY.get(self)

    @classmethod
    def from_dicom(cls, value: str | None) -> BodyPart | None:
        """Map DICOM BodyPartExamined (0018,0015) to the vocabulary; None where it says nothing we know."""
        key = "".join(ch for ch in (value or "").upper() if ch.isalpha())
        return _DICOM_BODY_PART.get(key)


_TOPOGRAPHY = {
    BodyPart.BREAST: "C50",
    BodyPart.COLON: "C18",
    BodyPart.LUNG: "C34",
    BodyPart.PELVIS: "C76.3",
    BodyPart.PROSTATE: "C61",
    BodyPart.ABDOMEN: "C76.2",
    BodyPart.HEAD: "C76.0",
    BodyPart.BRAIN: "C71",
    BodyPart.CHEST: "C76.1",
    BodyPart.HEAD_NECK: "C76.0",
    BodyPart.LIVER: "C22",
    BodyPart.KIDNEY: "C64",
    BodyPart.PANCREAS: "C25",
    BodyPart.RECTUM: "C20",
    BodyPart.EXTREMITY: "C76.7",
    BodyPart.WHOLE_BODY: "C76.8",
}

_DICOM_BODY_PART = {
    "BREAST": BodyPart.BREAST,
    "COLON": BodyPart.COLON,
    "LUNG": BodyPart.LUNG,
    "PELVIS": BodyPart.PELVIS,
    "PROSTATE": BodyPart.PROSTATE,
    "ABDOMEN": BodyPart.ABDOMEN,
    "ABDOMENPELVIS": BodyPart.ABDOMEN,
    "HEAD": BodyPart.HEAD,
    "SKULL": BodyPart.HEAD,
    "BRAIN": BodyPart.BRAIN,
    "CHEST": BodyPart.CHEST,
    "THORAX": BodyPart.CHEST,
    "HEADNECK": BodyPart.HEAD_NECK,
    "NECK": BodyPart.HEAD_NECK,
    "LIVER": BodyPart.LIVER,
    "KIDNEY": BodyPart.KIDNEY,
    "PANCREAS": BodyPart.PANCREAS,
    "RECTUM": BodyPart.RECTUM,
    "EXTREMITY": BodyPart.EXTREMITY,
    "LEG": BodyPart.EXTREMITY,
    "LOWERLIMB": BodyPart.EXTREMITY,
    "UPPERLIMB": BodyPart.EXTREMITY,
    "THIGH": BodyPart.EXTREMITY,
    "ARM": BodyPart.EXTREMITY,
    "KNEE": BodyPart.EXTREMITY,
    "WHOLEBODY": BodyPart.WHOLE_BODY,
}


class Condition(str, Enum):
    """Condition (malignant neoplasm), keyed by a slug; ICD-10 code and label as properties."""

    BREAST_CANCER = "breast-cancer"
    LUNG_CANCER = "lung-cancer"
    PROSTATE_CANCER = "prostate-cancer"
    COLON_CANCER = "colon-cancer"
    RECTAL_CANCER = "rectal-cancer"
    SOFT_TISSUE_SARCOMA = "soft-tissue-sarcoma"
    HEAD_AND_NECK_CANCER = "head-and-neck-cancer"
    BRAIN_TUMOUR = "brain-tumour"
    LIVER_CANCER = "liver-cancer"
    PANCREATIC_CANCER = "pancreatic-cancer"
    KIDNEY_CANCER = "kidney-cancer"
    LYMPHOMA = "lymphoma"

    @property
    def code(self) -> str:
        return _CONDITIONS[self][0]

    @property
    def label(self) -> str:
        return _CONDITIONS[self][1]


_CONDITIONS = {
    Condition.BREAST_CANCER: ("C50", "Malignant neoplasm of breast"),
    Condition.LUNG_CANCER: ("C34", "Malignant neoplasm of bronchus and lung"),
    Condition.PROSTATE_CANCER: ("C61", "Malignant neoplasm of prostate"),
    Condition.COLON_CANCER: ("C18", "Malignant neoplasm of colon"),
    Condition.RECTAL_CANCER: ("C20", "Malignant neoplasm of rectum"),
    Condition.SOFT_TISSUE_SARCOMA: ("C49", "Malignant neoplasm of other connective and soft tissue"),
    Condition.HEAD_AND_NECK_CANCER: ("C76.0", "Malignant neoplasm of head, face and neck"),
    Condition.BRAIN_TUMOUR: ("C71", "Malignant neoplasm of brain"),
    Condition.LIVER_CANCER: ("C22", "Malignant neoplasm of liver and intrahepatic bile ducts"),
    Condition.PANCREATIC_CANCER: ("C25", "Malignant neoplasm of pancreas"),
    Condition.KIDNEY_CANCER: ("C64", "Malignant neoplasm of kidney, except renal pelvis"),
    Condition.LYMPHOMA: ("C85", "Other and unspecified types of non-Hodgkin lymphoma"),
}


class CollectionMethod(str, Enum):
    COHORT = "cohort"
    DISEASE_SPECIFIC = "disease-specific"
    CLINICAL_TRIAL = "clinical-trial"
    SCREENING = "screening"
    CASE_CONTROL = "case-control"
    OTHER = "other"


class AnnotationMethod(str, Enum):
    MANUAL = "manual"
    SEMI_AUTOMATIC = "semi-automatic"
    AUTOMATIC = "automatic"


class DatasetType(str, Enum):
    ORIGINAL = "original"
    ANNOTATED = "annotated"
    PROCESSED = "processed"
    PSEUDONYMISED = "pseudonymised"
    SYNTHETIC = "synthetic"


class DataUse(str, Enum):
    """Data-use conditions after the Data Use Ontology (DUO)."""

    GENERAL_RESEARCH_USE = "general-research-use"
    HEALTH_MEDICAL_BIOMEDICAL = "health-medical-biomedical-research"
    DISEASE_SPECIFIC_RESEARCH = "disease-specific-research"
    NON_COMMERCIAL_USE_ONLY = "non-commercial-use-only"
    NOT_FOR_PROFIT = "not-for-profit"
    COLLABORATION_REQUIRED = "collaboration-required"
    ETHICS_APPROVAL_REQUIRED = "ethics-approval-required"
    PUBLICATION_REQUIRED = "publication-required"
    PUBLICATION_MORATORIUM = "publication-moratorium"
    TIME_LIMIT_ON_USE = "time-limit-on-use"
    USER_SPECIFIC_RESTRICTION = "user-specific-restriction"
    PROJECT_SPECIFIC_RESTRICTION = "project-specific-restriction"
    INSTITUTION_SPECIFIC_RESTRICTION = "institution-specific-restriction"
    GEOGRAPHICAL_RESTRICTION = "geographical-restriction"
    RETURN_TO_DATABASE = "return-to-database"


E = TypeVar("E", bound=Enum)


def parse(enum: type[E], value: object, *, what: str | None = None) -> E:
    """Convert ``value`` to a member of ``enum``; accepts values, names, codes and labels, case-insensitively."""
    if isinstance(value, enum):
        return value
    text = str(value).strip()
    key = text.lower().replace("_", "-").replace(" ", "-")
    for member in enum:
        candidates = {str(member.value).lower(), member.name.lower().replace("_", "-")}
        for attr in ("code", "label", "radlex"):
            extra = getattr(member, attr, None) if attr in dir(member) else None
            if isinstance(extra, str):
                candidates.add(extra.lower().replace(" ", "-"))
        if key in candidates:
            return member
    known = ", ".join(str(m.value) for m in enum)
    name = what or _snake(enum.__name__)
    raise InvalidInputError(
        f"Unknown {name.replace('_', ' ')} {text!r}. Known values: {known}.", field=name, value=text
    )


def _snake(name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() and i else c.lower() for i, c in enumerate(name))


_MANUFACTURERS = {
    "SIEMENS": "Siemens",
    "GE": "GE",
    "GEMEDICALSYSTEMS": "GE",
    "GEHEALTHCARE": "GE",
    "PHILIPS": "Philips",
    "PHILIPSMEDICALSYSTEMS": "Philips",
    "PHILIPSHEALTHCARE": "Philips",
    "TOSHIBA": "Toshiba",
    "CANONMEDICALSYSTEMS": "Canon",
    "CANON": "Canon",
    "HITACHI": "Hitachi",
    "AGFA": "Agfa",
    "FUJIFILM": "Fujifilm",
}


def normalise_manufacturer(value: str | None) -> str | None:
    """Equipment manufacturer (0008,0070) folded to the catalogue's names (Siemens, GE, Philips, Toshiba, ...)."""
    if not value or not value.strip():
        return None
    key = "".join(ch for ch in value.upper() if ch.isalnum())
    for prefix, name in _MANUFACTURERS.items():
        if key == prefix or (len(prefix) > 2 and key.startswith(prefix)):
            return name
    return value.strip()
