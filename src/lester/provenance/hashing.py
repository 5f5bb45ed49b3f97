"""Stable per-row hashes of provenance polynomials.

A row's hash depends only on the source tuples in its polynomial (source names and key
values), never on the other rows or on row positions. The runner's train/test split uses
it, so a row lands on the same side when the pipeline is re-run on cleaned sources, and a
row inserted by delta execution can be assigned without looking at any other row.

Examples
--------
>>> import numpy as np, pandas as pd
>>> from lester.provenance import Provenance, SourceInfo
>>> info = SourceInfo.from_frame("m", pd.DataFrame({"id": ["a", "b"]}), "id")
>>> h = row_hashes(Provenance.of_source("m", 2), {"m": info})
>>> h.dtype, h[0] != h[1]
(dtype('uint64'), np.True_)
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from lester.provenance.polynomial import ABSENT, Provenance
from lester.provenance.sources import SourceInfo

_MASK = np.uint64(0xFFFFFFFFFFFFFFFF)
HASH_SLICE = 1 << 18  # keys hashed at a time


def _mix(values: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser: spreads the bits of uint64 values (wrapping arithmetic)."""
    with np.errstate(over="ignore"):
        z = values.astype(np.uint64) + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def _string_hash(text: str) -> np.uint64:
    return np.uint64(pd.util.hash_array(np.array([text], dtype=object))[0])


def row_hashes(provenance: Provenance, sources: Mapping[str, SourceInfo]) -> np.ndarray:
    """One uint64 per row, a function of the row's polynomial only.

    A monomial hashes to the sum of its variables' hashes (order-free, so a self-join's
    two occurrences count twice); a row with several monomials takes the smallest.

    Examples
    --------
    >>> import pandas as pd
    >>> from lester.provenance import Provenance, SourceInfo
    >>> info = SourceInfo.from_frame("m", pd.DataFrame({"id": [7, 8]}), "id")
    >>> first = row_hashes(Provenance.of_source("m", 2), {"m": info})
    >>> again = row_hashes(Provenance.of_source("m", 2).take(np.array([1, 0])), {"m": info})
    >>> bool(first[0] == again[1])
    True
    """
    return hashes_with(provenance, key_hashes(sources))


def key_hashes(sources: Mapping[str, SourceInfo]) -> dict[str, np.ndarray]:
    """Source name -> the hash of each of its tuples (by tuple id), what rows hash from.

    Examples
    --------
    >>> import pandas as pd
    >>> from lester.provenance import SourceInfo
    >>> key_hashes({"m": SourceInfo.from_frame("m", pd.DataFrame({"id": [7]}), "id")})["m"].shape
    (1,)
    """
    return {
        name: _mix(_hash_keys(info.keys) ^ _string_hash(name)) for name, info in sources.items()
    }


def _hash_keys(keys: pd.Index) -> np.ndarray:
    # A slice at a time: hash_array needs the keys as Python objects, ~500 bytes a string
    # key while it runs, gigabytes for ten million keys at once. The hash is elementwise,
    # so slices change no value.
    hashes = np.empty(len(keys), dtype=np.uint64)
    for start in range(0, len(keys), HASH_SLICE):
        part = np.asarray(keys[start : start + HASH_SLICE], dtype=object)
        hashes[start : start + HASH_SLICE] = pd.util.hash_array(part)
    return hashes


def hashes_with(provenance: Provenance, hashes: Mapping[str, np.ndarray]) -> np.ndarray:
    """:func:`row_hashes` from precomputed :func:`key_hashes` (so another process, e.g. a
    Spark worker, can hash rows without the sources' keys).

    Examples
    --------
    >>> hashes_with(Provenance.of_source("m", 2), {"m": np.array([5, 9], dtype=np.uint64)}).shape
    (2,)
    """
    monomial = np.zeros(provenance.n_monomials, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for j, slot in enumerate(provenance.slots):
            ids = provenance.keys[:, j]
            present = ids != ABSENT
            monomial[present] += hashes[slot.source][ids[present]]
    if provenance.owner is None:
        return _mix(monomial)
    rows = np.full(provenance.n_rows, _MASK, dtype=np.uint64)
    np.minimum.at(rows, provenance.owner, monomial)
    return _mix(rows)


def unit_interval(hashes: np.ndarray, seed: int) -> np.ndarray:
    """Map hashes to floats in ``[0, 1)``, re-mixed with ``seed``.

    Examples
    --------
    >>> u = unit_interval(np.arange(1000, dtype=np.uint64), seed=42)
    >>> bool(0.4 < u.mean() < 0.6)
    True
    """
    mixed = _mix(hashes ^ _mix(np.array([seed], dtype=np.uint64))[0])
    return (mixed >> np.uint64(11)).astype(np.float64) / float(1 << 53)
