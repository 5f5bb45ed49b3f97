"""Rewrite a messy script into a Lester pipeline and verify the rewrite: the library entry
point behind ``lester rewrite``.

Examples
--------
>>> import tempfile, textwrap
>>> folder = Path(tempfile.mkdtemp())
>>> (folder / "data").mkdir()
>>> _ = (folder / "data" / "people.csv").write_text("name,age\\nann,31\\nbob,17\\n")
>>> _ = (folder / "messy.py").write_text(textwrap.dedent('''
...     import os
...     import numpy as np
...     os.makedirs('out', exist_ok=True)
...     out = open('out/prepared.tsv', 'w')
...     ages = []
...     for line in open('data/people.csv').readlines()[1:]:
...         name, age = line.strip().split(',')
...         if int(age) >= 18:
...             out.write(name + '\\\\t' + age + '\\\\n')
...             ages.append(float(age))
...     out.close()
...     np.save('out/X.npy', np.array(ages).reshape(-1, 1))
...     np.save('out/y.npy', np.array([1.0 for a in ages]))
... '''))
>>> outcome = rewrite_script(folder / "messy.py", edge_cases=False)
>>> outcome.sources
{'people': 'data/people.csv'}
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lester.rewrite.codegen import generate_module
from lester.rewrite.offline import OfflineResult, Step, rewrite_offline
from lester.rewrite.script_io import ScriptError, ScriptIO, analyse_script_io


@dataclass
class RewriteOutcome:
    """A rewrite and its verification.

    ``code`` is the pipeline module (``None`` when no rewrite was produced); ``verdict`` the
    verifier's :class:`~lester.rewrite.verify.Verdict` (``None`` when nothing was
    verified); ``steps`` what each rule or LLM round did; ``gaps`` what no rule covered.
    """

    script: Path
    io: ScriptIO
    sources: dict[str, str]
    code: str | None
    verdict: Any
    method: str
    steps: list[Step] = field(default_factory=list)
    gaps: list[Step] = field(default_factory=list)
    llm_lines: list[str] = field(default_factory=list)

    @property
    def equivalent(self) -> bool:
        """Whether the rewrite was verified equivalent to the script."""
        return self.verdict is not None and bool(self.verdict.equivalent)


def resolve_source_names(script: Path, io: ScriptIO, given: Mapping[str, str]) -> dict[str, str]:
    """``{source name: path as the script writes it}``, with the user's names for given
    paths (``--source clients=data/customers.csv``).

    Examples
    --------
    >>> io = ScriptIO(inputs={"customers": "data/customers.csv"})
    >>> resolve_source_names(Path("s.py"), io, {"clients": "data/customers.csv"})
    {'clients': 'data/customers.csv'}
    >>> resolve_source_names(Path("s.py"), io, {"x": "other.csv"})
    Traceback (most recent call last):
    ...
    lester.rewrite.script_io.ScriptError: source x=other.csv: s.py reads no such file; ...
    """
    by_path = {path: name for name, path in io.inputs.items()}
    folder = script.resolve().parent
    for name, path in given.items():
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            raise ScriptError(f"source name {name!r} is not a Python identifier")
        literal = _script_path(folder, path, list(by_path))
        if literal is None:
            raise ScriptError(
                f"source {name}={path}: {script.name} reads no such file; it reads "
                + ", ".join(f"{n}={p}" for n, p in io.inputs.items())
            )
        by_path[literal] = name
    names = list(by_path.values())
    duplicated = {name for name in names if names.count(name) > 1}
    if duplicated:
        raise ScriptError(f"two inputs would both be named {sorted(duplicated)}")
    return {name: path for path, name in by_path.items()}


def _script_path(folder: Path, given: str, literals: list[str]) -> str | None:
    if given in literals:
        return given
    target = Path(given).resolve()
    for literal in literals:
        if (folder / literal).resolve() == target:
            return literal
    return None


def check_script(script: Path) -> tuple[str, ScriptIO]:
    """Read and parse the script, and check it reads and writes files."""
    if not script.is_file():
        raise ScriptError(f"script {script} does not exist")
    code = script.read_text(encoding="utf-8")
    io = analyse_script_io(code, script.name)
    if not io.inputs:
        raise ScriptError(
            f"{script.name} reads no input files: no open(), csv reader or numpy load of a "
            f"literal path was found"
        )
    if not io.outputs:
        raise ScriptError(
            f"{script.name} writes no outputs: no file opened for writing and no array saved"
        )
    return code, io


def rewrite_script(
    script: str | Path,
    *,
    sources: Mapping[str, str] | None = None,
    use_llm: bool = False,
    max_rounds: int = 4,
    edge_cases: bool = True,
    sample_rows: int | None = None,
    progress: Callable[[str], Any] | None = None,
) -> RewriteOutcome:
    """Rewrite ``script`` (offline rules, or the LLM loop with ``use_llm``) and verify it.

    Raises :class:`~lester.rewrite.script_io.ScriptError` for a script that does not
    exist, parse, read or write files, and the verifier's ``OriginalScriptError`` when the
    script fails on its own inputs.
    """
    from lester.rewrite.verify import verify_rewrite

    script = Path(script)
    code, io = check_script(script)
    named = resolve_source_names(script, io, dict(sources or {}))

    def verify(pipeline_code: str) -> Any:
        return verify_rewrite(
            script,
            pipeline_code,
            sources=named,
            edge_cases=edge_cases,
            sample_rows=sample_rows,
            progress=progress,
        )

    if use_llm:
        return _llm_rewrite(script, io, named, max_rounds, verify, progress)
    result: OfflineResult = rewrite_offline(
        code,
        base_dir=script.resolve().parent,
        source_names={path: name for name, path in named.items()},
        filename=script.name,
    )
    module = generate_module(result, script.name)
    verdict = verify(module)  # also when rules are missing: the script must run at all
    return RewriteOutcome(script, io, named, module, verdict, "offline", result.steps, result.gaps)


def _llm_rewrite(script, io, named, max_rounds, verify, progress) -> RewriteOutcome:
    try:
        from lester.rewrite.llm import load_llm_config, rewrite_with_llm
    except ImportError as error:
        raise ScriptError(
            f"LLM rewriting is not available in this installation ({error}); "
            "run without --llm for the offline rules"
        ) from None
    folder = script.resolve().parent
    result = rewrite_with_llm(
        script,
        sources={name: folder / path for name, path in named.items()},
        config=load_llm_config(),
        max_rounds=max_rounds,
        verify=verify,
        progress=progress,
    )
    # An unverified candidate is still written (as .unverified.py) for the user to inspect.
    code = result.code or result.candidate
    return RewriteOutcome(
        script, io, named, code, result.verdict, "llm", llm_lines=result.report_lines()
    )
