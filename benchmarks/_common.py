"""Shared pieces of the benchmarks: cached synthetic data, the paper's data-preparation
pipeline written twice (Lester and plain pandas, with the *same* row functions), timing
and result comparison.

The pipeline is the running example of the Lester paper, minus the sentiment model:

* customers: keep ``country in @target_countries``, derive ``is_premium`` from ``level``;
* mails: keep mails from ``START_YEAR`` on (a row-function filter on the date string),
  derive ``title = mail_subject.lower()`` and ``text = mail_text.lower()``;
* join mails with customers on ``email = customer_email`` and select ``SELECTED``.

Not a benchmark itself; ``bench_dataprep.py`` and ``bench_forget.py`` import it.
"""

from __future__ import annotations

import argparse
import gc
import math
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import lester as lt
from lester.datagen import CUSTOMER_COLUMNS, MAIL_COLUMNS, generate

OUT_DIR = Path(__file__).resolve().parent / "out"
DEFAULT_MAILS = 1_000_000
QUICK_MAILS = 100_000
MAILS_PER_CUSTOMER = 10

TARGET_COUNTRIES = ["UK", "DE", "FR"]
START_YEAR = 2022
SELECTED = ["mail_id", "customer_id", "title", "text", "bank", "country", "is_premium"]

CUSTOMER_OPTIONS: dict[str, Any] = {"header": None, "names": list(CUSTOMER_COLUMNS)}
MAIL_OPTIONS: dict[str, Any] = {"header": None, "names": list(MAIL_COLUMNS)}

RowFunction = Callable[[dict[str, Any]], Any]


# ---------------------------------------------------------------------------- row functions
# Module-level functions, so that Lester and the pandas baseline call the very same code.
def is_premium(row: dict[str, Any]) -> bool:
    """Customer row -> whether the customer is on the premium level."""
    return row["level"] == "premium"


def is_recent(row: dict[str, Any]) -> bool:
    """Mail row -> whether it was sent in ``START_YEAR`` or later (ISO date string)."""
    return int(row["date"][:4]) >= START_YEAR


def title_of(row: dict[str, Any]) -> str:
    """Mail row -> lower-cased subject."""
    return row["mail_subject"].lower()


def text_of(row: dict[str, Any]) -> str:
    """Mail row -> lower-cased body."""
    return row["mail_text"].lower()


@dataclass(frozen=True)
class ProjectStep:
    """One ``project`` of the pipeline: ``target = func(row of source_columns)``."""

    source: str
    target: str
    source_columns: tuple[str, ...]
    func: RowFunction


PROJECT_STEPS = (
    ProjectStep("customers", "is_premium", ("level",), is_premium),
    ProjectStep("mails", "title", ("mail_subject",), title_of),
    ProjectStep("mails", "text", ("mail_text",), text_of),
)


# ---------------------------------------------------------------------------- data
@dataclass(frozen=True)
class DataPaths:
    """The generated CSV files of one data size (and datagen's list of leaked tuples)."""

    customers: Path
    mails: Path
    leaks: Path
    num_customers: int
    num_mails: int


def ensure_data(num_mails: int) -> DataPaths:
    """Generate ``num_mails`` mails (10 per customer) into ``benchmarks/out/`` unless cached."""
    num_customers = max(1, math.ceil(num_mails / MAILS_PER_CUSTOMER))
    out = OUT_DIR / f"customers-{num_customers}"
    paths = DataPaths(
        out / "customers.csv",
        out / "mails.csv",
        out / "leaks.json",
        num_customers,
        num_customers * MAILS_PER_CUSTOMER,
    )
    if not all(path.is_file() for path in (paths.customers, paths.mails, paths.leaks)):
        started = time.perf_counter()
        print(f"generating {paths.num_mails:,} mails into {out} ...", flush=True)
        generate(num_customers, out, mails_per_customer=MAILS_PER_CUSTOMER)
        print(f"  done in {time.perf_counter() - started:.1f} s", flush=True)
    return paths


def size_arguments(description: str) -> argparse.ArgumentParser:
    """An argument parser with the shared ``--mails N`` and ``--quick`` options."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        "--mails",
        type=int,
        default=DEFAULT_MAILS,
        help=f"number of mails to generate and process (default {DEFAULT_MAILS:,})",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"CI-sized smoke run with {QUICK_MAILS:,} mails (overrides --mails)",
    )
    return parser


def num_mails_from(args: argparse.Namespace) -> int:
    """The data size the parsed options ask for."""
    return QUICK_MAILS if args.quick else args.mails


# ---------------------------------------------------------------------------- Lester pipeline
def lester_read(paths: DataPaths) -> tuple[lt.TrackedFrame, lt.TrackedFrame]:
    """Read both sources with :func:`lester.read_csv` (customers keyed by id, mails by id)."""
    customers = lt.read_csv(
        paths.customers, name="customers", primary_key="customer_id", **CUSTOMER_OPTIONS
    )
    mails = lt.read_csv(paths.mails, name="mails", primary_key="mail_id", **MAIL_OPTIONS)
    return customers, mails


def lester_sources(
    customers: pd.DataFrame, mails: pd.DataFrame
) -> tuple[lt.TrackedFrame, lt.TrackedFrame]:
    """Register in-memory pandas data as the two sources (same names and keys)."""
    return (
        lt.from_pandas(customers, name="customers", primary_key="customer_id"),
        lt.from_pandas(mails, name="mails", primary_key="mail_id"),
    )


def lester_filter_customers(customers: lt.TrackedFrame) -> lt.TrackedFrame:
    """The customer filter, as a query string with a bound variable (the paper's form)."""
    target_countries = TARGET_COUNTRIES  # noqa: F841 - read by the query via @target_countries
    return customers.filter("country in @target_countries")


def lester_filter_mails(mails: lt.TrackedFrame) -> lt.TrackedFrame:
    """The mail filter, a row function on the date string."""
    return mails.filter(is_recent, source_columns=["date"])


def lester_project(frame: lt.TrackedFrame, step: ProjectStep) -> lt.TrackedFrame:
    """Apply one project step with Lester's row-function project."""
    return frame.project(step.target, list(step.source_columns), step.func)


def lester_dataprep(customers: lt.TrackedFrame, mails: lt.TrackedFrame) -> lt.TrackedFrame:
    """The data-preparation pipeline on Lester source frames."""
    customers = lester_filter_customers(customers)
    mails = lester_filter_mails(mails)
    for step in PROJECT_STEPS:
        if step.source == "customers":
            customers = lester_project(customers, step)
        else:
            mails = lester_project(mails, step)
    merged = lt.join(mails, customers, left_on="email", right_on="customer_email")
    return merged[SELECTED]


# ---------------------------------------------------------------------------- pandas pipeline
def call_rows(func: RowFunction, data: pd.DataFrame, columns: Sequence[str]) -> list[Any]:
    """Call ``func`` once per row on a dict of ``columns`` (the fair per-row baseline)."""
    names = tuple(columns)
    column_values = [data[name].tolist() for name in names]
    # No strict= here: in CPython 3.11 any keyword makes each zip() call ~0.15 us slower.
    return [func(dict(zip(names, values))) for values in zip(*column_values)]  # noqa: B905


def pandas_read(paths: DataPaths) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Read both sources with :func:`pandas.read_csv`."""
    return pd.read_csv(paths.customers, **CUSTOMER_OPTIONS), pd.read_csv(
        paths.mails, **MAIL_OPTIONS
    )


def pandas_filter_customers(customers: pd.DataFrame) -> pd.DataFrame:
    """The customer filter as a boolean mask."""
    return customers[customers["country"].isin(TARGET_COUNTRIES)]


def pandas_filter_mails(mails: pd.DataFrame) -> pd.DataFrame:
    """The mail filter: the same row function, called per row, as a boolean mask."""
    return mails[np.array(call_rows(is_recent, mails, ["date"]), dtype=bool)]


def pandas_project(data: pd.DataFrame, step: ProjectStep) -> pd.DataFrame:
    """Apply one project step: the same row function, called once per row."""
    data = data.copy(deep=False)
    data[step.target] = call_rows(step.func, data, step.source_columns)
    return data


def pandas_dataprep(customers: pd.DataFrame, mails: pd.DataFrame) -> pd.DataFrame:
    """The data-preparation pipeline in plain pandas."""
    customers = pandas_filter_customers(customers)
    mails = pandas_filter_mails(mails)
    for step in PROJECT_STEPS:
        if step.source == "customers":
            customers = pandas_project(customers, step)
        else:
            mails = pandas_project(mails, step)
    merged = mails.merge(customers, left_on="email", right_on="customer_email")
    return merged[SELECTED]


# ---------------------------------------------------------------------------- timing
@dataclass(frozen=True)
class Timing:
    """Wall times (seconds) of the measured repetitions, and their process CPU times
    (less disturbed than wall time by other work on a shared machine)."""

    times: tuple[float, ...]
    cpu_times: tuple[float, ...] = ()

    @property
    def median(self) -> float:
        """Median wall time of the repetitions."""
        return statistics.median(self.times)

    @property
    def cpu_median(self) -> float:
        """Median process CPU time of the repetitions (NaN if not recorded)."""
        return statistics.median(self.cpu_times) if self.cpu_times else math.nan

    def spread(self) -> str:
        """``min..max`` of the wall times, for the tables."""
        return f"{min(self.times):.3f}..{max(self.times):.3f}"


def timed(func: Callable[[], Any]) -> tuple[float, Any]:
    """Run ``func`` once after a garbage collection; its wall time and result."""
    gc.collect()
    started = time.perf_counter()
    result = func()
    return time.perf_counter() - started, result


def timed_cpu(func: Callable[[], Any]) -> tuple[float, float]:
    """Run ``func`` once after a garbage collection; its wall and process CPU times.

    The result is freed only after the clocks stop: freeing it is not part of the work."""
    gc.collect()
    wall, cpu = time.perf_counter(), time.process_time()
    result = func()
    times = time.perf_counter() - wall, time.process_time() - cpu
    del result
    return times


def measure(func: Callable[[], Any], repeats: int, warmup: int = 1) -> Timing:
    """Timings of ``repeats`` runs of ``func`` after ``warmup`` unmeasured runs."""
    for _ in range(warmup):
        func()
    runs = [timed_cpu(func) for _ in range(repeats)]
    return Timing(tuple(wall for wall, _ in runs), tuple(cpu for _, cpu in runs))


def measure_alternating(
    funcs: dict[str, Callable[[], Any]], repeats: int, warmup: int = 1
) -> dict[str, Timing]:
    """Like :func:`measure` for several functions, interleaving their runs so that a
    change in machine load hits all of them alike."""
    for _ in range(warmup):
        for func in funcs.values():
            func()
    runs: dict[str, list[tuple[float, float]]] = {name: [] for name in funcs}
    for _ in range(repeats):
        for name, func in funcs.items():
            runs[name].append(timed_cpu(func))
    return {
        name: Timing(tuple(wall for wall, _ in values), tuple(cpu for _, cpu in values))
        for name, values in runs.items()
    }


# ---------------------------------------------------------------------------- comparison
def canonical_rows(data: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """The rows of ``columns`` in a canonical order (sorted on all columns), values as
    plain Python objects, so that two frames compare as multisets of rows."""
    frame = pd.DataFrame({column: data[column].astype(object) for column in columns})
    return frame.sort_values(list(columns), kind="stable").reset_index(drop=True)


def assert_same_rows(actual: pd.DataFrame, expected: pd.DataFrame, what: str) -> None:
    """Raise ``AssertionError`` unless both frames hold the same multiset of rows."""
    if list(actual.columns) != list(expected.columns):
        raise AssertionError(f"{what}: columns {list(actual.columns)} != {list(expected.columns)}")
    if len(actual) != len(expected):
        raise AssertionError(f"{what}: {len(actual):,} rows != {len(expected):,} rows")
    columns = list(actual.columns)
    pd.testing.assert_frame_equal(
        canonical_rows(actual, columns), canonical_rows(expected, columns), obj=what
    )


def print_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """Print a plain, aligned text table."""
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows, strict=True)]
    for index, row in enumerate([header, *rows]):
        cells = [str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)]
        print("  ".join(cells).rstrip())
        if index == 0:
            print("  ".join("-" * width for width in widths))
