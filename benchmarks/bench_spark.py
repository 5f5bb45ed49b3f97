"""Benchmark: the paper's data preparation, split and featurisation on the pandas engine and
on Spark (local mode), at 1M and 10M synthetic mails: wall time and peak driver memory.

Each engine runs in its own subprocess, so peak memory is that engine's alone:

* pandas: the process's peak resident memory (``ru_maxrss``);
* Spark: the peak of the driver's Python process plus the Spark JVM (in local mode the
  JVM is driver and executors at once), sampled every 0.2 s. The issue's limit is a driver
  memory of 4 GiB; the verdict compares this measured sum (not a setting) with it. The
  JVM heap is ``spark.driver.memory`` (``--driver-memory``, default 2g): a JVM grows its
  heap towards the limit whether or not it needs it, so a 4g heap alone would take more
  than 4 GiB of resident memory. The Python workers that run the UDFs are executor memory
  and reported apart.

A run whose processes together exceed ``--memory-cap`` GiB (default 10) is stopped and
reported as such, so that a pandas run at 10M mails cannot exhaust a shared machine.

Both compute the same thing: the plan of ``_common.lester_dataprep``, the provenance-hash
train/test split, an encoder (one-hot country, standardised title length) fitted on the
training rows and applied to both splits. pandas keeps X in memory; Spark fits on the
driver (on at most ``--fit-rows`` training rows) and writes data, provenance, X and y as
Parquet shards per partition.

    python benchmarks/bench_spark.py                 # 1M and 10M mails
    python benchmarks/bench_spark.py --mails 1000000 # one size
    python benchmarks/bench_spark.py --quick         # 100k mails

Last line: the Spark/pandas time ratio per size and the verdict on the Spark driver peak
at the largest size against 4 GiB.
"""

from __future__ import annotations

import argparse
import contextlib
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

DRIVER_MEMORY = "2g"
LIMIT_BYTES = 4 * 2**30  # the issue: the Spark run at 10M within a driver memory of 4 GiB


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


KINDS = ("driver_python", "jvm", "python_workers", "driver_total")


class PeakSampler(threading.Thread):
    """Samples memory: the resident sizes of this (driver) process and the Spark JVM (in
    local mode driver and executors at once), the proportional set size of the Python
    workers the JVM starts; each peak separately, overall and per phase of the run."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.running = True
        self.phase = "start"
        self.peaks = dict.fromkeys(KINDS, 0)
        self.phases: dict[str, dict[str, int]] = {}

    def run(self) -> None:
        while self.running:
            now = dict.fromkeys(KINDS, 0)
            for pid in _family(os.getpid()):
                kind = "driver_python" if pid == os.getpid() else _kind(pid)
                now[kind] += _pss(pid) if kind == "python_workers" else _rss(pid)
            now["driver_total"] = now["driver_python"] + now["jvm"]
            phase = self.phases.setdefault(self.phase, dict.fromkeys(KINDS, 0))
            for kind, value in now.items():
                self.peaks[kind] = max(self.peaks[kind], value)
                phase[kind] = max(phase[kind], value)
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
    return list(dict.fromkeys(found))  # a child can be listed under two threads of its parent


def _rss(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _pss(pid: int) -> int:
    """Proportional set size: the workers are forked from one daemon and share pages, which
    resident sizes would count once per worker."""
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def run_spark(paths: _common.DataPaths, master: str, fit_rows: int, driver_memory: str) -> dict:
    from lester.engine.spark import SparkEngine, get_session
    from lester.engine.spark.pipeline import encode_split, fit_sample
    from lester.frame import plan_only
    from lester.frame.plan import Split

    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    sampler = PeakSampler()
    sampler.start()
    spark = get_session(
        master,
        {"spark.driver.memory": driver_memory, "spark.driver.host": "127.0.0.1",
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
        sampler.phase = "stage sources"
        engine.prepare(nodes["train"])
        staged_at = time.perf_counter() - started
        sampler.phase = "fit encoder"
        compiled = {part: engine.compile(node) for part, node in nodes.items()}
        sample, _ = fit_sample(engine, compiled["train"], columns, fit_rows, 42)
        fitted = encoder().fit(sample)
        for part in Split.PARTS:
            sampler.phase = f"encode {part}"
            folder = engine.workdir / f"encoded-{part}"
            encode_split(compiled[part], columns, fitted, label, "bigint", folder)
            rows += spark.read.parquet(str(folder)).count()
        seconds = time.perf_counter() - started
    sampler.running = False
    sampler.join()
    peaks = {f"peak_{kind}_bytes": value for kind, value in sampler.peaks.items()}
    peaks["peak_bytes"] = sampler.peaks["driver_total"]
    return {"seconds": seconds, "staging_seconds": staged_at, "rows": rows,
            "fit_rows": len(sample), "phases": sampler.phases, **peaks}  # fmt: skip


# ---------------------------------------------------------------------------- driver
def measure(engine: str, mails: int, args: argparse.Namespace) -> dict:
    """Run one engine in a subprocess; stop it when its processes exceed the memory cap."""
    command = [sys.executable, __file__, "--engine-run", engine, "--mails", str(mails),
               "--spark-master", args.spark_master, "--fit-rows", str(args.fit_rows),
               "--driver-memory", args.driver_memory]  # fmt: skip
    cap, started = args.memory_cap * 2**30, time.perf_counter()
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as run:
        reader = threading.Thread(target=lambda: setattr(run, "output", run.communicate()))
        reader.start()
        while reader.is_alive():
            if sum(_rss(pid) for pid in _family(run.pid)) > cap:
                for pid in reversed(_family(run.pid)):  # children first, then the run itself
                    _kill(pid)
                reader.join()
                seconds = time.perf_counter() - started
                return {"over_cap": True, "seconds": seconds, "peak_bytes": cap, "rows": 0}
            reader.join(0.5)
    stdout, stderr = run.output
    lines = [line for line in stdout.splitlines() if line.startswith("{")]
    if run.returncode != 0 or not lines:
        raise SystemExit(f"{engine} at {mails:,} mails failed:\n{stderr[-3000:]}")
    return json.loads(lines[-1])


def _kill(pid: int) -> None:
    with contextlib.suppress(OSError):
        os.kill(pid, 9)


def report(mails: int, engine: str, result: dict, cap: float) -> None:
    if result.get("over_cap"):
        print(f"{mails:>12,} {engine:>7} stopped after {result['seconds']:.0f} s: its processes "
              f"took more than {cap:g} GiB", flush=True)  # fmt: skip
        return
    peak = result["peak_bytes"] / 2**20
    print(f"{mails:>12,} {engine:>7} {result['seconds']:>9.1f} {peak:>16,.0f} "
          f"{result['rows']:>10,}", flush=True)  # fmt: skip
    if engine == "spark":
        peaks = {
            k[5:-6]: f"{v / 2**20:,.0f} MiB"
            for k, v in result.items()
            if k.startswith("peak_") and k != "peak_bytes"
        }
        print(f"{'':>21}spark peaks: {peaks}; staging {result['staging_seconds']:.1f} s")
        for phase, values in result["phases"].items():
            mib = ", ".join(f"{kind} {value / 2**20:,.0f}" for kind, value in values.items())
            print(f"{'':>23}{phase}: {mib} MiB")


def summary(results: dict[int, dict[str, dict]]) -> str:
    """The last line: time ratio per size, verdict on the largest Spark run."""
    ratios = []
    for mails, by_engine in results.items():
        pandas, spark = by_engine.get("pandas"), by_engine.get("spark")
        if not (pandas and spark):
            continue
        if pandas.get("over_cap") or spark.get("over_cap"):
            ratios.append(f"{mails:,}=n/a (a run hit the memory cap)")
        else:
            ratios.append(f"{mails:,}={spark['seconds'] / pandas['seconds']:.2f}")
    line = f"RATIO spark/pandas time: {', '.join(ratios) or 'n/a'}"
    spark_runs = [(m, r["spark"]) for m, r in results.items() if "spark" in r]
    if spark_runs:
        mails, spark = spark_runs[-1]
        peak = spark["peak_bytes"] / 2**30
        within = not spark.get("over_cap") and spark["peak_bytes"] <= LIMIT_BYTES
        line += (f"; spark driver peak at {mails:,} mails {peak:.2f} GiB "
                 f"({'within' if within else 'OVER'} 4 GiB)")  # fmt: skip
    return line


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mails", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--quick", action="store_true", help="100k mails only")
    parser.add_argument("--spark-master", default="local[2]")
    parser.add_argument("--fit-rows", type=int, default=200_000)
    parser.add_argument("--driver-memory", default=DRIVER_MEMORY, help="the JVM heap")
    parser.add_argument("--memory-cap", type=float, default=10.0, help="GiB per run")
    parser.add_argument("--engines", nargs="+", default=["spark", "pandas"])
    parser.add_argument("--engine-run", choices=["pandas", "spark"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    sizes = [_common.QUICK_MAILS] if args.quick else args.mails
    if args.engine_run:
        paths = _common.ensure_data(sizes[0])
        if args.engine_run == "pandas":
            result = run_pandas(paths)
        else:
            result = run_spark(paths, args.spark_master, args.fit_rows, args.driver_memory)
        print(json.dumps(result))
        return
    print(f"{'mails':>12} {'engine':>7} {'seconds':>9} {'peak driver MiB':>16} {'rows':>10}")
    results: dict[int, dict[str, dict]] = {}
    for mails in sizes:
        _common.ensure_data(mails)
        results[mails] = {}
        for engine in args.engines:
            results[mails][engine] = measure(engine, mails, args)
            report(mails, engine, results[mails][engine], args.memory_cap)
        done = [r for r in results[mails].values() if not r.get("over_cap")]
        assert len({r["rows"] for r in done}) <= 1, "the engines give different row counts"
    print(summary(results))


if __name__ == "__main__":
    main()
