"""Static type check of the finished modules (STYLE.md habit 14: types are checked, not decorative).

mypy reads its settings from ``[tool.mypy]`` in pyproject.toml: ``check_untyped_defs`` everywhere, complete
annotations required in the finished packages, and ``follow_imports = "silent"`` so a module that is not yet in
the list below is analysed for the types it exports but does not fail this test.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

# Modules and packages that pass mypy. Add a package when it passes; never remove one to make the test green.
CHECKED = (
    "eucaim_lab/_errors.py",
    "eucaim_lab/_config.py",
    "eucaim_lab/_node.py",
    "eucaim_lab/cli.py",
    "eucaim_lab/_lab_cli.py",
    "eucaim_lab/_provenance_cli.py",
    "eucaim_lab/catalogue",
    "eucaim_lab/imaging",
    "eucaim_lab/demo",
    "eucaim_lab/provenance",
    "eucaim_lab/__init__.py",
    "eucaim_lab/access",
    "eucaim_lab/checkout",
    "eucaim_lab/radiomics",
    "eucaim_lab/sandbox",
    "eucaim_lab/modelling",
    "eucaim_lab/widgets",
)

ROOT = Path(__file__).resolve().parents[1]


def test_checked_modules_exist() -> None:
    # a renamed or moved module must not silently drop out of the check
    missing = [entry for entry in CHECKED if not (ROOT / entry).exists()]
    assert not missing, f"Listed for type checking but not in the tree: {missing}"


def test_mypy_passes_on_checked_modules() -> None:
    # the cache lives in the repository (.mypy_cache/, git-ignored): a warm run takes a few seconds
    proc = subprocess.run(
        [sys.executable, "-m", "mypy", "--no-error-summary", "--show-error-codes", *CHECKED],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    report = (proc.stdout + proc.stderr).strip()
    assert proc.returncode == 0, f"mypy found type errors (exit {proc.returncode}):\n{report}"


def test_the_check_can_fail(tmp_path: Path) -> None:
    # the same configuration rejects a wrong annotation and an unannotated function in a checked package,
    # so a green run above means something
    pkg = tmp_path / "eucaim_lab" / "catalogue"
    pkg.mkdir(parents=True)
    (tmp_path / "eucaim_lab" / "__init__.py").write_text("")
    (pkg / "__init__.py").write_text("")
    (pkg / "_bad.py").write_text('def count() -> int:\n    return "three"\n\n\ndef untyped(x):\n    return x\n')
    proc = subprocess.run(
        [sys.executable, "-m", "mypy", "--config-file", str(ROOT / "pyproject.toml"),
         "--cache-dir", str(tmp_path / "cache"), "eucaim_lab/catalogue/_bad.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "[return-value]" in proc.stdout
    assert "[no-untyped-def]" in proc.stdout


def test_checked_modules_get_the_strict_settings() -> None:
    # a package added to CHECKED must also be named in the strict [[tool.mypy.overrides]] of pyproject.toml
    import fnmatch
    import tomllib

    overrides = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mypy"]["overrides"]
    strict = [p for o in overrides if o.get("disallow_untyped_defs") for p in o["module"]]
    uncovered = []
    for entry in CHECKED:
        module = entry.removesuffix(".py").replace("/", ".").removesuffix(".__init__")
        probe = module if entry.endswith(".py") else module + ".x"
        if not any(fnmatch.fnmatchcase(probe, pattern) for pattern in strict):
            uncovered.append(module)
    assert not uncovered, f"Type-checked but not in the strict mypy override of pyproject.toml: {uncovered}"
