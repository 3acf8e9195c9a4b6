"""Synthetic demo cohorts: real DICOM CT series with DICOM SEG and RTSTRUCT tumour masks, and clinical tables.

``generate_cohort(out_dir, seed=0)`` writes one dataset folder; ``generate_all(out_root)`` writes every dataset of
:data:`DEMO_DATASETS`. Each folder has ``clinical.csv`` (whose ``outcome`` follows a known logistic model of
tumour heterogeneity and shape) and ``truth.json`` (the generating coefficients and per-patient latent values).
"""

from __future__ import annotations

from .._lazy import lazy_exports

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

# submodules load on first use, so that the command line (which imports demo._cli) starts fast
_WHERE = {
    'CLINICAL_COLUMNS': '_generate',
    'CohortInfo': '_spec',
    'DEFAULT_SITES': '_spec',
    'DEMO_DATASETS': '_spec',
    'DatasetSpec': '_spec',
    'GRID_SHAPE': '_phantom',
    'Label': '_phantom',
    'OUTCOME_MODEL': '_phantom',
    'OutcomeModel': '_phantom',
    'PatientLatents': '_phantom',
    'Phantom': '_phantom',
    'SPACING_MM': '_phantom',
    'Site': '_spec',
    'analyse_checkout': '_analysis',
    'clinical_table': '_analysis',
    'draw_patients': '_phantom',
    'generate_all': '_generate',
    'generate_cohort': '_generate',
    'load_truth': '_generate',
    'make_phantom': '_phantom',
    'model_table': '_analysis',
    'seed_node': '_seed',
}

__getattr__, __dir__ = lazy_exports(__name__, _WHERE, __all__)
