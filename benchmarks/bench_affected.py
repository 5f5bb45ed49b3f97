"""Benchmark: ``find_affected`` over a store of 1,000 runs (issue: under 200 ms).

The catalog holds 1,000 runs of 10 pipelines; each run reads three sources (50 distinct
files per source name across the runs) and records 150 column dependencies (10 columns of
each source into 5 artifacts): 150,000 dependency rows. The runs are catalog entries only
(no run files), so the measurement is the catalog part of ``lester affected``: which runs
and which artifacts depend on a source column, by source name and by file.

Compared, median of 7 after a warm-up:

* **Lester**: ``find_affected(store, source, column)``: indexed SQLite queries, then the
  affected runs' dependency rows;
* **baseline**: what a store without an indexed catalog does: list every run and filter
  all of its dependency rows in Python.

Both must name the same runs. The last line reads
``RATIO find_affected@1000runs=<ms> ms (target < 200); baseline scan <ms> ms; speed-up <x>x``.

Run: ``python benchmarks/bench_affected.py [--runs 1000]``.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable

from lester.maintenance.affected import find_affected
from lester.store import CatalogEntry, Dependency, RunRecord, SourceRecord, Store, VersionRecord

ARTIFACTS = ("train/data", "train/X", "test/X", "model", "y")


def catalog_entries(count: int) -> list[CatalogEntry]:
    """``count`` runs of 10 pipelines over three sources, 150 dependencies each."""
    entries = []
    for index in range(count):
        run_id = f"pipe{index % 10}-run{index:05d}"
        stamp = f"2026-01-01T00:00:{index % 60:02d}+00:00"
        sources = [
            SourceRecord(name, f"/lake/{name}-{index % 50}.parquet", f"{name}{index % 50:04x}")
            for name in ("customers", "mails", "banks")
        ]
        dependencies = [
            Dependency(source.name, f"col{column}", artifact)
            for source in sources
            for column in range(10)
            for artifact in ARTIFACTS
        ]
        run = RunRecord(run_id, f"pipe{index % 10}", stamp, stamp, 1, "m", {}, {})
        version = VersionRecord(run_id, 1, None, stamp, "", "m", 10, 1000)
        entries.append(CatalogEntry(run, version, sources, dependencies))
    return entries


def baseline(store: Store, source: str, column: str) -> set[str]:
    """Every run's dependency rows, filtered in Python."""
    return {
        run.run_id
        for run in store.runs()
        if any(d.source == source and d.column == column for d in store.dependencies(run.run_id))
    }


def median_ms(call: Callable[[], object], repeats: int = 7) -> tuple[float, object]:
    result = call()  # warm-up
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1e3, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1000)
    args = parser.parse_args()
    store = Store(tempfile.mkdtemp(prefix="lester-bench-affected-"))
    store.catalog.add_runs(catalog_entries(args.runs))
    print(f"catalog: {len(store.runs()):,} runs, {args.runs * 150:,} dependency rows")
    lester_ms, impacts = median_ms(lambda: find_affected(store, "customers", "col3"))
    base_ms, expected = median_ms(lambda: baseline(store, "customers", "col3"))
    assert {impact.run_id for impact in impacts} == expected, "different runs found"
    print(f"find_affected(customers.col3): {len(impacts)} runs, median {lester_ms:.1f} ms")
    print(f"baseline (scan every run's dependencies): median {base_ms:.1f} ms")
    print(
        f"RATIO find_affected@{args.runs}runs={lester_ms:.1f} ms (target < 200); baseline scan "
        f"{base_ms:.1f} ms; speed-up {base_ms / lester_ms:.1f}x"
    )


if __name__ == "__main__":
    main()
