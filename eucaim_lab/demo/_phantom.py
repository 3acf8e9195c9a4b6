"""Synthetic CT phantoms: per-patient latent values, anatomy, an irregular textured tumour, and site effects.

Everything is drawn from ``numpy.random.default_rng([seed, spec.seed_offset, patient_index, stream])`` so a
patient's values do not depend on how many patients are generated, and the same seed gives the same arrays.

The outcome is drawn from a logistic model of three standardised latent values -- tumour heterogeneity (texture),
irregularity (shape) and size -- so a model that measures texture and shape can learn it, and the truth is known.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from .._errors import InvalidInputError
from ..catalogue._vocab import BodyPart

if TYPE_CHECKING:  # pragma: no cover
    from ._spec import DatasetSpec, Site

__all__ = [
    "GRID_SHAPE",
    "OUTCOME_MODEL",
    "SPACING_MM",
    "Label",
    "OutcomeModel",
    "PatientLatents",
    "Phantom",
    "draw_patients",
    "make_phantom",
]

#: (slices, rows, columns) of every phantom
GRID_SHAPE: tuple[int, int, int] = (24, 64, 64)
#: voxel size (slice spacing, row spacing, column spacing) in mm
SPACING_MM: tuple[float, float, float] = (2.5, 1.0, 1.0)

_STREAM_LATENT = 0
_STREAM_IMAGE = 1


class Label:
    """Tissue labels of :attr:`Phantom.labels`."""

    AIR = 0
    FAT = 1
    MUSCLE = 2
    ORGAN = 3  # lung parenchyma, liver or glandular tissue, depending on the body part
    BONE = 4
    TUMOUR = 5


@dataclass(frozen=True)
class OutcomeModel:
    """``logit P(outcome=1) = intercept + heterogeneity*z_het + irregularity*z_irr + size*z_size``."""

    intercept: float = -0.2
    heterogeneity: float = 1.4
    irregularity: float = 0.9
    size: float = 0.6

    def logit(self, z_heterogeneity: float, z_irregularity: float, z_size: float) -> float:
        return (
            self.intercept
            + self.heterogeneity * z_heterogeneity
            + self.irregularity * z_irregularity
            + self.size * z_size
        )


OUTCOME_MODEL = OutcomeModel()


@dataclass(frozen=True)
class PatientLatents:
    """The generating values of one patient (what truth.json records)."""

    index: int
    patient_id: str
    site_id: str
    sex: str  # DICOM PatientSex: "M" or "F"
    age: int
    study_date: dt.date
    study_time: str  # HHMMSS
    z_heterogeneity: float
    z_irregularity: float
    z_size: float
    texture_sd_hu: float  # SD of the tumour's own texture, before acquisition noise
    irregularity: float  # amplitude of the low-frequency surface perturbation (relative radius)
    radius_mm: float  # equivalent radius of the unperturbed ellipsoid
    axis_ratios: tuple[float, float, float]  # (z, y, x), product 1
    rotation_deg: float  # in-plane rotation of the ellipsoid
    centre_mm: tuple[float, float, float]  # (z, y, x) offset from the grid centre
    logit: float
    probability: float
    outcome: int
    stage: str
    followup_months: float
    laterality: str  # "L" or "R": DICOM Laterality where the body part is paired


@dataclass(frozen=True)
class Phantom:
    """One patient's CT volume in HU (int16, (slices, rows, columns)), tumour mask and tissue labels."""

    hu: np.ndarray
    tumour: np.ndarray
    labels: np.ndarray

    @property
    def tumour_volume_ml(self) -> float:
        voxel_ml = SPACING_MM[0] * SPACING_MM[1] * SPACING_MM[2] / 1000.0
        return float(self.tumour.sum()) * voxel_ml


def _check_seed(seed: int) -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise InvalidInputError(f"The seed must be an integer >= 0. Got {seed!r}.")
    return int(seed)


def _rng(seed: int, spec: DatasetSpec, index: int, stream: int) -> np.random.Generator:
    return np.random.default_rng([_check_seed(seed), spec.seed_offset, index, stream])


def _stage(radius_mm: float) -> str:
    for limit, stage in ((7.0, "I"), (9.0, "II"), (11.0, "III")):
        if radius_mm < limit:
            return stage
    return "IV"


def draw_patients(
    spec: DatasetSpec, seed: int = 0, n_patients: int | None = None, model: OutcomeModel = OUTCOME_MODEL
) -> list[PatientLatents]:
    """Draw the latent values, demographics and outcome of every patient (cheap: no images)."""
    n = spec.n_patients if n_patients is None else n_patients
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise InvalidInputError(f"n_patients must be an integer >= 1. Got {n!r}.")
    patients = []
    for i in range(n):
        rng = _rng(seed, spec, i, _STREAM_LATENT)
        z_het, z_irr, z_size = (float(v) for v in rng.standard_normal(3))
        sex = "F" if rng.random() < spec.female_fraction else "M"
        age = int(np.clip(round(rng.normal(spec.age_mean, 9.0)), 25, 90))
        study_date = dt.date(2019, 1, 1) + dt.timedelta(days=int(rng.integers(0, 3 * 365)))
        seconds = int(rng.integers(8 * 3600, 18 * 3600))
        study_time = f"{seconds // 3600:02d}{seconds // 60 % 60:02d}{seconds % 60:02d}"
        ratios = np.exp(rng.normal(0.0, 0.12, 3))
        ratios = ratios / np.prod(ratios) ** (1 / 3)
        rotation = float(rng.uniform(0.0, 180.0))
        centre = rng.uniform(-1.0, 1.0, 3) * np.array([4.0, 2.5, 2.5])
        radius = float(np.clip(8.5 * math.exp(0.2 * z_size), 5.0, 13.0))
        texture_sd = float(22.0 * math.exp(0.4 * z_het))
        irregularity = float(np.clip(0.16 * math.exp(0.45 * z_irr), 0.03, 0.4))
        logit = model.logit(z_het, z_irr, z_size)
        probability = 1.0 / (1.0 + math.exp(-logit))
        outcome = int(rng.random() < probability)
        followup = float(rng.uniform(3.0, 24.0) if outcome else rng.uniform(24.0, 60.0))
        laterality = "L" if rng.random() < 0.5 else "R"  # side, for paired body parts
        patients.append(
            PatientLatents(
                index=i,
                patient_id=spec.patient_id(i),
                site_id=spec.sites[i % len(spec.sites)].site_id,
                sex=sex,
                age=age,
                study_date=study_date,
                study_time=study_time,
                z_heterogeneity=z_het,
                z_irregularity=z_irr,
                z_size=z_size,
                texture_sd_hu=texture_sd,
                irregularity=irregularity,
                radius_mm=radius,
                axis_ratios=(float(ratios[0]), float(ratios[1]), float(ratios[2])),
                rotation_deg=rotation,
                centre_mm=(float(centre[0]), float(centre[1]), float(centre[2])),
                logit=float(logit),
                probability=float(probability),
                outcome=outcome,
                stage=_stage(radius),
                followup_months=round(followup, 1),
                laterality=laterality,
            )
        )
    return patients


# ----- images ---------------------------------------------------------------------------------------------------


def _coords() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Physical (z, y, x) coordinates in mm of every voxel centre, relative to the grid centre."""
    axes = [(np.arange(n) - (n - 1) / 2.0) * s for n, s in zip(GRID_SHAPE, SPACING_MM)]
    z, y, x = np.meshgrid(*axes, indexing="ij")
    return z, y, x


def _smooth_noise(rng: np.random.Generator, sigma_mm: float | tuple[float, float, float]) -> np.ndarray:
    """Gaussian random field with unit SD and the given correlation length (mm) along (z, y, x)."""
    from scipy.ndimage import gaussian_filter

    sig = (sigma_mm,) * 3 if isinstance(sigma_mm, (int, float)) else sigma_mm
    field: np.ndarray = gaussian_filter(
        rng.standard_normal(GRID_SHAPE), [s / d for s, d in zip(sig, SPACING_MM)], mode="wrap"
    )
    return (field - field.mean()) / field.std()


def _ellipse(y: np.ndarray, x: np.ndarray, cy: float, cx: float, ay: float, ax: float) -> np.ndarray:
    return ((y - cy) / ay) ** 2 + ((x - cx) / ax) ** 2 <= 1.0


# mean HU of each tissue
_HU = {"air": -1000.0, "fat": -100.0, "muscle": 50.0, "bone": 700.0, "marrow": -40.0}
# organ HU, tumour base HU and tumour centre (y, x) in mm for each body part
_ORGAN = {
    BodyPart.LUNG: (-850.0, 40.0, (-2.0, 3.0)),
    BodyPart.LIVER: (70.0, 40.0, (-2.0, 1.0)),
    BodyPart.EXTREMITY: (50.0, 38.0, (0.0, 6.0)),
    BodyPart.BREAST: (20.0, 45.0, (-4.0, 0.0)),
}
_GENERIC = (50.0, 40.0, (0.0, 0.0))


def _anatomy(body_part: BodyPart, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Noise-free HU and labels of the body without the tumour."""
    _, y, x = _coords()
    scale = float(np.exp(rng.normal(0.0, 0.04)))
    hu = np.full(GRID_SHAPE, _HU["air"], dtype=np.float64)
    labels = np.zeros(GRID_SHAPE, dtype=np.uint8)
    organ_hu = _ORGAN.get(body_part, _GENERIC)[0] + float(rng.normal(0.0, 5.0))

    def paint(mask: np.ndarray, value: float, label: int) -> None:
        hu[mask] = value
        labels[mask] = label

    if body_part == BodyPart.EXTREMITY:  # a thigh: skin and fat, muscle, femur
        r = 28.0 * scale
        paint(_ellipse(y, x, 0, 0, r, r), _HU["fat"], Label.FAT)
        paint(_ellipse(y, x, 0, 0, r - 4, r - 4), _HU["muscle"], Label.MUSCLE)
        paint(_ellipse(y, x, 5, -17, 6, 6), _HU["bone"], Label.BONE)
        paint(_ellipse(y, x, 5, -17, 3.5, 3.5), _HU["marrow"], Label.BONE)
        return hu, labels
    ay, ax = 26.0 * scale, 30.5 * scale
    paint(_ellipse(y, x, 0, 0, ay, ax), _HU["fat"], Label.FAT)
    if body_part == BodyPart.BREAST:  # fatty breast with glandular islands over a muscular chest wall
        glandular = (_smooth_noise(rng, (6.0, 3.0, 3.0)) > 0.3) & _ellipse(y, x, -2, 0, ay - 5, ax - 6)
        paint(glandular, organ_hu, Label.ORGAN)
        paint(_ellipse(y, x, 0, 0, ay, ax) & (y > ay - 7), _HU["muscle"], Label.MUSCLE)
        return hu, labels
    paint(_ellipse(y, x, 0, 0, ay - 3, ax - 3), _HU["muscle"], Label.MUSCLE)
    if body_part == BodyPart.LUNG:
        lung = _ellipse(y, x, -2, 0, ay - 8, ax - 6.5)
        paint(lung, organ_hu, Label.ORGAN)
        hu[lung] += 25.0 * _smooth_noise(rng, 2.0)[lung]  # parenchymal texture
    elif body_part == BodyPart.LIVER:
        liver = _ellipse(y, x, -1, 1, ay - 7, ax - 6)
        paint(liver, organ_hu, Label.ORGAN)
        hu[liver] += 6.0 * _smooth_noise(rng, 4.0)[liver]
    # vertebra behind everything but the thigh and the breast
    paint(_ellipse(y, x, ay - 6.0, 0, 4.0, 4.5), _HU["bone"], Label.BONE)
    return hu, labels


def _tumour_mask(patient: PatientLatents, body_part: BodyPart, rng: np.random.Generator) -> np.ndarray:
    """An ellipsoid whose surface is pushed in and out by low-frequency noise; one 3-D component, no holes."""
    from scipy import ndimage

    z, y, x = _coords()
    cy, cx = _ORGAN.get(body_part, _GENERIC)[2]
    dz, dy, dx = z - patient.centre_mm[0], y - (cy + patient.centre_mm[1]), x - (cx + patient.centre_mm[2])
    theta = math.radians(patient.rotation_deg)
    u = math.cos(theta) * dx + math.sin(theta) * dy
    v = -math.sin(theta) * dx + math.cos(theta) * dy
    rz, ry, rx = (patient.radius_mm * r for r in patient.axis_ratios)
    distance = np.sqrt((dz / rz) ** 2 + (v / ry) ** 2 + (u / rx) ** 2)
    bumps = _smooth_noise(rng, (5.0, 3.0, 3.0))
    mask = distance < 1.0 + patient.irregularity * bumps
    components, count = ndimage.label(mask)
    if count > 1:
        sizes = ndimage.sum_labels(mask, components, index=np.arange(1, count + 1))
        mask = components == (1 + int(np.argmax(sizes)))
    mask = ndimage.binary_fill_holes(mask)
    # one outer contour per slice region: no holes inside any slice either (RTSTRUCT-friendly)
    for k in range(mask.shape[0]):
        mask[k] = ndimage.binary_fill_holes(mask[k])
    if not mask.any():  # pragma: no cover - the radius is >= 5 mm, far above a voxel
        raise RuntimeError(f"Empty tumour generated for patient {patient.patient_id}.")
    return mask.astype(bool)


def make_phantom(spec: DatasetSpec, patient: PatientLatents, seed: int = 0) -> Phantom:
    """The CT volume of ``patient`` as acquired at the patient's site (HU, int16), its tumour mask and labels."""
    site = spec.site(patient.site_id)
    rng = _rng(seed, spec, patient.index, _STREAM_IMAGE)
    hu, labels = _anatomy(spec.body_part, rng)
    mask = _tumour_mask(patient, spec.body_part, rng)
    tumour_base = _ORGAN.get(spec.body_part, _GENERIC)[1]
    texture = _smooth_noise(rng, (1.5, 1.0, 1.0))
    hu[mask] = tumour_base + patient.texture_sd_hu * texture[mask]
    labels[mask] = Label.TUMOUR
    hu = _acquire(hu, site, rng)
    return Phantom(hu=hu, tumour=mask, labels=labels)


def _acquire(hu: np.ndarray, site: Site, rng: np.random.Generator) -> np.ndarray:
    """Reconstruction kernel blur, correlated noise and calibration offset of the site; HU as int16."""
    from scipy.ndimage import gaussian_filter

    sigma = [0.0, site.blur_sigma_mm / SPACING_MM[1], site.blur_sigma_mm / SPACING_MM[2]]
    image: np.ndarray = gaussian_filter(hu, sigma, mode="nearest") if site.blur_sigma_mm > 0 else hu.copy()
    noise = rng.standard_normal(GRID_SHAPE)
    if site.blur_sigma_mm > 0:
        noise = gaussian_filter(noise, [0.0, sigma[1] * 0.8, sigma[2] * 0.8], mode="wrap")
        noise /= noise.std()
    image += site.offset_hu + site.noise_sd_hu * noise
    return np.clip(np.rint(image), -1024, 3071).astype(np.int16)
