"""What a messy script reads and writes: file opens with literal paths, CSV readers, numpy
loads and saves, found in its syntax tree (module constants and ``os.path.join`` resolved).

Examples
--------
>>> io = analyse_script_io('''
... import numpy as np
... DATA = "data/customers.csv"
... with open(DATA) as f:
...     rows = f.readlines()
... np.save("out/X.npy", np.zeros(3))
... ''')
>>> io.inputs, [output.path for output in io.outputs]
({'customers': 'data/customers.csv'}, ['out/X.npy'])
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from lester.errors import LesterError

READ_CALLS = {"loadtxt", "genfromtxt", "load", "read_csv"}
SAVE_CALLS = {"save", "savetxt", "savez", "savez_compressed"}


class ScriptError(LesterError, ValueError):
    """A script that cannot be rewritten: it does not parse, reads no files, writes none."""


@dataclass(frozen=True)
class ScriptOutput:
    """A file the script writes: ``kind`` is ``"text"`` or ``"array"``."""

    path: str
    kind: str
    line: int


@dataclass
class ScriptIO:
    """The script's inputs (source name -> literal path) and outputs, in order of use."""

    inputs: dict[str, str] = field(default_factory=dict)
    outputs: list[ScriptOutput] = field(default_factory=list)

    def source_name(self, path: str) -> str | None:
        """The source name given to a literal input path."""
        return next((name for name, known in self.inputs.items() if known == path), None)


def parse_script(code: str, filename: str = "<script>") -> ast.Module:
    """Parse a script, turning a syntax error into a :class:`ScriptError`.

    Examples
    --------
    >>> parse_script("x = (")
    Traceback (most recent call last):
    ...
    lester.rewrite.script_io.ScriptError: <script> does not parse: ... at line 1
    """
    try:
        return ast.parse(code, filename=filename)
    except SyntaxError as error:
        raise ScriptError(
            f"{filename} does not parse: {error.msg} at line {error.lineno}"
        ) from None


def module_constants(tree: ast.Module) -> dict[str, object]:
    """Module-level names bound once to a literal (strings, numbers, lists, dicts, ...) or
    to a path built from literals (``os.path.join('data', 'a.csv')``).

    Examples
    --------
    >>> module_constants(ast.parse("A = 'x'\\nB = [1, 2]\\nC = f()\\nD = os.path.join(A, 'y')"))
    {'A': 'x', 'B': [1, 2], 'D': 'x/y'}
    """
    counts: dict[str, int] = {}
    values: dict[str, object] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            counts[node.id] = counts.get(node.id, 0) + 1
    for statement in tree.body:
        if isinstance(statement, ast.Assign) and len(statement.targets) == 1:
            target = statement.targets[0]
            if isinstance(target, ast.Name) and counts.get(target.id) == 1:
                try:
                    values[target.id] = ast.literal_eval(statement.value)
                except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
                    path = constant_string(statement.value, values)  # os.path.join('data', ..)
                    if path is not None:
                        values[target.id] = path
    return values


def constant_string(node: ast.expr | None, constants: dict[str, object]) -> str | None:
    """The string an expression always evaluates to (literals, constants, ``os.path.join``,
    f-strings and ``+`` of those), or ``None``.

    Examples
    --------
    >>> constant_string(ast.parse("os.path.join(D, 'a.csv')").body[0].value, {"D": "data"})
    'data/a.csv'
    """
    if node is None:
        return None
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.Name):
        value = constants.get(node.id)
        return value if isinstance(value, str) else None
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = constant_string(node.left, constants), constant_string(node.right, constants)
        return left + right if left is not None and right is not None else None
    if isinstance(node, ast.JoinedStr):
        parts = []
        for value in node.values:
            inner = value.value if isinstance(value, ast.FormattedValue) else value
            part = constant_string(inner, constants)
            if part is None:
                return None
            parts.append(part)
        return "".join(parts)
    if isinstance(node, ast.Call) and _dotted(node.func) in ("os.path.join", "path.join", "join"):
        parts = [constant_string(arg, constants) for arg in node.args]
        if parts and all(part is not None for part in parts):
            return str(PurePosixPath(*parts))  # type: ignore[arg-type]
    return None


def _dotted(node: ast.expr) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    return ""


def open_mode(call: ast.Call) -> str:
    """The mode of an ``open(...)`` call (``"r"`` unless given as a literal)."""
    mode = call.args[1] if len(call.args) > 1 else None
    for keyword in call.keywords:
        if keyword.arg == "mode":
            mode = keyword.value
    return mode.value if isinstance(mode, ast.Constant) and isinstance(mode.value, str) else "r"


def source_name_for(path: str, taken: set[str]) -> str:
    """A source name from a file path: its stem as an identifier, unique among ``taken``.

    Examples
    --------
    >>> source_name_for("data/credit-bureau.csv", set()), source_name_for("a/x.csv", {"x"})
    ('credit_bureau', 'x_2')
    """
    stem = re.sub(r"\W+", "_", PurePosixPath(path).stem).strip("_") or "source"
    if stem[0].isdigit():
        stem = f"source_{stem}"
    name, i = stem, 2
    while name in taken:
        name, i = f"{stem}_{i}", i + 1
    return name


def _calls_in(nodes: list[ast.AST]) -> list[ast.Call]:
    found = []
    for node in nodes:
        found += [sub for sub in ast.walk(node) if isinstance(sub, ast.Call)]
    return found


def _scoped_constants(
    tree: ast.Module, constants: dict[str, object]
) -> list[tuple[dict[str, object], list[ast.AST]]]:
    """The module body with the module constants, and each function's body with its
    parameters bound to the literal every call site passes (``read(PATH)``)."""
    functions = {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef)}
    scopes: list[tuple[dict[str, object], list[ast.AST]]] = [
        (constants, [n for n in tree.body if not isinstance(n, ast.FunctionDef)])
    ]
    call_sites = [
        n
        for n in ast.walk(tree)
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id in functions
    ]
    for name, function in functions.items():
        scope = dict(constants)
        params = [arg.arg for arg in function.args.args]
        for i, param in enumerate(params):
            values = {
                constant_string(site.args[i], constants)
                for site in call_sites
                if site.func.id == name and i < len(site.args)  # type: ignore[attr-defined]
            }
            scope.pop(param, None)
            if len(values) == 1 and None not in values:
                scope[param] = values.pop()
        scopes.append((scope, list(function.body)))
    return scopes


def analyse_script_io(code: str, filename: str = "<script>") -> ScriptIO:
    """Find the files a script reads and writes (see the module docstring)."""
    tree = parse_script(code, filename)
    constants = module_constants(tree)
    io = ScriptIO()
    scopes = _scoped_constants(tree, constants)
    calls = sorted(
        ((node, scope) for scope, body in scopes for node in _calls_in(body)),
        key=lambda pair: (pair[0].lineno, pair[0].col_offset),
    )
    for call, scope in calls:
        name = _dotted(call.func).rsplit(".", 1)[-1]
        path = constant_string(call.args[0] if call.args else None, scope)
        if path is None:
            continue
        if name == "open":
            mode = open_mode(call)
            if any(flag in mode for flag in "wax"):
                io.outputs.append(ScriptOutput(path, "text", call.lineno))
            elif path not in io.inputs.values() and not any(o.path == path for o in io.outputs):
                io.inputs[source_name_for(path, set(io.inputs))] = path
        elif name in READ_CALLS and path not in io.inputs.values():
            io.inputs[source_name_for(path, set(io.inputs))] = path
        elif name in SAVE_CALLS:
            io.outputs.append(ScriptOutput(path, "array", call.lineno))
    return io
