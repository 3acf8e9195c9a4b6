from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from access.access_helpers import standard_datasets


@pytest.fixture()
def lake(node: Any, tmp_path: Path) -> Any:
    """A node with datasets lung-a (hospital-a, IN_SITU), lung-b (hospital-b, DOWNLOAD), remote-c (REMOTE)."""
    standard_datasets(node, tmp_path)
    return node
