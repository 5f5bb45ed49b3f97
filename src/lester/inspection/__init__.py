"""Inspections of captured runs, answered from their stored provenance (``lt.inspect``).

- :func:`usage`: which source tuples reached the training data, the test data or neither
  (the paper's user-study task T2);
- :func:`fairness`: a metric per group of any source column, also one the pipeline
  projected away (task T1);
- :func:`leakage`: source tuples that feed both a training row and a test row;
- :func:`features`: each input column's ranges of ``X`` and the label's source columns.

Each takes a run id, ``"latest"`` or a :class:`lester.RunResult`, and a store (a
:class:`lester.Store` or its path, default ``.lester``).

Examples
--------
>>> import lester as lt
>>> report = lt.inspect.usage("latest", store)
>>> report.sources["customers"].counts()["tuples"]
40
"""

from lester.inspection.captured import InspectionError
from lester.inspection.fairness import METRICS, FairnessReport, fairness
from lester.inspection.features import FeaturesReport, InputColumn, features
from lester.inspection.leakage import LeakageReport, leakage
from lester.inspection.usage import SourceUsage, UsageReport, usage

__all__ = [
    "METRICS",
    "FairnessReport",
    "FeaturesReport",
    "InputColumn",
    "InspectionError",
    "LeakageReport",
    "SourceUsage",
    "UsageReport",
    "fairness",
    "features",
    "leakage",
    "usage",
]
