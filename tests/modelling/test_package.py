"""The modelling and widgets packages stay cheap to import and expose a sorted public surface."""

from __future__ import annotations

import subprocess
import sys


def test_import_is_lazy_and_surface_resolves():
    code = (
        "import sys, eucaim_lab.modelling as m, eucaim_lab.widgets as w\n"
        "heavy = [k for k in ('sklearn', 'ipywidgets', 'matplotlib', 'joblib') if k in sys.modules]\n"
        "assert not heavy, heavy\n"
        "assert m.__all__ == sorted(m.__all__) and 'ModelBuilder' in w.__all__\n"
        "missing = [n for n in m.__all__ if not hasattr(m, n)]\n"
        "assert not missing, missing\n"
        "assert w.ModelBuilder.__name__ == 'ModelBuilder'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
