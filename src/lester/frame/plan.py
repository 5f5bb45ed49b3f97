"""The logical plan: one node per operator, with its schema and column provenance.

Nodes only describe *what* to compute; an engine (:mod:`lester.engine`) executes them.
Each node knows its output columns, the source columns every output column is computed
from (``column_provenance``) and the source columns that decide which rows appear
(``row_dependencies``: filter predicates, join keys, group keys, ...). Both are derived
statically, so they hold for any engine.

Examples
--------
>>> source = Source("customers", ("id", "level"), primary_key="id")
>>> node = Project(source, "is_premium", ("level",), func=lambda row: row["level"] == "premium")
>>> node.column_provenance["is_premium"]
('customers.level',)
>>> print(Plan(node))
Project[is_premium <- level]
└─ Source[customers key=id]
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from lester.errors import SchemaError, UnknownColumnError, describe_names

AGGREGATES = ("count", "sum", "mean", "min", "max")

ColumnProvenance = dict[str, tuple[str, ...]]


def check_columns(wanted: Sequence[str], available: Sequence[str], what: str) -> None:
    """Raise :class:`UnknownColumnError` naming unknown ``wanted`` columns and what exists.

    Examples
    --------
    >>> check_columns(["x"], ["a", "b"], "selection")
    Traceback (most recent call last):
    ...
    lester.errors.UnknownColumnError: unknown column 'x' in selection; columns are ['a', 'b']
    """
    unknown = [column for column in wanted if column not in available]
    if unknown:
        label = "column" if len(unknown) == 1 else "columns"
        names = repr(unknown[0]) if len(unknown) == 1 else describe_names(unknown)
        raise UnknownColumnError(
            f"unknown {label} {names} in {what}; columns are {describe_names(available)}"
        )


def _union(*groups: Sequence[str]) -> tuple[str, ...]:
    return tuple(sorted({name for group in groups for name in group}))


class PlanNode:
    """Base class of plan nodes; subclasses set the derived fields in ``__init__``.

    Attributes
    ----------
    children: the input nodes.
    columns: the output columns, in order.
    column_provenance: output column -> sorted ``source.column`` names it is computed from.
    row_dependencies: sorted ``source.column`` names that decide which rows appear.
    """

    label: ClassVar[str] = "Node"
    children: tuple[PlanNode, ...]
    columns: tuple[str, ...]
    column_provenance: ColumnProvenance
    row_dependencies: tuple[str, ...]

    def _inherit(self, *children: PlanNode) -> None:
        self.children = children
        self.row_dependencies = _union(*(child.row_dependencies for child in children))

    def _credit(self, columns: Sequence[str]) -> tuple[str, ...]:
        """Source columns behind the given input columns of the (single) child."""
        child = self.children[0]
        return _union(*(child.column_provenance[column] for column in columns))

    def describe(self) -> str:
        """One line describing this node (without its children)."""
        return self.label

    def sources(self) -> list[Source]:
        """The source nodes below this node, each once, in plan order."""
        found: dict[int, Source] = {}
        stack: list[PlanNode] = [self]
        while stack:
            node = stack.pop()
            if isinstance(node, Source):
                found.setdefault(id(node), node)
            stack.extend(reversed(node.children))
        return list(found.values())

    @property
    def is_monotone(self) -> bool:
        """Whether this node's subtree is positive relational algebra (no aggregate, no
        outer join): then deleting source tuples only deletes output rows."""
        return all(child.is_monotone for child in self.children)


class Source(PlanNode):
    """A relational input: a file read or a pandas frame handed in.

    Examples
    --------
    >>> Source("mails", ("id", "text")).column_provenance["text"]
    ('mails.text',)
    """

    label = "Source"

    def __init__(
        self,
        name: str,
        columns: Sequence[str],
        primary_key: str | None = None,
        path: str | None = None,
        reader: str = "pandas",
        reader_options: Mapping[str, Any] | None = None,
        data: Any = None,
    ) -> None:
        if primary_key is not None:
            check_columns([primary_key], columns, f"primary_key of source {name!r}")
        self.name, self.primary_key, self.path = name, primary_key, path
        self.reader, self.reader_options = reader, dict(reader_options or {})
        self.data = data  # the table of an in-memory source (reader "memory")
        self.children = ()
        self.columns = tuple(columns)
        self.column_provenance = {column: (f"{name}.{column}",) for column in self.columns}
        self.row_dependencies = ()

    def describe(self) -> str:
        key = f" key={self.primary_key}" if self.primary_key else ""
        where = f" path={self.path}" if self.path else ""
        return f"Source[{self.name}{key}{where}]"


class Filter(PlanNode):
    """Keep the rows satisfying a predicate (a pandas query string or a callable)."""

    label = "Filter"

    def __init__(
        self,
        child: PlanNode,
        predicate: str | Callable[..., Any],
        used_columns: Sequence[str],
        bindings: Mapping[str, Any] | None = None,
        vectorized: bool = False,
    ) -> None:
        check_columns(used_columns, child.columns, "filter")
        self._inherit(child)
        self.predicate, self.used_columns = predicate, tuple(used_columns)
        self.bindings, self.vectorized = dict(bindings or {}), vectorized
        self.columns = child.columns
        self.column_provenance = dict(child.column_provenance)
        self.row_dependencies = _union(self.row_dependencies, self._credit(self.used_columns))

    def describe(self) -> str:
        if isinstance(self.predicate, str):
            return f"Filter[{self.predicate}]"
        name = getattr(self.predicate, "__name__", "predicate")
        return f"Filter[{name}({', '.join(self.used_columns)})]"


class Project(PlanNode):
    """Add (or replace) ``target_column`` computed from the declared ``source_columns``."""

    label = "Project"

    def __init__(
        self,
        child: PlanNode,
        target_column: str,
        source_columns: Sequence[str],
        func: Callable[..., Any],
        vectorized: bool = False,
    ) -> None:
        if not isinstance(target_column, str) or not target_column:
            raise SchemaError(f"target_column must be a non-empty string, got {target_column!r}")
        if isinstance(source_columns, str):
            raise SchemaError(
                f"source_columns must be a list of column names, got the string "
                f"{source_columns!r}; did you mean [{source_columns!r}]?"
            )
        check_columns(source_columns, child.columns, f"source_columns of {target_column!r}")
        if not callable(func):
            raise SchemaError(f"func of project {target_column!r} must be callable, got {func!r}")
        self._inherit(child)
        self.target_column, self.source_columns = target_column, tuple(source_columns)
        self.func, self.vectorized = func, vectorized
        self.columns = child.columns + (() if target_column in child.columns else (target_column,))
        self.column_provenance = dict(child.column_provenance)
        self.column_provenance[target_column] = self._credit(self.source_columns)

    def describe(self) -> str:
        return f"Project[{self.target_column} <- {', '.join(self.source_columns)}]"


class Select(PlanNode):
    """Keep the given columns, in the given order."""

    label = "Select"

    def __init__(self, child: PlanNode, columns: Sequence[str]) -> None:
        check_columns(columns, child.columns, "selection")
        if len(set(columns)) != len(columns):
            raise SchemaError(f"selection names a column twice: {describe_names(columns)}")
        self._inherit(child)
        self.columns = tuple(columns)
        self.column_provenance = {c: child.column_provenance[c] for c in self.columns}

    def describe(self) -> str:
        return f"Select[{', '.join(self.columns)}]"


class Rename(PlanNode):
    """Rename columns."""

    label = "Rename"

    def __init__(self, child: PlanNode, mapping: Mapping[str, str]) -> None:
        check_columns(list(mapping), child.columns, "rename")
        self._inherit(child)
        self.mapping = dict(mapping)
        self.columns = tuple(self.mapping.get(column, column) for column in child.columns)
        if len(set(self.columns)) != len(self.columns):
            raise SchemaError(f"rename produces duplicate columns: {describe_names(self.columns)}")
        self.column_provenance = {
            self.mapping.get(c, c): provenance for c, provenance in child.column_provenance.items()
        }

    def describe(self) -> str:
        return "Rename[" + ", ".join(f"{a} -> {b}" for a, b in self.mapping.items()) + "]"


class Explode(PlanNode):
    """One row per element of the list-like values of ``column`` (pandas semantics)."""

    label = "Explode"

    def __init__(self, child: PlanNode, column: str) -> None:
        check_columns([column], child.columns, "explode")
        self._inherit(child)
        self.column = column
        self.columns = child.columns
        self.column_provenance = dict(child.column_provenance)
        self.row_dependencies = _union(self.row_dependencies, self._credit([column]))

    def describe(self) -> str:
        return f"Explode[{self.column}]"


@dataclass(frozen=True)
class JoinLayout:
    """How the input columns of a join map to its output columns (pandas-style suffixes)."""

    left: dict[str, str]
    right: dict[str, str]  # right columns merged into a shared key are absent


class Join(PlanNode):
    """Equi-join on ``left_on == right_on``; ``how`` is ``"inner"`` or ``"left"``.

    Null keys match nothing (SQL semantics). A key pair with the same name on both sides
    becomes one column; other name clashes get the ``suffixes``.
    """

    label = "Join"
    HOWS = ("inner", "left")

    def __init__(
        self,
        left: PlanNode,
        right: PlanNode,
        left_on: Sequence[str],
        right_on: Sequence[str],
        how: str = "inner",
        suffixes: tuple[str, str] = ("_x", "_y"),
    ) -> None:
        if how not in self.HOWS:
            raise SchemaError(f"join how={how!r} is not supported; expected one of {self.HOWS}")
        if len(left_on) != len(right_on) or not left_on:
            raise SchemaError(
                f"join needs as many left_on as right_on keys (at least one), got "
                f"{list(left_on)} and {list(right_on)}"
            )
        check_columns(left_on, left.columns, "left_on of join")
        check_columns(right_on, right.columns, "right_on of join")
        self._inherit(left, right)
        self.left_on, self.right_on, self.how = tuple(left_on), tuple(right_on), how
        self.suffixes = suffixes
        self.layout = _join_layout(
            left.columns, right.columns, self.left_on, self.right_on, suffixes
        )
        self.columns = tuple(self.layout.left.values()) + tuple(self.layout.right.values())
        if len(set(self.columns)) != len(self.columns):
            raise SchemaError(f"join produces duplicate columns: {describe_names(self.columns)}")
        self.column_provenance = _join_column_provenance(self, left, right)
        keys = _union(
            *(left.column_provenance[c] for c in self.left_on),
            *(right.column_provenance[c] for c in self.right_on),
        )
        self.row_dependencies = _union(self.row_dependencies, keys)

    @property
    def is_monotone(self) -> bool:
        return self.how == "inner" and super().is_monotone

    def describe(self) -> str:
        pairs = ", ".join(f"{a} = {b}" for a, b in zip(self.left_on, self.right_on, strict=True))
        return f"Join[{self.how}: {pairs}]"


def _join_layout(
    left: Sequence[str],
    right: Sequence[str],
    left_on: Sequence[str],
    right_on: Sequence[str],
    suffixes: tuple[str, str],
) -> JoinLayout:
    shared = {a for a, b in zip(left_on, right_on, strict=True) if a == b}
    clashing = (set(left) & set(right)) - shared
    left_map = {c: c + suffixes[0] if c in clashing else c for c in left}
    right_map = {c: c + suffixes[1] if c in clashing else c for c in right if c not in shared}
    return JoinLayout(left_map, right_map)


def _join_column_provenance(node: Join, left: PlanNode, right: PlanNode) -> ColumnProvenance:
    provenance = {out: left.column_provenance[c] for c, out in node.layout.left.items()}
    for c, out in node.layout.right.items():
        provenance[out] = right.column_provenance[c]
    if node.how == "inner":  # a shared key's value equals the right key's value too
        for a, b in zip(node.left_on, node.right_on, strict=True):
            if a == b:
                provenance[a] = _union(provenance[a], right.column_provenance[b])
    return provenance


class Split(PlanNode):
    """One side of a seeded train/test split, decided per row by a hash of its provenance.

    A row's side depends only on its own source tuples and the seed, so re-running on
    cleaned sources, or inserting rows by delta execution, puts every row on the same side.
    """

    label = "Split"
    PARTS = ("train", "test")

    def __init__(self, child: PlanNode, part: str, test_size: float, seed: int) -> None:
        if part not in self.PARTS:
            raise SchemaError(f"split part {part!r} is not one of {self.PARTS}")
        if not 0.0 < test_size < 1.0:
            raise SchemaError(f"test_size must be between 0 and 1 (exclusive), got {test_size}")
        self._inherit(child)
        self.part, self.test_size, self.seed = part, float(test_size), int(seed)
        self.columns = child.columns
        self.column_provenance = dict(child.column_provenance)

    def describe(self) -> str:
        return f"Split[{self.part}: test_size={self.test_size}, seed={self.seed}]"


class Union(PlanNode):
    """Bag union of inputs with the same columns (ordered like the first input)."""

    label = "Union"

    def __init__(self, children: Sequence[PlanNode]) -> None:
        if len(children) < 1:
            raise SchemaError("union needs at least one frame")
        first = children[0].columns
        for i, child in enumerate(children[1:], start=1):
            if set(child.columns) != set(first):
                raise SchemaError(
                    f"union needs frames with the same columns: frame 0 has "
                    f"{describe_names(first)}, frame {i} has {describe_names(child.columns)}"
                )
        self._inherit(*children)
        self.columns = first
        self.column_provenance = {
            c: _union(*(child.column_provenance[c] for child in children)) for c in first
        }

    def describe(self) -> str:
        return f"Union[{len(self.children)}]"


class Distinct(PlanNode):
    """Remove duplicate rows.

    Without ``keep``, rows equal in every column merge into one that carries the sum of
    their provenance (positive relational algebra). With ``keep="first"`` or ``"last"``,
    one row per distinct value of the ``subset`` columns (all columns when ``None``) is
    kept, in input order: the first or the last of its group, with that row's own
    provenance. This is a Python dict's "last assignment wins" (``keep="last"``); it is not
    monotone, since forgetting the kept row brings back the one before it.

    Examples
    --------
    >>> source = Source("customers", ("email", "bank"))
    >>> Distinct(source, subset=["email"], keep="last").describe()
    'Distinct[email, keep=last]'
    """

    label = "Distinct"
    KEEPS = ("first", "last")

    def __init__(
        self, child: PlanNode, subset: Sequence[str] | None = None, keep: str | None = None
    ) -> None:
        if keep is not None and keep not in self.KEEPS:
            raise SchemaError(f"distinct keep={keep!r} is not one of {self.KEEPS} or None")
        if subset is not None and keep is None:
            raise SchemaError(
                "distinct on a subset of columns must say which duplicate stays: "
                "keep='first' or keep='last'"
            )
        if isinstance(subset, str):
            subset = [subset]
        if subset is not None:
            check_columns(subset, child.columns, "distinct subset")
            if not subset:
                raise SchemaError("distinct subset must name at least one column")
        self._inherit(child)
        self.keep = keep
        self.subset = tuple(subset) if subset is not None else child.columns
        self.columns = child.columns
        self.column_provenance = dict(child.column_provenance)
        self.row_dependencies = _union(self.row_dependencies, self._credit(self.subset))

    @property
    def is_monotone(self) -> bool:
        # Merging duplicates is positive (it adds polynomials); keeping one of them is not.
        return self.keep is None and super().is_monotone

    def describe(self) -> str:
        if self.keep is None:
            return self.label
        return f"Distinct[{', '.join(self.subset)}, keep={self.keep}]"


class GroupBy(PlanNode):
    """Group on ``keys`` and aggregate: ``aggregates[out] = (column, function)``."""

    label = "GroupBy"

    def __init__(
        self,
        child: PlanNode,
        keys: Sequence[str],
        aggregates: Mapping[str, tuple[str, str]],
    ) -> None:
        check_columns(keys, child.columns, "groupby keys")
        if not aggregates:
            raise SchemaError("agg needs at least one aggregate, e.g. agg(n=('col', 'count'))")
        for out, spec in aggregates.items():
            if not (isinstance(spec, tuple) and len(spec) == 2):
                raise SchemaError(f"aggregate {out!r} must be (column, function), got {spec!r}")
            column, function = spec
            check_columns([column], child.columns, f"aggregate {out!r}")
            if function not in AGGREGATES:
                raise SchemaError(
                    f"aggregate {out!r} uses {function!r}; expected one of {AGGREGATES}"
                )
        self._inherit(child)
        self.keys, self.aggregates = tuple(keys), dict(aggregates)
        self.columns = self.keys + tuple(self.aggregates)
        if len(set(self.columns)) != len(self.columns):
            raise SchemaError(f"groupby produces duplicate columns: {describe_names(self.columns)}")
        self.column_provenance = {key: child.column_provenance[key] for key in self.keys}
        for out, (column, _) in self.aggregates.items():
            self.column_provenance[out] = child.column_provenance[column]
        self.row_dependencies = _union(self.row_dependencies, self._credit(self.keys))

    @property
    def is_monotone(self) -> bool:
        return False

    def describe(self) -> str:
        aggs = ", ".join(f"{o}={f}({c})" for o, (c, f) in self.aggregates.items())
        return f"GroupBy[{', '.join(self.keys)}: {aggs}]"


class Plan:
    """A printable view of a plan, rooted at one node.

    Examples
    --------
    >>> print(Plan(Select(Source("m", ("a", "b")), ["a"])))
    Select[a]
    └─ Source[m]
    """

    def __init__(self, root: PlanNode) -> None:
        self.root = root

    def lines(self) -> list[str]:
        """The plan as indented tree lines, root first."""
        out: list[str] = []

        def walk(node: PlanNode, prefix: str, connector: str) -> None:
            out.append(prefix + connector + node.describe())
            child_prefix = prefix + ("   " if connector == "└─ " else "│  " if connector else "")
            for i, child in enumerate(node.children):
                last = i == len(node.children) - 1
                walk(child, child_prefix, "└─ " if last else "├─ ")

        walk(self.root, "", "")
        return out

    def execute(self, sources: Mapping[str, Any] | None = None):
        """Re-execute the plan; ``sources`` replaces the data (pandas DataFrames) of named
        sources, the others are read again. Returns a :class:`~lester.TrackedFrame`."""
        from lester.frame.frame import execute_plan

        return execute_plan(self.root, sources)

    def __str__(self) -> str:
        return "\n".join(self.lines())

    def __repr__(self) -> str:
        return str(self)
