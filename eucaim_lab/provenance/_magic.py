"""``%eucaim_provenance`` line magic (load with ``%load_ext eucaim_lab.provenance``)."""

from __future__ import annotations

from typing import Any


def load_ipython_extension(ipython: Any) -> None:
    from ._record import record

    def eucaim_provenance(line: str) -> None:
        name = line.strip() or None
        record(name=name)

    ipython.register_magic_function(eucaim_provenance, "line", "eucaim_provenance")
