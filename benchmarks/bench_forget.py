"""Benchmark: forgetting source tuples from the 1M-mail data-preparation result.

What is measured (all in one run, baseline included):

* ``result.forget({"customers": five_ids})`` on the Lester result of the paper's data
  preparation (``_common.lester_dataprep`` on ``lt.read_csv`` sources, 1M mails). The five
  customers are leaking customers from datagen's ``leaks.json`` whose mails reach the
  result. Median of 7 repetitions after one warm-up.
* The baseline: re-executing the plan without those customers,
  ``result.plan.execute(sources={"customers": customers_without_them, "mails": mails})``
  with both sources passed as in-memory pandas frames (no CSV reading, which favours the
  baseline). Median of 3 repetitions; its first run is the unmeasured warm-up and is
  checked to give the same multiset of rows (and the same reached source keys) as forget.
* ``result.forget({"mails": five_mail_ids})`` (checked the same way against one
  re-execution), ``result.rows_from("customers", five_ids)`` and
  ``result.source_keys(...)``, median of 7 each.

Run::

    python benchmarks/bench_forget.py            # 1,000,000 mails (generated once, cached)
    python benchmarks/bench_forget.py --quick    # 100,000 mails, a smoke run

The last line reads ``RATIO forget=<ms> ms (target < 50 ms); re-execution=<s> s;
speed-up=<x>x``.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import pandas as pd

import lester as lt
from _common import (
    SELECTED,
    Timing,
    assert_same_rows,
    ensure_data,
    lester_dataprep,
    lester_read,
    measure,
    num_mails_from,
    print_table,
    size_arguments,
    timed,
)

FORGET_REPEATS = 7
REEXECUTE_REPEATS = 3
NUM_FORGOTTEN = 5
TARGET_MS = 50.0


def pick_keys(preferred: Iterable[Any], reached: pd.Index, count: int) -> list[Any]:
    """``count`` keys that reach the result: ``preferred`` ones first (in their order),
    then the smallest other reached keys."""
    reached_set = set(reached.tolist())
    keys = [key for key in preferred if key in reached_set][:count]
    for key in sorted(reached_set - set(keys)):
        if len(keys) == count:
            break
        keys.append(key)
    if len(keys) < count:
        raise SystemExit(f"only {len(keys)} keys reach the result, need {count}")
    return keys


def check_forget(
    forgotten: lt.TrackedFrame,
    reexecuted: lt.TrackedFrame,
    result: lt.TrackedFrame,
    removed: int,
    what: str,
) -> None:
    """Forget must equal re-execution: same rows (as a multiset), same reached keys."""
    if removed == 0 or len(forgotten) != len(result) - removed:
        raise AssertionError(
            f"{what}: forget kept {len(forgotten):,} of {len(result):,} rows, but "
            f"{removed:,} rows come from the forgotten tuples"
        )
    assert_same_rows(forgotten.to_pandas(), reexecuted.to_pandas(), what)
    for source in result.sources:
        if set(forgotten.source_keys(source)) != set(reexecuted.source_keys(source)):
            raise AssertionError(f"{what}: reached keys of {source!r} differ")


def main(argv: Sequence[str] | None = None) -> int:
    parser = size_arguments("Forgetting source tuples vs re-executing the plan.")
    args = parser.parse_args(argv)
    paths = ensure_data(num_mails_from(args))
    print(
        f"data: {paths.num_customers:,} customers, {paths.num_mails:,} mails ({paths.mails.parent})"
    )

    build_seconds, (customers, mails) = timed(lambda: lester_read(paths))
    prep_seconds, result = timed(lambda: lester_dataprep(customers, mails))
    print(
        f"result: {len(result):,} rows x {len(SELECTED)} columns (read_csv {build_seconds:.2f} s, "
        f"data preparation {prep_seconds:.2f} s)"
    )
    customers_df, mails_df = customers.to_pandas(), mails.to_pandas()
    leaks = json.loads(paths.leaks.read_text(encoding="utf-8"))
    customer_ids = pick_keys(
        leaks["leaked_customer_ids"], result.source_keys("customers"), NUM_FORGOTTEN
    )
    mail_ids = pick_keys(leaks["leaked_mail_ids"], result.source_keys("mails"), NUM_FORGOTTEN)
    print(f"forgetting customers {customer_ids}")
    print(f"forgetting mails {mail_ids}")

    # Forget five customers, against re-executing the plan without them.
    forget_customers = measure(
        lambda: result.forget({"customers": customer_ids}), FORGET_REPEATS, warmup=1
    )
    without_customers = customers_df[~customers_df["customer_id"].isin(customer_ids)]

    def reexecute_customers() -> lt.TrackedFrame:
        return result.plan.execute(sources={"customers": without_customers, "mails": mails_df})

    _, reexecuted = timed(reexecute_customers)
    removed = len(result.rows_from("customers", customer_ids))
    forgotten = result.forget({"customers": customer_ids})
    check_forget(forgotten, reexecuted, result, removed, "forget customers vs re-execution")
    print(f"check: forgetting the customers removes {removed} rows, same as re-execution")
    del forgotten, reexecuted
    reexecution = measure(reexecute_customers, REEXECUTE_REPEATS, warmup=0)

    # Forget five mails, checked against one re-execution.
    forget_mails = measure(lambda: result.forget({"mails": mail_ids}), FORGET_REPEATS, warmup=1)
    without_mails = mails_df[~mails_df["mail_id"].isin(mail_ids)]
    reexecute_mails_seconds, reexecuted = timed(
        lambda: result.plan.execute(sources={"customers": customers_df, "mails": without_mails})
    )
    removed = len(result.rows_from("mails", mail_ids))
    forgotten = result.forget({"mails": mail_ids})
    check_forget(forgotten, reexecuted, result, removed, "forget mails vs re-execution")
    print(f"check: forgetting the mails removes {removed} rows, same as re-execution")
    del forgotten, reexecuted

    lookups: dict[str, Callable[[], Any]] = {
        'rows_from("customers", 5 ids)': lambda: result.rows_from("customers", customer_ids),
        'rows_from("mails", 5 ids)': lambda: result.rows_from("mails", mail_ids),
        'source_keys("customers")': lambda: result.source_keys("customers"),
        'source_keys("mails")': lambda: result.source_keys("mails"),
    }
    lookup_timings = {
        name: measure(func, FORGET_REPEATS, warmup=1) for name, func in lookups.items()
    }

    def row(name: str, timing: Timing, repeats: int) -> list[str]:
        return [
            name,
            f"{timing.median * 1e3:.1f}",
            f"{min(timing.times) * 1e3:.1f}..{max(timing.times) * 1e3:.1f}",
            str(repeats),
        ]

    print(f"\non the {len(result):,}-row result (milliseconds)")
    print_table(
        ["operation", "median", "min..max", "runs"],
        [
            row('forget({"customers": 5 ids})', forget_customers, FORGET_REPEATS),
            row('forget({"mails": 5 ids})', forget_mails, FORGET_REPEATS),
            *(row(name, timing, FORGET_REPEATS) for name, timing in lookup_timings.items()),
            row("re-execution without the 5 customers", reexecution, REEXECUTE_REPEATS),
            row(
                "re-execution without the 5 mails",
                Timing((reexecute_mails_seconds,)),
                1,
            ),
        ],
    )
    forget_ms = forget_customers.median * 1e3
    speedup = reexecution.median / forget_customers.median
    print(f"\nforget mails: {forget_mails.median * 1e3:.1f} ms (target < {TARGET_MS:g} ms)")
    print(
        f"RATIO forget={forget_ms:.1f} ms (target < {TARGET_MS:g} ms); "
        f"re-execution={reexecution.median:.2f} s; speed-up={speedup:.0f}x"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
