"""Execute plan nodes with pandas, carrying row provenance and lineage along.

Each operator function takes the input :class:`Relation` objects and returns the output
relation. Row functions are called once per row on a :class:`DeclaredRow` of their
declared columns, built straight from column lists (no ``iterrows``).

Examples
--------
>>> import pandas as pd
>>> from lester.frame.plan import Filter, Source
>>> source = Source("s", ("a",), reader="memory")
>>> relation = read_source(source, pd.DataFrame({"a": [1, 2, 3]}))
>>> execute(Filter(source, "a > 1", ["a"]), [relation]).data["a"].tolist()
[2, 3]
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from lester.engine.relation import Lineage, Relation, concat_relations, merge_sources
from lester.errors import (
    InvalidExpressionError,
    LesterError,
    SchemaError,
    UndeclaredColumnError,
    describe_names,
)
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
from lester.frame.rows import DeclaredRow
from lester.provenance import Provenance, SourceInfo
from lester.provenance.hashing import row_hashes, unit_interval


def read_source(
    node: Source, data: pd.DataFrame, row_numbers: np.ndarray | None = None
) -> Relation:
    """The relation of a source whose rows are ``data`` (tuple ids are row positions).

    Examples
    --------
    >>> read_source(Source("s", ("a",)), pd.DataFrame({"a": [7]})).provenance.render(0)
    's[0]'
    """
    data = data.reset_index(drop=True)
    info = SourceInfo.from_frame(node.name, data, node.primary_key, node.path, row_numbers)
    return Relation(data, Provenance.of_source(node.name, len(data)), {node.name: info})


def execute(node: PlanNode, inputs: Sequence[Relation]) -> Relation:
    """Execute one (non-source) node on its already executed inputs.

    Examples
    --------
    >>> from lester.frame.plan import Select
    >>> source = Source("s", ("a", "b"))
    >>> relation = read_source(source, pd.DataFrame({"a": [1], "b": [2]}))
    >>> list(execute(Select(source, ["b"]), [relation]).data.columns)
    ['b']
    """
    operator = _OPERATORS.get(type(node))
    if operator is None:
        raise LesterError(f"the pandas engine cannot execute {node.describe()}")
    return operator(node, *inputs) if not isinstance(node, Union) else operator(node, inputs)


# ---------------------------------------------------------------------------- row-wise
def _filter(node: Filter, child: Relation) -> Relation:
    mask = evaluate_predicate(node, child.data)
    parent = np.flatnonzero(mask)
    return _take(child, parent, keep_parent=True)


def evaluate_predicate(node: Filter, data: pd.DataFrame) -> np.ndarray:
    """Boolean mask of the rows of ``data`` that satisfy the filter node's predicate."""
    if len(data) == 0:
        return np.zeros(0, dtype=bool)
    if isinstance(node.predicate, str):
        try:
            result = data.eval(node.predicate, local_dict=node.bindings, global_dict={})
        except LesterError:
            raise
        except Exception as error:  # pandas raises many types for a bad query
            raise InvalidExpressionError(
                f"filter {node.predicate!r} failed on the data: {type(error).__name__}: {error}"
            ) from error
    elif node.vectorized:
        result = call_vectorized(node.predicate, data, node.used_columns, node.describe())
    else:
        result = _call_per_row(node.predicate, data, node.used_columns)
    mask = np.asarray(result, dtype=bool) if isinstance(result, list) else np.asarray(result)
    if mask.shape != (len(data),) or mask.dtype != bool:
        if mask.shape == (len(data),) and mask.dtype == object:
            mask = mask.astype(bool)
        else:
            raise InvalidExpressionError(
                f"filter {node.describe()} must give one boolean per row, got {mask.dtype} "
                f"of shape {mask.shape} for {len(data)} rows"
            )
    return mask


def _project(node: Project, child: Relation) -> Relation:
    values = compute_projection(node, child.data)
    data = child.data.copy(deep=False)
    data[node.target_column] = values
    return Relation(data, child.provenance, child.sources)


def compute_projection(node: Project, data: pd.DataFrame) -> Any:
    """The values of a project node's target column for the rows of ``data``."""
    if node.vectorized:
        what = f"project {node.target_column!r}"
        values = call_vectorized(node.func, data, node.source_columns, what)
        if np.ndim(values) == 0 or len(values) != len(data):
            raise SchemaError(
                f"vectorized {what} must return one value per row ({len(data)}), "
                f"got {type(values).__name__}"
            )
        return values.to_numpy() if isinstance(values, pd.Series) else values
    values = _call_per_row(node.func, data, node.source_columns)
    return pd.Series(values, dtype=object if not values else None, index=data.index)


def call_vectorized(
    func: Callable[..., Any], data: pd.DataFrame, declared: Sequence[str], what: str
) -> Any:
    """Call a vectorized function on a DataFrame of only its declared columns."""
    try:
        return func(data[list(declared)])
    except KeyError as error:
        column = error.args[0] if error.args else None
        if isinstance(column, str) and column not in declared:
            raise UndeclaredColumnError(
                f"the function of {what} read column {column!r}, which is not among its "
                f"declared source_columns {describe_names(declared)}"
            ) from None
        raise


def _call_per_row(func: Callable[..., Any], data: pd.DataFrame, columns: Sequence[str]) -> list:
    names = tuple(columns)
    if not names:
        return [func(DeclaredRow()) for _ in range(len(data))]
    column_values = [data[name].tolist() for name in names]
    # zip() with strict=True costs ~50% more per row; the columns come from one frame anyway.
    rows = zip(*column_values)  # noqa: B905
    return [func(DeclaredRow(zip(names, row))) for row in rows]  # noqa: B905


def split_mask(node: Split, child: Relation) -> np.ndarray:
    """Which rows of ``child`` belong to the node's side of the split."""
    in_test = unit_interval(row_hashes(child.provenance, child.sources), node.seed) < node.test_size
    return in_test if node.part == "test" else ~in_test


def _split(node: Split, child: Relation) -> Relation:
    return _take(child, np.flatnonzero(split_mask(node, child)), keep_parent=True)


def _select(node: Select, child: Relation) -> Relation:
    return Relation(child.data[list(node.columns)], child.provenance, child.sources)


def _rename(node: Rename, child: Relation) -> Relation:
    return Relation(child.data.rename(columns=node.mapping), child.provenance, child.sources)


def _explode(node: Explode, child: Relation) -> Relation:
    exploded = child.data.reset_index(drop=True).explode(node.column)
    parent = exploded.index.to_numpy(dtype=np.int64)
    data = exploded.reset_index(drop=True)
    return Relation(data, child.provenance.take(parent), child.sources, Lineage(parent=parent))


def _take(child: Relation, rows: np.ndarray, keep_parent: bool) -> Relation:
    data = child.data.take(rows).reset_index(drop=True)
    lineage = Lineage(parent=rows) if keep_parent else Lineage()
    return Relation(data, child.provenance.take(rows), child.sources, lineage)


# ---------------------------------------------------------------------------- join
def join_pairs(
    node: Join, left: pd.DataFrame, right: pd.DataFrame
) -> tuple[np.ndarray, np.ndarray]:
    """Positions of matching (left, right) rows; for a left join, unmatched left rows pair
    with ``-1``. Null keys match nothing."""
    left_keys = _key_frame(left, node.left_on, "__left")
    right_keys = _key_frame(right, node.right_on, "__right").dropna()
    names = [f"k{i}" for i in range(len(node.left_on))]
    if node.how == "inner":
        left_keys = left_keys.dropna()
    if len(left_keys) == 0 or len(right_keys) == 0:
        # Nothing can match; pandas would still reject key dtypes of an empty column.
        left_rows = left_keys["__left"].to_numpy(dtype=np.int64) if node.how == "left" else []
        left_rows = np.asarray(left_rows, dtype=np.int64)
        return left_rows, np.full(len(left_rows), -1, dtype=np.int64)
    try:
        pairs = left_keys.merge(right_keys, on=names, how=node.how, sort=False)
    except (ValueError, TypeError) as error:
        raise SchemaError(
            f"cannot join {list(node.left_on)} with {list(node.right_on)}: the key types differ "
            f"({_dtypes(left, node.left_on)} vs {_dtypes(right, node.right_on)}): {error}"
        ) from None
    left_rows = pairs["__left"].to_numpy(dtype=np.int64)
    right_rows = pairs["__right"].fillna(-1).to_numpy(dtype=np.int64)
    return left_rows, right_rows


def _key_frame(data: pd.DataFrame, keys: Sequence[str], position: str) -> pd.DataFrame:
    frame = pd.DataFrame({f"k{i}": data[key].array for i, key in enumerate(keys)})
    frame[position] = np.arange(len(data), dtype=np.int64)
    return frame


def _dtypes(data: pd.DataFrame, keys: Sequence[str]) -> str:
    return ", ".join(f"{key}: {data[key].dtype}" for key in keys)


def assemble_join(
    node: Join, left: Relation, right: Relation, left_rows: np.ndarray, right_rows: np.ndarray
) -> Relation:
    """The join output for the given row pairs (``-1`` on the right: no partner)."""
    left_part = left.data.take(left_rows).reset_index(drop=True)
    left_part = left_part.rename(columns=node.layout.left)
    right_columns = list(node.layout.right)
    right_data = right.data[right_columns]
    if (right_rows < 0).any():
        right_part = right_data.reindex(right_rows).reset_index(drop=True)
    else:
        right_part = right_data.take(right_rows).reset_index(drop=True)
    right_part = right_part.rename(columns=node.layout.right)
    data = pd.concat([left_part, right_part], axis=1)
    provenance = Provenance.product(left.provenance, left_rows, right.provenance, right_rows)
    sources = merge_sources([left.sources, right.sources])
    lineage = Lineage(left_rows=left_rows, right_rows=right_rows)
    return Relation(data, provenance, sources, lineage)


def _join(node: Join, left: Relation, right: Relation) -> Relation:
    merge_sources([left.sources, right.sources])  # fail early on clashing source names
    left_rows, right_rows = join_pairs(node, left.data, right.data)
    return assemble_join(node, left, right, left_rows, right_rows)


# ---------------------------------------------------------------------------- set operators
def _union(node: Union, inputs: Sequence[Relation]) -> Relation:
    return concat_relations(list(inputs), list(node.columns))


def group_ids(data: pd.DataFrame, columns: Sequence[str]) -> tuple[np.ndarray, int]:
    """Group number of each row by equal values of ``columns`` (nulls equal each other),
    numbered in order of first appearance."""
    if len(data) == 0:
        return np.zeros(0, dtype=np.int64), 0
    try:
        ids = data.groupby(list(columns), dropna=False, sort=False).ngroup()
    except TypeError as error:
        raise SchemaError(
            f"cannot group on {list(columns)}: their values must be hashable ({error})"
        ) from None
    ids = ids.to_numpy(dtype=np.int64)
    return ids, int(ids.max()) + 1


def _first_positions(ids: np.ndarray, n_groups: int) -> np.ndarray:
    first = np.full(n_groups, len(ids), dtype=np.int64)
    np.minimum.at(first, ids, np.arange(len(ids), dtype=np.int64))
    return first


def _last_positions(ids: np.ndarray, n_groups: int) -> np.ndarray:
    last = np.full(n_groups, -1, dtype=np.int64)
    np.maximum.at(last, ids, np.arange(len(ids), dtype=np.int64))
    return last


def kept_positions(node: Distinct, data: pd.DataFrame) -> np.ndarray:
    """Positions of the rows a ``keep="first"``/``"last"`` distinct keeps, in input order."""
    ids, n_groups = group_ids(data, node.subset)
    pick = _first_positions if node.keep == "first" else _last_positions
    return np.sort(pick(ids, n_groups))


def _distinct(node: Distinct, child: Relation) -> Relation:
    if node.keep is not None:
        return _take(child, kept_positions(node, child.data), keep_parent=True)
    ids, n_groups = group_ids(child.data, node.columns)
    data = child.data.take(_first_positions(ids, n_groups)).reset_index(drop=True)
    provenance = child.provenance.group(ids, n_groups)
    return Relation(data, provenance, child.sources, Lineage(group_of_row=ids))


def aggregate(node: GroupBy, members: pd.DataFrame, ids: np.ndarray, n_groups: int) -> pd.DataFrame:
    """One output row per group number: the group keys and the aggregates of its members."""
    keys = members[list(node.keys)].take(_first_positions(ids, n_groups)).reset_index(drop=True)
    if n_groups == 0:
        empty = {out: pd.Series(dtype=float) for out in node.aggregates}
        return pd.concat([keys, pd.DataFrame(empty)], axis=1)
    columns = sorted({column for column, _ in node.aggregates.values()})
    grouped = members[columns].groupby(ids, sort=True)
    try:
        values = grouped.agg(**node.aggregates).reset_index(drop=True)
    except TypeError as error:
        raise SchemaError(f"cannot aggregate {node.describe()}: {error}") from None
    return pd.concat([keys, values], axis=1)


def _groupby(node: GroupBy, child: Relation) -> Relation:
    ids, n_groups = group_ids(child.data, node.keys)
    data = aggregate(node, child.data, ids, n_groups)
    provenance = child.provenance.group(ids, n_groups)
    return Relation(data, provenance, child.sources, Lineage(group_of_row=ids))


_OPERATORS: dict[type, Callable[..., Relation]] = {
    Filter: _filter,
    Project: _project,
    Select: _select,
    Rename: _rename,
    Explode: _explode,
    Split: _split,
    Join: _join,
    Union: _union,
    Distinct: _distinct,
    GroupBy: _groupby,
}
