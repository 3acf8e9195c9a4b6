"""Fixtures shared by every test: an isolated local node, and the shared open test data where present."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("EUCAIM_SHARED_DATA", REPO.parent / "shared" / "data"))


@pytest.fixture()
def node_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty local node in a temporary folder, also exported as $EUCAIM_LAB_HOME."""
    home = tmp_path / "node"
    monkeypatch.setenv("EUCAIM_LAB_HOME", str(home))
    monkeypatch.setenv("EUCAIM_LAB_USER", "researcher")
    return home


@pytest.fixture()
def node(node_home: Path):
    from eucaim_lab._node import Node

    n = Node(node_home)
    yield n
    n.close()


def shared_data(*parts: str) -> Path:
    """Path inside ../shared/data, or skip the test saying what is missing."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"shared test data not found at {path} (set EUCAIM_SHARED_DATA to ../shared/data)")
    return path


@pytest.fixture(scope="session")
def shared_data_dir() -> Path:
    if not SHARED_DATA.exists():
        pytest.skip(f"shared test data not found at {SHARED_DATA} (set EUCAIM_SHARED_DATA to ../shared/data)")
    return SHARED_DATA
