"""Compare what the original script and the rewritten pipeline computed.

The prepared data is compared as a multiset of rows with types normalised (the messy
scripts write ``str()`` of their values, so ``13700.0``, ``13700`` and the float 13700.0
are the same value, ``True`` is 1 and an empty field is a missing value); ``y`` and ``X``
are compared row by row once the rows are aligned by matching prepared rows (duplicates in
their order), ``X`` column block by column block, within 1e-9.

Examples
--------
>>> import numpy as np
>>> original = Outputs(columns=None, rows=[["a", "1.0"], ["b", "2.0"]],
...                    X=np.array([[1.0], [2.0]]), y=np.array([0.0, 1.0]))
>>> rewrite = Outputs(columns=["k", "v"], rows=[["b", 2], ["a", 1]],
...                   X=np.array([[2.0], [1.0]]), y=np.array([1.0, 0.0]))
>>> compare(original, rewrite).equivalent
True
>>> rewrite.X[0, 0] = 2.5
>>> print(compare(original, rewrite).describe())
X block 'columns 0-0' differs in 1 of 2 rows; first at prepared row ['b', 2]: original [2.0], \
rewrite [2.5]
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import numpy as np

TOLERANCE = 1e-9
_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|[+-]?(?:inf|nan)")
_SHOWN_ROWS = 5


@dataclass
class Outputs:
    """Prepared rows, ``X`` and ``y`` of one program on one input set. ``rows`` hold the
    text the original wrote or the JSON values the rewrite produced."""

    columns: list[str] | None
    rows: list[list[Any]]
    X: np.ndarray
    y: np.ndarray
    provenance: list[Any] | None = None
    blocks: list[tuple[str, int, int]] = field(default_factory=list)


def as_text(value: Any) -> str:
    """A value as a messy script would write it with ``str()`` (missing: empty).

    Examples
    --------
    >>> as_text(None), as_text(True), as_text(13700.0), as_text(7)
    ('', 'True', '13700.0', '7')
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return str(value)


def normalise(value: Any) -> Any:
    """The comparable form of a cell: ``None`` for missing, a float for numbers and
    booleans, the text otherwise.

    Examples
    --------
    >>> normalise("13700.0") == normalise(13700) == 13700.0, normalise("True"), normalise("")
    (True, 1.0, None)
    """
    text = as_text(value)
    if text == "":
        return None
    if text in ("True", "False"):
        return 1.0 if text == "True" else 0.0
    if _NUMBER.fullmatch(text):
        number = float(text)
        return None if math.isnan(number) else number
    return text


def _key(row: list[Any]) -> tuple:
    return tuple(float(f"{v:.9g}") if isinstance(v, float) else v for v in row)


def _close(a: list[Any], b: list[Any]) -> bool:
    if len(a) != len(b):
        return False
    for x, y in zip(a, b, strict=True):
        if isinstance(x, float) and isinstance(y, float):
            if not math.isclose(x, y, rel_tol=TOLERANCE, abs_tol=TOLERANCE):
                return False
        elif x != y:
            return False
    return True


@dataclass
class BlockDifference:
    """A block of ``X`` columns that differs on aligned rows."""

    name: str
    start: int
    stop: int
    rows_differing: int
    rows_compared: int
    row: list[Any]  # the prepared row (rewrite side) of the first differing row
    original: list[float]
    rewrite: list[float]

    def describe(self) -> str:
        return (
            f"X block {self.name!r} differs in {self.rows_differing} of {self.rows_compared} "
            f"rows; first at prepared row {self.row}: original {self.original}, "
            f"rewrite {self.rewrite}"
        )


@dataclass
class Comparison:
    """The outcome of comparing two :class:`Outputs`."""

    rows_original: int
    rows_rewrite: int
    only_original: list[list[Any]] = field(default_factory=list)
    only_rewrite: list[list[Any]] = field(default_factory=list)
    only_rewrite_provenance: list[Any] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # shapes, column counts
    x_blocks: list[BlockDifference] = field(default_factory=list)
    y_rows: list[tuple[list[Any], float, float]] = field(default_factory=list)
    y_rows_differing: int = 0
    notes: list[str] = field(default_factory=list)  # what was not compared, and why

    @property
    def equivalent(self) -> bool:
        return not (
            self.only_original or self.only_rewrite or self.problems or self.x_blocks
            or self.y_rows_differing
        )  # fmt: skip

    @property
    def signature(self) -> set[str]:
        """What kind of difference this is, to keep a reduced input showing the same one."""
        found = {f"problem:{p.split(':')[0]}" for p in self.problems}
        if self.only_original or self.only_rewrite:
            found.add("prepared")
        found.update(f"x:{block.name}" for block in self.x_blocks)
        if self.y_rows_differing:
            found.add("y")
        return found

    def describe(self, rows: int = _SHOWN_ROWS) -> str:
        """Human-readable lines: what differs, with the first differing rows."""
        lines = list(self.problems)
        if self.only_original or self.only_rewrite:
            lines.append(
                f"prepared rows differ: {len(self.only_original)} only in the original, "
                f"{len(self.only_rewrite)} only in the rewrite "
                f"(of {self.rows_original} and {self.rows_rewrite} rows)"
            )
            lines += [f"  original only: {row}" for row in self.only_original[:rows]]
            for row, polynomial in zip(
                self.only_rewrite[:rows], self.only_rewrite_provenance[:rows] or
                [None] * rows, strict=False):  # fmt: skip
                origin = f"   <- {_render(polynomial)}" if polynomial else ""
                lines.append(f"  rewrite only:  {row}{origin}")
        lines += [block.describe() for block in self.x_blocks]
        if self.y_rows_differing:
            lines.append(f"y differs in {self.y_rows_differing} aligned rows")
            lines += [f"  row {row}: original {a}, rewrite {b}" for row, a, b in self.y_rows[:rows]]
        return "\n".join(lines)


def _render(polynomial: Any) -> str:
    return " + ".join("*".join(f"{s}[{k}]" for s, k in monomial) for monomial in polynomial)


def compare(original: Outputs, rewrite: Outputs) -> Comparison:
    """Compare prepared rows as multisets, then ``y`` and ``X`` on the aligned rows."""
    result = Comparison(len(original.rows), len(rewrite.rows))
    left = [[normalise(v) for v in row] for row in original.rows]
    right = [[normalise(v) for v in row] for row in rewrite.rows]
    widths = {len(row) for row in left}, {len(row) for row in right}
    if left and right and widths[0] != widths[1]:
        result.problems.append(
            f"columns: the original writes {sorted(widths[0])} fields per row, the rewrite "
            f"returns {sorted(widths[1])} ({rewrite.columns})"
        )
    pairs, unmatched_left, unmatched_right = _align(left, right)
    result.only_original = [original.rows[i] for i in unmatched_left]
    result.only_rewrite = [rewrite.rows[j] for j in unmatched_right]
    if rewrite.provenance is not None:
        result.only_rewrite_provenance = [rewrite.provenance[j] for j in unmatched_right]
    _compare_y(original, rewrite, pairs, result)
    _compare_X(original, rewrite, pairs, result)
    return result


def _align(left: list[list[Any]], right: list[list[Any]]):
    """Pairs (original row, rewrite row) of equal prepared rows; duplicates pair in order."""
    positions: dict[tuple, list[int]] = defaultdict(list)
    for i, row in enumerate(left):
        positions[_key(row)].append(i)
    for queue in positions.values():
        queue.reverse()
    pairs, unmatched_right = [], []
    for j, row in enumerate(right):
        queue = positions.get(_key(row))
        if queue:
            pairs.append((queue.pop(), j))
        else:
            unmatched_right.append(j)
    unmatched_left = sorted(i for queue in positions.values() for i in queue)
    # Rows whose floats differ by less than the tolerance but round to different keys.
    if unmatched_left and unmatched_right and len(unmatched_left) * len(unmatched_right) < 10**6:
        still_left = []
        for i in unmatched_left:
            match = next((j for j in unmatched_right if _close(left[i], right[j])), None)
            if match is None:
                still_left.append(i)
            else:
                pairs.append((i, match))
                unmatched_right.remove(match)
        unmatched_left = still_left
    pairs.sort()
    return pairs, unmatched_left, unmatched_right


def _compare_y(original: Outputs, rewrite: Outputs, pairs, result: Comparison) -> None:
    y_o, y_r = np.ravel(original.y), np.ravel(rewrite.y)
    if len(y_o) != len(original.rows) or len(y_r) != len(rewrite.rows):
        result.problems.append(
            f"y: {len(y_o)} labels for {len(original.rows)} original rows, {len(y_r)} labels "
            f"for {len(rewrite.rows)} rewrite rows"
        )
        return
    if not pairs:
        return
    i, j = np.array(pairs).T
    a, b = y_o[i].astype(float), y_r[j].astype(float)
    bad = ~np.isclose(a, b, rtol=TOLERANCE, atol=TOLERANCE, equal_nan=True)
    result.y_rows_differing = int(bad.sum())
    result.y_rows = [
        (rewrite.rows[j[k]], float(a[k]), float(b[k])) for k in np.flatnonzero(bad)[:_SHOWN_ROWS]
    ]


def _blocks(rewrite: Outputs, width: int) -> list[tuple[str, int, int]]:
    """The rewrite's named blocks, plus unnamed ranges for columns no block covers."""
    blocks = sorted((b for b in rewrite.blocks if b[2] <= width), key=lambda b: b[1])
    result, position = [], 0
    for name, start, stop in blocks:
        if start > position:
            result.append((f"columns {position}-{start - 1}", position, start))
        result.append((name, start, stop))
        position = max(position, stop)
    if position < width:
        result.append((f"columns {position}-{width - 1}", position, width))
    return result


def _compare_X(original: Outputs, rewrite: Outputs, pairs, result: Comparison) -> None:
    X_o, X_r = np.asarray(original.X, dtype=float), np.asarray(rewrite.X, dtype=float)
    if not original.rows and not rewrite.rows:
        return  # no rows, no features: the shape of an empty matrix is arbitrary
    if X_o.ndim != 2 or X_r.ndim != 2:
        result.problems.append(f"X: shapes {X_o.shape} and {X_r.shape} are not matrices")
        return
    if X_o.shape[0] != len(original.rows) or X_r.shape[0] != len(rewrite.rows):
        result.problems.append(
            f"X: {X_o.shape[0]} rows for {len(original.rows)} original rows, {X_r.shape[0]} "
            f"rows for {len(rewrite.rows)} rewrite rows"
        )
        return
    if X_o.shape[1] != X_r.shape[1]:
        names = ", ".join(f"{n} [{a}:{b}]" for n, a, b in rewrite.blocks)
        result.problems.append(
            f"X: the original has {X_o.shape[1]} columns, the rewrite {X_r.shape[1]}"
            + (f" (blocks {names})" if names else "")
        )
        return
    if not pairs:
        return
    i, j = np.array(pairs).T
    undefined = ~np.isfinite(X_o[i])
    if undefined.any():
        # 0/0 in the original (e.g. a z-score of a constant column): its value is undefined.
        columns = sorted(set(np.flatnonzero(undefined.any(axis=0)).tolist()))
        result.notes.append(
            f"the original's X holds {int(undefined.sum())} NaN/inf values (columns "
            f"{columns[:10]}); those cells are not compared"
        )
    for name, start, stop in _blocks(rewrite, X_o.shape[1]):
        a, b = X_o[i, start:stop], X_r[j, start:stop]
        same = np.isclose(a, b, rtol=TOLERANCE, atol=TOLERANCE, equal_nan=True)
        bad_rows = np.flatnonzero((~(same | undefined[:, start:stop])).any(axis=1))
        if len(bad_rows):
            k = bad_rows[0]
            result.x_blocks.append(
                BlockDifference(
                    name, start, stop, len(bad_rows), len(pairs), rewrite.rows[j[k]],
                    [round(float(v), 12) for v in a[k][:8]],
                    [round(float(v), 12) for v in b[k][:8]],
                )
            )  # fmt: skip
