"""Errors raised by Lester.

Every error a user can cause derives from :class:`LesterError`, so callers can catch
one type. Messages name what is wrong and what exists or was expected.

Examples
--------
>>> from lester.errors import LesterError, UnknownColumnError
>>> try:
...     raise UnknownColumnError("unknown column 'x'; columns are ['a', 'b']")
... except LesterError as error:
...     print(error)
unknown column 'x'; columns are ['a', 'b']
"""

from __future__ import annotations

from collections.abc import Iterable


class LesterError(Exception):
    """Base class of every error that bad input to Lester causes."""

    def __str__(self) -> str:  # KeyError subclasses would otherwise quote the message
        return str(self.args[0]) if self.args else ""


class UnknownColumnError(LesterError, KeyError):
    """A column that the frame, source or transformer does not have."""


class UndeclaredColumnError(UnknownColumnError):
    """A row function read a column that its ``source_columns`` do not declare."""


class UnknownSourceError(LesterError, KeyError):
    """A source name that does not occur in the plan or the store."""


class DuplicateKeyError(LesterError, ValueError):
    """A declared primary key has duplicate values."""


class KeyTypeError(LesterError, TypeError):
    """Source keys of a type that does not match the source's key type."""


class UnknownKeyError(LesterError, KeyError):
    """Source keys that do not identify any tuple of the source."""


class InvalidExpressionError(LesterError, ValueError):
    """A filter string that is not a valid expression."""


class SourceReadError(LesterError, OSError):
    """A source file that does not exist or cannot be read as requested."""


class SchemaError(LesterError, ValueError):
    """Inputs whose columns do not fit the operation (e.g. a union of different schemas)."""


def describe_names(names: Iterable[object], limit: int = 20) -> str:
    """Render names for an error message, cut after ``limit`` entries.

    Examples
    --------
    >>> describe_names(["a", "b"])
    "['a', 'b']"
    >>> describe_names(range(30), limit=3)
    '[0, 1, 2, ... (27 more)]'
    """
    names = list(names)
    shown = ", ".join(repr(name) for name in names[:limit])
    if len(names) > limit:
        shown += f", ... ({len(names) - limit} more)"
    return f"[{shown}]"
