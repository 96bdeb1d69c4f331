"""Every file the page loads ships in the wheel (the dashboard works offline, from the package)."""

from __future__ import annotations

import re
import subprocess
import sys
import zipfile
from pathlib import Path

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


def test_the_page_preloads_every_module_and_starts_from_app_js() -> None:
    from headwater.http.dashboard import MODULE_TAGS, STATIC_FILES, STATIC_PREFIX

    modules = {p.relative_to(STATIC).as_posix() for p in (STATIC / "js").rglob("*.js")}
    assert re.fullmatch(r"/dashboard/static/[0-9a-f]{12}/", STATIC_PREFIX)
    preloaded = re.findall(r'<link rel="modulepreload" href="' + STATIC_PREFIX + r'([\w/.-]+)">', MODULE_TAGS)
    assert set(preloaded) | {"js/app.js"} == modules and len(preloaded) == len(set(preloaded))
    assert MODULE_TAGS.endswith(f'<script type="module" src="{STATIC_PREFIX}js/app.js"></script>')
    assert set(STATIC_FILES) >= modules
    # every import of a module names a module that exists (a typo would load nothing in a browser)
    for name in modules:
        text = (STATIC / name).read_text()
        for target in re.findall(r'^import .* from "(\.{1,2}/[\w./-]+\.js)";$', text, re.M):
            resolved = (STATIC / name).parent.joinpath(target).resolve().relative_to(STATIC.resolve())
            assert resolved.as_posix() in modules, (name, target)
