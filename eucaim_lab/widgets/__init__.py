"""ipywidgets user interfaces; ipywidgets loads only when a widget is used."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__all__ = ["ModelBuilder", "SliceViewer", "qc_montage", "view"]

_WHERE = {"ModelBuilder": "_model_builder", "SliceViewer": "_viewer", "qc_montage": "_montage", "view": "_viewer"}

if TYPE_CHECKING:  # pragma: no cover
    from ._model_builder import ModelBuilder
    from ._montage import qc_montage
    from ._viewer import SliceViewer, view


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
