"""Benchmark: the paper's data preparation, split and featurisation on the pandas engine and
on Spark (local mode), at 1M and 10M synthetic mails: wall time and peak driver memory.

Each engine runs in its own subprocess, so peak memory is that engine's alone:

* pandas: the process's peak resident memory (``ru_maxrss``);
* Spark: the peak of the driver's Python process plus the Spark JVM (in local mode the
  JVM is driver and executors at once), sampled every 0.2 s; the JVM runs with
  ``spark.driver.memory=4g``, the issue's limit. The Python workers that run the UDFs are
  executor memory and reported apart.

Both compute the same thing: the plan of ``_common.lester_dataprep``, the provenance-hash
train/test split, an encoder (one-hot country, standardised title length) fitted on the
training rows and applied to both splits. pandas keeps X in memory; Spark fits on the
driver (on at most ``--fit-rows`` training rows) and writes data, provenance, X and y as
Parquet shards per partition.

    python benchmarks/bench_spark.py                 # 1M and 10M mails
    python benchmarks/bench_spark.py --mails 1000000 # one size
    python benchmarks/bench_spark.py --quick         # 100k mails
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common

DRIVER_MEMORY = "4g"


def encoder():
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

    return ColumnTransformer(
        [
            ("country", OneHotEncoder(handle_unknown="ignore", sparse_output=False), ["country"]),
            ("title_length", make_pipeline(FunctionTransformer(title_length), StandardScaler()),
             ["title"]),
        ]
    )  # fmt: skip


def title_length(frame):
    return frame.iloc[:, 0].fillna("").str.len().to_numpy(dtype=float).reshape(-1, 1)


def label(frame):
    return frame["is_premium"].fillna(False).astype(int).to_numpy()


def dataprep(customers_path, mails_path):
    import lester as lt

    customers = lt.read_csv(
        customers_path, name="customers", primary_key="customer_id", **_common.CUSTOMER_OPTIONS
    )
    mails = lt.read_csv(mails_path, name="mails", primary_key="mail_id", **_common.MAIL_OPTIONS)
    return _common.lester_dataprep(customers, mails)


# ---------------------------------------------------------------------------- one engine
def run_pandas(paths: _common.DataPaths) -> dict:
    import resource

    started = time.perf_counter()
    prepared = dataprep(paths.customers, paths.mails)
    train, test = prepared.split(test_size=0.2, seed=42)
    fitted = encoder()
    X_train = fitted.fit_transform(train.to_pandas()).astype(np.float32)
    X_test = fitted.transform(test.to_pandas()).astype(np.float32)
    y = label(train.to_pandas())
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return {"seconds": seconds, "peak_bytes": peak, "rows": len(X_train) + len(X_test),
            "features": int(X_train.shape[1]), "labels": len(y)}  # fmt: skip


class PeakSampler(threading.Thread):
    """Samples resident memory: this (driver) process, the Spark JVM (in local mode driver
    and executors at once) and the Python workers the JVM starts, each peak separately."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.running = True
        self.peaks = {"driver_python": 0, "jvm": 0, "python_workers": 0, "driver_total": 0}

    def run(self) -> None:
        while self.running:
            now = {"driver_python": 0, "jvm": 0, "python_workers": 0}
            for pid in _family(os.getpid()):
                kind = "driver_python" if pid == os.getpid() else _kind(pid)
                now[kind] += _rss(pid)
            now["driver_total"] = now["driver_python"] + now["jvm"]
            for kind, value in now.items():
                self.peaks[kind] = max(self.peaks[kind], value)
            time.sleep(0.2)


def _kind(pid: int) -> str:
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0]
    except OSError:
        return "python_workers"
    return "jvm" if command.endswith(b"java") else "python_workers"


def _family(pid: int) -> list[int]:
    found, stack = [], [pid]
    while stack:
        current = stack.pop()
        found.append(current)
        children = []
        for task in Path(f"/proc/{current}/task").glob("*"):  # the JVM forks from any thread
            try:
                children += (task / "children").read_text().split()
            except OSError:
                continue
        stack.extend(int(child) for child in children)
    return found


def _rss(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def run_spark(paths: _common.DataPaths, master: str, fit_rows: int) -> dict:
    from lester.engine.spark import SparkEngine, get_session
    from lester.engine.spark.pipeline import encode_split, fit_sample
    from lester.frame import plan_only
    from lester.frame.plan import Split

    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    sampler = PeakSampler()
    sampler.start()
    spark = get_session(
        master,
        {"spark.driver.memory": DRIVER_MEMORY, "spark.driver.host": "127.0.0.1",
         "spark.sql.shuffle.partitions": "8"},
    )  # fmt: skip
    spark.sparkContext.setLogLevel("ERROR")
    started = time.perf_counter()
    with plan_only("spark"):
        prepared = dataprep(paths.customers, paths.mails)
    root = prepared._node
    columns = list(root.columns)
    nodes = {part: Split(root, part, 0.2, 42) for part in Split.PARTS}
    rows = 0
    with SparkEngine(spark=spark) as engine:
        engine.prepare(nodes["train"])
        staged_at = time.perf_counter() - started
        compiled = {part: engine.compile(node) for part, node in nodes.items()}
        sample, _ = fit_sample(engine, compiled["train"], columns, fit_rows, 42)
        fitted = encoder().fit(sample)
        for part in Split.PARTS:
            folder = engine.workdir / f"encoded-{part}"
            encode_split(compiled[part], columns, fitted, label, "bigint", folder)
            rows += spark.read.parquet(str(folder)).count()
        seconds = time.perf_counter() - started
    sampler.running = False
    sampler.join()
    peaks = {f"peak_{kind}_bytes": value for kind, value in sampler.peaks.items()}
    peaks["peak_bytes"] = sampler.peaks["driver_total"]
    return {"seconds": seconds, "staging_seconds": staged_at, "rows": rows,
            "fit_rows": len(sample), **peaks}  # fmt: skip


# ---------------------------------------------------------------------------- driver
def measure(engine: str, mails: int, master: str, fit_rows: int) -> dict:
    command = [sys.executable, __file__, "--engine-run", engine, "--mails", str(mails),
               "--spark-master", master, "--fit-rows", str(fit_rows)]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        raise SystemExit(f"{engine} at {mails:,} mails failed:\n{done.stderr[-3000:]}")
    return json.loads(lines[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mails", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--quick", action="store_true", help="100k mails only")
    parser.add_argument("--spark-master", default="local[2]")
    parser.add_argument("--fit-rows", type=int, default=200_000)
    parser.add_argument("--engines", nargs="+", default=["pandas", "spark"])
    parser.add_argument("--engine-run", choices=["pandas", "spark"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    sizes = [_common.QUICK_MAILS] if args.quick else args.mails
    if args.engine_run:
        paths = _common.ensure_data(sizes[0])
        if args.engine_run == "pandas":
            result = run_pandas(paths)
        else:
            result = run_spark(paths, args.spark_master, args.fit_rows)
        print(json.dumps(result))
        return
    print(f"{'mails':>12} {'engine':>7} {'seconds':>9} {'peak driver MiB':>16} {'rows':>10}")
    ratio = None
    for mails in sizes:
        _common.ensure_data(mails)
        results = {}
        for engine in args.engines:
            results[engine] = result = measure(engine, mails, args.spark_master, args.fit_rows)
            peak = result["peak_bytes"] / 2**20
            print(f"{mails:>12,} {engine:>7} {result['seconds']:>9.1f} {peak:>16,.0f} "
                  f"{result['rows']:>10,}", flush=True)  # fmt: skip
        if len(results) == 2:
            assert results["pandas"]["rows"] == results["spark"]["rows"], "engines disagree"
            ratio = results["spark"]["seconds"] / results["pandas"]["seconds"]
            spark = {
                k: f"{v / 2**20:,.0f} MiB" for k, v in results["spark"].items() if "peak_" in k
            }
            print(f"  spark memory peaks: {spark}")
            within = results["spark"]["peak_bytes"] <= 4 * 2**30
            print(f"{mails:,} mails: spark/pandas time ratio {ratio:.2f}; spark driver peak "
                  f"{'within' if within else 'OVER'} 4 GiB")  # fmt: skip


if __name__ == "__main__":
    main()
