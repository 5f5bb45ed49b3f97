"""Filter strings in pandas query syntax: which columns they read, which ``@names`` they bind.

``@name`` resolves from the caller's scope when ``filter`` is called (locals, then
globals), so pipeline code needs no ``make_accessible(locals(), globals())``. The bound
values are kept in the plan, which makes the filter re-executable later (delta execution,
other engines) with exactly the values it first ran with.

Examples
--------
>>> analysis = analyse_filter("country in @targets and level == 'premium'")
>>> analysis.columns, analysis.variables
(('country', 'level'), ('targets',))
"""

from __future__ import annotations

import ast
import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import FrameType
from typing import Any

from lester.errors import InvalidExpressionError

_AT_NAME = re.compile(r"@([A-Za-z_][A-Za-z0-9_]*)")
_BACKTICK = re.compile(r"`([^`]*)`")
_VARIABLE_PREFIX = "__lester_at_"
_QUOTED_PREFIX = "__lester_quoted_"
_CONSTANTS = {"True", "False", "None", "inf", "nan", "NaN"}


@dataclass(frozen=True)
class FilterAnalysis:
    """What a filter string refers to.

    Attributes
    ----------
    columns: the column names it reads, in order of first use.
    variables: the ``@`` names it binds, in order of first use.
    """

    columns: tuple[str, ...]
    variables: tuple[str, ...]


def analyse_filter(expression: str) -> FilterAnalysis:
    """Parse a pandas query string and report the columns and ``@`` variables it uses.

    Raises :class:`InvalidExpressionError` when the string is not a valid expression.

    Examples
    --------
    >>> analyse_filter("`first name`.str.startswith('A') and age >= @limit").columns
    ('first name', 'age')
    >>> analyse_filter("age >=")
    Traceback (most recent call last):
    ...
    lester.errors.InvalidExpressionError: invalid filter expression 'age >=': ...
    """
    tree, quoted = parse_filter(expression)
    columns: dict[str, None] = {}
    variables: dict[str, None] = {}
    called = {id(node.func) for node in ast.walk(tree) if isinstance(node, ast.Call)}
    for node in ast.walk(tree):
        if not isinstance(node, ast.Name) or id(node) in called:
            continue
        if node.id.startswith(_VARIABLE_PREFIX):
            variables[node.id.removeprefix(_VARIABLE_PREFIX)] = None
        elif node.id in quoted:
            columns[quoted[node.id]] = None
        elif node.id not in _CONSTANTS:
            columns[node.id] = None
    ordered = _in_source_order(expression, quoted, columns)
    return FilterAnalysis(ordered, tuple(variables))


def variable_of(identifier: str) -> str | None:
    """The ``@`` variable an AST name stands for, or ``None`` for other names.

    Examples
    --------
    >>> variable_of(parse_filter("a in @targets")[0].body.comparators[0].id)
    'targets'
    """
    return (
        identifier.removeprefix(_VARIABLE_PREFIX)
        if identifier.startswith(_VARIABLE_PREFIX)
        else None
    )


def parse_filter(expression: str) -> tuple[ast.Expression, dict[str, str]]:
    """Parse a pandas query string into a Python AST and the backtick-quoted names.

    Examples
    --------
    >>> tree, quoted = parse_filter("`first name` == 'A'")
    >>> list(quoted.values())
    ['first name']
    """
    if not isinstance(expression, str) or not expression.strip():
        raise InvalidExpressionError(
            f"a filter expression must be a non-empty string, got {expression!r}"
        )
    quoted: dict[str, str] = {}

    def quote(match: re.Match[str]) -> str:
        placeholder = f"{_QUOTED_PREFIX}{len(quoted)}"
        quoted[placeholder] = match.group(1)
        return placeholder

    python_source = _AT_NAME.sub(lambda m: _VARIABLE_PREFIX + m.group(1), expression)
    python_source = _BACKTICK.sub(quote, python_source)
    try:
        tree = ast.parse(python_source.strip(), mode="eval")
    except SyntaxError as error:
        raise InvalidExpressionError(
            f"invalid filter expression {expression!r}: {error.msg}; expected a pandas query "
            f"such as \"country in @target_countries and level == 'premium'\""
        ) from None
    return tree, quoted


def _in_source_order(expression: str, quoted: dict[str, str], columns: dict[str, None]) -> tuple:
    """ast.walk is breadth-first; report columns in the order they are written."""

    def position(name: str) -> int:
        found = expression.find(f"`{name}`") if name in quoted.values() else -1
        if found < 0:
            match = re.search(rf"(?<![@\w]){re.escape(name)}(?!\w)", expression)
            found = match.start() if match else len(expression)
        return found

    return tuple(sorted(columns, key=position))


def bind_variables(names: tuple[str, ...], caller: FrameType | None) -> dict[str, Any]:
    """Resolve ``@`` names in the caller's frame: locals first, then globals.

    Examples
    --------
    >>> import sys
    >>> limit = 3
    >>> bind_variables(("limit",), sys._getframe())
    {'limit': 3}
    """
    bound: dict[str, Any] = {}
    scopes: list[Mapping[str, Any]] = [caller.f_locals, caller.f_globals] if caller else []
    for name in names:
        for scope in scopes:
            if name in scope:
                bound[name] = scope[name]
                break
        else:
            raise InvalidExpressionError(
                f"filter refers to @{name}, but no variable {name!r} exists where filter was "
                f"called; define it before the call or pass its value in the expression"
            )
    return bound
