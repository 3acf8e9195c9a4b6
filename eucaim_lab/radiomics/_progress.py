"""Progress of an extraction run: the engine emits :class:`ProgressEvent` objects, renderers draw them.

The engine never imports a display library. :func:`text_progress` writes a one-line bar to a stream (stderr on the
command line); :func:`notebook_progress` draws an ipywidgets ``IntProgress`` with a label (imported only when it is
used). :func:`default_renderer` picks the notebook bar inside a Jupyter kernel and the text bar elsewhere.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, TextIO

__all__ = ["ProgressCallback", "ProgressEvent", "default_renderer", "notebook_progress", "text_progress"]


@dataclass(frozen=True)
class ProgressEvent:
    """One case finished (``done`` of ``total``); ``source`` says whether it was computed or taken from the cache.

    The first event of a run has ``done == 0`` and ``case_id is None`` (the run starts).
    """

    done: int
    total: int
    case_id: str | None
    status: Literal["ok", "error", "start"]
    source: Literal["computed", "cache", "none"] = "computed"


ProgressCallback = Callable[[ProgressEvent], None]


def text_progress(stream: TextIO | None = None, width: int = 30) -> ProgressCallback:
    """A renderer drawing ``[#####.....] done/total (failed) elapsed`` on ``stream`` (default: stderr).

    On a terminal the bar is redrawn in place; into a file or pipe (a log, CI) one line is written per tenth of
    the work, so the log stays readable.
    """
    out = stream if stream is not None else sys.stderr
    isatty = getattr(out, "isatty", None)
    interactive = bool(isatty()) if callable(isatty) else False
    state = {"failed": 0, "start": time.monotonic(), "tenth": -1}

    def render(event: ProgressEvent) -> None:
        if event.status == "error":
            state["failed"] += 1
        total = max(event.total, 1)
        filled = int(width * event.done / total)
        elapsed = time.monotonic() - state["start"]
        line = (
            f"radiomics [{'#' * filled}{'.' * (width - filled)}] {event.done}/{event.total}"
            f" failed {int(state['failed'])} {elapsed:6.1f}s"
        )
        finished = event.done >= event.total
        if interactive:
            out.write("\r" + line + ("\n" if finished else ""))
        else:
            tenth = 10 * event.done // total
            if tenth > state["tenth"] or finished:
                state["tenth"] = tenth
                out.write(line + "\n")
        out.flush()

    return render


class notebook_progress:
    """A renderer drawing an ipywidgets ``IntProgress`` and a ``Label`` (``.bar``, ``.label``) in the notebook.

    ipywidgets is imported here, when a notebook bar is asked for, never by the engine.
    """

    def __init__(self, display: bool = True) -> None:
        from eucaim_lab._errors import require

        widgets = require("ipywidgets", "The notebook progress bar", "pip install ipywidgets")
        self.bar = widgets.IntProgress(value=0, min=0, max=1, description="radiomics")
        self.label = widgets.Label(value="starting")
        self.box = widgets.HBox([self.bar, self.label])
        self.failed = 0
        if display:
            from IPython.display import display as show

            show(self.box)

    def __call__(self, event: ProgressEvent) -> None:
        if event.status == "error":
            self.failed += 1
        self.bar.max = max(event.total, 1)
        self.bar.value = event.done
        last = f" - last: {event.case_id} ({event.status}, {event.source})" if event.case_id else ""
        self.label.value = f"{event.done}/{event.total}, failed {self.failed}{last}"
        if event.done >= event.total:
            self.bar.bar_style = "danger" if self.failed else "success"


def _in_notebook_kernel() -> bool:
    ipython = sys.modules.get("IPython")
    if ipython is None:
        return False
    shell = ipython.get_ipython() if hasattr(ipython, "get_ipython") else None
    return shell is not None and shell.__class__.__name__ == "ZMQInteractiveShell"


def default_renderer() -> ProgressCallback:
    """The notebook bar inside a Jupyter kernel, else the text bar on stderr."""
    return notebook_progress() if _in_notebook_kernel() else text_progress()
