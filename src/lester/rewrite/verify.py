"""Prove a rewrite by running both programs: differential execution in a sandbox.

:func:`verify_rewrite` runs the messy script and the rewritten pipeline (through
:mod:`lester.rewrite.pipeline_runner`) on the same inputs, each in a sandbox
(:mod:`lester.rewrite.sandbox`): the real inputs (or a join-aware sample) and edge cases
generated from them (:mod:`lester.rewrite.variants`). It compares the prepared rows as a
multiset, ``y`` and ``X`` block by block (:mod:`lester.rewrite.compare`), and reduces the
first difference to a small input that still shows it (delta debugging over the input
records, with a bounded number of runs).

Examples
--------
>>> import tempfile, textwrap
>>> folder = Path(tempfile.mkdtemp())
>>> (folder / "data").mkdir()
>>> _ = (folder / "data" / "numbers.csv").write_text("n\\n1\\n2\\n3\\n")
>>> _ = (folder / "messy.py").write_text(textwrap.dedent('''
...     import os, numpy as np
...     rows = [int(l) for l in open('data/numbers.csv').read().split()[1:] if int(l) > 1]
...     os.makedirs('out', exist_ok=True)
...     open('out/prepared.tsv', 'w').write(''.join(f'{r}\\\\n' for r in rows))
...     np.save('out/X.npy', np.array([[float(r)] for r in rows]).reshape(-1, 1))
...     np.save('out/y.npy', np.array([float(r > 2) for r in rows]))'''))
>>> pipeline = textwrap.dedent('''
...     import lester as lt
...     from sklearn.compose import ColumnTransformer
...     def _lester_dataprep(numbers_path):
...         return lt.read_csv(numbers_path).filter("n > 1")
...     def encode_features():
...         return ColumnTransformer([("n", "passthrough", ["n"])])
...     def extract_label(df):
...         return (df["n"] > 2).astype(float)''')
>>> verdict = verify_rewrite(folder / "messy.py", pipeline, edge_cases=False)
>>> verdict.equivalent, [case.status for case in verdict.cases]
(True, ['equivalent'])
>>> wrong = pipeline.replace('"n > 1"', '"n > 0"')
>>> print(verify_rewrite(folder / "messy.py", wrong, edge_cases=False).feedback())
On the real inputs the outputs differ:
prepared rows differ: 0 only in the original, 1 only in the rewrite (of 2 and 3 rows)
  rewrite only:  [1]   <- numbers[0]
...
"""

from __future__ import annotations

import ast
import hashlib
import json
import tempfile
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from lester.errors import LesterError
from lester.rewrite.compare import Comparison, Outputs, compare
from lester.rewrite.sandbox import (
    SandboxLimits,
    SandboxResult,
    network_namespace_available,
    run_sandboxed,
    shared_warm_sandbox,
)
from lester.rewrite.variants import Table, Variant, edge_cases, sample_inputs, source_name

Progress = Callable[[str], Any] | None

DATA_SUFFIXES = (".csv", ".tsv", ".txt", ".dat", ".json", ".jsonl")


@dataclass(frozen=True)
class ScriptOutputs:
    """Where the messy script writes its results, relative to its folder."""

    prepared: str = "out/prepared.tsv"
    X: str = "out/X.npy"
    y: str = "out/y.npy"


WARM_PRELOAD = (
    "numpy", "pandas", "sklearn.compose", "sklearn.preprocessing", "sklearn.pipeline",
    "lester", "lester.rewrite.pipeline_runner",
)  # fmt: skip
_PIPELINE_FILE = "_lester_rewrite_under_test.py"
_RESULT_DIR = "_lester_rewrite_out"


class VerificationError(LesterError, ValueError):
    """The verification cannot start: bad sources, or an original that does not run."""


class OriginalScriptError(VerificationError):
    """The original script fails (or writes no outputs) on its own inputs."""


@dataclass
class CaseResult:
    """The outcome on one input variant.

    ``status`` is ``equivalent``, ``different``, ``rewrite fails``, ``original fails`` (the
    script itself crashes on this input: not counted against the rewrite) or ``skipped``.
    """

    name: str
    kind: str
    description: str
    status: str
    detail: str = ""
    rows_original: int | None = None
    rows_rewrite: int | None = None

    @property
    def counted(self) -> bool:
        return self.status not in ("original fails", "skipped")


@dataclass
class Difference:
    """The smallest input found that shows a difference, and what differs on it."""

    case: str
    inputs: dict[str, str]  # path -> text of the (reduced) input file
    input_records: dict[str, int]
    reduced: bool
    reduction_runs: int
    rewrite_error: str | None = None
    details: str = ""

    def render(self, max_lines: int = 12) -> str:
        parts = [f"smallest input found ({'reduced' if self.reduced else 'not reduced'}, "
                 f"{self.reduction_runs} reduction runs):"]  # fmt: skip
        for path, text in self.inputs.items():
            lines = text.splitlines()
            shown = lines[:max_lines] + ([f"... ({len(lines) - max_lines} more lines)"]
                                         if len(lines) > max_lines else [])  # fmt: skip
            parts.append(f"--- {path} ({self.input_records[path]} records)")
            parts += [f"    {line}" for line in shown]
        if self.rewrite_error:
            parts.append("the rewrite fails on it:\n" + self.rewrite_error)
        if self.details:
            parts.append(self.details)
        return "\n".join(parts)


@dataclass
class Verdict:
    """Whether the rewrite computes what the script computes, with the evidence."""

    equivalent: bool
    cases: list[CaseResult]
    difference: Difference | None
    sources: dict[str, str] = field(default_factory=dict)
    network_isolated: bool = False

    def summary(self) -> str:
        """Human-readable evidence for the CLI report."""
        head = "EQUIVALENT" if self.equivalent else "NOT EQUIVALENT"
        counted = [case for case in self.cases if case.counted]
        lines = [
            f"verification: {head} on {sum(c.status == 'equivalent' for c in counted)} of "
            f"{len(counted)} input variants (sources: "
            + ", ".join(f"{n}={p}" for n, p in self.sources.items())
            + ")"
        ]
        for case in self.cases:
            rows = (
                f" [{case.rows_original} vs {case.rows_rewrite} rows]"
                if case.rows_original is not None and case.rows_rewrite is not None
                else ""
            )
            lines.append(f"  {case.status:<15} {case.name}{rows}")
            if case.detail:
                lines += [f"      {line}" for line in case.detail.splitlines()[:8]]
        skipped = [c.name for c in self.cases if c.status == "original fails"]
        if skipped:
            lines.append(
                f"  not counted: the original script itself fails on {len(skipped)} edge "
                f"case(s) ({', '.join(skipped)})"
            )
        if self.difference is not None:
            lines.append(self.difference.render())
        return "\n".join(lines)

    def feedback(self) -> str:
        """Compact text for an LLM: the error, or the first differing rows."""
        if self.equivalent:
            return "The rewrite is equivalent on every input variant."
        case = next(c for c in self.cases if c.counted and c.status != "equivalent")
        where = "the real inputs" if case.kind in ("real", "sample") else f"'{case.name}'"
        if case.status == "rewrite fails":
            text = f"On {where} the rewritten pipeline fails:\n{case.detail}"
        else:
            text = f"On {where} the outputs differ:\n{case.detail}"
        if self.difference is not None and self.difference.reduced:
            text += "\n" + self.difference.render(max_lines=8)
        return text

    def to_dict(self) -> dict:
        return asdict(self)


# ---------------------------------------------------------------------------- sources
def find_sources(script: Path, outputs: ScriptOutputs | None = None) -> dict[str, str]:
    """Data files the script names with a literal relative path that exists next to it,
    except its outputs (the paths of ``outputs`` and literals opened for writing).

    Examples
    --------
    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> _ = (folder / "a.csv").write_text("x\\n")
    >>> _ = (folder / "s.py").write_text("open('a.csv'); open('out/b.csv', 'w')")
    >>> find_sources(folder / "s.py")
    {'a': 'a.csv'}
    """
    try:
        tree = ast.parse(script.read_text(encoding="utf-8"))
    except SyntaxError as error:
        raise VerificationError(f"{script} does not parse: {error}") from None
    outputs = outputs or ScriptOutputs()
    written = {Path(outputs.prepared).as_posix(), Path(outputs.X).as_posix(),
               Path(outputs.y).as_posix(), *_opened_for_writing(tree)}  # fmt: skip
    found: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            text = node.value
            if Path(text).as_posix() in written:
                continue
            if text.lower().endswith(DATA_SUFFIXES) and "\n" not in text:
                path = script.parent / text
                if not Path(text).is_absolute() and path.is_file():
                    found.setdefault(source_name(text), Path(text).as_posix())
    return found


def _opened_for_writing(tree: ast.AST) -> set[str]:
    written = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "open":
            arguments = [*node.args, *(k.value for k in node.keywords if k.arg == "mode")]
            mode = arguments[1] if len(arguments) > 1 else None
            target = arguments[0] if arguments else None
            if (
                isinstance(mode, ast.Constant)
                and isinstance(mode.value, str)
                and set(mode.value) & set("wax+")
                and isinstance(target, ast.Constant)
                and isinstance(target.value, str)
            ):
                written.add(Path(target.value).as_posix())
    return written


def _resolve_sources(
    script: Path, sources: Mapping[str, str | Path] | None, outputs: ScriptOutputs
) -> dict[str, str]:
    if sources is None:
        found = find_sources(script, outputs)
        if not found:
            raise VerificationError(
                f"{script.name} reads no data file named by a literal path next to it; give the "
                f"sources as {{name: path}}"
            )
        return found
    folder = script.parent.resolve()
    resolved = {}
    for name, path in sources.items():
        full = (folder / path).resolve()
        if not full.is_file():
            raise VerificationError(f"source {name!r}: {path} is not a file")
        if not full.is_relative_to(folder):
            raise VerificationError(
                f"source {name!r}: {path} is outside the script's folder {folder}; the "
                f"script must find its copy at the same relative path"
            )
        resolved[name] = full.relative_to(folder).as_posix()
    return resolved


def _uses_csv_module(script: Path) -> bool:
    tree = ast.parse(script.read_text(encoding="utf-8"))
    return any(
        isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id == "csv"
        and node.attr in ("reader", "DictReader")
        for node in ast.walk(tree)
    )


# ---------------------------------------------------------------------------- running
_original_cache: OrderedDict[str, tuple[SandboxResult, Outputs | None, str]] = OrderedDict()
_CACHE_SIZE = 512


def _digest(script: Path, inputs: Mapping[str, bytes], outputs: ScriptOutputs) -> str:
    digest = hashlib.sha256(script.read_bytes())
    digest.update(repr(outputs).encode())
    for path in sorted(inputs):
        digest.update(path.encode() + b"\0" + hashlib.sha256(inputs[path]).digest())
    return digest.hexdigest()


def run_original(
    script: Path,
    inputs: Mapping[str, bytes],
    outputs: ScriptOutputs,
    limits: SandboxLimits,
    warm: bool = True,
) -> tuple[SandboxResult, Outputs | None, str]:
    """Run the messy script on ``inputs`` (cached by script and input contents); returns
    the sandbox result, the parsed outputs (``None`` on failure) and why it failed.

    ``warm`` runs it in a child forked from the warm sandbox (numpy and pandas already
    imported) instead of a fresh interpreter: the script still runs as ``__main__`` in its
    own process, only the import time is saved."""
    key = _digest(script, inputs, outputs)
    if key in _original_cache:
        _original_cache.move_to_end(key)
        return _original_cache[key]
    with tempfile.TemporaryDirectory(prefix="lester-original-") as tmp:
        workdir = Path(tmp)
        files: dict[str, Any] = {p.name: p for p in script.parent.glob("*.py") if p.is_file()}
        files.update(inputs)
        if warm:
            result = shared_warm_sandbox(WARM_PRELOAD).run([script.name], workdir, files, limits)
        else:
            result = run_sandboxed([script.name], workdir, files, limits)
        parsed, why = (None, result.failure()) if not result.ok else _read_original(
            workdir, outputs)  # fmt: skip
    _original_cache[key] = (result, parsed, why)
    if len(_original_cache) > _CACHE_SIZE:
        _original_cache.popitem(last=False)
    return result, parsed, why


def _read_original(workdir: Path, outputs: ScriptOutputs) -> tuple[Outputs | None, str]:
    paths = {name: workdir / getattr(outputs, name) for name in ("prepared", "X", "y")}
    missing = [str(getattr(outputs, n)) for n, p in paths.items() if not p.is_file()]
    if missing:
        return None, f"the script wrote no {', '.join(missing)}"
    try:
        X = np.load(paths["X"], allow_pickle=False)
        y = np.load(paths["y"], allow_pickle=False)
    except ValueError as error:
        return None, f"cannot read the script's arrays: {error}"
    text = paths["prepared"].read_text(encoding="utf-8", errors="surrogateescape")
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    rows = [line.split("\t") for line in lines]
    n = X.shape[0] if X.ndim >= 1 else 0
    columns = None
    if len(rows) == n + 1:  # one line more than X has rows: a header line
        columns, rows = rows[0], rows[1:]
    return Outputs(columns, rows, X, y), ""


def run_rewrite(
    pipeline_code: str,
    sources: Mapping[str, str],
    inputs: Mapping[str, bytes],
    limits: SandboxLimits,
    warm: bool = True,
) -> tuple[SandboxResult, Outputs | None]:
    """Run the rewritten pipeline on ``inputs`` in the sandbox and read its outputs."""
    with tempfile.TemporaryDirectory(prefix="lester-rewrite-") as tmp:
        workdir = Path(tmp)
        files: dict[str, Any] = dict(inputs)
        files[_PIPELINE_FILE] = pipeline_code.encode("utf-8")
        arguments = [_PIPELINE_FILE, _RESULT_DIR, json.dumps(dict(sources))]
        command = f"from lester.rewrite.pipeline_runner import main\nmain({arguments!r})"
        if warm:
            result = shared_warm_sandbox(WARM_PRELOAD).run(command, workdir, files, limits)
        else:
            result = run_sandboxed(command, workdir, files, limits)
        if not result.ok:
            return result, None
        out = workdir / _RESULT_DIR
        prepared = json.loads((out / "prepared.json").read_text(encoding="utf-8"))
        return result, Outputs(
            columns=prepared["columns"],
            rows=prepared["rows"],
            X=np.load(out / "X.npy", allow_pickle=False),
            y=np.load(out / "y.npy", allow_pickle=False),
            provenance=json.loads((out / "provenance.json").read_text(encoding="utf-8")),
            blocks=[tuple(b) for b in json.loads((out / "blocks.json").read_text())],
        )


# ---------------------------------------------------------------------------- one case
@dataclass
class _Run:
    case: CaseResult
    comparison: Comparison | None = None
    error_kind: str | None = None


def _error_kind(stderr: str) -> str:
    lines = [line for line in stderr.strip().splitlines() if line and not line.startswith(" ")]
    return lines[-1].split(":")[0] if lines else "error"


class _Checker:
    """Runs one input variant through both programs and compares them."""

    def __init__(self, script, pipeline_code, sources, outputs, limits, warm, progress):
        self.script, self.pipeline_code, self.sources = script, pipeline_code, sources
        self.outputs, self.limits, self.warm = outputs, limits, warm
        self.progress = progress or (lambda message: None)
        self.runs = 0

    def check(self, variant: Variant) -> _Run:
        case = CaseResult(variant.name, variant.kind, variant.description, "equivalent")
        _, original, why = run_original(self.script, variant.inputs, self.outputs,
                                        self.limits, self.warm)  # fmt: skip
        if original is None:
            lines = [line for line in why.strip().splitlines() if line.strip()]
            case.status, case.detail = "original fails", lines[-1] if lines else why
            return _Run(case)
        rewrite_result, rewrite = run_rewrite(self.pipeline_code, self.sources, variant.inputs,
                                              self.limits, self.warm)  # fmt: skip
        self.runs += 1
        case.rows_original = len(original.rows)
        if rewrite is None:
            failure = rewrite_result.failure()
            if variant.name.startswith("duplicate key") and "DuplicateKeyError" in failure:
                case.status = "skipped"
                case.detail = ("the rewrite declares a primary key that this edge case "
                               "duplicates; the original accepts duplicates")  # fmt: skip
                return _Run(case)
            case.status, case.detail = "rewrite fails", failure
            return _Run(case, error_kind=_error_kind(rewrite_result.stderr))
        case.rows_rewrite = len(rewrite.rows)
        comparison = compare(original, rewrite)
        if not comparison.equivalent:
            case.status, case.detail = "different", comparison.describe()
        elif comparison.notes:
            case.detail = "; ".join(comparison.notes)
        return _Run(case, comparison)

    def shows(self, variant: Variant, signature: set[str]) -> bool:
        """Whether ``variant`` still shows a difference of the same kind."""
        run = self.check(variant)
        if run.case.status == "rewrite fails":
            return f"error:{run.error_kind}" in signature
        if run.comparison is None or run.comparison.equivalent:
            return False
        return bool(run.comparison.signature & signature)


def _signature(run: _Run) -> set[str]:
    if run.error_kind is not None:
        return {f"error:{run.error_kind}"}
    return run.comparison.signature if run.comparison is not None else set()


# ---------------------------------------------------------------------------- reduction
def _reduce(checker: _Checker, variant: Variant, signature: set[str], budget: int,
            progress: Callable[[str], Any]) -> tuple[Variant, int]:  # fmt: skip
    """Shrink the input while the difference persists, with at most ``budget`` runs: delta
    debugging over the records of the largest file, then for every other file first the
    records that share a value with what is left (their join partners), then delta debugging
    over those. Headers are kept."""
    tables = {path: Table.parse(data) for path, data in variant.inputs.items()}
    records = {path: table.records for path, table in tables.items()}
    runs = 0

    def shows(path: str, candidate: list[list[str]]) -> bool:
        nonlocal runs
        runs += 1
        trial = dict(records)
        trial[path] = candidate
        inputs = {p: tables[p].with_records(trial[p]).to_bytes() for p in tables}
        if checker.shows(Variant(variant.name, variant.kind, inputs), signature):
            records[path] = candidate
            progress(f"reduced {path} to {len(candidate)} records")
            return True
        return False

    order = sorted(tables, key=lambda p: -len(tables[p].records))
    for position, path in enumerate(order):
        if position > 0 and runs < budget:
            values = {value for p in order[:position] for record in records[p]
                      for value in record if value}  # fmt: skip
            related = [r for r in records[path] if any(value in values for value in r)]
            if len(related) < len(records[path]):
                shows(path, related)
        _ddmin(records[path], lambda candidate, p=path: shows(p, candidate), budget - runs)
    inputs = {path: tables[path].with_records(records[path]).to_bytes() for path in tables}
    return Variant(variant.name, variant.kind, inputs, variant.description), runs


def _ddmin(items: list, shows: Callable[[list], bool], budget: int) -> int:
    """Delta debugging (complements only, after halving): calls ``shows(candidate)``, which
    keeps the candidate when it returns True; returns the number of calls."""
    calls, chunks = 0, 2
    while len(items) >= 2 and calls < budget:
        size = -(-len(items) // chunks)
        parts = [items[i : i + size] for i in range(0, len(items), size)]
        candidates = parts if len(parts) == 2 else [
            [item for k, part in enumerate(parts) if k != skip for item in part]
            for skip in range(len(parts))]  # fmt: skip
        for candidate in candidates:
            if calls >= budget:
                break
            calls += 1
            if shows(candidate):
                items = candidate
                chunks = 2 if len(parts) == 2 else max(2, chunks - 1)
                break
        else:
            if chunks >= len(items):
                break
            chunks = min(len(items), chunks * 2)
    return calls


def _difference(variant: Variant, run: _Run, reduced: bool, runs: int) -> Difference:
    texts = {p: d.decode("utf-8", "surrogateescape") for p, d in variant.inputs.items()}
    return Difference(
        case=variant.name,
        inputs=texts,
        input_records={p: len(Table.parse(d).records) for p, d in variant.inputs.items()},
        reduced=reduced,
        reduction_runs=runs,
        rewrite_error=run.case.detail if run.case.status == "rewrite fails" else None,
        details=run.comparison.describe() if run.comparison is not None else "",
    )


# ---------------------------------------------------------------------------- entry point
def verify_rewrite(
    script: str | Path,
    pipeline_code: str,
    *,
    sources: Mapping[str, str | Path] | None = None,
    sample_rows: int | None = None,
    edge_cases: bool = True,
    limits: SandboxLimits | None = None,
    progress: Progress = None,
    outputs: ScriptOutputs | None = None,
    minimize: bool = True,
    max_reduction_runs: int = 40,
    stop_at_first_difference: bool = False,
    warm: bool = True,
) -> Verdict:
    """Run the script and the rewrite on the real inputs (or a sample of ``sample_rows``
    records) and on generated edge cases, and compare what they compute.

    ``sources`` maps source names (the data-prep parameters, ``customers_path`` naming
    ``customers``) to input files as the script refers to them, relative to its folder;
    by default every data file the script names with a literal path. The original's results
    are cached per input set, so verifying many rewrites of one script runs it once per
    variant. Raises :class:`OriginalScriptError` when the script fails on its own inputs.
    """
    script = Path(script).resolve()
    if not script.is_file():
        raise VerificationError(f"script {script} does not exist")
    say = progress or (lambda message: None)
    limits = limits or SandboxLimits()
    outputs = outputs or ScriptOutputs()
    resolved = _resolve_sources(script, sources, outputs)
    real = {path: (script.parent / path).read_bytes() for path in resolved.values()}
    base = Variant("real inputs", "real", real, "the script's own input files")
    if sample_rows is not None:
        base = Variant(f"sample of {sample_rows} records", "sample",
                       sample_inputs(real, sample_rows), "join-aware sample")  # fmt: skip
    variants = [base]
    if edge_cases:
        variants += edge_cases_for(script, base.inputs)
    checker = _Checker(script, pipeline_code, resolved, outputs, limits, warm, progress)
    cases, first = [], None
    for number, variant in enumerate(variants, 1):
        say(f"[{number}/{len(variants)}] {variant.name}")
        run = checker.check(variant)
        if variant is base and run.case.status == "original fails":
            raise OriginalScriptError(
                f"the original script {script.name} fails on {variant.name}: {run.case.detail}"
            )
        cases.append(run.case)
        if run.case.counted and run.case.status != "equivalent" and first is None:
            first = (variant, run)
            if stop_at_first_difference:
                break
    difference = None
    if first is not None:
        variant, run = first
        reduced, runs = variant, 0
        if minimize:
            say(f"reducing the input of '{variant.name}' (at most {max_reduction_runs} runs)")
            reduced, runs = _reduce(checker, variant, _signature(run), max_reduction_runs, say)
        final = checker.check(reduced) if runs else run
        difference = _difference(reduced, final, reduced.inputs != variant.inputs, runs)
    return Verdict(
        equivalent=first is None,
        cases=cases,
        difference=difference,
        sources=dict(resolved),
        network_isolated=limits.network_namespace and network_namespace_available(),
    )


def edge_cases_for(script: Path, inputs: Mapping[str, bytes]) -> list[Variant]:
    """The edge cases for ``script`` on ``inputs`` (see :mod:`lester.rewrite.variants`)."""
    return edge_cases(inputs, uses_csv_module=_uses_csv_module(script))


def clear_cache() -> None:
    """Forget the cached results of original scripts."""
    _original_cache.clear()
