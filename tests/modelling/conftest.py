"""Synthetic radiomics cohorts for the modelling tests (several lesions per patient, site effects)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest


def make_cohort(n_patients: int = 90, n_noise: int = 40, effect: float = 1.2, site_shift: float = 2.0,
                seed: int = 0, max_lesions: int = 3, sites: tuple[str, ...] = ("A", "B", "C")
                ) -> tuple[pd.DataFrame, pd.Series, np.ndarray]:
    """(X with a 'site' column, y per lesion, patient ids). Two informative features unless effect == 0.

    Every feature gets an additive and multiplicative shift per site (a scanner effect); the outcome is a
    patient property shared by all lesions of the patient.
    """
    rng = np.random.default_rng(seed)
    lesions = rng.integers(1, max_lesions + 1, n_patients)
    patients = np.repeat([f"P{i:03d}" for i in range(n_patients)], lesions)
    y_patient = rng.permutation(np.arange(n_patients) % 2)
    y = np.repeat(y_patient, lesions)
    site = np.repeat(rng.choice(list(sites), n_patients), lesions)
    n = len(patients)
    names = ["original_shape_VoxelVolume", "original_firstorder_Mean"] + [
        f"original_{('glcm', 'glrlm', 'firstorder', 'gldm')[i % 4]}_Noise{i}" for i in range(n_noise)
    ]
    data = rng.normal(size=(n, len(names)))
    data[:, 0] += effect * y
    data[:, 1] += effect * y
    codes = {s: i for i, s in enumerate(sites)}
    shift = np.array([codes[s] for s in site], dtype=float)
    data = data * (1 + 0.5 * shift)[:, None] + site_shift * shift[:, None]
    X = pd.DataFrame(data, columns=names)
    X["site"] = site
    return X, pd.Series(y, name="malignant"), patients


@pytest.fixture()
def cohort():
    return make_cohort()
