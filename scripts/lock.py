"""The lock files: every dependency pinned, with hashes, so an install never resolves anew.

    python scripts/lock.py            re-resolve, keeping every pin that still satisfies pyproject.toml
    python scripts/lock.py --upgrade  re-resolve to the newest releases (``make upgrade``)
    python scripts/lock.py --check    exit 1, naming the difference, when a lock and its source disagree

Three locks, each resolved by uv (``uv pip compile --universal --generate-hashes``: one file valid on
every platform, resolved in about a second, installed by plain pip with ``--require-hashes``):

- ``requirements.lock``: the project with every extra (runtime, drivers, test, dev), from pyproject.toml;
- ``requirements-gbstats.lock``: the test-only reference venv of GrowthBook's stats engine
  (scripts/gbstats-venv.sh), from GBSTATS below;
- ``requirements-bqemulator.lock``: the test-only BigQuery emulator's venv (scripts/bqemulator-venv.sh),
  from BQEMULATOR below (it pins its own DuckDB, older than the project's).

Each lock's first line records the SHA-256 of what it was resolved from, so ``--check`` (and
tests/test_lock.py) finds a pyproject.toml edited without re-locking, offline.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import subprocess
import sys
import tempfile
import tomllib
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = "3.11"
#: GrowthBook's stats engine pins pandas < 2 and numpy < 2 and installs on Python <= 3.11 only.
GBSTATS = ["gbstats==0.8.0", "numpy<2", "pandas<2"]
#: The BigQuery emulator of the warehouse tests, with the DuckDB (and its spatial extension) it needs.
BQEMULATOR = ["bqemulator==1.4.0", "duckdb==1.5.5", "duckdb-extension-spatial==1.5.5", "numpy"]
#: Test-only venvs, each from a list of requirements: name -> (requirements, what to edit)
REFERENCE: dict[str, tuple[list[str], str]] = {
    "gbstats": (GBSTATS, "GBSTATS in scripts/lock.py"),
    "bqemulator": (BQEMULATOR, "BQEMULATOR in scripts/lock.py"),
}
MARK = "# source-sha256: "


def project_source(pyproject: Path = ROOT / "pyproject.toml") -> str:
    """What requirements.lock is resolved from, as canonical text (order and formatting ignored)."""
    project = tomllib.loads(pyproject.read_text())["project"]
    source = {
        "requires-python": project.get("requires-python", ""),
        "dependencies": sorted(project.get("dependencies", [])),
        "optional-dependencies": {k: sorted(v) for k, v in project.get("optional-dependencies", {}).items()},
    }
    return json.dumps(source, sort_keys=True)


def reference_source(name: str) -> str:
    return json.dumps(sorted(REFERENCE[name][0]))


def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


LOCKS: dict[str, tuple[Path, str]] = {
    "project": (ROOT / "requirements.lock", "project"),
    "gbstats": (ROOT / "requirements-gbstats.lock", "gbstats"),
    "bqemulator": (ROOT / "requirements-bqemulator.lock", "bqemulator"),
}


def source_of(name: str) -> str:
    return project_source() if name == "project" else reference_source(name)


def recorded(lock: Path) -> str | None:
    try:
        first = lock.read_text().splitlines()[0]
    except (OSError, IndexError):
        return None
    return first[len(MARK) :].strip() if first.startswith(MARK) else None


def check() -> list[str]:
    """The locks that disagree with their source, each with what to do."""
    problems = []
    for name, (lock, _) in LOCKS.items():
        want = digest(source_of(name))
        have = recorded(lock)
        if have != want:
            what = "pyproject.toml" if name == "project" else REFERENCE[name][1]
            problems.append(f"{lock.name} was not resolved from the current {what}: run `make lock`")
    return problems


def uv() -> str:
    found = Path(sys.executable).parent / "uv"
    if found.exists():
        return str(found)
    sys.exit("uv is not installed in this environment: `make install` installs it (the dev extra)")


def compile_lock(name: str, upgrade: bool) -> None:
    lock, _ = LOCKS[name]
    args: list[str] = [
        uv(),
        "pip",
        "compile",
        "--quiet",
        "--universal",
        "--generate-hashes",
        "--python-version",
        PYTHON,
        "--no-header",
        "--output-file",
        str(lock),
    ]
    if upgrade:
        args.append("--upgrade")
    with tempfile.TemporaryDirectory() as tmp:
        if name == "project":
            args += [str(ROOT / "pyproject.toml"), "--all-extras"]
        else:
            spec = Path(tmp) / f"{name}.in"
            spec.write_text("\n".join(REFERENCE[name][0]) + "\n")
            args.append(str(spec))
        if lock.exists():  # uv keeps the pins of an existing output file unless told to upgrade
            body = lock.read_text().splitlines()
            lock.write_text("\n".join(line for line in body if not line.startswith(MARK)) + "\n")
        subprocess.run(args, check=True, cwd=ROOT)
    # the temporary folder's path would change on every resolve (and is this machine's): name the file only
    text = re.sub(r"-r \S*/([A-Za-z0-9_-]+\.in)", r"-r \1", lock.read_text())
    header = (
        f"{MARK}{digest(source_of(name))}\n"
        "# Generated by scripts/lock.py (make lock / make upgrade); do not edit by hand.\n"
    )
    lock.write_text(header + text)
    print(f"wrote {lock.relative_to(ROOT)}")


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--upgrade", action="store_true", help="take the newest releases")
    ap.add_argument("--check", action="store_true", help="only check that the locks match their sources")
    args = ap.parse_args(argv)
    if args.check:
        problems = check()
        for p in problems:
            print(p, file=sys.stderr)
        return 1 if problems else 0
    for name in LOCKS:
        compile_lock(name, args.upgrade)
    return 0


if __name__ == "__main__":
    sys.exit(main())
