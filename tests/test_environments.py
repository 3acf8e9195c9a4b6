"""The pinned environment covers what the package declares, and the specs and the lock agree."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from eucaim_lab.provenance._environment import read_lock

ROOT = Path(__file__).resolve().parents[1]
ENV = ROOT / "environments"


def _names(lines: list[str]) -> set[str]:
    out = set()
    for line in lines:
        line = line.split("#", 1)[0].strip()
        if not line or line.startswith("-r"):
            continue
        name = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", line).group(0)
        out.add(re.sub(r"[-_.]+", "-", name).lower())
    return out


def test_every_declared_dependency_is_in_the_kernel_spec_and_pinned():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = _names(project["dependencies"])
    kernel = _names((ENV / "kernel.in").read_text().splitlines())
    dev = _names((ENV / "dev.in").read_text().splitlines())
    pinned = set(read_lock(ENV / "requirements.lock"))
    assert declared - kernel == set(), "add these to environments/kernel.in"
    assert (kernel | dev) - pinned == set(), "pin these in environments/requirements.lock (make lock)"
    assert "itkwidgets" not in pinned  # it pins ipywidgets 7; see environments/README.md


def test_the_installed_environment_is_the_pinned_one():
    from eucaim_lab.provenance import check_environment

    report = check_environment(ENV / "requirements.lock")
    assert report.matches, str(report)
