"""Radiomics at scale: pyradiomics features of many cases on Dask, cached by content, with IBSI profiles.

``extract(cases, params="default", client=None)`` returns one row per case; ``ibsi_check(...)`` compares features of
an IBSI phantom with a reference table. Heavy libraries (pyradiomics, SimpleITK, dask) load only when used.
"""

from __future__ import annotations

from eucaim_lab.radiomics._cache import ResultCache
from eucaim_lab.radiomics._extract import META_COLUMNS, extract
from eucaim_lab.radiomics._ibsi_check import IBSI_MAPPING, ibsi_check
from eucaim_lab.radiomics._profiles import PROFILES, IbsiProcessing, Settings, resolve_settings
from eucaim_lab.radiomics._progress import ProgressEvent, notebook_progress, text_progress

__all__ = [
    "IBSI_MAPPING",
    "META_COLUMNS",
    "PROFILES",
    "IbsiProcessing",
    "ProgressEvent",
    "ResultCache",
    "Settings",
    "extract",
    "ibsi_check",
    "notebook_progress",
    "resolve_settings",
    "text_progress",
]
