"""The row a row function sees: only its declared columns.

A ``project`` or ``filter`` row function receives a :class:`DeclaredRow`, a ``dict`` of
the declared ``source_columns``. Reading any other column raises an error that names the
column and the declared list, which keeps column provenance honest even when an LLM wrote
the function. Declared columns are read at plain ``dict`` speed (``__missing__`` is only
consulted for absent keys).

Examples
--------
>>> row = DeclaredRow({"level": "premium"})
>>> row["level"], row.level
('premium', 'premium')
>>> row["country"]
Traceback (most recent call last):
...
lester.errors.UndeclaredColumnError: the row function read column 'country', which is ...
"""

from __future__ import annotations

from typing import Any

from lester.errors import UndeclaredColumnError, describe_names


class DeclaredRow(dict):
    """A row restricted to declared columns; attribute access works like pandas rows."""

    __slots__ = ()

    def __missing__(self, column: str) -> Any:
        raise UndeclaredColumnError(
            f"the row function read column {column!r}, which is not among its declared "
            f"source_columns {describe_names(self.keys())}"
        )

    def __getattr__(self, column: str) -> Any:
        if column.startswith("__"):
            raise AttributeError(column)
        return self[column]

    def get(self, column: str, default: Any = None) -> Any:
        return self[column] if column in self else self.__missing__(column)
