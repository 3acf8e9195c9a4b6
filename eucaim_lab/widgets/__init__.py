"""ipywidgets user interfaces; ipywidgets loads only when a widget is used."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_exports

__all__ = ["ModelBuilder", "SliceViewer", "qc_montage", "view"]

_WHERE = {"ModelBuilder": "_model_builder", "SliceViewer": "_viewer", "qc_montage": "_montage", "view": "_viewer"}

if TYPE_CHECKING:  # pragma: no cover
    from ._model_builder import ModelBuilder
    from ._montage import qc_montage
    from ._viewer import SliceViewer, view

__getattr__, __dir__ = lazy_exports(__name__, _WHERE, __all__)
