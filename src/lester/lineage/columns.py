"""Typed column lineage of a logical plan, in OpenLineage's vocabulary.

:mod:`lester.frame.plan` records *which* source columns every output column is computed
from; this module also records *how*, by walking the plan nodes:

- ``IDENTITY``: the value is copied unchanged (source reads, selections, renames, filters,
  join outputs, group keys);
- ``TRANSFORMATION``: a row function computed it (``project``, ``explode``);
- ``AGGREGATION``: a group aggregate computed it.

All three are ``DIRECT`` dependencies. The source columns that decide *which* rows appear
are ``INDIRECT`` dependencies of the whole dataset, with the subtype of the operator:
``FILTER`` (filter predicates), ``JOIN`` (join keys), ``GROUP_BY`` (group keys, distinct)
and ``EXPLODE`` (the list column of ``explode``).

Examples
--------
>>> from lester.frame.plan import Filter, Project, Select, Source
>>> source = Source("customers", ("id", "country", "level"), primary_key="id")
>>> node = Filter(source, "country == 'DE'", ["country"])
>>> node = Project(node, "is_premium", ["level"], func=lambda row: row["level"] == "premium")
>>> lineage = plan_lineage(Select(node, ["country", "is_premium"]))
>>> lineage.columns["country"], lineage.columns["is_premium"]
({'customers.country': 'IDENTITY'}, {'customers.level': 'TRANSFORMATION'})
>>> lineage.rows
{'customers.country': ['FILTER']}
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from lester.frame.plan import (
    Distinct,
    Explode,
    Filter,
    GroupBy,
    Join,
    PlanNode,
    Project,
    Rename,
    Select,
    Source,
    Split,
    Union,
)

IDENTITY, TRANSFORMATION, AGGREGATION = "IDENTITY", "TRANSFORMATION", "AGGREGATION"
# When one source column reaches an output column along several paths, the strongest
# change wins: a value that is transformed on one path is not an identity copy.
_STRENGTH = {IDENTITY: 0, TRANSFORMATION: 1, AGGREGATION: 2}

FieldLineage = dict[str, str]  # qualified source column -> IDENTITY | TRANSFORMATION | ...


@dataclass
class PlanLineage:
    """Per output column, its source columns and how each reaches it; per source column
    that decides which rows appear, the kinds of operators it does that through.

    Examples
    --------
    >>> PlanLineage({"a": {"s.a": "IDENTITY"}}, {}).columns["a"]
    {'s.a': 'IDENTITY'}
    """

    columns: dict[str, FieldLineage]
    rows: dict[str, list[str]] = field(default_factory=dict)


def merge(*lineages: Mapping[str, str]) -> FieldLineage:
    """Union of field lineages; a column reached in several ways keeps the strongest.

    Examples
    --------
    >>> merge({"s.a": "IDENTITY"}, {"s.a": "TRANSFORMATION", "s.b": "IDENTITY"})
    {'s.a': 'TRANSFORMATION', 's.b': 'IDENTITY'}
    """
    merged: FieldLineage = {}
    for lineage in lineages:
        for column, kind in lineage.items():
            if column not in merged or _STRENGTH[kind] > _STRENGTH[merged[column]]:
                merged[column] = kind
    return dict(sorted(merged.items()))


def as_kind(lineage: Mapping[str, str], kind: str) -> FieldLineage:
    """The same source columns, all reaching the output as ``kind``.

    Examples
    --------
    >>> as_kind({"s.a": "IDENTITY"}, "TRANSFORMATION")
    {'s.a': 'TRANSFORMATION'}
    """
    return {column: kind for column in sorted(lineage)}


def plan_lineage(root: PlanNode) -> PlanLineage:
    """The typed column lineage and the row dependencies of the plan rooted at ``root``."""
    memo: dict[int, PlanLineage] = {}

    def visit(node: PlanNode) -> PlanLineage:
        if id(node) not in memo:
            children = [visit(child) for child in node.children]
            memo[id(node)] = _node_lineage(node, children)
        return memo[id(node)]

    return visit(root)


def _node_lineage(node: PlanNode, children: list[PlanLineage]) -> PlanLineage:
    child = children[0] if children else None
    rows = _merge_rows(*(c.rows for c in children))
    if isinstance(node, Source):
        return PlanLineage({c: {f"{node.name}.{c}": IDENTITY} for c in node.columns})
    assert child is not None  # every other node has an input
    columns = dict(child.columns)
    if isinstance(node, Filter | Explode | Distinct | GroupBy):
        used, kind = _row_deciding(node)
        rows = _merge_rows(rows, {q: [kind] for c in used for q in child.columns[c]})
    if isinstance(node, Project):
        sources = merge(*(child.columns[c] for c in node.source_columns))
        columns[node.target_column] = as_kind(sources, TRANSFORMATION)
    elif isinstance(node, Select):
        columns = {c: child.columns[c] for c in node.columns}
    elif isinstance(node, Rename):
        columns = {node.mapping.get(c, c): lineage for c, lineage in child.columns.items()}
    elif isinstance(node, Explode):
        columns[node.column] = as_kind(child.columns[node.column], TRANSFORMATION)
    elif isinstance(node, Join):
        columns, keys = _join_lineage(node, children[0], children[1])
        rows = _merge_rows(rows, {q: ["JOIN"] for q in keys})
    elif isinstance(node, Union):
        columns = {c: merge(*(ch.columns[c] for ch in children)) for c in node.columns}
    elif isinstance(node, GroupBy):
        columns = {key: child.columns[key] for key in node.keys}
        for out, (column, _) in node.aggregates.items():
            columns[out] = as_kind(child.columns[column], AGGREGATION)
    elif not isinstance(node, Filter | Distinct | Split):
        raise TypeError(f"no column lineage rule for plan node {type(node).__name__}")
    return PlanLineage(columns, rows)


def _row_deciding(node: PlanNode) -> tuple[Iterable[str], str]:
    """The input columns that decide which rows a node outputs, and the kind of decision."""
    if isinstance(node, Filter):
        return node.used_columns, "FILTER"
    if isinstance(node, Explode):
        return [node.column], "EXPLODE"
    if isinstance(node, GroupBy):
        return node.keys, "GROUP_BY"
    return node.columns, "GROUP_BY"  # distinct groups on every column


def _join_lineage(
    node: Join, left: PlanLineage, right: PlanLineage
) -> tuple[dict[str, FieldLineage], set[str]]:
    columns = {out: left.columns[c] for c, out in node.layout.left.items()}
    columns.update({out: right.columns[c] for c, out in node.layout.right.items()})
    if node.how == "inner":  # a shared key's value is the right key's value as well
        for a, b in zip(node.left_on, node.right_on, strict=True):
            if a == b:
                columns[a] = merge(columns[a], right.columns[b])
    keys = {q for c in node.left_on for q in left.columns[c]}
    keys |= {q for c in node.right_on for q in right.columns[c]}
    return columns, keys


def _merge_rows(*groups: Mapping[str, list[str]]) -> dict[str, list[str]]:
    merged: dict[str, set[str]] = {}
    for group in groups:
        for column, kinds in group.items():
            merged.setdefault(column, set()).update(kinds)
    return {column: sorted(kinds) for column, kinds in sorted(merged.items())}
