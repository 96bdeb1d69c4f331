"""The shared OpenRTB fixtures (README.md, MANIFEST.tsv): paths, verdicts and kinds."""

from __future__ import annotations

import csv
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(
    os.environ.get(
        "HEADWATER_OPENRTB_FIXTURES",
        Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "openrtb",
    )
)
PROVIDER = "headwater.example"


@dataclass(frozen=True)
class Fixture:
    name: str
    path: Path
    verdict: str
    expected_http: str
    note: str

    @property
    def text(self) -> bytes:
        return self.path.read_bytes()

    def json(self) -> Any:
        return json.loads(self.text)

    @property
    def kind(self) -> str:
        """request, response, fragment (a user/device snippet of the spec) or not-json."""
        try:
            value = self.json()
        except ValueError:
            return "not-json"
        if isinstance(value, dict) and "seatbid" in value:
            return "response"
        if isinstance(value, dict) and "id" not in value and "imp" not in value:
            return "fragment"
        return "request"


def manifest() -> list[Fixture]:
    with (ROOT / "MANIFEST.tsv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    fixtures = []
    for row in rows:
        folder = "iab" if row["source"].startswith("InteractiveAdvertisingBureau") else "bid-requests"
        fixtures.append(
            Fixture(
                row["file"], ROOT / folder / row["file"], row["verdict"], row["expected_http"], row["note"]
            )
        )
    return fixtures


def requests(valid: bool) -> list[Fixture]:
    """Bid requests the manifest calls VALID (valid=True), or INVALID ones and non-JSON bodies."""
    if valid:
        return [fx for fx in manifest() if fx.kind == "request" and fx.verdict.startswith("VALID")]
    return [fx for fx in manifest() if fx.verdict.startswith("INVALID")]
