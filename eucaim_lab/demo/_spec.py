"""What a demo dataset is: acquisition sites, dataset specifications and the result of a generation run."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._errors import InvalidInputError
from ..catalogue._model import validate_identifier
from ..catalogue._vocab import AccessCondition, AccessRights, BodyPart, Condition, parse

__all__ = ["DEFAULT_SITES", "DEMO_DATASETS", "CohortInfo", "DatasetSpec", "Site"]


@dataclass(frozen=True)
class Site:
    """One acquisition site: a scanner whose calibration, noise and reconstruction kernel differ from the others.

    ``offset_hu`` shifts every voxel (a calibration error), ``noise_sd_hu`` is the standard deviation of the
    acquisition noise after the reconstruction kernel, ``blur_sigma_mm`` the in-plane sharpness of that kernel
    (a soft kernel blurs the anatomy and correlates the noise). ``rescale_intercept`` is the DICOM
    RescaleIntercept used to store the Hounsfield units.
    """

    site_id: str
    institution: str
    manufacturer: str
    model: str
    offset_hu: float
    noise_sd_hu: float
    blur_sigma_mm: float
    kernel: str
    rescale_intercept: int = -1024
    kvp: int = 120

    def __post_init__(self) -> None:
        validate_identifier(self.site_id, "site id")
        if not 0 <= self.noise_sd_hu <= 200:
            raise InvalidInputError(f"Site noise_sd_hu must be in [0, 200] HU. Got {self.noise_sd_hu}.")
        if not 0 <= self.blur_sigma_mm <= 5:
            raise InvalidInputError(f"Site blur_sigma_mm must be in [0, 5] mm. Got {self.blur_sigma_mm}.")
        if self.rescale_intercept not in (-1024, 0):
            raise InvalidInputError(
                f"Site rescale_intercept must be -1024 or 0. Got {self.rescale_intercept}."
            )


#: Three scanners from three vendors, different enough that harmonisation matters.
DEFAULT_SITES: tuple[Site, ...] = (
    Site(
        site_id="site-1",
        institution="Demo University Hospital North",
        manufacturer="SIEMENS",
        model="SOMATOM Definition AS",
        offset_hu=30.0,
        noise_sd_hu=12.0,
        blur_sigma_mm=0.4,
        kernel="B30f",
    ),
    Site(
        site_id="site-2",
        institution="Demo General Hospital South",
        manufacturer="GE MEDICAL SYSTEMS",
        model="LightSpeed VCT",
        offset_hu=-35.0,
        noise_sd_hu=26.0,
        blur_sigma_mm=0.7,
        kernel="STANDARD",
        kvp=100,
    ),
    Site(
        site_id="site-3",
        institution="Demo Cancer Centre East",
        manufacturer="Philips",
        model="Brilliance 64",
        offset_hu=20.0,
        noise_sd_hu=18.0,
        blur_sigma_mm=0.25,
        kernel="B",
        rescale_intercept=0,
    ),
)


@dataclass(frozen=True)
class DatasetSpec:
    """Everything that defines one generated demo dataset, and its catalogue metadata.

    ``seed_offset`` makes datasets generated with the same seed differ from each other; ``female_fraction`` and
    ``age_mean`` set the demographics; ``rtstruct_every`` gives every n-th patient an RTSTRUCT beside the SEG
    (0: none).
    """

    dataset_id: str
    title: str
    description: str
    condition: Condition
    body_part: BodyPart
    access_condition: AccessCondition = AccessCondition.IN_SITU_PROCESSING
    access_rights: AccessRights = AccessRights.RESTRICTED
    data_holder: str = "hospital-a"
    provider: str = "eucaim-lab demo node"
    licence: str = "CC-BY-NC-4.0"
    n_patients: int = 24
    sites: tuple[Site, ...] = DEFAULT_SITES
    seed_offset: int = 0
    female_fraction: float = 0.5
    age_mean: float = 62.0
    rtstruct_every: int = 3
    keywords: tuple[str, ...] = field(default=("synthetic", "demo", "radiomics"))

    def __post_init__(self) -> None:
        validate_identifier(self.dataset_id, "dataset id")
        validate_identifier(self.data_holder, "data holder")
        # enums are converted once, here, so a spec that exists is a valid one
        object.__setattr__(self, "condition", parse(Condition, self.condition))
        object.__setattr__(self, "body_part", parse(BodyPart, self.body_part))
        object.__setattr__(self, "access_condition", parse(AccessCondition, self.access_condition))
        object.__setattr__(self, "access_rights", parse(AccessRights, self.access_rights))
        object.__setattr__(self, "sites", tuple(self.sites))
        object.__setattr__(self, "keywords", tuple(self.keywords))
        if not self.title.strip() or not self.description.strip():
            raise InvalidInputError(f"A dataset spec needs a title and a description. Got {self.title!r}.")
        if isinstance(self.n_patients, bool) or not isinstance(self.n_patients, int) or self.n_patients < 1:
            raise InvalidInputError(f"n_patients must be an integer >= 1. Got {self.n_patients!r}.")
        if not self.sites or not all(isinstance(s, Site) for s in self.sites):
            raise InvalidInputError(f"A dataset spec needs at least one Site. Got {self.sites!r}.")
        if len({s.site_id for s in self.sites}) != len(self.sites):
            raise InvalidInputError(f"Site ids must be unique. Got {[s.site_id for s in self.sites]}.")
        if not 0.0 <= self.female_fraction <= 1.0:
            raise InvalidInputError(f"female_fraction must be in [0, 1]. Got {self.female_fraction}.")
        if not 20 <= self.age_mean <= 90:
            raise InvalidInputError(f"age_mean must be in [20, 90] years. Got {self.age_mean}.")
        if (
            isinstance(self.seed_offset, bool)
            or not isinstance(self.seed_offset, int)
            or self.seed_offset < 0
        ):
            raise InvalidInputError(f"seed_offset must be an integer >= 0. Got {self.seed_offset!r}.")
        if self.rtstruct_every < 0:
            raise InvalidInputError(f"rtstruct_every must be >= 0. Got {self.rtstruct_every}.")

    @property
    def patient_prefix(self) -> str:
        """Prefix of the patient ids: the dataset id without 'demo-', upper case (``LUNG-CT``)."""
        stem = self.dataset_id[5:] if self.dataset_id.lower().startswith("demo-") else self.dataset_id
        return stem.upper()

    def patient_id(self, index: int) -> str:
        return f"{self.patient_prefix}-{index + 1:03d}"

    def site(self, site_id: str) -> Site:
        """The site with id ``site_id``."""
        for site in self.sites:
            if site.site_id == site_id:
                return site
        raise InvalidInputError(
            f"Site {site_id!r} is not one of the sites of dataset {self.dataset_id!r}. "
            f"Known: {', '.join(s.site_id for s in self.sites)}."
        )

    def with_patients(self, n_patients: int) -> DatasetSpec:
        """The same spec with another number of patients."""
        from dataclasses import replace

        return replace(self, n_patients=n_patients)

    def catalogue_metadata(self) -> dict[str, Any]:
        """Keyword arguments for ``Catalogue.ingest`` (DatasetRecord field names) describing this dataset."""
        return {
            "title": self.title,
            "description": self.description,
            "conditions": [self.condition.value],
            "body_parts": [self.body_part.value],
            "access_condition": self.access_condition.value,
            "access_rights": self.access_rights.value,
            "data_holder": self.data_holder,
            "provider": self.provider,
            "license": self.licence,
            "dataset_types": ["synthetic", "annotated"],
            "keywords": list(self.keywords),
            "provenance": (
                "Synthetic CT phantoms generated by eucaim_lab.demo (seeded, deterministic); tumour masks are "
                "the generating ground truth, exported as DICOM SEG and RTSTRUCT."
            ),
        }


@dataclass(frozen=True)
class CohortInfo:
    """Where a generated dataset was written and what it holds (``files_count`` counts DICOM files).

    ``dicom_dir`` is the folder to ingest (DICOM only), ``clinical_csv`` its clinical table and ``truth_json`` the
    generating values, kept outside ``dicom_dir``.
    """

    path: Path
    spec: DatasetSpec
    dicom_dir: Path
    clinical_csv: Path
    truth_json: Path
    n_patients: int
    files_count: int
    size_bytes: int


_LICENCE = "CC-BY-NC-4.0"

#: The datasets seeded into a new node by ``eucaim-lab demo``.
DEMO_DATASETS: tuple[DatasetSpec, ...] = (
    DatasetSpec(
        dataset_id="demo-lung-ct",
        title="Demo lung cancer CT (three sites)",
        description=(
            "Synthetic thoracic CT of 24 lung-cancer patients from three scanners (Siemens, GE, Philips) with "
            "manual tumour segmentations (DICOM SEG; RTSTRUCT for a third of the patients) and a clinical table "
            "whose binary outcome depends on tumour heterogeneity and shape."
        ),
        condition=Condition.LUNG_CANCER,
        body_part=BodyPart.LUNG,
        access_condition=AccessCondition.IN_SITU_PROCESSING,
        access_rights=AccessRights.RESTRICTED,
        data_holder="hospital-a",
        licence=_LICENCE,
        n_patients=24,
        seed_offset=0,
        female_fraction=0.4,
        age_mean=66.0,
        keywords=("synthetic", "demo", "radiomics", "lung", "NSCLC"),
    ),
    DatasetSpec(
        dataset_id="demo-liver-ct",
        title="Demo liver cancer CT (open)",
        description=(
            "Synthetic abdominal CT of 12 patients with a hypodense liver tumour each, from three scanners, "
            "with DICOM SEG tumour masks and clinical data. Open for download."
        ),
        condition=Condition.LIVER_CANCER,
        body_part=BodyPart.LIVER,
        access_condition=AccessCondition.DOWNLOAD,
        access_rights=AccessRights.PUBLIC,
        data_holder="hospital-b",
        licence="CC-BY-4.0",
        n_patients=12,
        seed_offset=101,
        female_fraction=0.3,
        age_mean=64.0,
        keywords=("synthetic", "demo", "radiomics", "liver", "HCC"),
    ),
    DatasetSpec(
        dataset_id="demo-sarcoma-ct",
        title="Demo soft-tissue sarcoma CT of the thigh",
        description=(
            "Synthetic CT of the thigh of 12 soft-tissue sarcoma patients from three scanners, with DICOM SEG "
            "and RTSTRUCT tumour delineations and a clinical table with a binary outcome."
        ),
        condition=Condition.SOFT_TISSUE_SARCOMA,
        body_part=BodyPart.EXTREMITY,
        access_condition=AccessCondition.IN_SITU_PROCESSING,
        access_rights=AccessRights.RESTRICTED,
        data_holder="hospital-a",
        licence=_LICENCE,
        n_patients=12,
        seed_offset=202,
        female_fraction=0.45,
        age_mean=55.0,
        keywords=("synthetic", "demo", "radiomics", "sarcoma", "extremity"),
    ),
    DatasetSpec(
        dataset_id="demo-breast-ct-remote",
        title="Demo breast cancer CT (remote processing only)",
        description=(
            "Synthetic chest-wall CT of 8 breast-cancer patients from three scanners with tumour segmentations. "
            "Available for remote (batch) processing only: users never see the images."
        ),
        condition=Condition.BREAST_CANCER,
        body_part=BodyPart.BREAST,
        access_condition=AccessCondition.REMOTE_PROCESSING,
        access_rights=AccessRights.NON_PUBLIC,
        data_holder="hospital-c",
        licence=_LICENCE,
        n_patients=8,
        seed_offset=303,
        female_fraction=1.0,
        age_mean=58.0,
        keywords=("synthetic", "demo", "radiomics", "breast"),
    ),
)
