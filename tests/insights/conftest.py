from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.insights.data import build


@pytest.fixture(scope="session")
def lake(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict[str, Any]]]:
    """The generated log (tests/insights/data.py), loaded but for its last day: (data dir, lines)."""
    data = tmp_path_factory.mktemp("insights") / "data"
    return data, build(data)
