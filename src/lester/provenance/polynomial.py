"""Row provenance as provenance polynomials, stored as a columnar table of monomials.

A row's polynomial (Green et al., PODS 2007) is a sum of monomials; a monomial is a product
of source-tuple variables. We store all monomials of all rows of a frame in one int64 matrix
``keys`` with one column per *slot* (a source occurrence in the plan) holding the tuple id
(the tuple's position in its source) or ``-1`` where the monomial has no variable of that
slot. ``owner[m]`` names the row of monomial ``m``; in the common monomial case (one monomial
per row, row ``i`` owns monomial ``i``) ``owner`` is ``None`` and costs nothing.

Join multiplies (monomials of both sides side by side), union and distinct add (monomials
are concatenated under one owner), a group carries the sum of its members. A self-join keeps
both occurrences apart: the second occurrence of a source gets its own slot.

Examples
--------
>>> import numpy as np
>>> mails = Provenance.of_source("mails", 3)
>>> customers = Provenance.of_source("customers", 2)
>>> joined = Provenance.product(mails, np.array([0, 2]), customers, np.array([1, 1]))
>>> joined.monomials_of(1)
[(('mails', 2), ('customers', 1))]
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

ABSENT = -1


@dataclass(frozen=True)
class Slot:
    """One occurrence of a source in a plan: a column of the monomial table.

    Examples
    --------
    >>> Slot("customers#2", "customers").source
    'customers'
    """

    name: str
    source: str


class Provenance:
    """The provenance polynomials of the rows of one frame.

    Parameters
    ----------
    slots:
        The source occurrences, one per column of ``keys``.
    keys:
        ``(n_monomials, n_slots)`` int64 tuple ids, ``-1`` where a slot is absent.
    owner:
        Row of each monomial, non-decreasing; ``None`` when monomial ``i`` is row ``i``.
    n_rows:
        Number of rows (rows may own no monomial only transiently, inside ``forget``).

    Examples
    --------
    >>> p = Provenance.of_source("mails", 4)
    >>> p.n_rows, p.is_monomial
    (4, True)
    """

    __slots__ = ("_starts", "keys", "n_rows", "owner", "slots")

    def __init__(
        self,
        slots: Sequence[Slot],
        keys: np.ndarray,
        owner: np.ndarray | None,
        n_rows: int,
    ) -> None:
        self.slots = tuple(slots)
        self.keys = keys
        self.owner = owner
        self.n_rows = int(n_rows)
        self._starts: np.ndarray | None = None

    # ----------------------------------------------------------------- construction
    @classmethod
    def of_source(cls, source: str, n_rows: int, tuple_ids: np.ndarray | None = None) -> Provenance:
        """Provenance of a source read in full: row ``i`` is the variable ``source[i]``.

        Examples
        --------
        >>> Provenance.of_source("customers", 2).render(1)
        'customers[1]'
        """
        ids = np.arange(n_rows, dtype=np.int64) if tuple_ids is None else tuple_ids
        return cls([Slot(source, source)], ids.astype(np.int64).reshape(-1, 1), None, n_rows)

    @classmethod
    def empty_like(cls, other: Provenance) -> Provenance:
        """A provenance with the same slots and no rows.

        Examples
        --------
        >>> Provenance.empty_like(Provenance.of_source("m", 3)).n_rows
        0
        """
        return cls(other.slots, other.keys[:0], None, 0)

    # ----------------------------------------------------------------- basic properties
    @property
    def is_monomial(self) -> bool:
        """Whether every row owns exactly one monomial (then ``owner`` is implicit)."""
        return self.owner is None

    @property
    def n_monomials(self) -> int:
        """Number of monomials over all rows."""
        return int(self.keys.shape[0])

    @property
    def sources(self) -> list[str]:
        """The distinct source names of the slots, in slot order."""
        return list(dict.fromkeys(slot.source for slot in self.slots))

    def owners(self) -> np.ndarray:
        """The row of each monomial, materialised."""
        if self.owner is None:
            return np.arange(self.n_monomials, dtype=np.int64)
        return self.owner

    def row_starts(self) -> np.ndarray:
        """``starts[i]:starts[i+1]`` are the monomials of row ``i`` (length ``n_rows + 1``)."""
        if self._starts is None:
            if self.owner is None:
                self._starts = np.arange(self.n_rows + 1, dtype=np.int64)
            else:
                self._starts = np.searchsorted(
                    self.owner, np.arange(self.n_rows + 1, dtype=np.int64)
                ).astype(np.int64)
        return self._starts

    def monomial_counts(self) -> np.ndarray:
        """Number of monomials of each row."""
        if self.owner is None:
            return np.ones(self.n_rows, dtype=np.int64)
        return np.diff(self.row_starts())

    # ----------------------------------------------------------------- relational algebra
    def take(self, rows: np.ndarray) -> Provenance:
        """Provenance of the rows at positions ``rows`` (repeats allowed), in that order.

        Examples
        --------
        >>> Provenance.of_source("m", 5).take(np.array([4, 4, 0])).render(1)
        'm[4]'
        """
        rows = np.asarray(rows, dtype=np.int64)
        if self.owner is None:
            return Provenance(self.slots, self.keys[rows], None, len(rows))
        starts = self.row_starts()
        counts = starts[rows + 1] - starts[rows]
        monomials = _expand_ranges(starts[rows], counts)
        owner = np.repeat(np.arange(len(rows), dtype=np.int64), counts)
        return Provenance(self.slots, self.keys[monomials], owner, len(rows)).normalised()

    def take_mask(self, mask: np.ndarray) -> Provenance:
        """Provenance of the rows where ``mask`` is true.

        Examples
        --------
        >>> Provenance.of_source("m", 3).take_mask(np.array([True, False, True])).n_rows
        2
        """
        if self.owner is None:
            keys = np.compress(mask, self.keys, axis=0)
            return Provenance(self.slots, keys, None, len(keys))
        return self.take(np.flatnonzero(mask))

    @staticmethod
    def product(
        left: Provenance, left_rows: np.ndarray, right: Provenance, right_rows: np.ndarray
    ) -> Provenance:
        """Provenance of join rows pairing ``left_rows[i]`` with ``right_rows[i]``.

        A right row of ``-1`` is an unmatched left row of an outer join: it keeps the left
        polynomial alone. Slots of the right side that already occur on the left are renamed
        (``customers`` becomes ``customers#2``), so a self-join keeps both occurrences apart.

        Examples
        --------
        >>> c = Provenance.of_source("c", 3)
        >>> Provenance.product(c, np.array([0]), c, np.array([2])).render(0)
        'c[0]*c[2]'
        """
        left_rows = np.asarray(left_rows, dtype=np.int64)
        right_rows = np.asarray(right_rows, dtype=np.int64)
        right_slots = _disambiguate(left.slots, right.slots)
        # A virtual extra right row of absent slots stands for "no partner".
        padded = right.keys
        unmatched = right_rows < 0
        if unmatched.any():
            padded = np.vstack([right.keys, np.full((1, len(right.slots)), ABSENT, np.int64)])
            right = Provenance(right.slots, padded, _append_owner(right), right.n_rows + 1)
            right_rows = np.where(unmatched, right.n_rows - 1, right_rows)
        slots = left.slots + right_slots
        if left.owner is None and right.owner is None:
            keys = np.hstack([left.keys[left_rows], right.keys[right_rows]])
            return Provenance(slots, keys, None, len(left_rows))
        return _general_product(slots, left, left_rows, right, right_rows)

    @staticmethod
    def concat(parts: Sequence[Provenance]) -> Provenance:
        """Provenance of the rows of ``parts`` one after another (bag union).

        Slots are aligned by name; a slot missing in a part is absent in its monomials.

        Examples
        --------
        >>> a, b = Provenance.of_source("a", 1), Provenance.of_source("b", 2)
        >>> Provenance.concat([a, b]).render(2)
        'b[1]'
        """
        slots: list[Slot] = []
        for part in parts:
            for slot in part.slots:
                if slot not in slots:
                    slots.append(slot)
        blocks, owners, offset, monomial_case = [], [], 0, True
        for part in parts:
            block = np.full((part.n_monomials, len(slots)), ABSENT, dtype=np.int64)
            for j, slot in enumerate(part.slots):
                block[:, slots.index(slot)] = part.keys[:, j]
            blocks.append(block)
            owners.append(part.owners() + offset)
            offset += part.n_rows
            monomial_case &= part.owner is None
        keys = np.vstack(blocks) if blocks else np.empty((0, len(slots)), np.int64)
        if monomial_case:
            return Provenance(slots, keys, None, offset)
        owner = np.concatenate(owners) if owners else np.empty(0, np.int64)
        return Provenance(slots, keys, owner, offset)

    def group(self, group_of_row: np.ndarray, n_groups: int) -> Provenance:
        """Provenance of groups: each group carries the sum of its members' polynomials.

        ``group_of_row[i]`` is the group of row ``i``; rows with ``-1`` belong to no group.

        Examples
        --------
        >>> p = Provenance.of_source("m", 3).group(np.array([0, 1, 0]), 2)
        >>> p.render(0)
        'm[0] + m[2]'
        """
        group_of_row = np.asarray(group_of_row, dtype=np.int64)
        monomial_group = group_of_row[self.owners()]
        member = monomial_group >= 0
        order = np.argsort(monomial_group[member], kind="stable")
        keys = self.keys[member][order]
        owner = monomial_group[member][order]
        return Provenance(self.slots, keys, owner, n_groups).normalised()

    # ----------------------------------------------------------------- deletion
    def monomials_touching(self, ids_by_source: Mapping[str, np.ndarray]) -> np.ndarray:
        """Boolean mask of the monomials that contain any of the given tuple ids.

        Examples
        --------
        >>> Provenance.of_source("m", 3).monomials_touching({"m": np.array([1])})
        array([False,  True, False])
        """
        touched = np.zeros(self.n_monomials, dtype=bool)
        for j, slot in enumerate(self.slots):
            ids = ids_by_source.get(slot.source)
            if ids is not None and len(ids):
                touched |= np.isin(self.keys[:, j], ids)
        return touched

    def rows_touching(self, ids_by_source: Mapping[str, np.ndarray]) -> np.ndarray:
        """Boolean mask of the rows whose polynomial contains any of the given tuple ids.

        Examples
        --------
        >>> Provenance.of_source("m", 3).rows_touching({"m": np.array([2])})
        array([False, False,  True])
        """
        touched = self.monomials_touching(ids_by_source)
        if self.owner is None:
            return touched
        return np.bincount(self.owner[touched], minlength=self.n_rows) > 0

    def without(self, ids_by_source: Mapping[str, np.ndarray]) -> tuple[Provenance, np.ndarray]:
        """Set the given variables to zero: drop their monomials, report the surviving rows.

        Returns the provenance of the surviving rows and the boolean mask of survivors.

        Examples
        --------
        >>> p = Provenance.of_source("m", 3).group(np.array([0, 0, 1]), 2)
        >>> kept, alive = p.without({"m": np.array([0, 2])})
        >>> kept.render(0), alive
        ('m[1]', array([ True, False]))
        """
        touched = self.monomials_touching(ids_by_source)
        if self.owner is None:
            alive = ~touched
            keys = np.compress(alive, self.keys, axis=0)  # much faster than boolean indexing
            return Provenance(self.slots, keys, None, len(keys)), alive
        keep = ~touched
        alive = np.bincount(self.owner[keep], minlength=self.n_rows) > 0
        new_row = np.cumsum(alive) - 1
        owner = new_row[self.owner[keep]]
        kept = Provenance(self.slots, self.keys[keep], owner, int(alive.sum()))
        return kept.normalised(), alive

    def normalised(self) -> Provenance:
        """The same provenance, in the monomial representation where it is one.

        Examples
        --------
        >>> p = Provenance.of_source("m", 2).group(np.array([1, 0]), 2)
        >>> p.normalised().is_monomial
        True
        """
        if (
            self.owner is not None
            and self.n_monomials == self.n_rows
            and np.array_equal(self.owner, np.arange(self.n_rows))
        ):
            return Provenance(self.slots, self.keys, None, self.n_rows)
        return self

    # ----------------------------------------------------------------- rendering
    def monomials_of(self, row: int) -> list[tuple[tuple[str, int], ...]]:
        """The monomials of one row as tuples of ``(source, tuple id)`` variables.

        Examples
        --------
        >>> Provenance.of_source("m", 2).monomials_of(1)
        [(('m', 1),)]
        """
        starts = self.row_starts()
        result = []
        for m in range(starts[row], starts[row + 1]):
            variables = tuple(
                (slot.source, int(self.keys[m, j]))
                for j, slot in enumerate(self.slots)
                if self.keys[m, j] != ABSENT
            )
            result.append(variables)
        return result

    def render(self, row: int, labels: Mapping[str, Sequence[object]] | None = None) -> str:
        """Render one row's polynomial, e.g. ``mails[17]*customers[4]``.

        ``labels[source][tuple_id]`` replaces a tuple id by its primary-key value.

        Examples
        --------
        >>> Provenance.of_source("c", 2).render(1, {"c": ["C1", "C2"]})
        'c[C2]'
        """
        terms = []
        for monomial in self.monomials_of(row):
            factors = []
            for source, tuple_id in monomial:
                label = labels[source][tuple_id] if labels and source in labels else tuple_id
                factors.append(f"{source}[{label}]")
            terms.append("*".join(factors) if factors else "1")
        return " + ".join(terms) if terms else "0"

    def canonical(self, labels: Mapping[str, Sequence[object]]) -> list[tuple]:
        """Each row's polynomial in a canonical, comparable form (sorted monomials).

        Variables are ``(source, key)`` pairs; useful to compare frames as multisets.

        Examples
        --------
        >>> Provenance.of_source("c", 2).canonical({"c": ["a", "b"]})
        [((('c', 'a'),),), ((('c', 'b'),),)]
        """
        label_arrays = {
            source: np.asarray(values, dtype=object) for source, values in labels.items()
        }
        columns = []
        for j, slot in enumerate(self.slots):
            ids = self.keys[:, j]
            values = np.full(len(ids), None, dtype=object)
            present = ids != ABSENT
            values[present] = label_arrays[slot.source][ids[present]]
            columns.append((slot.source, present, values))
        monomials = []
        for m in range(self.n_monomials):
            variables = [(source, values[m]) for source, present, values in columns if present[m]]
            monomials.append(tuple(sorted(variables, key=repr)))
        starts = self.row_starts()
        return [
            tuple(sorted(monomials[starts[i] : starts[i + 1]], key=repr))
            for i in range(self.n_rows)
        ]

    def __repr__(self) -> str:
        names = [slot.name for slot in self.slots]
        return f"Provenance(rows={self.n_rows}, monomials={self.n_monomials}, slots={names})"


def _expand_ranges(starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Concatenate ``range(s, s + c)`` for each start and count, vectorised."""
    total = int(counts.sum())
    if total == 0:
        return np.empty(0, dtype=np.int64)
    offsets = np.repeat(np.cumsum(counts) - counts, counts)
    return np.repeat(starts, counts) + (np.arange(total, dtype=np.int64) - offsets)


def _append_owner(provenance: Provenance) -> np.ndarray | None:
    if provenance.owner is None:
        return None
    return np.append(provenance.owner, provenance.n_rows)


def _disambiguate(taken: Iterable[Slot], incoming: Iterable[Slot]) -> tuple[Slot, ...]:
    """Rename incoming slots whose names are taken: ``customers`` -> ``customers#2``."""
    names = {slot.name for slot in taken}
    renamed = []
    for slot in incoming:
        name, counter = slot.name, 2
        while name in names:
            name = f"{slot.source}#{counter}"
            counter += 1
        names.add(name)
        renamed.append(Slot(name, slot.source))
    return tuple(renamed)


def _general_product(
    slots: Sequence[Slot],
    left: Provenance,
    left_rows: np.ndarray,
    right: Provenance,
    right_rows: np.ndarray,
) -> Provenance:
    """Distribute the product over sums: every left monomial times every right monomial."""
    left_starts, right_starts = left.row_starts(), right.row_starts()
    left_counts = left_starts[left_rows + 1] - left_starts[left_rows]
    right_counts = right_starts[right_rows + 1] - right_starts[right_rows]
    counts = left_counts * right_counts
    local = _expand_ranges(np.zeros(len(counts), np.int64), counts)
    repeated_right_counts = np.repeat(right_counts, counts)
    left_monomials = np.repeat(left_starts[left_rows], counts) + local // repeated_right_counts
    right_monomials = np.repeat(right_starts[right_rows], counts) + local % repeated_right_counts
    keys = np.hstack([left.keys[left_monomials], right.keys[right_monomials]])
    owner = np.repeat(np.arange(len(left_rows), dtype=np.int64), counts)
    return Provenance(slots, keys, owner, len(left_rows)).normalised()
