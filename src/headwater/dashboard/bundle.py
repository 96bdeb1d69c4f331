"""The page's ES modules joined into one script when the server starts, so a first load costs
one request for the code instead of one per module (20 on a cold browser cache).

The modules stay the source (static/js/, no build step); this only rewrites the two import forms
and the export form they use, and refuses anything else, so a new construct fails at start-up
(and in the tests) rather than in a browser:

- ``import { a, b } from "./x.js";`` -> ``const { a, b } = __modules["x.js"];``
- ``import * as ns from "./x.js";`` -> ``const ns = __modules["x.js"];``
- ``export function|async function|class|const|let NAME`` -> the declaration, and NAME in the
  object the module's function returns.

Each module runs in its own function scope, dependencies first, once, in the order a browser
would evaluate them (depth-first from the entry).
"""

from __future__ import annotations

import posixpath
import re

_NAMED = re.compile(r'^import \{ ([\w$, ]+) \} from "(\.{1,2}/[\w./-]+\.js)";$')
_NAMESPACE = re.compile(r'^import \* as ([\w$]+) from "(\.{1,2}/[\w./-]+\.js)";$')
_EXPORT = re.compile(r"^export (?:async function\*?|function\*?|class|const|let) ([\w$]+)")


class BundleError(ValueError):
    pass


def _resolve(module: str, target: str) -> str:
    return posixpath.normpath(posixpath.join(posixpath.dirname(module), target))


def _imports(source: str) -> list[tuple[str, str, str]]:
    """(kind, binding, target) of each import line, in order."""
    out = []
    for line in source.splitlines():
        if (m := _NAMED.match(line)) is not None:
            out.append(("named", m.group(1), m.group(2)))
        elif (m := _NAMESPACE.match(line)) is not None:
            out.append(("namespace", m.group(1), m.group(2)))
    return out


def _order(sources: dict[str, str], entry: str) -> list[str]:
    order: list[str] = []
    visiting: list[str] = []

    def visit(module: str) -> None:
        if module in order:
            return
        if module in visiting:
            raise BundleError(f"import cycle: {' -> '.join([*visiting, module])}")
        if module not in sources:
            raise BundleError(
                f"{visiting[-1] if visiting else 'entry'} imports {module}, which does not exist"
            )
        visiting.append(module)
        for _, _, target in _imports(sources[module]):
            visit(_resolve(module, target))
        visiting.pop()
        order.append(module)

    visit(entry)
    return order


def _rewrite(module: str, source: str) -> str:
    body, names = [], []
    for number, line in enumerate(source.splitlines(), 1):
        if (m := _NAMED.match(line)) is not None:
            body.append(f"const {{ {m.group(1)} }} = __modules[{_resolve(module, m.group(2))!r}];")
        elif (m := _NAMESPACE.match(line)) is not None:
            body.append(f"const {m.group(1)} = __modules[{_resolve(module, m.group(2))!r}];")
        elif (m := _EXPORT.match(line)) is not None:
            names.append(m.group(1))
            body.append(line.removeprefix("export "))
        elif re.match(r"^\s*(import|export)\b", line) or re.search(r"\bimport\s*\(", line):
            raise BundleError(f"{module}:{number}: a form the bundler does not rewrite: {line.strip()}")
        else:
            body.append(line)
    text = "\n".join(body)
    return f"__modules[{module!r}] = (() => {{\n{text}\nreturn {{ {', '.join(names)} }};\n}})();\n"


def bundle(sources: dict[str, str], entry: str) -> str:
    """One module script from ``sources`` (path relative to the js folder -> text), from ``entry``."""
    parts = [
        "// The dashboard's modules in one script (headwater/dashboard/bundle.py).\n",
        "const __modules = {};\n",
    ]
    parts += [_rewrite(module, sources[module]) for module in _order(sources, entry)]
    return "".join(parts)
