"""The abstract values the offline rewriter tracks while it walks a messy script.

Row-level values (``RowVal``, ``RowList``, ``RowDict``) stand for what a loop variable holds
for one row; their code reads columns as ``row["column"]``. Relation-level values (``Rel``,
``Keyed``, ``Source``) stand for whole collections; feature values (``Arr`` and its kinds)
stand for arrays with one entry per prepared row.

Examples
--------
>>> value = RowVal.column("title")
>>> value.columns, value.source
({'title'}, "row['title']")
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from typing import Any


def column_ref(name: str) -> ast.expr:
    """``row["name"]`` as an expression node."""
    return ast.Subscript(ast.Name("row", ast.Load()), ast.Constant(name), ast.Load())


def referenced_columns(node: ast.AST) -> set[str]:
    """The columns an expression reads through ``row["..."]``."""
    found = set()
    for sub in ast.walk(node):
        if (
            isinstance(sub, ast.Subscript)
            and isinstance(sub.value, ast.Name)
            and sub.value.id == "row"
            and isinstance(sub.slice, ast.Constant)
        ):
            found.add(sub.slice.value)
    return found


@dataclass
class RowVal:
    """A per-row value: an expression over the current row's columns."""

    code: ast.expr
    hint: str | None = None

    @classmethod
    def column(cls, name: str) -> RowVal:
        """The value of one column."""
        return cls(column_ref(name), hint=name)

    @property
    def columns(self) -> set[str]:
        """Columns the expression reads."""
        return referenced_columns(self.code)

    @property
    def source(self) -> str:
        """The expression as Python source."""
        return ast.unparse(self.code)

    @property
    def plain_column(self) -> str | None:
        """The column name when the value is exactly one column."""
        code = self.code
        if (
            isinstance(code, ast.Subscript)
            and isinstance(code.value, ast.Name)
            and code.value.id == "row"
            and isinstance(code.slice, ast.Constant)
        ):
            return code.slice.value
        return None


@dataclass
class RowList:
    """A per-row list or tuple (a split line, a csv.reader record, a built list)."""

    items: list[Any]


@dataclass
class RowDict:
    """A per-row dict (a DictReader record, a built dict)."""

    items: dict[str, Any]


@dataclass
class Line:
    """A raw text line of a source file, not yet split."""

    source: Source


@dataclass
class Source:
    """A file the script reads."""

    name: str
    path: str
    header: list[str] | None
    line: int
    skip_header: bool = False
    parser: str = "split"  # split | csv | dict
    separator: str = ","
    read: bool = False


@dataclass
class Handle:
    """An open file (read or write)."""

    path: str
    writing: bool
    source: Source | None = None


@dataclass
class Reader:
    """A csv.reader / csv.DictReader over a source."""

    source: Source
    kind: str


@dataclass
class DictWriterValue:
    """A csv.DictWriter with its field names (a csv.writer: ``fieldnames`` is None)."""

    path: str
    fieldnames: list[str] | None
    header: bool = False


@dataclass
class Rel:
    """A collection built by a loop: the tracked frame ``var`` and the shape of an element."""

    var: str
    shape: Any
    columns: list[str] = field(default_factory=list)


@dataclass
class Keyed:
    """A dict built in a loop: frame ``var``, one row per ``key`` column, value shape."""

    var: str
    key: str
    shape: Any
    dict_name: str
    keep: str = "last"
    count: str | None = None  # a counting dict: the column holding the count


@dataclass
class Joined:
    """A keyed collection looked up from a row: pending or done join with the current frame."""

    keyed: Keyed
    probe: RowVal
    default: ast.expr | None = None
    indicator: str | None = None
    mapping: dict[str, str] | None = None  # right column -> column in the joined frame


@dataclass
class Counts:
    """A counting dict: frame ``var`` with columns ``key`` and ``count``."""

    var: str
    key: str
    count: str


@dataclass
class Scalar:
    """A value computed once in the data preparation (a Python variable there)."""

    name: str


@dataclass
class Const:
    """A module constant or a literal known at rewrite time."""

    code: ast.expr


@dataclass
class Arr:
    """An array with one entry (scalar or vector) per prepared row.

    ``kind`` is ``row`` (``code`` per row), ``zscore``/``minmax`` (of ``parts[0]``),
    ``onehot`` (of ``parts[0]`` with ``categories``), ``blocks`` (horizontal
    concatenation of ``parts``), ``op`` (an unrecognised array expression).
    """

    kind: str
    code: ast.expr | None = None
    parts: list[Any] = field(default_factory=list)
    ddof: int = 0
    categories: ast.expr | None = None
    unknown: str = "ignore"
    op: ast.operator | None = None


@dataclass
class Stat:
    """A statistic (mean, std, min, max) of a per-row array."""

    fn: str
    of: Arr
    ddof: int = 0


@dataclass
class ArrOp:
    """An element-wise operation between arrays and statistics."""

    op: ast.operator
    left: Any
    right: Any


@dataclass
class RowIndex:
    """The row index ``i`` of a loop over ``range(len(rows))``."""


@dataclass
class OneHotRow:
    """A per-row one-hot list being filled (``np.zeros`` / ``[0.0] * k``)."""

    size: ast.expr
    value: Any = None
    categories: ast.expr | None = None
    unknown: str = "error"


@dataclass
class Vector:
    """A per-row feature vector assembled from pieces (arrays, one-hots)."""

    pieces: list[Any] = field(default_factory=list)
