"""The modelling and widgets packages stay cheap to import and expose a sorted public surface."""

from __future__ import annotations

import subprocess
import sys


def test_import_is_lazy_and_surface_resolves():
    code = (
        "import sys, eucaim_lab.modelling as m, eucaim_lab.widgets as w\n"
        "heavy = [k for k in ('sklearn', 'ipywidgets', 'matplotlib', 'joblib') if k in sys.modules]\n"
        "assert not heavy, heavy\n"
        "assert m.__all__ == sorted(m.__all__) and w.__all__ == sorted(w.__all__)\n"
        "missing = [n for n in m.__all__ + ['w.' + x for x in w.__all__] "
        "if not hasattr(w if n.startswith('w.') else m, n.removeprefix('w.'))]\n"
        "assert not missing, missing\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
