from __future__ import annotations

from tests.insights.conftest import lake  # noqa: F401 - the generated lake, for the CLI's tests
