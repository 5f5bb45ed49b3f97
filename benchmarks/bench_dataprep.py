"""Benchmark: the Lester paper's data preparation on 1M mails, Lester vs plain pandas.

What is measured (all in one run, baselines included):

(a) Lester: ``lt.from_pandas`` for both sources (key checks, provenance), ``filter`` by
    ``country in @target_countries``, a row-function ``filter`` on the mail date, three
    row-function ``project`` steps (``is_premium``, ``title``, ``text``), ``lt.join`` of
    mails with customers and the column selection (see ``_common.py``).
(b) Plain pandas doing the same work: boolean filters, the *same* row functions called once
    per row on a dict of their declared columns, ``pd.merge`` and column selection.
(c) The paper prototype's ``project`` (``[func(row) for _, row in df.iterrows()]``) for the
    three project steps, run on the first 100k input rows of each step (all rows when a step
    has fewer) and extrapolated per row, against Lester's ``project`` at full size.

Both pipelines are first run once end to end and checked to give the same multiset of
rows; that run is the unmeasured warm-up. Times are the median of 3 repetitions
(``time.perf_counter``, runs of Lester and pandas interleaved). The headline ratio
EXCLUDES reading the CSV files (both pipelines start from the same in-memory pandas frames;
Lester pays for ``lt.from_pandas``); the ratio including ``read_csv`` is printed too.

Run::

    python benchmarks/bench_dataprep.py            # 1,000,000 mails (generated once, cached)
    python benchmarks/bench_dataprep.py --quick    # 100,000 mails, a smoke run
    python benchmarks/bench_dataprep.py --mails 300000

The last line reads ``RATIO lester/pandas=<x> (target <= 1.25); project speed-up vs
iterrows=<y>x (target >= 20)``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

import lester as lt
from _common import (
    PROJECT_STEPS,
    SELECTED,
    ProjectStep,
    Timing,
    assert_same_rows,
    ensure_data,
    lester_dataprep,
    lester_filter_customers,
    lester_filter_mails,
    lester_project,
    lester_read,
    lester_sources,
    measure,
    measure_alternating,
    num_mails_from,
    pandas_dataprep,
    pandas_filter_customers,
    pandas_filter_mails,
    pandas_project,
    pandas_read,
    print_table,
    size_arguments,
    timed,
)

REPEATS = 3
ITERROWS_ROWS = 100_000
TARGET_RATIO = 1.25
TARGET_SPEEDUP = 20.0


@dataclass(frozen=True)
class Stage:
    """One pipeline stage, timed in Lester and in pandas on the previous stage's output."""

    name: str
    lester: Timing
    pandas: Timing


def iterrows_project(data: pd.DataFrame, step: ProjectStep) -> pd.DataFrame:
    """The paper prototype's project: the row function on every ``iterrows`` row."""
    values = [step.func(row) for _, row in data.iterrows()]
    data = data.copy(deep=False)
    data[step.target] = values
    return data


def run_stages(
    customers_df: pd.DataFrame, mails_df: pd.DataFrame
) -> tuple[list[Stage], dict[str, tuple[lt.TrackedFrame, pd.DataFrame]]]:
    """Time each stage of both pipelines (median of ``REPEATS``) on the previous stage's
    output; also return the input of each project step (Lester frame, pandas frame)."""
    stages: list[Stage] = []
    project_inputs: dict[str, tuple[lt.TrackedFrame, pd.DataFrame]] = {}

    def stage(
        name: str, lester_step: Callable[[], Any], pandas_step: Callable[[], Any]
    ) -> tuple[Any, Any]:
        lester_out, pandas_out = lester_step(), pandas_step()  # warm-up, and the outputs
        stages.append(
            Stage(name, measure(lester_step, REPEATS, 0), measure(pandas_step, REPEATS, 0))
        )
        return lester_out, pandas_out

    (customers, mails), _ = stage(
        "sources (lt.from_pandas; pandas: none)",
        lambda: lester_sources(customers_df, mails_df),
        lambda: None,
    )
    customers, customers_pd = stage(
        "filter country in @targets",
        lambda: lester_filter_customers(customers),
        lambda: pandas_filter_customers(customers_df),
    )
    mails, mails_pd = stage(
        "filter is_recent(date) [row fn]",
        lambda: lester_filter_mails(mails),
        lambda: pandas_filter_mails(mails_df),
    )
    for step in PROJECT_STEPS:
        on_customers = step.source == "customers"
        lester_in = customers if on_customers else mails
        pandas_in = customers_pd if on_customers else mails_pd
        project_inputs[step.target] = (lester_in, pandas_in)
        out = stage(
            f"project {step.target} [row fn]",
            lambda lester_in=lester_in, step=step: lester_project(lester_in, step),
            lambda pandas_in=pandas_in, step=step: pandas_project(pandas_in, step),
        )
        if on_customers:
            customers, customers_pd = out
        else:
            mails, mails_pd = out
    joined, joined_pd = stage(
        "join email = customer_email",
        lambda: lt.join(mails, customers, left_on="email", right_on="customer_email"),
        lambda: mails_pd.merge(customers_pd, left_on="email", right_on="customer_email"),
    )
    stage("select columns", lambda: joined[SELECTED], lambda: joined_pd[SELECTED])
    return stages, project_inputs


@dataclass(frozen=True)
class ProjectComparison:
    """Lester's project at full size against the iterrows project on a slice."""

    step: ProjectStep
    rows: int
    lester_seconds: float
    pandas_seconds: float
    iterrows_rows: int
    iterrows_seconds: float

    @property
    def iterrows_full_seconds(self) -> float:
        """The iterrows time extrapolated to all rows."""
        return self.iterrows_seconds / self.iterrows_rows * self.rows


def compare_projects(
    stages: Sequence[Stage], inputs: dict[str, tuple[lt.TrackedFrame, pd.DataFrame]]
) -> list[ProjectComparison]:
    """Run the iterrows project of each step on (a slice of) its input; check its values."""
    by_name = {stage.name: stage for stage in stages}
    comparisons = []
    for step in PROJECT_STEPS:
        lester_in, pandas_in = inputs[step.target]
        piece = pandas_in.head(ITERROWS_ROWS)
        seconds, out = timed(lambda piece=piece, step=step: iterrows_project(piece, step))
        expected = lester_project(lester_in, step).head(len(piece))[step.target].tolist()
        if out[step.target].tolist() != expected:
            raise AssertionError(f"iterrows project {step.target!r} differs from Lester's")
        stage = by_name[f"project {step.target} [row fn]"]
        comparisons.append(
            ProjectComparison(
                step,
                len(pandas_in),
                stage.lester.median,
                stage.pandas.median,
                len(piece),
                seconds,
            )
        )
    return comparisons


def main(argv: Sequence[str] | None = None) -> int:
    parser = size_arguments("Lester vs plain pandas on the paper's data preparation.")
    args = parser.parse_args(argv)
    paths = ensure_data(num_mails_from(args))
    print(
        f"data: {paths.num_customers:,} customers, {paths.num_mails:,} mails ({paths.mails.parent})"
    )

    # Correctness first; these end-to-end runs are also the unmeasured warm-up.
    pandas_first, expected = timed(lambda: pandas_dataprep(*pandas_read(paths)))
    lester_first, result = timed(lambda: lester_dataprep(*lester_read(paths)))
    assert_same_rows(result.to_pandas(), expected, "Lester vs pandas result")
    print(
        f"check: both pipelines give the same {len(expected):,} rows x {len(SELECTED)} columns "
        f"(first runs: pandas {pandas_first:.2f} s, Lester {lester_first:.2f} s)"
    )
    del expected, result

    customers_df, mails_df = pandas_read(paths)
    in_memory = measure_alternating(
        {
            "pandas": lambda: pandas_dataprep(customers_df, mails_df),
            "lester": lambda: lester_dataprep(*lester_sources(customers_df, mails_df)),
        },
        REPEATS,
        warmup=0,
    )
    with_reading = measure_alternating(
        {
            "pandas": lambda: pandas_dataprep(*pandas_read(paths)),
            "lester": lambda: lester_dataprep(*lester_read(paths)),
        },
        REPEATS,
        warmup=0,
    )
    stages, project_inputs = run_stages(customers_df, mails_df)
    projects = compare_projects(stages, project_inputs)

    ratio = in_memory["lester"].median / in_memory["pandas"].median
    ratio_reading = with_reading["lester"].median / with_reading["pandas"].median
    print(f"\nwhole pipeline, median of {REPEATS} (seconds)")
    print_table(
        [
            "variant",
            "pandas",
            "Lester",
            "Lester/pandas",
            "pandas min..max",
            "Lester min..max",
            "CPU-time ratio",
        ],
        [
            [
                label,
                f"{timings['pandas'].median:.3f}",
                f"{timings['lester'].median:.3f}",
                f"{timings['lester'].median / timings['pandas'].median:.2f}",
                timings["pandas"].spread(),
                timings["lester"].spread(),
                f"{timings['lester'].cpu_median / timings['pandas'].cpu_median:.2f}",
            ]
            for label, timings in (
                ("excluding read_csv (headline)", in_memory),
                ("including read_csv", with_reading),
            )
        ],
    )

    print(f"\nper stage, excluding read_csv, median of {REPEATS} (seconds)")
    print_table(
        ["stage", "pandas", "Lester", "Lester-pandas"],
        [
            [
                stage.name,
                f"{stage.pandas.median:.3f}",
                f"{stage.lester.median:.3f}",
                f"{stage.lester.median - stage.pandas.median:+.3f}",
            ]
            for stage in stages
        ],
    )

    print("\nproject: Lester (median of 3, all rows) vs paper prototype iterrows (sliced)")
    print_table(
        ["project", "rows", "Lester us/row", "pandas us/row", "iterrows us/row", "speed-up"],
        [
            [
                item.step.target,
                f"{item.rows:,}",
                f"{item.lester_seconds / item.rows * 1e6:.2f}",
                f"{item.pandas_seconds / item.rows * 1e6:.2f}",
                f"{item.iterrows_seconds / item.iterrows_rows * 1e6:.2f}"
                f" ({item.iterrows_rows:,} rows)",
                f"{item.iterrows_full_seconds / item.lester_seconds:.1f}x",
            ]
            for item in projects
        ],
    )
    iterrows_total = sum(item.iterrows_full_seconds for item in projects)
    lester_total = sum(item.lester_seconds for item in projects)
    speedup = iterrows_total / lester_total
    print(
        f"all project steps: Lester {lester_total:.3f} s, iterrows {iterrows_total:.1f} s "
        f"(extrapolated)\n"
    )
    print(f"including read_csv: lester/pandas={ratio_reading:.2f}")
    print(
        f"RATIO lester/pandas={ratio:.2f} (target <= {TARGET_RATIO}); "
        f"project speed-up vs iterrows={speedup:.1f}x (target >= {TARGET_SPEEDUP:g})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
