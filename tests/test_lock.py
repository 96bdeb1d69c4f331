"""The lock files agree with what they are resolved from, and pin everything pyproject.toml asks for."""

from __future__ import annotations

import importlib.util
import re
import sys
import tomllib
from pathlib import Path
from types import ModuleType

from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent


def _lock_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("lock_script", ROOT / "scripts" / "lock.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["lock_script"] = module
    spec.loader.exec_module(module)
    return module


lock = _lock_module()


def _pins(path: Path) -> dict[str, list[tuple[Version, str]]]:
    """name -> [(version, marker text)] of every pin of a lock file."""
    pins: dict[str, list[tuple[Version, str]]] = {}
    for line in path.read_text().splitlines():
        m = re.match(r"^([A-Za-z0-9_.-]+)==([^ ;\\]+)\s*(?:;\s*([^\\]+))?", line)
        if m:
            name = re.sub(r"[-_.]+", "-", m[1]).lower()
            pins.setdefault(name, []).append((Version(m[2]), (m[3] or "").strip()))
    return pins


def test_the_locks_match_their_sources() -> None:
    assert lock.check() == []


def test_an_edited_pyproject_is_found(tmp_path: Path) -> None:
    edited = tmp_path / "pyproject.toml"
    text = (ROOT / "pyproject.toml").read_text()
    edited.write_text(text.replace('"msgspec>=', '"left-pad>=1",\n  "msgspec>=', 1))
    assert lock.digest(lock.project_source(edited)) != lock.recorded(ROOT / "requirements.lock")
    # formatting and order alone change nothing
    reordered = tmp_path / "reordered.toml"
    reordered.write_text(text.replace("dependencies = [\n", "dependencies = [  # comment\n", 1))
    assert lock.project_source(reordered) == lock.project_source(ROOT / "pyproject.toml")


def test_every_requirement_is_pinned_in_the_lock_and_satisfied() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        wanted += extra
    pins = _pins(ROOT / "requirements.lock")
    env = default_environment()
    for text in wanted:
        req = Requirement(text)
        name = re.sub(r"[-_.]+", "-", req.name).lower()
        assert name in pins, f"{req.name} is required by pyproject.toml but not pinned in requirements.lock"
        versions = [v for v, marker in pins[name] if not marker or _holds(marker, env)]
        assert versions, f"no pin of {req.name} applies on this platform"
        for version in versions:
            assert req.specifier.contains(version, prereleases=True), f"{req.name}=={version} is not {req}"


def test_every_pin_has_a_hash() -> None:
    for path, _ in lock.LOCKS.values():
        blocks = re.split(r"\n(?=[A-Za-z0-9])", path.read_text())
        for block in blocks:
            if "==" in block.split("\n")[0]:
                assert "--hash=sha256:" in block, f"{path.name}: {block.splitlines()[0]} has no hash"


def _holds(marker: str, env: dict[str, str]) -> bool:
    from packaging.markers import Marker

    return Marker(marker).evaluate(env)  # type: ignore[arg-type]
