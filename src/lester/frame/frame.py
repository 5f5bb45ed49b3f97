"""Tracked frames: a pandas-like API whose every operator records a plan node and carries
row provenance (polynomials) and column provenance.

Examples
--------
>>> import lester as lt, pandas as pd
>>> customers = lt.from_pandas(
...     pd.DataFrame({"id": [1, 2], "email": ["a@x", "b@x"], "level": ["premium", "basic"]}),
...     name="customers", primary_key="id")
>>> mails = lt.from_pandas(
...     pd.DataFrame({"email": ["a@x", "a@x", "c@x"], "subject": ["hi", "yo", "no"]}),
...     name="mails")
>>> premium = customers.project(target_column="is_premium", source_columns=["level"],
...                             func=lambda row: row["level"] == "premium")
>>> merged = lt.join(mails, premium, left_on="email", right_on="email")
>>> merged.provenance_of(1)
'mails[1]*customers[1]'
>>> merged.column_provenance["is_premium"]
['customers.level']
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from lester.engine import forget as forgetting
from lester.engine import pandas_engine
from lester.engine.relation import Relation
from lester.errors import (
    LesterError,
    SchemaError,
    SourceReadError,
    UnknownSourceError,
    describe_names,
)
from lester.frame.expressions import analyse_filter, bind_variables
from lester.frame.plan import (
    Distinct,
    Explode,
    Filter,
    GroupBy,
    Join,
    Plan,
    PlanNode,
    Project,
    Rename,
    Select,
    Source,
    Split,
    Union,
)

SourceKeys = Mapping[str, Iterable[object]]

_PLAN_ONLY: ContextVar[str | None] = ContextVar("lester_plan_only", default=None)


class PlanOnlyError(LesterError, RuntimeError):
    """A frame built in plan-only mode was asked for rows or provenance."""


class _Unexecuted:
    """Stands in for the relation of a frame built in plan-only mode."""

    def __init__(self, engine: str) -> None:
        self._engine = engine

    def __getattr__(self, name: str):
        raise PlanOnlyError(
            f"this frame was built plan-only for the {self._engine} engine: it has a plan but "
            f"no rows until that engine executes it; data preparation must not read rows "
            f"(len, to_pandas, provenance) while building the plan"
        )


@contextmanager
def plan_only(engine: str = "another") -> Iterator[None]:
    """Inside this block sources read only their schema and operators only record plan
    nodes, so another engine (e.g. Spark) can execute the plan; pipeline code is unchanged.

    Examples
    --------
    >>> import lester as lt, pandas as pd
    >>> with plan_only("spark"):
    ...     frame = lt.from_pandas(pd.DataFrame({"a": [1, 2]}), name="s").filter("a > 1")
    >>> print(frame.plan)
    Filter[a > 1]
    └─ Source[s]
    >>> len(frame)
    Traceback (most recent call last):
    ...
    lester.frame.frame.PlanOnlyError: this frame was built plan-only for the spark engine: ...
    """
    token = _PLAN_ONLY.set(engine)
    try:
        yield
    finally:
        _PLAN_ONLY.reset(token)


class TrackedFrame:
    """A relation with row and column provenance, built by a logical plan.

    Create one with :func:`read_csv`, :func:`read_parquet` or :func:`from_pandas`; every
    operator returns a new frame and leaves this one unchanged.

    Examples
    --------
    >>> import lester as lt, pandas as pd
    >>> frame = lt.from_pandas(pd.DataFrame({"a": [1, 2, 3]}), name="numbers")
    >>> frame.filter("a >= 2").source_keys("numbers").tolist()
    [1, 2]
    """

    __slots__ = ("_forgotten", "_inputs", "_node", "_relation")

    def __init__(
        self,
        node: PlanNode,
        relation: Relation,
        inputs: Sequence[TrackedFrame] = (),
        forgotten: tuple[TrackedFrame, dict[str, np.ndarray], forgetting.Delta] | None = None,
    ) -> None:
        self._node = node
        self._relation = relation
        self._inputs = tuple(inputs)
        self._forgotten = forgotten

    # ------------------------------------------------------------------ inspection
    @property
    def columns(self) -> list[str]:
        """The user-visible columns, in order."""
        return list(self._node.columns)

    @property
    def shape(self) -> tuple[int, int]:
        """``(rows, columns)``."""
        return (self._relation.n_rows, len(self._node.columns))

    def __len__(self) -> int:
        return self._relation.n_rows

    @property
    def plan(self) -> Plan:
        """The logical plan that computes this frame (prints as a tree).

        Examples
        --------
        >>> import lester as lt, pandas as pd
        >>> print(lt.from_pandas(pd.DataFrame({"a": [1]}), name="s").filter("a > 0").plan)
        Filter[a > 0]
        └─ Source[s]
        """
        return Plan(self._node)

    @property
    def column_provenance(self) -> dict[str, list[str]]:
        """Each column -> the sorted ``source.column`` names it is computed from."""
        return {column: list(names) for column, names in self._node.column_provenance.items()}

    @property
    def row_dependencies(self) -> list[str]:
        """Source columns that decide which rows appear (filters, join and group keys)."""
        return list(self._node.row_dependencies)

    @property
    def sources(self) -> list[str]:
        """Names of the sources this frame's rows come from."""
        return list(self._relation.sources)

    @property
    def provenance(self):
        """The row provenance polynomials (:class:`lester.provenance.Provenance`)."""
        return self._relation.provenance

    def source_info(self, source: str):
        """The identity of a source's tuples (:class:`lester.provenance.SourceInfo`)."""
        try:
            return self._relation.sources[source]
        except KeyError:
            raise UnknownSourceError(
                f"unknown source {source!r}; this frame's sources are "
                f"{describe_names(self.sources)}"
            ) from None

    def to_pandas(self) -> pd.DataFrame:
        """The rows as a pandas DataFrame with the user's columns only.

        Examples
        --------
        >>> import lester as lt, pandas as pd
        >>> lt.from_pandas(pd.DataFrame({"a": [1]}), name="s").to_pandas()
           a
        0  1
        """
        return self._relation.data.copy()

    def head(self, n: int = 5) -> pd.DataFrame:
        """The first ``n`` rows as a pandas DataFrame."""
        return self._relation.data.head(n).copy()

    def provenance_of(self, row: int) -> str:
        """Row ``row``'s provenance polynomial, e.g. ``mails[17]*customers[4]``; variables
        show primary-key values, or row numbers for sources without a key.

        Examples
        --------
        >>> import lester as lt, pandas as pd
        >>> c = lt.from_pandas(pd.DataFrame({"id": ["C7"]}), name="customers", primary_key="id")
        >>> c.provenance_of(0)
        'customers[C7]'
        """
        n_rows = self._relation.n_rows
        if not -n_rows <= row < n_rows:
            raise IndexError(f"row {row} is out of range for a frame of {n_rows} rows")
        return self._relation.provenance.render(row % n_rows, self._relation.labels())

    def provenance_canonical(self) -> list[tuple]:
        """Every row's polynomial in a canonical, comparable form: a sorted tuple of
        monomials, each a sorted tuple of ``(source, key)`` variables."""
        return self._relation.provenance.canonical(self._relation.labels())

    def source_keys(self, source: str) -> pd.Index:
        """Keys of the tuples of ``source`` that reach at least one row of this frame.

        Examples
        --------
        >>> import lester as lt, pandas as pd
        >>> s = lt.from_pandas(pd.DataFrame({"id": [5, 6, 7]}), name="s", primary_key="id")
        >>> s.filter("id != 6").source_keys("s").tolist()
        [5, 7]
        """
        info = self.source_info(source)
        provenance = self._relation.provenance
        reached = np.zeros(len(info.keys), dtype=bool)
        for j, slot in enumerate(provenance.slots):
            if slot.source == source:
                ids = provenance.keys[:, j]
                reached[ids[ids >= 0]] = True  # a mask beats np.unique on large id arrays
        return info.keys_at(np.flatnonzero(reached))

    def rows_from(self, source: str, keys: Iterable[object]) -> np.ndarray:
        """Positions of the rows whose polynomial contains any of the given source tuples.

        Examples
        --------
        >>> import lester as lt, pandas as pd
        >>> s = lt.from_pandas(pd.DataFrame({"id": [5, 6, 7]}), name="s", primary_key="id")
        >>> s.filter("id != 6").rows_from("s", [7]).tolist()
        [1]
        """
        ids = self.source_info(source).ids_of(keys)
        return np.flatnonzero(self._relation.provenance.rows_touching({source: ids}))

    def forget(self, keys_by_source: SourceKeys) -> TrackedFrame:
        """This frame as if the given source tuples had never existed, computed from the
        provenance (and, below group-bys and left joins, by delta execution), never by
        re-running the plan.

        Examples
        --------
        >>> import lester as lt, pandas as pd
        >>> s = lt.from_pandas(pd.DataFrame({"id": [5, 6, 7]}), name="s", primary_key="id")
        >>> s.forget({"s": [6]}).to_pandas()["id"].tolist()
        [5, 7]
        """
        ids = forgetting.merge_ids(self._forgotten_upstream(), self._tuple_ids(keys_by_source))
        if self._forgotten is not None:
            base, earlier, _ = self._forgotten
            return base._forget_ids(forgetting.merge_ids(earlier, ids))
        return self._forget_ids(ids)

    def _forgotten_upstream(self) -> dict[str, np.ndarray]:
        """The tuples that a frame this one derives from has forgotten. A forget is about the
        sources: a later forget removes them from every input too, also from one that read
        the source before (a forgotten frame joined with its source)."""
        merged: dict[str, np.ndarray] = {}
        pending = [*self._inputs, *([self._forgotten[0]] if self._forgotten else [])]
        seen: set[int] = set()
        while pending:
            frame = pending.pop()
            if id(frame) in seen:
                continue
            seen.add(id(frame))
            if frame._forgotten is not None:
                merged = forgetting.merge_ids(merged, frame._forgotten[1])
                pending.append(frame._forgotten[0])
            pending.extend(frame._inputs)
        return merged

    def _forget_ids(self, ids: dict[str, np.ndarray]) -> TrackedFrame:
        delta = forgetting.delta_of(self, ids, {})
        relation = delta.apply(self._relation)
        return TrackedFrame(self._node, relation, (), forgotten=(self, ids, delta))

    def _tuple_ids(self, keys_by_source: SourceKeys) -> dict[str, np.ndarray]:
        if not isinstance(keys_by_source, Mapping):
            raise SchemaError(
                f"forget expects a mapping {{source: [keys]}}, got {type(keys_by_source).__name__}"
            )
        ids = {}
        for source, keys in keys_by_source.items():
            if isinstance(keys, str | bytes) or not isinstance(keys, Iterable):
                keys = [keys]
            ids[source] = self.source_info(source).ids_of(keys)
        return ids

    # ------------------------------------------------------------------ operators
    def _derive(self, node: PlanNode, inputs: Sequence[TrackedFrame]) -> TrackedFrame:
        engine = _PLAN_ONLY.get()
        if engine is not None:
            return TrackedFrame(node, _Unexecuted(engine), inputs)  # type: ignore[arg-type]
        relation = pandas_engine.execute(node, [frame._relation for frame in inputs])
        return TrackedFrame(node, relation, inputs)

    def filter(
        self,
        predicate: str | Callable[..., Any],
        source_columns: Sequence[str] | None = None,
        vectorized: bool = False,
    ) -> TrackedFrame:
        """Keep the rows that satisfy ``predicate``.

        ``predicate`` is a pandas query string (``@name`` refers to a variable of the
        calling code) or a callable. A row callable receives each row's declared
        ``source_columns`` (all columns if none are declared, all then count as row
        dependencies); with ``vectorized=True`` it receives a DataFrame of them and returns
        a boolean array.

        Examples
        --------
        >>> import lester as lt, pandas as pd
        >>> frame = lt.from_pandas(pd.DataFrame({"country": ["DE", "US"]}), name="c")
        >>> targets = ["DE", "FR"]
        >>> frame.filter("country in @targets").to_pandas()["country"].tolist()
        ['DE']
        """
        if isinstance(predicate, str):
            analysis = analyse_filter(predicate)
            bindings = bind_variables(analysis.variables, sys._getframe(1))
            node = Filter(self._node, predicate, analysis.columns, bindings)
        elif callable(predicate):
            used = self.columns if source_columns is None else list(source_columns)
            node = Filter(self._node, predicate, used, vectorized=vectorized)
        else:
            raise SchemaError(
                f"filter expects a query string or a callable, got {type(predicate).__name__}"
            )
        return self._derive(node, [self])

    def project(
        self,
        target_column: str,
        source_columns: Sequence[str],
        func: Callable[..., Any],
        vectorized: bool = False,
    ) -> TrackedFrame:
        """Add (or replace) ``target_column`` computed by ``func`` from ``source_columns``.

        ``func`` is called once per row with a dict of the declared columns (reading any
        other column is an error), or once with a DataFrame of them when
        ``vectorized=True``.

        Examples
        --------
        >>> import lester as lt, pandas as pd
        >>> frame = lt.from_pandas(pd.DataFrame({"level": ["premium", "basic"]}), name="c")
        >>> frame.project("is_premium", ["level"], lambda row: row["level"] == "premium"
        ...               ).to_pandas()["is_premium"].tolist()
        [True, False]
        """
        node = Project(self._node, target_column, source_columns, func, vectorized)
        return self._derive(node, [self])

    def join(
        self,
        other: TrackedFrame,
        left_on: str | Sequence[str] | None = None,
        right_on: str | Sequence[str] | None = None,
        how: str = "inner",
        on: str | Sequence[str] | None = None,
        suffixes: tuple[str, str] = ("_x", "_y"),
    ) -> TrackedFrame:
        """Equi-join with ``other`` (``how`` is ``"inner"`` or ``"left"``); see :func:`join`."""
        return join(
            self, other, left_on=left_on, right_on=right_on, how=how, on=on, suffixes=suffixes
        )

    def __getitem__(self, columns: Sequence[str]) -> TrackedFrame:
        """``frame[["a", "b"]]``: keep these columns.

        Examples
        --------
        >>> import lester as lt, pandas as pd
        >>> lt.from_pandas(pd.DataFrame({"a": [1], "b": [2]}), name="s")[["b"]].columns
        ['b']
        """
        if isinstance(columns, str):
            raise SchemaError(
                f"select columns with a list, e.g. frame[[{columns!r}]]; a tracked frame has no "
                f"single-column series"
            )
        return self._derive(Select(self._node, list(columns)), [self])

    def select(self, columns: Sequence[str]) -> TrackedFrame:
        """Keep these columns, in this order (same as ``frame[columns]``)."""
        return self[list(columns)]

    def rename(self, columns: Mapping[str, str]) -> TrackedFrame:
        """Rename columns: ``frame.rename(columns={"old": "new"})``.

        Examples
        --------
        >>> import lester as lt, pandas as pd
        >>> lt.from_pandas(pd.DataFrame({"a": [1]}), name="s").rename(columns={"a": "b"}).columns
        ['b']
        """
        if not isinstance(columns, Mapping):
            raise SchemaError(f"rename expects columns={{old: new}}, got {type(columns).__name__}")
        return self._derive(Rename(self._node, columns), [self])

    def explode(self, column: str) -> TrackedFrame:
        """One row per element of the list-likes in ``column`` (pandas semantics: an empty
        list gives one row with a missing value); each row keeps its parent's provenance.

        Examples
        --------
        >>> import lester as lt, pandas as pd
        >>> s = lt.from_pandas(pd.DataFrame({"tags": [["a", "b"]]}), name="s")
        >>> s.explode("tags").provenance_of(1)
        's[0]'
        """
        return self._derive(Explode(self._node, column), [self])

    def distinct(
        self, subset: str | Sequence[str] | None = None, keep: str | None = None
    ) -> TrackedFrame:
        """Remove duplicate rows.

        Without ``keep``, equal rows merge into one whose polynomial is the sum of theirs.
        With ``keep="first"`` or ``keep="last"``, the first or last row (in frame order) of
        each distinct value of ``subset`` (default: all columns) stays, with its own
        provenance: a dict filled in a loop, where the last assignment to a key wins, is
        ``distinct(subset=[key], keep="last")``.

        Examples
        --------
        >>> import lester as lt, pandas as pd
        >>> lt.from_pandas(pd.DataFrame({"a": [1, 1]}), name="s").distinct().provenance_of(0)
        's[0] + s[1]'
        >>> frame = lt.from_pandas(pd.DataFrame({"k": [1, 2, 1], "v": ["a", "b", "c"]}), "s")
        >>> last = frame.distinct(subset=["k"], keep="last")
        >>> last.to_pandas()["v"].tolist(), last.provenance_of(1)
        (['b', 'c'], 's[2]')
        """
        return self._derive(Distinct(self._node, _as_keys(subset), keep), [self])

    def groupby(self, keys: str | Sequence[str]) -> GroupedFrame:
        """Group rows on ``keys``; aggregate with :meth:`GroupedFrame.agg`.

        Examples
        --------
        >>> import lester as lt, pandas as pd
        >>> s = lt.from_pandas(pd.DataFrame({"k": ["a", "a"], "v": [1, 2]}), name="s")
        >>> s.groupby("k").agg(total=("v", "sum")).to_pandas()
           k  total
        0  a      3
        """
        return GroupedFrame(self, [keys] if isinstance(keys, str) else list(keys))

    def split(self, test_size: float = 0.2, seed: int = 42) -> tuple[TrackedFrame, TrackedFrame]:
        """A seeded train/test split that keeps row provenance aligned: each row's side is
        decided by a hash of its polynomial, so it is stable across re-runs.

        Examples
        --------
        >>> import lester as lt, pandas as pd
        >>> s = lt.from_pandas(pd.DataFrame({"id": range(100)}), name="s", primary_key="id")
        >>> train, test = s.split(test_size=0.2, seed=1)
        >>> len(train) + len(test), set(train.source_keys("s")) & set(test.source_keys("s"))
        (100, set())
        """
        train = self._derive(Split(self._node, "train", test_size, seed), [self])
        test = self._derive(Split(self._node, "test", test_size, seed), [self])
        return train, test

    def __repr__(self) -> str:
        rows, columns = self.shape
        preview = self._relation.data.head(5).to_string() if rows else "(no rows)"
        return f"TrackedFrame({rows} rows x {columns} columns, sources={self.sources})\n{preview}"


class GroupedFrame:
    """A frame grouped on keys, waiting for its aggregates.

    Examples
    --------
    >>> import lester as lt, pandas as pd
    >>> s = lt.from_pandas(pd.DataFrame({"k": ["a", "b", "a"]}), name="s")
    >>> s.groupby("k").agg(n=("k", "count")).provenance_of(0)
    's[0] + s[2]'
    """

    def __init__(self, frame: TrackedFrame, keys: list[str]) -> None:
        self._frame, self._keys = frame, keys

    def agg(self, **aggregates: tuple[str, str]) -> TrackedFrame:
        """``agg(out=(column, "count"|"sum"|"mean"|"min"|"max"), ...)``."""
        node = GroupBy(self._frame._node, self._keys, aggregates)
        return self._frame._derive(node, [self._frame])


# ---------------------------------------------------------------------------- sources
def _source_frame(node: Source, data: pd.DataFrame) -> TrackedFrame:
    engine = _PLAN_ONLY.get()
    if engine is not None:
        return TrackedFrame(node, _Unexecuted(engine))  # type: ignore[arg-type]
    relation = pandas_engine.read_source(node, data)
    return TrackedFrame(node, relation)


def from_pandas(data: pd.DataFrame, name: str, primary_key: str | None = None) -> TrackedFrame:
    """A source from an in-memory pandas DataFrame (its index is ignored).

    Examples
    --------
    >>> import lester as lt, pandas as pd
    >>> lt.from_pandas(pd.DataFrame({"a": [1]}), name="s").sources
    ['s']
    """
    if not isinstance(data, pd.DataFrame):
        raise SchemaError(f"from_pandas expects a pandas DataFrame, got {type(data).__name__}")
    _check_name(name)
    data = data.reset_index(drop=True).rename(columns=str)
    node = Source(name, list(data.columns), primary_key, reader="memory", data=data)
    return _source_frame(node, data)


def read_csv(
    path: str | Path, *, name: str | None = None, primary_key: str | None = None, **options: Any
) -> TrackedFrame:
    """Read a CSV file as a source; ``options`` go to :func:`pandas.read_csv`.

    The source is named after the file stem unless ``name`` is given. Tuples are
    identified by ``primary_key`` values, or by their 0-based row number.

    Examples
    --------
    >>> import lester as lt, tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "customers.csv")
    >>> _ = open(path, "w").write("1,DE\\n2,FR\\n")
    >>> lt.read_csv(path, header=None, names=["id", "country"], primary_key="id").sources
    ['customers']
    """
    path = Path(path)
    _check_readable(path)
    head = {"nrows": 5} if _PLAN_ONLY.get() is not None else {}  # the schema is enough
    try:
        data = pd.read_csv(path, **(dict(options) | head))
    except pd.errors.EmptyDataError:
        if options.get("names") is None:
            raise SourceReadError(f"cannot read {path} as CSV: the file is empty") from None
        # A file without a single line has no rows; with the names given, it has a schema.
        data = pd.DataFrame({name: pd.Series(dtype=object) for name in options["names"]})
    except (ValueError, pd.errors.ParserError, UnicodeDecodeError) as error:
        raise SourceReadError(f"cannot read {path} as CSV: {error}") from None
    _check_csv_schema(path, data, options)
    source_name = name or path.stem
    _check_name(source_name)
    node = Source(
        source_name, [str(c) for c in data.columns], primary_key, str(path), "csv", options
    )
    return _source_frame(node, data)


def read_parquet(
    path: str | Path, *, name: str | None = None, primary_key: str | None = None, **options: Any
) -> TrackedFrame:
    """Read a Parquet file as a source; ``options`` go to :func:`pandas.read_parquet`.

    Examples
    --------
    >>> import lester as lt, pandas as pd, tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "mails.parquet")
    >>> pd.DataFrame({"id": [1, 2]}).to_parquet(path)
    >>> len(lt.read_parquet(path, primary_key="id"))
    2
    """
    path = Path(path)
    _check_readable(path)
    try:
        if _PLAN_ONLY.get() is not None:  # the schema is enough
            data = pq.read_schema(path).empty_table().to_pandas()
        else:
            data = pd.read_parquet(path, **options)
    except Exception as error:  # pyarrow raises several types for unreadable files
        raise SourceReadError(f"cannot read {path} as Parquet: {error}") from None
    source_name = name or path.stem
    _check_name(source_name)
    node = Source(
        source_name, [str(c) for c in data.columns], primary_key, str(path), "parquet", options
    )
    return _source_frame(node, data.reset_index(drop=True))


def _check_name(name: object) -> None:
    if not isinstance(name, str) or not name:
        raise SchemaError(f"a source needs a non-empty string name, got {name!r}")


def _check_readable(path: Path) -> None:
    if not path.exists():
        raise SourceReadError(f"source file {path} does not exist")
    if not path.is_file():
        raise SourceReadError(f"source path {path} is not a file")


def _check_csv_schema(path: Path, data: pd.DataFrame, options: Mapping[str, Any]) -> None:
    """pandas silently turns surplus fields into an index and pads missing ones with NaN;
    a source whose fields do not match ``names`` is an error instead."""
    names = options.get("names")
    if names is None or "usecols" in options or "index_col" in options or len(data) == 0:
        return
    if not isinstance(data.index, pd.RangeIndex):
        raise SchemaError(
            f"{path} has more fields per line than the {len(names)} names {describe_names(names)}"
        )
    peek_options = {
        k: options[k] for k in ("sep", "delimiter", "quotechar", "encoding") if k in options
    }
    skip = 1 if options.get("header") == 0 else 0
    first = pd.read_csv(path, header=None, nrows=5, skiprows=skip, **peek_options)
    if first.shape[1] != len(names):
        raise SchemaError(
            f"{path} has {first.shape[1]} fields per line, but names lists {len(names)}: "
            f"{describe_names(names)}"
        )


# ---------------------------------------------------------------------------- combinators
def _as_keys(keys: str | Sequence[str] | None) -> list[str] | None:
    if keys is None:
        return None
    return [keys] if isinstance(keys, str) else list(keys)


def join(
    left: TrackedFrame,
    right: TrackedFrame,
    left_on: str | Sequence[str] | None = None,
    right_on: str | Sequence[str] | None = None,
    how: str = "inner",
    on: str | Sequence[str] | None = None,
    suffixes: tuple[str, str] = ("_x", "_y"),
) -> TrackedFrame:
    """Equi-join two frames; a joined row's polynomial is the product of its inputs'.

    ``how="left"`` keeps left rows without partner (right columns missing). Null keys
    match nothing. Name clashes get pandas-style ``suffixes``.

    Examples
    --------
    >>> import lester as lt, pandas as pd
    >>> a = lt.from_pandas(pd.DataFrame({"k": [1, 2]}), name="a")
    >>> b = lt.from_pandas(pd.DataFrame({"k": [2], "v": ["x"]}), name="b")
    >>> lt.join(a, b, on="k", how="left").to_pandas()
       k    v
    0  1  NaN
    1  2    x
    """
    for frame, side in ((left, "left"), (right, "right")):
        if not isinstance(frame, TrackedFrame):
            raise SchemaError(
                f"join expects tracked frames, the {side} side is {type(frame).__name__}"
            )
    if on is not None:
        left_on = right_on = on
    left_keys, right_keys = _as_keys(left_on), _as_keys(right_on)
    if left_keys is None or right_keys is None:
        raise SchemaError("join needs its keys: on=... or both left_on=... and right_on=...")
    node = Join(left._node, right._node, left_keys, right_keys, how, suffixes)
    return left._derive(node, [left, right])


def union(frames: Sequence[TrackedFrame]) -> TrackedFrame:
    """Bag union of frames with the same columns; each row keeps its polynomial.

    Examples
    --------
    >>> import lester as lt, pandas as pd
    >>> a = lt.from_pandas(pd.DataFrame({"x": [1]}), name="a")
    >>> b = lt.from_pandas(pd.DataFrame({"x": [1]}), name="b")
    >>> lt.union([a, b]).distinct().provenance_of(0)
    'a[0] + b[0]'
    """
    frames = list(frames)
    if not frames or not all(isinstance(frame, TrackedFrame) for frame in frames):
        raise SchemaError("union expects a non-empty list of tracked frames")
    node = Union([frame._node for frame in frames])
    return frames[0]._derive(node, frames)


def execute_plan(root: PlanNode, sources: Mapping[str, pd.DataFrame] | None = None) -> TrackedFrame:
    """Re-execute a plan from its sources; ``sources`` replaces the data of named sources.

    Examples
    --------
    >>> import lester as lt, pandas as pd
    >>> frame = lt.from_pandas(pd.DataFrame({"a": [1, 2]}), name="s").filter("a > 1")
    >>> len(frame.plan.execute(sources={"s": pd.DataFrame({"a": [2, 3, 4]})}))
    3
    """
    sources = dict(sources or {})
    unknown = set(sources) - {node.name for node in root.sources()}
    if unknown:
        known = sorted(node.name for node in root.sources())
        raise UnknownSourceError(
            f"unknown sources {describe_names(sorted(unknown))}; the plan reads "
            f"{describe_names(known)}"
        )
    done: dict[int, TrackedFrame] = {}
    token = _PLAN_ONLY.set(None)  # re-execution is eager, even inside a plan-only block

    def run(node: PlanNode) -> TrackedFrame:
        if id(node) not in done:
            if isinstance(node, Source):
                done[id(node)] = _source_frame(node, _source_data(node, sources))
            else:
                inputs = [run(child) for child in node.children]
                relation = pandas_engine.execute(node, [frame._relation for frame in inputs])
                done[id(node)] = TrackedFrame(node, relation, inputs)
        return done[id(node)]

    try:
        return run(root)
    finally:
        _PLAN_ONLY.reset(token)


def _source_data(node: Source, overrides: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    if node.name in overrides:
        return overrides[node.name].reset_index(drop=True)
    if node.reader == "memory":
        return node.data
    if node.reader == "parquet":
        return pd.read_parquet(node.path, **node.reader_options)
    return pd.read_csv(node.path, **node.reader_options)
