"""Which rows each source tuple feeds, read off the rows' provenance polynomials.

A tuple feeds a row when it occurs in any monomial of the row's polynomial, in any
occurrence (slot) of its source: a self-joined source counts once per row.

Examples
--------
>>> import numpy as np
>>> from lester.provenance import Provenance
>>> mails = Provenance.of_source("mails", 3)
>>> customers = Provenance.of_source("customers", 2)
>>> rows = Provenance.product(mails, np.array([0, 1, 2]), customers, np.array([1, 1, 0]))
>>> rows_per_tuple(rows, "customers", 2).tolist()
[1, 2]
"""

from __future__ import annotations

import numpy as np

from lester.provenance import Provenance


def row_tuple_pairs(provenance: Provenance, source: str) -> tuple[np.ndarray, np.ndarray]:
    """Distinct ``(row, tuple id)`` pairs: the rows and the tuples of ``source`` they
    derive from, sorted by row.

    Examples
    --------
    >>> from lester.provenance import Provenance
    >>> s = Provenance.of_source("s", 3)
    >>> grouped = s.group(np.array([0, 0, 1]), 2)  # row 0 = s[0] + s[1], row 1 = s[2]
    >>> [pair.tolist() for pair in row_tuple_pairs(grouped, "s")]
    [[0, 0, 1], [0, 1, 2]]
    """
    owners = provenance.owners()
    rows, ids = [], []
    for index, slot in enumerate(provenance.slots):
        if slot.source != source:
            continue
        column = provenance.keys[:, index]
        present = column >= 0
        rows.append(owners[present])
        ids.append(column[present])
    if not rows:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
    rows_all, ids_all = np.concatenate(rows), np.concatenate(ids)
    pairs = np.unique(np.stack([rows_all, ids_all], axis=1), axis=0)
    return pairs[:, 0].astype(np.int64), pairs[:, 1].astype(np.int64)


def rows_per_tuple(provenance: Provenance, source: str, n_tuples: int) -> np.ndarray:
    """For each tuple id of ``source`` (``0 .. n_tuples - 1``), the number of rows it feeds.

    Examples
    --------
    >>> from lester.provenance import Provenance
    >>> rows_per_tuple(Provenance.of_source("s", 2), "other", 3).tolist()
    [0, 0, 0]
    """
    _, ids = row_tuple_pairs(provenance, source)
    return np.bincount(ids, minlength=n_tuples).astype(np.int64)
