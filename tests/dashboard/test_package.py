"""Every file the page loads ships in the wheel (the dashboard works offline, from the package)."""

from __future__ import annotations

import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.helpers import ROOT

STATIC = ROOT / "src" / "headwater" / "dashboard" / "static"


def test_the_wheel_holds_every_static_file(tmp_path: Path) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            str(ROOT),
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = tmp_path.glob("headwater-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = {
        f"headwater/dashboard/static/{p.relative_to(STATIC).as_posix()}"
        for p in STATIC.rglob("*")
        if p.is_file()
    }
    assert len(expected) > 15 and expected <= names, sorted(expected - names)


def test_the_page_references_nothing_outside_the_package() -> None:
    for path in STATIC.rglob("*"):
        if path.suffix in (".html", ".css", ".js"):
            text = path.read_text()
            assert (
                "http://" not in text.replace("http://www.w3.org/2000/svg", "") and "https://" not in text
            ), path
            assert "@import" not in text and "url(" not in text, path


def test_the_modules_are_served_as_one_script() -> None:
    from headwater.dashboard.bundle import BundleError, bundle
    from headwater.dashboard.routes import STATIC_FILES

    text = STATIC_FILES["js/bundle.js"][0].decode()
    modules = {p.relative_to(STATIC / "js").as_posix() for p in (STATIC / "js").rglob("*.js")}
    bundled = re.findall(r"^__modules\['([\w/.-]+)'\] = ", text, re.M)
    assert set(bundled) == modules and bundled[-1] == "app.js"  # every module, the entry last
    assert bundled.index("dom.js") < bundled.index("charts.js")  # dependencies first
    assert "\nimport " not in text and "\nexport " not in text
    for bad in ("export default 1;\n", 'import x from "./a.js";\n', 'const m = import("./a.js");\n'):
        with pytest.raises(BundleError):
            bundle({"app.js": bad, "a.js": ""}, "app.js")
    with pytest.raises(BundleError, match="cycle"):
        bundle(
            {"app.js": 'import { a } from "./a.js";\n', "a.js": 'import { b } from "./app.js";\n'}, "app.js"
        )
