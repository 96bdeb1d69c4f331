"""A formula over a trend's series (``A / B``, ``(A - B) / A * 100``): parsed by Python's own parser
into a tree that may hold only numbers, the names of series (one capital letter), ``+ - * /``, a
sign and parentheses; evaluated by walking that tree. Nothing is ever ``eval``-ed.

A division by zero, a series without a value (an average of nothing) or a result that is not a
finite number gives ``None`` (JSON null), never an error.
"""

from __future__ import annotations

import ast
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass

from headwater.lake.params import MetricError

MAX_LENGTH = 500
_NAME = re.compile(r"[A-Z]")
_OPERATORS = (ast.Add, ast.Sub, ast.Mult, ast.Div)


@dataclass(frozen=True, slots=True)
class Formula:
    text: str
    tree: ast.expr
    names: frozenset[str]

    def evaluate(self, values: Mapping[str, float | int | None]) -> float | None:
        """The formula's value for these series values (None: undefined, see the module doc)."""
        try:
            result = _walk(self.tree, values)
        except (ZeroDivisionError, OverflowError):
            return None
        if result is None or not math.isfinite(result):
            return None
        return result


def parse_formula(text: object, series: tuple[str, ...], field: str = "formula") -> Formula:
    """The formula ``text`` over the series named ``series``; a MetricError naming ``field`` when it
    is not one (a name that is no series, a token that is not allowed, bad syntax)."""
    if not isinstance(text, str) or not text.strip():
        raise MetricError("bad_field", f"field {field!r} must be a non-empty string such as 'A / B'")
    if len(text) > MAX_LENGTH:
        raise MetricError("bad_field", f"field {field!r} may hold at most {MAX_LENGTH} characters")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        raise MetricError(
            "bad_field", f"field {field!r} is not a formula: {text!r} (example: (A - B) / A * 100)"
        ) from None
    names: set[str] = set()
    try:
        _check(tree.body, set(series), names, field)
    except RecursionError:
        raise MetricError("bad_field", f"field {field!r} nests too deep") from None
    return Formula(text.strip(), tree.body, frozenset(names))


def _check(node: ast.AST, known: set[str], names: set[str], field: str) -> None:
    if isinstance(node, ast.BinOp):
        if not isinstance(node.op, _OPERATORS):
            raise _refused(field, _token(node.op))
        _check(node.left, known, names, field)
        _check(node.right, known, names, field)
    elif isinstance(node, ast.UnaryOp):
        if not isinstance(node.op, ast.USub | ast.UAdd):
            raise _refused(field, _token(node.op))
        _check(node.operand, known, names, field)
    elif isinstance(node, ast.Constant):
        value = node.value
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise _refused(field, repr(value))
        try:
            if not math.isfinite(float(value)):
                raise OverflowError
        except OverflowError:
            raise MetricError("bad_field", f"field {field!r}: the number {value!r} is too large") from None
    elif isinstance(node, ast.Name):
        if not _NAME.fullmatch(node.id):
            raise _refused(field, node.id)
        if node.id not in known:
            listed = ", ".join(sorted(known))
            raise MetricError(
                "bad_field", f"field {field!r} names series {node.id!r}, which is not one (series: {listed})"
            )
        names.add(node.id)
    else:
        raise _refused(field, type(node).__name__)


def _token(op: ast.AST) -> str:
    return {
        ast.Pow: "**",
        ast.Mod: "%",
        ast.FloorDiv: "//",
        ast.MatMult: "@",
        ast.BitAnd: "&",
        ast.BitOr: "|",
        ast.BitXor: "^",
        ast.LShift: "<<",
        ast.RShift: ">>",
        ast.Invert: "~",
        ast.Not: "not",
    }.get(type(op), type(op).__name__)


def _refused(field: str, token: str) -> MetricError:
    return MetricError(
        "bad_field",
        f"field {field!r} may hold only numbers, series names (A-Z), + - * / and parentheses: not {token}",
    )


def _walk(node: ast.expr, values: Mapping[str, float | int | None]) -> float | None:
    if isinstance(node, ast.Constant):
        assert isinstance(node.value, int | float)  # _check let nothing else through
        return float(node.value)
    if isinstance(node, ast.Name):
        value = values.get(node.id)
        return None if value is None else float(value)
    if isinstance(node, ast.UnaryOp):
        operand = _walk(node.operand, values)
        if operand is None:
            return None
        return -operand if isinstance(node.op, ast.USub) else operand
    assert isinstance(node, ast.BinOp)
    left = _walk(node.left, values)
    right = _walk(node.right, values)
    if left is None or right is None:
        return None
    if isinstance(node.op, ast.Add):
        return left + right
    if isinstance(node.op, ast.Sub):
        return left - right
    if isinstance(node.op, ast.Mult):
        return left * right
    return left / right  # ZeroDivisionError: None (Formula.evaluate)
