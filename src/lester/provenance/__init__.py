"""Row provenance (provenance polynomials) and the identity of source tuples."""

from lester.provenance.polynomial import ABSENT, Provenance, Slot
from lester.provenance.sources import SourceInfo

__all__ = ["ABSENT", "Provenance", "Slot", "SourceInfo"]
