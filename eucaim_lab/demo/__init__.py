"""Synthetic demo cohorts: real DICOM CT series with DICOM SEG and RTSTRUCT tumour masks, and clinical tables.

``generate_cohort(out_dir, seed=0)`` writes one dataset folder; ``generate_all(out_root)`` writes every dataset of
:data:`DEMO_DATASETS`. Each folder has ``clinical.csv`` (whose ``outcome`` follows a known logistic model of
tumour heterogeneity and shape) and ``truth.json`` (the generating coefficients and per-patient latent values).
"""

from ._analysis import analyse_checkout, clinical_table, model_table
from ._generate import CLINICAL_COLUMNS, generate_all, generate_cohort, load_truth
from ._phantom import (
    GRID_SHAPE,
    OUTCOME_MODEL,
    SPACING_MM,
    Label,
    OutcomeModel,
    PatientLatents,
    Phantom,
    draw_patients,
    make_phantom,
)
from ._seed import seed_node
from ._spec import DEFAULT_SITES, DEMO_DATASETS, CohortInfo, DatasetSpec, Site

__all__ = [
    "CLINICAL_COLUMNS",
    "DEFAULT_SITES",
    "DEMO_DATASETS",
    "GRID_SHAPE",
    "OUTCOME_MODEL",
    "SPACING_MM",
    "CohortInfo",
    "DatasetSpec",
    "Label",
    "OutcomeModel",
    "PatientLatents",
    "Phantom",
    "Site",
    "analyse_checkout",
    "clinical_table",
    "draw_patients",
    "generate_all",
    "generate_cohort",
    "load_truth",
    "make_phantom",
    "model_table",
    "seed_node",
]
