"""Provenance and reproducibility: what data and software an analysis used, and whether it re-runs the same."""

from ._environment import EnvironmentReport, check_environment
from ._magic import load_ipython_extension
from ._record import MIME, record, stamp
from ._reproduce import CellDifference, ReproduceReport, compare_notebooks, reproduce

__all__ = [
    "MIME",
    "CellDifference",
    "EnvironmentReport",
    "ReproduceReport",
    "check_environment",
    "compare_notebooks",
    "load_ipython_extension",
    "record",
    "reproduce",
    "stamp",
]
