"""Source tuples: how a variable of a provenance polynomial maps to a key of its source.

A source tuple is identified by (source name, primary-key value), or by its 0-based row
number in the file when no key is declared. Inside a polynomial we store the tuple's
position in its source (an int64); :class:`SourceInfo` translates between the two.

Examples
--------
>>> import pandas as pd
>>> info = SourceInfo.from_frame("customers", pd.DataFrame({"id": ["C1", "C2"]}), "id")
>>> info.ids_of(["C2"])
array([1])
>>> list(info.keys_at([0]))
['C1']
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from lester.errors import DuplicateKeyError, KeyTypeError, UnknownKeyError, describe_names


@dataclass(frozen=True, eq=False)
class SourceInfo:
    """The identity of one source's tuples.

    Parameters
    ----------
    name:
        Source name (the file stem unless given).
    primary_key:
        Declared key column, or ``None`` to identify tuples by row number.
    keys:
        The key of each tuple, by position (row numbers when no key is declared).
    path:
        The file the source was read from, if any.

    Examples
    --------
    >>> SourceInfo.from_frame("m", pd.DataFrame({"a": [5, 6]}), None).ids_of([1])
    array([1])
    """

    name: str
    primary_key: str | None
    keys: pd.Index
    path: str | None = None
    _lookup: dict = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_frame(
        cls,
        name: str,
        data: pd.DataFrame,
        primary_key: str | None,
        path: str | None = None,
        row_numbers: np.ndarray | None = None,
    ) -> SourceInfo:
        """Describe a source read into ``data``; checks that a declared key is unique.

        Examples
        --------
        >>> SourceInfo.from_frame("c", pd.DataFrame({"id": [1, 1]}), "id")
        Traceback (most recent call last):
        ...
        lester.errors.DuplicateKeyError: primary key 'id' of source 'c' is not unique: ...
        """
        if primary_key is None:
            numbers = np.arange(len(data)) if row_numbers is None else row_numbers
            return cls(name, None, pd.Index(numbers, dtype=np.int64), path)
        column = data[primary_key]
        keys = pd.Index(column)
        if column.nunique(dropna=False) != len(column):  # nunique is the fastest check here
            duplicates = keys[keys.duplicated()].unique()
            raise DuplicateKeyError(
                f"primary key {primary_key!r} of source {name!r} is not unique: "
                f"{describe_names(duplicates)} occur more than once"
            )
        if keys.hasnans:
            raise DuplicateKeyError(
                f"primary key {primary_key!r} of source {name!r} has missing values"
            )
        return cls(name, primary_key, keys, path)

    @property
    def key_description(self) -> str:
        """What identifies a tuple: the key column or 'row number'."""
        return repr(self.primary_key) if self.primary_key else "row number"

    def ids_of(self, keys: Iterable[object]) -> np.ndarray:
        """Tuple ids (positions) of the given keys; errors name wrong types and unknown keys.

        Examples
        --------
        >>> info = SourceInfo.from_frame("m", pd.DataFrame({"a": [5, 6]}), None)
        >>> info.ids_of(["0"])
        Traceback (most recent call last):
        ...
        lester.errors.KeyTypeError: keys of source 'm' are row numbers (int), got str: ['0']
        """
        keys = list(keys)
        self._check_types(keys)
        positions = self.keys.get_indexer(pd.Index(keys, dtype=self.keys.dtype))
        missing = [key for key, position in zip(keys, positions, strict=True) if position < 0]
        if missing:
            raise UnknownKeyError(
                f"source {self.name!r} has no tuple with {self.key_description} "
                f"{describe_names(missing)}"
            )
        return np.unique(positions.astype(np.int64))

    def keys_at(self, ids: np.ndarray) -> pd.Index:
        """The keys of the tuples at the given positions.

        Examples
        --------
        >>> SourceInfo.from_frame("m", pd.DataFrame({"a": [5, 6]}), "a").keys_at([1])
        Index([6], dtype='int64', name='a')
        """
        return self.keys[np.asarray(ids, dtype=np.int64)]

    def _check_types(self, keys: list[object]) -> None:
        expected = _kind_of_index(self.keys)
        wrong = [key for key in keys if _kind_of_value(key) != expected]
        if wrong:
            what = "row numbers" if self.primary_key is None else f"{self.primary_key!r} values"
            got = sorted({type(key).__name__ for key in wrong})
            raise KeyTypeError(
                f"keys of source {self.name!r} are {what} ({expected}), got "
                f"{', '.join(got)}: {describe_names(wrong)}"
            )


def _kind_of_index(index: pd.Index) -> str:
    if pd.api.types.is_bool_dtype(index):
        return "bool"
    if pd.api.types.is_integer_dtype(index):
        return "int"
    if pd.api.types.is_float_dtype(index):
        return "float"
    if pd.api.types.is_string_dtype(index):
        return "str"
    if pd.api.types.is_datetime64_any_dtype(index):
        return "datetime"
    return "object"


def _kind_of_value(value: object) -> str:
    if isinstance(value, bool | np.bool_):
        return "bool"
    if isinstance(value, int | np.integer):
        return "int"
    if isinstance(value, float | np.floating):
        return "float"
    if isinstance(value, str):
        return "str"
    if isinstance(value, pd.Timestamp | np.datetime64):
        return "datetime"
    return "object"
