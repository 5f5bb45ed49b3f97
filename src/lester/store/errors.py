"""Errors of the artifact store; all derive from :class:`lester.errors.LesterError`.

Examples
--------
>>> from lester.errors import LesterError
>>> issubclass(IntegrityError, LesterError) and issubclass(UnknownRunError, KeyError)
True
"""

from __future__ import annotations

from lester.errors import LesterError


class StoreError(LesterError):
    """The store cannot do what was asked (e.g. its root is not writable)."""


class IntegrityError(StoreError):
    """A stored file is missing or its sha256 differs from the recorded one."""


class UnknownRunError(StoreError, KeyError):
    """A run id that the catalog does not know."""


class UnknownArtifactError(StoreError, KeyError):
    """An artifact name that the run's current version does not have."""


class ArtifactKindError(StoreError, TypeError):
    """An artifact read or changed as a kind it is not (e.g. a JSON document as a matrix)."""


class UntrustedTypeError(StoreError):
    """A skops file holding types outside sklearn, numpy, scipy and lester."""


class LockTimeoutError(StoreError, TimeoutError):
    """Another writer held a run's lock for longer than the store's ``lock_timeout``."""


class StaleVersionError(StoreError):
    """A reader's version was replaced (and its files collected) while it was reading."""
