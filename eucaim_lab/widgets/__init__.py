"""ipywidgets user interfaces; ipywidgets loads only when a widget is used."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__all__ = ["ModelBuilder"]

_WHERE = {"ModelBuilder": "_model_builder"}

if TYPE_CHECKING:  # pragma: no cover
    from ._model_builder import ModelBuilder


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
