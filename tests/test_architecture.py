"""The house rules of DESIGN section 9, checked on every run: no import cycle between modules, no
module over 450 lines, drivers only in the stores and the pure domain free of frameworks (ruff's
banned-api rules, whose configuration is checked here by linting probe sources at those paths)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import ROOT

SRC = ROOT / "src" / "headwater"
RUFF = Path(sys.executable).parent / "ruff"


def _modules() -> dict[str, Path]:
    out = {}
    for path in SRC.rglob("*.py"):
        parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def _imports(name: str, path: Path, known: set[str]) -> set[str]:
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*up, *([node.module] if node.module else [])])
            targets = [base, *(f"{base}.{a.name}" for a in node.names)]
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def test_no_import_cycle() -> None:
    modules = _modules()
    graph = {m: _imports(m, p, set(modules)) for m, p in modules.items()}
    # Tarjan's strongly connected components, iteratively
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    cycles: list[list[str]] = []
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    cycles.append(sorted(component))
    assert cycles == []


def test_no_module_over_450_lines() -> None:
    large = {m: n for m, p in _modules().items() if (n := len(p.read_text().splitlines())) > 450}
    assert large == {}


@pytest.mark.parametrize(
    ("path", "source", "banned"),
    [
        ("src/headwater/audiences/probe.py", "import redis\n", True),
        ("src/headwater/metrics/probe.py", "import psycopg\n", True),
        ("src/headwater/http/probe.py", "import sqlite3\n", True),
        ("src/headwater/stores/live/redis/probe.py", "import redis\n", False),
        ("src/headwater/events/probe.py", "import duckdb\n", True),
        ("src/headwater/events/probe.py", "from starlette.requests import Request\n", True),
        ("src/headwater/targeting/probe.py", "from headwater.stores.live import open_live\n", True),
        ("src/headwater/targeting/probe.py", "import redis\n", True),
        ("src/headwater/experiments/probe.py", "import typer\n", True),
        ("src/headwater/lake/probe.py", "import duckdb\n", False),
    ],
)
def test_drivers_and_frameworks_stay_where_they_belong(path: str, source: str, banned: bool) -> None:
    done = subprocess.run(
        [str(RUFF), "check", "--select", "TID251", "--stdin-filename", path, "-"],
        input=source,
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert ("TID251" in done.stdout) is banned, done.stdout + done.stderr
