"""Static checks of a generated pipeline module, before anything runs it.

A rewrite (from the LLM or the offline rules) must be a plain pipeline module: it imports
only modules from an allow-list, calls no code that writes files, spawns processes or
evaluates strings, defines the runner's contract functions, and each ``project`` (and each
``filter`` with a row callable) declares exactly the columns its function reads, so that
column provenance stays honest. These checks are a cheap first line with precise messages
for the LLM; the verifier's sandbox is what actually contains a generated module.

Examples
--------
>>> report = check_pipeline_code("import os\\nos.remove('x')\\n", require_contract=False)
>>> report.ok, report.issues[0].kind
(False, 'forbidden-import')
>>> print(report.feedback())
line 1: import of 'os' is not allowed; a pipeline may import only ...
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from lester.pipeline import CONTRACT

#: The contract functions every rewrite defines; ``create_model`` only where the script
#: trains a model (pass :data:`lester.pipeline.CONTRACT` to require it too).
REQUIRED_FUNCTIONS = CONTRACT[:3]

#: Top-level modules a pipeline module may import.
ALLOWED_MODULES = frozenset(
    {
        "__future__",
        "collections",
        "dataclasses",
        "datetime",
        "dateutil",
        "decimal",
        "enum",
        "fractions",
        "functools",
        "hashlib",
        "itertools",
        "json",
        "lester",
        "math",
        "numpy",
        "operator",
        "pandas",
        "pathlib",
        "re",
        "scipy",
        "skorch",
        "sklearn",
        "statistics",
        "string",
        "torch",
        "typing",
        "unicodedata",
    }
)

#: Parts of Lester a pipeline must not call: they run pipelines, write stores, rewrite code.
FORBIDDEN_LESTER_MODULES = (
    "lester.cli",
    "lester.maintenance",
    "lester.rewrite",
    "lester.run",
    "lester.runner",
    "lester.store",
)

#: Builtins that evaluate code, reach into interpreter state or read the terminal.
FORBIDDEN_BUILTINS = frozenset(
    {
        "__import__",
        "breakpoint",
        "compile",
        "delattr",
        "eval",
        "exec",
        "exit",
        "globals",
        "input",
        "locals",
        "quit",
        "setattr",
        "vars",
    }
)

#: Fully qualified calls that write files or unpickle (and so run) arbitrary code.
FORBIDDEN_CALLS = frozenset(
    {
        "numpy.load",
        "numpy.save",
        "numpy.savetxt",
        "numpy.savez",
        "numpy.savez_compressed",
        "pandas.read_pickle",
        "torch.load",
        "torch.save",
    }
)

#: Prefixes of calls that download (and may run) code or data at run time.
FORBIDDEN_CALL_PREFIXES = ("torch.hub.", "sklearn.datasets.fetch_")

#: Method names that write or delete files, whatever object they are called on.
WRITING_METHODS = frozenset(
    {
        "chmod",
        "mkdir",
        "rmdir",
        "symlink_to",
        "to_clipboard",
        "to_csv",
        "to_excel",
        "to_feather",
        "to_hdf",
        "to_json",
        "to_parquet",
        "to_pickle",
        "to_sql",
        "to_stata",
        "tofile",
        "touch",
        "unlink",
        "write_bytes",
        "write_text",
    }
)

_ALLOWED_DUNDERS = frozenset({"__init__", "__name__", "__doc__", "__call__"})
_FORBIDDEN_KINDS = frozenset({"forbidden-import", "forbidden-call", "forbidden-name"})
# Row methods that hand out every column at once: the columns read cannot be told.
_WHOLE_ROW_METHODS = frozenset({"items", "keys", "to_dict", "values", "iteritems", "copy"})


@dataclass(frozen=True)
class StaticIssue:
    """One finding: ``kind`` (``syntax``, ``forbidden-import``, ``forbidden-call``,
    ``forbidden-name``, ``contract``, ``module-code``, ``source-columns``,
    ``duplicate-definition``), a message, its line and whether it blocks the rewrite.

    Examples
    --------
    >>> StaticIssue("contract", "no extract_label", None).render()
    'no extract_label'
    """

    kind: str
    message: str
    line: int | None
    severity: str = "error"

    def render(self) -> str:
        """``line N: message`` (or the bare message without a line)."""
        return f"line {self.line}: {self.message}" if self.line else self.message


@dataclass(frozen=True)
class StaticCheckReport:
    """All findings for one module; ``ok`` when none of them is an error.

    Examples
    --------
    >>> report = check_pipeline_code("x = (", require_contract=False)
    >>> report.ok, report.syntax_error, report.forbidden_api
    (False, True, False)
    """

    issues: tuple[StaticIssue, ...] = field(default_factory=tuple)

    @property
    def errors(self) -> list[StaticIssue]:
        """The issues that block the rewrite."""
        return [issue for issue in self.issues if issue.severity == "error"]

    @property
    def warnings(self) -> list[StaticIssue]:
        """The issues that are only reported."""
        return [issue for issue in self.issues if issue.severity != "error"]

    @property
    def ok(self) -> bool:
        """True when no issue is an error."""
        return not self.errors

    @property
    def syntax_error(self) -> bool:
        """True when the module does not parse."""
        return any(issue.kind == "syntax" for issue in self.issues)

    @property
    def forbidden_api(self) -> bool:
        """True when the module imports or calls something outside the allowed API."""
        return any(issue.kind in _FORBIDDEN_KINDS for issue in self.errors)

    def feedback(self) -> str:
        """The errors, then the warnings, one per line (what an LLM needs to fix them)."""
        lines = [issue.render() for issue in self.errors]
        lines += [f"warning: {issue.render()}" for issue in self.warnings]
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form."""
        return {"ok": self.ok, "issues": [asdict(issue) for issue in self.issues]}


def check_pipeline_code(
    code: str,
    *,
    source_names: Iterable[str] | None = None,
    require_contract: bool = True,
    required_functions: Sequence[str] = REQUIRED_FUNCTIONS,
) -> StaticCheckReport:
    """Check a pipeline module's source without running it.

    ``source_names``, when given, are the sources ``_lester_dataprep`` must take as
    parameters (``name`` or ``name_path``); ``require_contract`` asks for the
    ``required_functions`` of the contract at top level.

    Examples
    --------
    >>> code = '''
    ... import lester as lt
    ... def _lester_dataprep(orders_path):
    ...     orders = lt.read_csv(orders_path)
    ...     return orders.project("big", ["amount", "note"], lambda row: row["amount"] > 9)
    ... '''
    >>> print(check_pipeline_code(code, source_names=["orders"]).feedback())
    line 5: project 'big' declares source_columns ['note'] that its function never reads; ...
    line 1: the module does not define ['encode_features', 'extract_label']; ...
    """
    try:
        tree = ast.parse(code)
    except SyntaxError as error:
        detail = f": {error.text.strip()!r}" if error.text else ""
        issue = StaticIssue("syntax", f"syntax error: {error.msg}{detail}", error.lineno)
        return StaticCheckReport((issue,))
    module = _ModuleFacts.of(tree)
    issues = [
        *_check_imports(tree),
        *_check_calls_and_names(tree, module),
        *_check_module_code(tree),
        *_check_duplicates(tree),
        *_check_source_columns(tree, module),
    ]
    if require_contract:
        issues += _check_contract(tree, module, source_names, required_functions)
    return StaticCheckReport(tuple(issues))


# ---------------------------------------------------------------------------- module facts
@dataclass
class _ModuleFacts:
    """Import aliases (``np`` -> ``numpy``), functions by name and module-level lists."""

    aliases: dict[str, str]
    functions: dict[str, list[ast.FunctionDef]]
    constants: dict[str, ast.expr]
    top_level: set[str]

    @classmethod
    def of(cls, tree: ast.Module) -> _ModuleFacts:
        facts = cls({}, {}, {}, set())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    local = alias.asname or alias.name.split(".")[0]
                    facts.aliases[local] = alias.name if alias.asname else local
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                for alias in node.names:
                    facts.aliases[alias.asname or alias.name] = f"{node.module}.{alias.name}"
            elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                facts.functions.setdefault(node.name, []).append(node)  # type: ignore[arg-type]
            elif isinstance(node, ast.Assign) and len(node.targets) == 1:
                target = node.targets[0]
                if isinstance(target, ast.Name):
                    facts.constants[target.id] = node.value
        for statement in tree.body:
            facts.top_level.update(_defined_names(statement))
        return facts

    def qualified(self, node: ast.expr) -> str | None:
        """``np.save`` -> ``numpy.save`` when the chain starts at an imported name."""
        parts: list[str] = []
        while isinstance(node, ast.Attribute):
            parts.append(node.attr)
            node = node.value
        if not isinstance(node, ast.Name) or node.id not in self.aliases:
            return None
        return ".".join([self.aliases[node.id], *reversed(parts)])


def _defined_names(statement: ast.stmt) -> set[str]:
    if isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return {statement.name}
    if isinstance(statement, ast.Assign | ast.AnnAssign):
        targets = statement.targets if isinstance(statement, ast.Assign) else [statement.target]
        return {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}
    if isinstance(statement, ast.Import | ast.ImportFrom):
        return {(a.asname or a.name).split(".")[0] for a in statement.names}
    return set()


# ---------------------------------------------------------------------------- allowed API
def _check_imports(tree: ast.Module) -> Iterator[StaticIssue]:
    allowed = ", ".join(sorted(ALLOWED_MODULES - {"__future__"}))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                yield StaticIssue(
                    "forbidden-import", "relative imports are not allowed", node.lineno
                )
                continue
            modules = [node.module or ""]
            modules += [f"{node.module}.{alias.name}" for alias in node.names]
        else:
            continue
        for name in modules:
            if name.split(".")[0] not in ALLOWED_MODULES:
                yield StaticIssue(
                    "forbidden-import",
                    f"import of {name!r} is not allowed; a pipeline may import only {allowed}",
                    node.lineno,
                )
                break
            if _is_forbidden_lester(name):
                yield StaticIssue(
                    "forbidden-import",
                    f"import of {name!r} is not allowed: a pipeline only prepares data, it "
                    f"does not run pipelines or write stores",
                    node.lineno,
                )
                break


def _is_forbidden_lester(name: str) -> bool:
    return any(name == bad or name.startswith(bad + ".") for bad in FORBIDDEN_LESTER_MODULES)


def _check_calls_and_names(tree: ast.Module, module: _ModuleFacts) -> Iterator[StaticIssue]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id in FORBIDDEN_BUILTINS:
            if node.id not in module.top_level:
                yield StaticIssue(
                    "forbidden-name", f"{node.id}() is not allowed in a pipeline", node.lineno
                )
        elif isinstance(node, ast.Attribute) and _is_dunder(node.attr):
            yield StaticIssue(
                "forbidden-name",
                f"access to the attribute {node.attr!r} is not allowed in a pipeline",
                node.lineno,
            )
        elif isinstance(node, ast.Call):
            yield from _check_call(node, module)


def _is_dunder(name: str) -> bool:
    return name.startswith("__") and name.endswith("__") and name not in _ALLOWED_DUNDERS


def _check_call(node: ast.Call, module: _ModuleFacts) -> Iterator[StaticIssue]:
    qualified = module.qualified(node.func)
    if qualified and (
        qualified in FORBIDDEN_CALLS
        or qualified.startswith(FORBIDDEN_CALL_PREFIXES)
        or _is_forbidden_lester(qualified)
    ):
        yield StaticIssue(
            "forbidden-call",
            f"{qualified}() is not allowed: a pipeline must not write files, load pickles, "
            f"download or run pipelines",
            node.lineno,
        )
    elif isinstance(node.func, ast.Attribute) and node.func.attr in WRITING_METHODS:
        yield StaticIssue(
            "forbidden-call",
            f".{node.func.attr}() is not allowed: a pipeline returns its data, it does not "
            f"write or delete files",
            node.lineno,
        )
    elif isinstance(node.func, ast.Name) and node.func.id == "open":
        yield from _check_open(node)
    elif isinstance(node.func, ast.Name) and node.func.id == "getattr":
        name = node.args[1] if len(node.args) > 1 else None
        if not (isinstance(name, ast.Constant) and isinstance(name.value, str)) or _is_dunder(
            name.value
        ):
            yield StaticIssue(
                "forbidden-call",
                "getattr() is allowed only with a constant, non-dunder attribute name",
                node.lineno,
            )


def _check_open(node: ast.Call) -> Iterator[StaticIssue]:
    mode: ast.expr | None = node.args[1] if len(node.args) > 1 else None
    for keyword in node.keywords:
        if keyword.arg == "mode":
            mode = keyword.value
    if mode is None:
        return
    if not (isinstance(mode, ast.Constant) and isinstance(mode.value, str)):
        yield StaticIssue(
            "forbidden-call", "open() needs a constant read mode ('r' or 'rb')", node.lineno
        )
    elif set(mode.value) & set("wax+"):
        yield StaticIssue(
            "forbidden-call",
            f"open(..., {mode.value!r}) writes a file; a pipeline may only read",
            node.lineno,
        )


# ---------------------------------------------------------------------------- module shape
def _check_module_code(tree: ast.Module) -> Iterator[StaticIssue]:
    """Code at module level runs on import, before the runner calls the contract."""
    for statement in tree.body:
        is_docstring = isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant)
        runs_code = isinstance(
            statement, ast.For | ast.While | ast.With | ast.Try | ast.AsyncFor | ast.AsyncWith
        ) or (isinstance(statement, ast.Expr) and not is_docstring)
        if runs_code:
            yield StaticIssue(
                "module-code",
                "the module runs code when it is imported; move it into a function (a "
                "pipeline module only defines imports, constants and functions)",
                statement.lineno,
            )


def _check_duplicates(tree: ast.Module) -> Iterator[StaticIssue]:
    seen: dict[str, ast.stmt] = {}
    for statement in tree.body:
        if not isinstance(statement, ast.FunctionDef | ast.ClassDef):
            continue
        earlier = seen.get(statement.name)
        if earlier is not None and ast.dump(earlier) != ast.dump(statement):
            yield StaticIssue(
                "duplicate-definition",
                f"{statement.name!r} is defined again (first on line {earlier.lineno}); the "
                f"later definition replaces the earlier one",
                statement.lineno,
                severity="warning",
            )
        seen[statement.name] = statement


def _check_contract(
    tree: ast.Module,
    module: _ModuleFacts,
    source_names: Iterable[str] | None,
    required: Sequence[str],
) -> Iterator[StaticIssue]:
    missing = [name for name in required if name not in module.top_level]
    if missing:
        yield StaticIssue(
            "contract",
            f"the module does not define {missing}; a pipeline module defines "
            f"{list(required)} at top level",
            1,
        )
    dataprep = next(
        (s for s in tree.body if isinstance(s, ast.FunctionDef) and s.name == CONTRACT[0]),
        None,
    )
    if dataprep is None or source_names is None:
        return
    parameters = [a.arg for a in dataprep.args.posonlyargs + dataprep.args.args]
    parameters += [a.arg for a in dataprep.args.kwonlyargs]
    named = sorted(p.removesuffix("_path") for p in parameters)
    expected = sorted(source_names)
    if named != expected:
        yield StaticIssue(
            "contract",
            f"_lester_dataprep takes {parameters}, but the sources are {expected}: take one "
            f"parameter per source, named <source>_path, instead of hard-coded paths",
            dataprep.lineno,
        )


# ---------------------------------------------------------------------------- source columns
def _check_source_columns(tree: ast.Module, module: _ModuleFacts) -> Iterator[StaticIssue]:
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        if node.func.attr == "project":
            names = ("target_column", "source_columns", "func")
        elif node.func.attr == "filter":
            names = ("predicate", "source_columns")
        else:
            continue
        arguments = _bind(node, names)
        func = arguments.get("func", arguments.get("predicate"))
        if func is None or (isinstance(func, ast.Constant) and isinstance(func.value, str)):
            continue  # a query string: lester reads its columns itself
        label = _describe_call(node.func.attr, arguments.get("target_column"))
        yield from _compare_columns(node, label, arguments.get("source_columns"), func, module)


def _bind(call: ast.Call, names: tuple[str, ...]) -> dict[str, ast.expr]:
    bound = dict(zip(names, call.args, strict=False))
    bound.update({k.arg: k.value for k in call.keywords if k.arg in names})
    return bound


def _describe_call(method: str, target: ast.expr | None) -> str:
    if isinstance(target, ast.Constant):
        return f"{method} {target.value!r}"
    return method


def _compare_columns(
    node: ast.Call,
    label: str,
    declared_node: ast.expr | None,
    func: ast.expr,
    module: _ModuleFacts,
) -> Iterator[StaticIssue]:
    if declared_node is None:
        if label.startswith("filter"):
            yield StaticIssue(
                "source-columns",
                f"{label} with a row function declares no source_columns, so every column "
                f"counts as read; declare the columns it reads",
                node.lineno,
                severity="warning",
            )
        return
    declared = _literal_strings(declared_node, module)
    reads = _columns_read(func, module)
    if declared is None or reads is None:
        what = "source_columns" if declared is None else "the columns its function reads"
        yield StaticIssue(
            "source-columns",
            f"{label}: cannot check {what} statically (use a literal list and row['name'] "
            f"with constant names)",
            node.lineno,
            severity="warning",
        )
        return
    undeclared = sorted(reads - set(declared))
    unread = sorted(set(declared) - reads)
    if undeclared:
        yield StaticIssue(
            "source-columns",
            f"{label} reads {undeclared} but declares source_columns={declared}; declare "
            f"every column the function reads",
            node.lineno,
        )
    if unread:
        yield StaticIssue(
            "source-columns",
            f"{label} declares source_columns {unread} that its function never reads; "
            f"declare exactly the columns it reads ({sorted(reads)})",
            node.lineno,
        )


def _literal_strings(node: ast.expr, module: _ModuleFacts) -> list[str] | None:
    if isinstance(node, ast.Name) and node.id in module.constants:
        node = module.constants[node.id]
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.List | ast.Tuple) and all(
        isinstance(e, ast.Constant) and isinstance(e.value, str) for e in node.elts
    ):
        return [e.value for e in node.elts]  # type: ignore[attr-defined]
    return None


def _columns_read(func: ast.expr, module: _ModuleFacts) -> set[str] | None:
    """The constant column names a row function reads; None when it cannot be told."""
    if isinstance(func, ast.Lambda):
        return _reads_of(func, module, set())
    if isinstance(func, ast.Name) and len(module.functions.get(func.id, [])) == 1:
        return _reads_of(module.functions[func.id][0], module, set())
    return None


def _reads_of(
    function: ast.Lambda | ast.FunctionDef,
    module: _ModuleFacts,
    visiting: set[int],
    row: str | None = None,
) -> set[str] | None:
    if id(function) in visiting:
        return set()  # recursion adds no column beyond what the outer call reads
    parameters = function.args.posonlyargs + function.args.args
    if row is None:
        if not parameters:
            return set()
        row = parameters[0].arg
    visiting = visiting | {id(function)}
    parents = {
        id(child): parent for parent in ast.walk(function) for child in ast.iter_child_nodes(parent)
    }
    reads: set[str] = set()
    for node in ast.walk(function):
        if isinstance(node, ast.Name) and node.id == row and isinstance(node.ctx, ast.Load):
            columns = _use_of_row(node, parents, module, visiting)
            if columns is None:
                return None
            reads |= columns
    return reads


def _use_of_row(
    node: ast.Name, parents: dict[int, ast.AST], module: _ModuleFacts, visiting: set[int]
) -> set[str] | None:
    parent = parents.get(id(node))
    if isinstance(parent, ast.Subscript) and parent.value is node:
        return _subscript_columns(parent.slice)
    if isinstance(parent, ast.Attribute) and parent.value is node:
        if parent.attr in _WHOLE_ROW_METHODS:
            return None
        if parent.attr == "get":
            call = parents.get(id(parent))
            if isinstance(call, ast.Call) and call.args:
                return _subscript_columns(call.args[0])
            return None
        return {parent.attr}
    if isinstance(parent, ast.Call) and node in parent.args and isinstance(parent.func, ast.Name):
        helpers = module.functions.get(parent.func.id, [])
        if len(helpers) == 1:
            helper = helpers[0]
            helper_parameters = helper.args.posonlyargs + helper.args.args
            position = parent.args.index(node)
            if position < len(helper_parameters):
                row = helper_parameters[position].arg
                return _reads_of(helper, module, visiting, row=row)
    return None


def _subscript_columns(index: ast.expr) -> set[str] | None:
    if isinstance(index, ast.Constant) and isinstance(index.value, str):
        return {index.value}
    if isinstance(index, ast.List | ast.Tuple) and all(
        isinstance(e, ast.Constant) and isinstance(e.value, str) for e in index.elts
    ):
        return {e.value for e in index.elts}  # type: ignore[attr-defined]
    return None
