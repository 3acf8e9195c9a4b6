"""eucaim-lab: a Jupyter research workbench for cancer imaging in the EUCAIM federation.

``import eucaim_lab`` is cheap: subpackages and heavy dependencies load on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = [
    "Catalogue",
    "Node",
    "__version__",
    "access",
    "catalogue",
    "checkout",
    "imaging",
    "modelling",
    "provenance",
    "radiomics",
    "sandbox",
    "widgets",
]

_SUBMODULES = {
    "access", "catalogue", "checkout", "demo", "imaging", "modelling", "provenance", "radiomics", "sandbox",
    "widgets",
}
_LAZY = {"Catalogue": ("eucaim_lab.catalogue", "Catalogue"), "Node": ("eucaim_lab._node", "Node")}

if TYPE_CHECKING:  # pragma: no cover
    from ._node import Node
    from .catalogue import Catalogue


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    if name in _LAZY:
        module, attr = _LAZY[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
