"""Benchmark: a whole ``lester run`` of the paper's pipeline (with capture) against the same
pipeline written in plain pandas + scikit-learn + skorch; and the peak memory of a run.

What is measured (baseline included, in the same run):

(a) Lester: ``lester.runner.run("examples/creditcard/pipeline.py", sources, store=<fresh
    directory>, seed=42, quiet=True)``: loading the pipeline module, data preparation with
    provenance, the provenance-hash train/test split, ``encode_features()`` fitted on train
    (MiniLM sentence embeddings of title and text, standardised title length, one-hot
    country), the skorch MLP of ``create_model``, prediction, metrics, and *capture* of every
    artifact with its provenance into a fresh store directory (on the same disk as
    ``benchmarks/out/``; the directory is deleted after the clock stops).
(b) Plain, "without Lester": the same pipeline in plain pandas, nothing saved to disk:
    ``pd.read_csv`` of both files; the same queries (``DataFrame.query`` with the pipeline's
    query strings: ``country in @target_countries``, ``year >= 2022``, the case-sensitive
    ``complaint``/``bank account`` test); the same row logic as the pipeline's lambdas
    (``level == "premium"``, ``datetime.fromisoformat(date).year``, ``str.lower``, the
    pipeline module's ``vader_sentiment``), each called once per row; ``pd.merge``; the SAME
    ``ColumnTransformer`` from the pipeline module's ``encode_features()`` fitted on train and
    applied to test, cast to float32; ``extract_label``; the skorch model of ``create_model``
    (fit on float32 X, int64 y), ``predict`` and accuracy. Python, NumPy and torch are seeded
    with the same seed as Lester's run.

Same train/test rows: before any timing, Lester's data preparation is run once and split with
Lester's own provenance-hash split (``prepared.split(test_size=0.2, seed=42)``); the mail ids
of its test side are handed to the baseline, which selects its test rows with
``merged["mail_id"].isin(test_ids)`` (each prepared row is exactly one mail, so this is the
same row selection). After timing, the script checks that both give the same multiset of
train rows and the same train/test sizes.

Warm-up: both pipelines use the sentence-transformers model through the process-wide cache
of ``lester.features.text``. Loading it (a few seconds) is shared cost and is done once
before any timing, together with one tiny skorch fit (the first torch training in a process
costs seconds extra) and measuring the embedding throughput (500 texts, which also warms up
torch inference). None of this is in either pipeline's time. Runs are then interleaved
L,P,P,L,L,P (median of 3 each by default), ``time.perf_counter`` wall time; process CPU time
(all threads) is printed as well, as it is less disturbed by other work on a shared machine.
Lester's per-step timings (``result.outputs.timings``) and the time of its ``capture``
function (timed by wrapping ``lester.runner.capture`` in this script; nothing in ``src/``
changes) are reported next to the baseline's steps. If the ratio misses its target, one more
Lester run is profiled with cProfile and the ``src/lester`` functions that take the time are
listed.

Peak memory: each pipeline runs once more in its own subprocess (``--child``) at 10,000
customers (100,000 mails); the child reports its peak RSS (``getrusage(RUSAGE_SELF)
.ru_maxrss``, read right after the run; it includes Python, torch and the loaded model) and
the Lester child opens its run in the store and reports ``run.matrix("train/X").dtype``. On
two shared CPU cores, embedding the ~30,000 distinct mail texts of 10,000 customers can
take a quarter of an hour per run; the script first estimates the run time from the measured
embedding throughput and, if a 10,000-customer run would take more than 15 minutes, measures
at the largest multiple of 1,000 customers that fits ``--memory-budget`` seconds (default
600) and at 1,000 customers, and extrapolates linearly to 10,000. Extrapolated numbers are
labelled as such, also in the last line.

Data: datagen (seed 42, 10 mails per customer) into ``benchmarks/out/customers-<N>/``
(gitignored; generated once, then reused; the same directories as the other benchmarks).

Run::

    python benchmarks/bench_run.py                     # 1,000 customers + memory part
    python benchmarks/bench_run.py --skip-memory       # the timing part only (~12 minutes)
    python benchmarks/bench_run.py --customers 200 --repeats 1 --skip-memory   # smoke run
    python benchmarks/bench_run.py --memory-customers 10000    # force the memory size

The last line reads ``RATIO lester_run/plain=<x> (target <= 1.10) at <N> customers; peak RSS
lester=<a> GiB plain=<b> GiB at <M> customers; X dtype float32``.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import gc
import inspect
import json
import math
import os
import pstats
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pandas as pd

import lester.runner
from lester.datagen import generate
from lester.features.text import load_sentence_model, vader_sentiment
from lester.pipeline import Pipeline, load_pipeline
from lester.store import Store

ROOT = Path(__file__).resolve().parents[1]
PIPELINE_PATH = ROOT / "examples" / "creditcard" / "pipeline.py"
SRC_DIR = ROOT / "src" / "lester"
OUT_DIR = Path(__file__).resolve().parent / "out"

SEED = 42
TEST_SIZE = 0.2
MAILS_PER_CUSTOMER = 10
TARGET_RATIO = 1.10
MEMORY_CUSTOMERS = 10_000
THROUGHPUT_TEXTS = 500
FULL_SIZE_LIMIT = 15 * 60.0  # seconds: above this a 10k run is replaced by a smaller one
GIB = 1024**3

# The pipeline module's constants and query strings (examples/creditcard/pipeline.py).
TARGET_COUNTRIES = ["UK", "DE", "FR"]
CUSTOMER_QUERY = "country in @target_countries"
YEAR_QUERY = "year >= 2022"
COMPLAINT_QUERY = (
    "mail_text.str.contains('complaint', regex=False, na=False)"
    " or mail_text.str.contains('bank account', regex=False, na=False)"
)
CUSTOMER_KEEP = ["customer_email", "bank", "country", "is_premium"]

STEPS = (
    "data preparation",
    "split",
    "feature encoding (fit on train)",
    "feature encoding (test)",
    "labels",
    "model training",
    "prediction",
)


# ---------------------------------------------------------------------------- data
@dataclass(frozen=True)
class Data:
    """The generated CSV files of one size."""

    customers: Path
    mails: Path
    num_customers: int

    @property
    def sources(self) -> dict[str, str]:
        """``{source name: path}`` for ``lester.runner.run``."""
        return {"customers": str(self.customers), "mails": str(self.mails)}


def ensure_data(num_customers: int) -> Data:
    """Generate ``num_customers`` customers (10 mails each) into ``benchmarks/out/`` unless
    the files are there already."""
    out = OUT_DIR / f"customers-{num_customers}"
    data = Data(out / "customers.csv", out / "mails.csv", num_customers)
    if not (data.customers.is_file() and data.mails.is_file() and (out / "leaks.json").is_file()):
        started = time.perf_counter()
        print(f"generating {num_customers:,} customers into {out} ...", flush=True)
        generate(num_customers, out, seed=SEED, mails_per_customer=MAILS_PER_CUSTOMER)
        print(f"  done in {time.perf_counter() - started:.1f} s", flush=True)
    return data


def test_mail_ids(pipeline: Pipeline, data: Data) -> set[str]:
    """The mail ids of the test side of Lester's provenance-hash split (what ``run`` uses)."""
    prepared = pipeline.dataprep(**pipeline.dataprep_arguments(data.sources))
    _, test = prepared.split(test_size=TEST_SIZE, seed=SEED)
    return set(test.source_keys("mails").tolist())


# ---------------------------------------------------------------------------- plain baseline
@dataclass
class PlainResult:
    """What the baseline computed (kept for the comparison with Lester's run)."""

    train: pd.DataFrame
    X_train: np.ndarray
    y_test: np.ndarray
    predictions: np.ndarray
    accuracy: float
    timings: dict[str, float] = field(default_factory=dict)


def seed_plain(seed: int) -> None:
    """Seed Python, NumPy and torch, as any reproducible plain script would."""
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def plain_dataprep(module: ModuleType, data: Data) -> pd.DataFrame:
    """The pipeline's data preparation in plain pandas (``mail_id`` kept for the split)."""
    target_countries = TARGET_COUNTRIES  # noqa: F841 - read by the query as @target_countries
    customers = pd.read_csv(data.customers, header=None, names=module.CUSTOMER_COLUMNS)
    customers = customers.query(CUSTOMER_QUERY)
    customers = customers.assign(
        is_premium=[level == "premium" for level in customers["level"].tolist()]
    )[CUSTOMER_KEEP]

    mails = pd.read_csv(data.mails, header=None, names=module.MAIL_COLUMNS)
    mails["year"] = [datetime.fromisoformat(str(date)).year for date in mails["date"].tolist()]
    mails = mails.query(YEAR_QUERY)
    mails = mails.query(COMPLAINT_QUERY)

    merged = mails.merge(customers, left_on="email", right_on="customer_email")
    merged["title"] = [subject.lower() for subject in merged["mail_subject"].tolist()]
    merged["text"] = [text.lower() for text in merged["mail_text"].tolist()]
    merged["sentiment"] = [vader_sentiment(text) for text in merged["text"].tolist()]
    return merged[["mail_id", *module.OUTPUT_COLUMNS]]


def plain_run(module: ModuleType, data: Data, test_ids: set[str]) -> PlainResult:
    """The whole pipeline without Lester: nothing is tracked and nothing is saved."""
    from sklearn.metrics import accuracy_score

    timings: dict[str, float] = {}
    clock = Clock(timings)
    seed_plain(SEED)
    with clock("data preparation"):
        merged = plain_dataprep(module, data)
    with clock("split"):
        in_test = merged["mail_id"].isin(test_ids).to_numpy()
        prepared = merged[module.OUTPUT_COLUMNS]
        train = prepared[~in_test].reset_index(drop=True)
        test = prepared[in_test].reset_index(drop=True)
    with clock("feature encoding (fit on train)"):
        encoder = module.encode_features()
        X_train = np.asarray(encoder.fit_transform(train), dtype=np.float32)
    with clock("feature encoding (test)"):
        X_test = np.asarray(encoder.transform(test), dtype=np.float32)
    with clock("labels"):
        y_train = np.asarray(module.extract_label(train))
        y_test = np.asarray(module.extract_label(test))
    with clock("model training"):
        model = module.create_model(X_train.shape[1])
        model.fit(X_train, y_train.astype(np.int64))
    with clock("prediction"):
        predictions = np.asarray(model.predict(X_test))
        accuracy = float(accuracy_score(y_test.astype(np.int64), predictions.astype(np.int64)))
    return PlainResult(train, X_train, y_test, predictions, accuracy, timings)


class Clock:
    """``with clock(name):`` adds the block's wall time to ``timings[name]``."""

    def __init__(self, timings: dict[str, float]) -> None:
        self.timings = timings

    @contextlib.contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.timings[name] = time.perf_counter() - started


# ---------------------------------------------------------------------------- Lester
@contextlib.contextmanager
def capture_timer(seconds: list[float]) -> Iterator[None]:
    """Time ``lester.runner.capture`` (the function ``run`` calls) by wrapping it."""
    original = lester.runner.capture
    if not inspect.isfunction(original):
        raise RuntimeError("lester.runner.capture is not the capture function; cannot time it")

    def timed_capture(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            seconds.append(time.perf_counter() - started)

    lester.runner.capture = timed_capture
    try:
        yield
    finally:
        lester.runner.capture = original


@contextlib.contextmanager
def fresh_store() -> Iterator[Path]:
    """A new, empty store directory next to the data; deleted afterwards."""
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    path = Path(tempfile.mkdtemp(prefix="bench-run-store-", dir=OUT_DIR))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def lester_run(data: Data, store: Path) -> lester.runner.RunResult:
    """One ``lester run`` of the paper's pipeline, quiet, into ``store``."""
    return lester.runner.run(
        PIPELINE_PATH, data.sources, store=store, seed=SEED, test_size=TEST_SIZE, quiet=True
    )


def stored_x_dtype(store: Path, run_id: str) -> str:
    """The dtype of ``train/X`` and ``test/X`` as read back from the store."""
    run = Store(store).open_run(run_id)
    dtypes = {str(run.matrix(name).dtype) for name in ("train/X", "test/X")}
    return dtypes.pop() if len(dtypes) == 1 else "/".join(sorted(dtypes))


# ---------------------------------------------------------------------------- timing
@dataclass
class Measured:
    """One measured run: wall and CPU seconds, per-step timings, and what it computed."""

    wall: float
    cpu: float
    steps: dict[str, float]
    capture: float = math.nan
    result: Any = None


def timed_call(func: Callable[[], tuple[dict[str, float], float, Any]]) -> Measured:
    """Run ``func`` after a garbage collection; ``func`` returns (steps, capture, result)."""
    gc.collect()
    wall, cpu = time.perf_counter(), time.process_time()
    steps, capture, result = func()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return Measured(wall, cpu, steps, capture, result)


def measure_lester(data: Data, keep: bool) -> tuple[Measured, str | None]:
    """Time one Lester run (fresh store). With ``keep`` the result is kept and the stored
    X dtype read back (after the clock stops)."""
    with fresh_store() as store:
        capture_seconds: list[float] = []

        def call() -> tuple[dict[str, float], float, Any]:
            with capture_timer(capture_seconds):
                result = lester_run(data, store)
            return dict(result.outputs.timings), capture_seconds[-1], result

        measured = timed_call(call)
        dtype = stored_x_dtype(store, measured.result.run_id) if keep else None
    if not keep:
        measured.result = None
    return measured, dtype


def measure_plain(module: ModuleType, data: Data, test_ids: set[str], keep: bool) -> Measured:
    """Time one plain run."""

    def call() -> tuple[dict[str, float], float, Any]:
        result = plain_run(module, data, test_ids)
        return dict(result.timings), math.nan, result

    measured = timed_call(call)
    if not keep:
        measured.result = None
    return measured


def median(values: Sequence[float]) -> float:
    """Median, NaN for no values."""
    return statistics.median(values) if values else math.nan


def print_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """Print a plain, aligned text table."""
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows, strict=True)]
    for index, row in enumerate([header, *rows]):
        print("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)))
        if index == 0:
            print("  ".join("-" * width for width in widths))


def check_same_work(lester_result: lester.runner.RunResult, plain: PlainResult) -> None:
    """Both runs trained on the same rows and tested on as many; report X and accuracy."""
    outputs = lester_result.outputs
    columns = list(plain.train.columns)
    ours = outputs.train.to_pandas()[columns]
    if len(ours) != len(plain.train) or len(outputs.y_test) != len(plain.y_test):
        raise AssertionError(
            f"different splits: Lester {len(ours)}/{len(outputs.y_test)} train/test rows, "
            f"plain {len(plain.train)}/{len(plain.y_test)}"
        )

    def canonical(frame: pd.DataFrame) -> pd.DataFrame:
        frame = frame.astype(object)
        return frame.sort_values(columns, kind="stable").reset_index(drop=True)

    pd.testing.assert_frame_equal(canonical(ours), canonical(plain.train), obj="train rows")
    same_order = ours.reset_index(drop=True).equals(plain.train)
    detail = "same row order"
    if same_order and outputs.X_train.shape == plain.X_train.shape:
        difference = float(np.max(np.abs(outputs.X_train - plain.X_train), initial=0.0))
        detail += f", max |X_train difference| = {difference:.2g}"
    elif not same_order:
        detail += " NOT kept (rows are a permutation), so the models may differ slightly"
    print(
        f"check: same {len(ours):,} train rows and {len(plain.y_test):,} test rows "
        f"({detail}); accuracy Lester={lester_result.metrics['accuracy']:.4f} "
        f"plain={plain.accuracy:.4f}"
    )


# ---------------------------------------------------------------------------- profiling
def profile_lester(data: Data, top: int = 20) -> None:
    """Profile one Lester run and list the ``src/lester`` functions that take the time."""
    profiler = cProfile.Profile()
    with fresh_store() as store:
        started = time.perf_counter()
        profiler.enable()
        lester_run(data, store)
        profiler.disable()
        total = time.perf_counter() - started
    stats = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    rows = []
    for (filename, line, name), (_, calls, own, cumulative, _) in stats.items():
        path = Path(filename)
        if SRC_DIR in path.parents:
            where = f"{path.relative_to(SRC_DIR.parent)}:{line}"
            rows.append((cumulative, own, calls, f"{name} ({where})"))
    print(f"\ncProfile of one Lester run ({total:.1f} s under the profiler): src/lester functions")
    print("by cumulative time (includes what they call, e.g. the pipeline's own code):")
    print_table(
        ["cumulative s", "share", "own s", "calls", "function"],
        [
            [f"{cum:.3f}", f"{cum / total:.1%}", f"{own:.3f}", f"{calls:,}", label]
            for cum, own, calls, label in sorted(rows, reverse=True)[:top]
        ],
    )
    print("\nby own time (time spent in the function's own code):")
    print_table(
        ["own s", "share", "calls", "function"],
        [
            [f"{own:.3f}", f"{own / total:.1%}", f"{calls:,}", label]
            for _, own, calls, label in sorted(rows, key=lambda row: row[1], reverse=True)[:top]
        ],
    )


# ---------------------------------------------------------------------------- memory
@dataclass(frozen=True)
class MemoryPoint:
    """Peak RSS (bytes) of both pipelines at one size, from their subprocesses."""

    customers: int
    lester: int
    plain: int
    lester_seconds: float
    plain_seconds: float
    loaded: int  # peak RSS after imports and model loading (shared by both)
    x_dtype: str


def warm_up_training(module: ModuleType) -> None:
    """Fit and apply a tiny ``create_model`` network once: the first torch training in a
    process pays a one-off cost of seconds, which would land on whichever pipeline ran first."""
    started = time.perf_counter()
    features = np.random.default_rng(SEED).random((64, 8), dtype=np.float32)
    net = module.create_model(features.shape[1])
    net.fit(features, np.arange(64, dtype=np.int64) % 2)
    net.predict_proba(features)
    print(f"warm-up: one tiny skorch fit in {time.perf_counter() - started:.1f} s")


def embedding_throughput(texts: Sequence[str]) -> float:
    """Texts per second of the MiniLM model (batch size of the pipeline's transformer)."""
    from lester.features.text import SentenceEmbeddingTransformer

    model = load_sentence_model()
    batch_size = SentenceEmbeddingTransformer().batch_size
    started = time.perf_counter()
    model.encode(list(texts), batch_size=batch_size, convert_to_numpy=True, show_progress_bar=False)
    return len(texts) / (time.perf_counter() - started)


def run_child(kind: str, data: Data, ids_path: Path) -> dict[str, Any]:
    """Run one pipeline in a subprocess and return its JSON report."""
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--child",
        kind,
        "--customers",
        str(data.num_customers),
        "--test-ids",
        str(ids_path),
    ]
    completed = subprocess.run(command, stdout=subprocess.PIPE, text=True, check=True)
    return json.loads(completed.stdout.strip().splitlines()[-1])


def measure_memory(pipeline: Pipeline, num_customers: int) -> MemoryPoint:
    """Peak RSS of a Lester run and of a plain run at ``num_customers``, one subprocess each."""
    data = ensure_data(num_customers)
    ids = sorted(test_mail_ids(pipeline, data))
    with tempfile.NamedTemporaryFile("w", suffix=".json", dir=OUT_DIR, delete=False) as handle:
        json.dump(ids, handle)
    ids_path = Path(handle.name)
    try:
        print(f"memory: {num_customers:,} customers, plain run in a subprocess ...", flush=True)
        plain = run_child("plain", data, ids_path)
        print(f"  {plain['seconds']:.0f} s, peak RSS {plain['peak_rss'] / GIB:.2f} GiB", flush=True)
        print(f"memory: {num_customers:,} customers, Lester run in a subprocess ...", flush=True)
        lester = run_child("lester", data, ids_path)
        print(
            f"  {lester['seconds']:.0f} s, peak RSS {lester['peak_rss'] / GIB:.2f} GiB, "
            f"stored X dtype {lester['x_dtype']}",
            flush=True,
        )
    finally:
        ids_path.unlink(missing_ok=True)
    return MemoryPoint(
        num_customers,
        lester["peak_rss"],
        plain["peak_rss"],
        lester["seconds"],
        plain["seconds"],
        min(lester["loaded_rss"], plain["loaded_rss"]),
        lester["x_dtype"],
    )


def child_main(kind: str, num_customers: int, ids_path: Path) -> int:
    """The subprocess of the memory measurement: load the model, run once, report as JSON."""
    data = ensure_data(num_customers)
    test_ids = set(json.loads(ids_path.read_text()))
    load_sentence_model()
    loaded = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    report: dict[str, Any] = {"kind": kind, "customers": num_customers, "loaded_rss": loaded}
    started = time.perf_counter()
    if kind == "plain":
        module = load_pipeline(PIPELINE_PATH).module
        result = plain_run(module, data, test_ids)
        report.update(seconds=time.perf_counter() - started, accuracy=result.accuracy)
        report["peak_rss"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        report["x_dtype"] = str(result.X_train.dtype)
    else:
        with fresh_store() as store:
            result = lester_run(data, store)
            report.update(
                seconds=time.perf_counter() - started, accuracy=result.metrics["accuracy"]
            )
            # Read before opening the store, so reading X back does not count.
            report["peak_rss"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
            report["x_dtype"] = stored_x_dtype(store, result.run_id)
    print(json.dumps(report))
    return 0


def choose_memory_size(
    pipeline: Pipeline,
    throughput: float,
    other_seconds_per_customer: float,
    budget: float,
) -> tuple[int, float]:
    """The size to measure memory at, and the estimated seconds of one run at 10,000.

    The estimate is the distinct texts of the 10,000-customer data (embedded once each) over
    the measured throughput, plus the non-embedding time of the timing runs scaled linearly.
    """
    data = ensure_data(MEMORY_CUSTOMERS)
    prepared = plain_dataprep(pipeline.module, data)
    distinct = prepared["title"].nunique() + prepared["text"].nunique()
    estimate = distinct / throughput + other_seconds_per_customer * MEMORY_CUSTOMERS
    print(
        f"estimate for one run at {MEMORY_CUSTOMERS:,} customers: {len(prepared):,} rows, "
        f"{distinct:,} distinct texts to embed / {throughput:.1f} texts/s + other steps "
        f"= {estimate / 60:.1f} min"
    )
    if estimate <= FULL_SIZE_LIMIT:
        return MEMORY_CUSTOMERS, estimate
    per_customer = estimate / MEMORY_CUSTOMERS
    size = int(budget / per_customer) // 1000 * 1000
    return max(1000, min(size, MEMORY_CUSTOMERS)), estimate


# ---------------------------------------------------------------------------- main
def parse_arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--customers", type=int, default=1000, help="customers of the timing part (default 1000)"
    )
    parser.add_argument(
        "--repeats", type=int, default=3, help="measured runs of each pipeline (default 3)"
    )
    parser.add_argument("--skip-memory", action="store_true", help="skip the peak-memory part")
    parser.add_argument(
        "--memory-customers",
        type=int,
        default=None,
        help="measure memory at this size (no estimate, no extrapolation)",
    )
    parser.add_argument(
        "--memory-budget",
        type=float,
        default=600.0,
        help="seconds one memory run may take when 10,000 customers would take over 15 min",
    )
    parser.add_argument("--profile", action="store_true", help="profile Lester even if on target")
    parser.add_argument("--child", choices=["lester", "plain"], help=argparse.SUPPRESS)
    parser.add_argument("--test-ids", type=Path, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_arguments(argv)
    if args.child:
        return child_main(args.child, args.customers, args.test_ids)

    data = ensure_data(args.customers)
    pipeline = load_pipeline(PIPELINE_PATH)
    module = pipeline.module
    print(
        f"data: {data.num_customers:,} customers, {data.num_customers * MAILS_PER_CUSTOMER:,} "
        f"mails ({data.mails.parent}); {os.cpu_count()} CPUs, torch threads "
        f"{__import__('torch').get_num_threads()}"
    )

    # Shared cost, not timed: the sentence-transformers model; then 500 texts (throughput,
    # which also warms up torch).
    started = time.perf_counter()
    load_sentence_model()
    print(f"warm-up: sentence-transformers model loaded in {time.perf_counter() - started:.1f} s")
    warm_up_training(module)
    test_ids = test_mail_ids(pipeline, data)
    sample = plain_dataprep(module, ensure_data(max(args.customers, 1000)))["text"].unique()
    throughput = embedding_throughput(sample[:THROUGHPUT_TEXTS])
    print(f"embedding throughput: {throughput:.1f} texts/s ({THROUGHPUT_TEXTS} mail texts)")

    lester_runs: list[Measured] = []
    plain_runs: list[Measured] = []
    x_dtype = None
    for repeat in range(args.repeats):
        order = ("lester", "plain") if repeat % 2 == 0 else ("plain", "lester")
        for kind in order:
            keep = repeat == 0
            if kind == "lester":
                measured, dtype = measure_lester(data, keep)
                x_dtype = x_dtype or dtype
                lester_runs.append(measured)
            else:
                measured = measure_plain(module, data, test_ids, keep)
                plain_runs.append(measured)
            print(f"  run {repeat + 1} {kind:6s} {measured.wall:7.2f} s wall", flush=True)
    check_same_work(lester_runs[0].result, plain_runs[0].result)
    lester_runs[0].result = plain_runs[0].result = None

    lester_wall = median([run.wall for run in lester_runs])
    plain_wall = median([run.wall for run in plain_runs])
    ratio = lester_wall / plain_wall
    cpu_ratio = median([run.cpu for run in lester_runs]) / median([run.cpu for run in plain_runs])
    capture = median([run.capture for run in lester_runs])
    print(f"\nwhole run, {data.num_customers:,} customers, median of {args.repeats} (seconds)")
    print_table(
        ["pipeline", "wall", "min..max", "CPU (all threads)"],
        [
            [
                name,
                f"{median([r.wall for r in runs]):.2f}",
                f"{min(r.wall for r in runs):.2f}..{max(r.wall for r in runs):.2f}",
                f"{median([r.cpu for r in runs]):.2f}",
            ]
            for name, runs in (("Lester run (with capture)", lester_runs), ("plain", plain_runs))
        ],
    )
    print(f"wall ratio {ratio:.3f}, CPU-time ratio {cpu_ratio:.3f}")

    print(f"\nper step, median of {args.repeats} (seconds; Lester: result.outputs.timings)")
    rows = []
    for step in STEPS:
        ours = median([run.steps.get(step, math.nan) for run in lester_runs])
        theirs = median([run.steps.get(step, math.nan) for run in plain_runs])
        rows.append([step, f"{ours:.3f}", f"{theirs:.3f}", f"{ours - theirs:+.3f}"])
    outside = median([run.wall - sum(run.steps.values()) for run in lester_runs])
    plain_outside = median([run.wall - sum(run.steps.values()) for run in plain_runs])
    rows.append(["capture (lester.runner.capture)", f"{capture:.3f}", "-", f"+{capture:.3f}"])
    rows.append(
        [
            "rest (load pipeline, store commit, ...)",
            f"{outside - capture:.3f}",
            f"{plain_outside:.3f}",
            f"{outside - capture - plain_outside:+.3f}",
        ]
    )
    print_table(["step", "Lester", "plain", "Lester-plain"], rows)

    if ratio > TARGET_RATIO or args.profile:
        if ratio > TARGET_RATIO:
            print(f"\nratio {ratio:.2f} misses the target {TARGET_RATIO}; profiling Lester")
        profile_lester(data)

    memory_text = "peak RSS not measured (--skip-memory)"
    if not args.skip_memory:
        print()
        if args.memory_customers:
            sizes, estimate = [args.memory_customers], math.nan
        else:
            encoding = median(
                [
                    run.steps["feature encoding (fit on train)"]
                    + run.steps["feature encoding (test)"]
                    for run in lester_runs
                ]
            )
            other_per_customer = (lester_wall - encoding) / data.num_customers
            size, estimate = choose_memory_size(
                pipeline, throughput, other_per_customer, args.memory_budget
            )
            sizes = [size] if size == MEMORY_CUSTOMERS else sorted({1000, size})
            if size != MEMORY_CUSTOMERS:
                print(
                    f"a {MEMORY_CUSTOMERS:,}-customer run would take about {estimate / 60:.0f} "
                    f"min (> {FULL_SIZE_LIMIT / 60:.0f}); measuring at {size:,} customers "
                    f"(budget {args.memory_budget:.0f} s) and extrapolating"
                )
        points = [measure_memory(pipeline, size) for size in sizes]
        memory_text = report_memory(points)
        x_dtype = points[-1].x_dtype

    print(
        "\nnot in either pipeline's time: loading the sentence-transformers model (shared "
        "cost, done once before timing)"
    )
    print(
        f"RATIO lester_run/plain={ratio:.2f} (target <= {TARGET_RATIO:.2f}) at "
        f"{data.num_customers} customers; {memory_text}; X dtype {x_dtype}"
    )
    return 0


def report_memory(points: Sequence[MemoryPoint]) -> str:
    """Print the memory table; the last line's memory part (extrapolation labelled)."""
    print("\npeak RSS per run (subprocess, ru_maxrss; includes ~the model and libraries)")
    print_table(
        ["customers", "Lester GiB", "plain GiB", "Lester/plain", "after model load GiB",
         "Lester s", "plain s", "stored X dtype"],
        [
            [
                f"{p.customers:,}",
                f"{p.lester / GIB:.2f}",
                f"{p.plain / GIB:.2f}",
                f"{p.lester / p.plain:.2f}",
                f"{p.loaded / GIB:.2f}",
                f"{p.lester_seconds:.0f}",
                f"{p.plain_seconds:.0f}",
                p.x_dtype,
            ]
            for p in points
        ],
    )  # fmt: skip
    last = points[-1]
    measured = (
        f"peak RSS lester={last.lester / GIB:.1f} GiB plain={last.plain / GIB:.1f} GiB "
        f"at {last.customers} customers"
    )
    if last.customers == MEMORY_CUSTOMERS or len(points) < 2:
        return measured
    first = points[0]

    def extrapolate(small: int, large: int) -> float:
        slope = (large - small) / (last.customers - first.customers)
        return large + slope * (MEMORY_CUSTOMERS - last.customers)

    lester_10k = extrapolate(first.lester, last.lester)
    plain_10k = extrapolate(first.plain, last.plain)
    print(
        f"EXTRAPOLATED (linear through {first.customers:,} and {last.customers:,} customers, "
        f"not measured) to {MEMORY_CUSTOMERS:,} customers: Lester {lester_10k / GIB:.2f} GiB, "
        f"plain {plain_10k / GIB:.2f} GiB"
    )
    return (
        f"{measured} (measured); EXTRAPOLATED to {MEMORY_CUSTOMERS}: "
        f"lester={lester_10k / GIB:.1f} GiB plain={plain_10k / GIB:.1f} GiB"
    )


if __name__ == "__main__":
    sys.exit(main())
