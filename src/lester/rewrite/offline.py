"""Offline rewriting: rules over a messy script's syntax tree that turn its loops into
Lester operators and its numpy featurisation into a ``ColumnTransformer``.

The rewriter walks the script in execution order (calls of the script's own functions at
statement level are inlined, helper functions used per row are kept verbatim) and tracks
abstract values (:mod:`lester.rewrite.values`). Each rule that fires is recorded with its
line, and what no rule covers is reported.

Examples
--------
>>> import tempfile, pathlib
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> (folder / "data").mkdir()
>>> _ = (folder / "data" / "people.csv").write_text("name,age\\nann,31\\nbob,17\\n")
>>> script = '''
... out = open("out/prepared.tsv", "w")
... f = open("data/people.csv")
... f.readline()
... for line in f:
...     name, age = line.strip().split(",")
...     if int(age) >= 18:
...         out.write(name + "\\\\t" + age + "\\\\n")
... '''
>>> result = rewrite_offline(script, base_dir=folder)
>>> [step.rule for step in result.steps][:3]
['read_csv', 'filter', 'sink']
"""

from __future__ import annotations

import ast
import copy
import csv
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lester.rewrite.script_io import (
    ScriptError,
    analyse_script_io,
    constant_string,
    module_constants,
    open_mode,
    parse_script,
)
from lester.rewrite.values import (
    Arr,
    ArrOp,
    Const,
    Counts,
    DictWriterValue,
    Handle,
    Joined,
    Keyed,
    Line,
    OneHotRow,
    Reader,
    Rel,
    RowDict,
    RowIndex,
    RowList,
    RowVal,
    Scalar,
    Source,
    Stat,
    Vector,
    column_ref,
)

NUMPY = {"np", "numpy"}


class Unsupported(Exception):
    """No rule covers this statement or expression."""


@dataclass
class Step:
    """One rule application: which rule, at which script line, producing what."""

    rule: str
    line: int
    detail: str
    code: str = ""  # the script's statement, for what was not rewritten


@dataclass
class FeatureBlock:
    """One block of X: a name, its kind and its parameters."""

    name: str
    arr: Arr


@dataclass
class OfflineResult:
    """What the offline rewriter produced (code is assembled by :mod:`lester.rewrite.codegen`)."""

    sources: dict[str, Source]
    dataprep: list[str]
    prepared_var: str | None
    prepared_columns: list[str]
    prepared_header: bool
    blocks: list[FeatureBlock]
    label: ast.expr | None
    helpers: list[ast.stmt]
    constants: list[ast.stmt]
    imports: list[ast.stmt]
    steps: list[Step] = field(default_factory=list)
    gaps: list[Step] = field(default_factory=list)
    trains_model: bool = False


@dataclass
class LoopState:
    """The frame a data-prep loop is transforming."""

    var: str
    columns: list[str]
    joins: dict[int, Joined] = field(default_factory=dict)


class _Rewriter:
    def __init__(self, tree: ast.Module, base_dir: Path, names: dict[str, str]):
        self.tree = tree
        self.base_dir = base_dir
        self.constants = module_constants(tree)
        self.functions = {
            node.name: node for node in tree.body if isinstance(node, ast.FunctionDef)
        }
        io = analyse_script_io(ast.unparse(tree))
        renamed = {path: name for path, name in names.items()}
        self.source_paths = {renamed.get(path, name): path for name, path in io.inputs.items()}
        self.env: dict[str, Any] = {}
        self.sources: dict[str, Source] = {}
        self.lines: list[str] = []
        self.steps: list[Step] = []
        self.gaps: list[Step] = []
        self.names: set[str] = set(self.constants) | set(self.functions)
        self.prepared: Rel | None = None
        self.prepared_header = False
        self.saved: dict[str, Any] = {}
        self.used_helpers: set[str] = set()
        self.loop: LoopState | None = None
        self.trains_model = False
        self.sink_path: str | None = None
        self.prepared_sources: set[int] = set()
        self.sink_rel: Rel | None = None
        self.rel_loop: dict[int, int] = {}
        self.prepared_separator = "\t"

    # ------------------------------------------------------------------ bookkeeping
    def step(self, rule: str, node: ast.AST, detail: str) -> None:
        self.steps.append(Step(rule, getattr(node, "lineno", 0), detail))

    def gap(self, node: ast.AST, why: str) -> None:
        code = ast.unparse(node) if isinstance(node, ast.stmt) else ""
        self.gaps.append(Step("not rewritten", getattr(node, "lineno", 0), why, code))

    def fresh(self, hint: str) -> str:
        base = "".join(c if c.isalnum() or c == "_" else "_" for c in hint).strip("_") or "v"
        if base[0].isdigit():
            base = f"v_{base}"
        name, i = base, 2
        while name in self.names:
            name, i = f"{base}_{i}", i + 1
        self.names.add(name)
        return name

    def emit(self, line: str) -> None:
        self.lines.append(line)

    # ------------------------------------------------------------------ statements
    def run(self) -> None:
        for name in self.constants:
            self.env[name] = Const(ast.Name(name, ast.Load()))
        self.block(self.tree.body)

    def block(self, statements: list[ast.stmt]) -> None:
        for statement in statements:
            try:
                self.statement(statement)
            except Unsupported as error:
                self.gap(statement, str(error) or ast.unparse(statement).splitlines()[0])

    def statement(self, node: ast.stmt) -> None:
        if isinstance(node, ast.Import | ast.ImportFrom | ast.FunctionDef | ast.ClassDef):
            return
        if isinstance(node, ast.If) and _is_main_guard(node):
            self.block(node.body)
            return
        if isinstance(node, ast.If) and _mentions(node.test, "os"):
            return  # if not os.path.exists('out'): os.mkdir('out')
        if isinstance(node, ast.With):
            for item in node.items:
                value = self.value(item.context_expr)
                if item.optional_vars is not None:
                    self.bind(item.optional_vars, value, node)
            self.block(node.body)
            return
        if isinstance(node, ast.For):
            self.top_loop(node)
            return
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target = node.targets[0]
            if isinstance(target, ast.Name) and target.id in self.constants:
                return
            if isinstance(target, ast.Subscript):
                self.array_item_assign(target, node.value, node)
                return
            if (
                isinstance(target, ast.Name)
                and isinstance(node.value, ast.ListComp)
                and self.prepared is None
            ):
                self.comprehension_loop(target.id, node.value, node)
                return
            listed = _listed_rows(node.value)
            if isinstance(target, ast.Name) and listed is not None and self.prepared is None:
                self.comprehension_loop(target.id, listed, node)
                return
            self.bind(target, self.value(node.value), node)
            return
        if isinstance(node, ast.Expr):
            self.expression_statement(node)
            return
        if isinstance(node, ast.Return):
            self.env["__return__"] = self.value(node.value) if node.value else None
            return
        raise Unsupported(f"no rule for {type(node).__name__}: {_first_line(node)}")

    def expression_statement(self, node: ast.Expr) -> None:
        call = node.value
        if not isinstance(call, ast.Call):
            return  # a bare expression left over from a notebook cell
        name = _dotted(call.func)
        method = name.rsplit(".", 1)[-1]
        if name in self.functions:
            self.inline(call, None, node)
            return
        if method in ("save", "savetxt") and name.split(".")[0] in NUMPY:
            path = constant_string(call.args[0], self.constants)
            self.saved[path or f"array{len(self.saved)}"] = self.value(call.args[1])
            self.step("save", node, f"{path} <- {ast.unparse(call.args[1])}")
            return
        if method == "fit":
            self.trains_model = True
            return
        receiver = self.env.get(name.rsplit(".", 1)[0]) if "." in name else None
        if isinstance(receiver, Handle) and method in ("readline", "__next__"):
            if receiver.source is not None:
                receiver.source.skip_header = True
            return
        if name == "next" and call.args:
            target = self.value(call.args[0])
            source = target.source if isinstance(target, Handle | Reader) else None
            if source is not None:
                source.skip_header = True
            return
        if isinstance(receiver, DictWriterValue) and method == "writeheader":
            receiver.header = True
            return
        # print(), f.close(), os.makedirs(), len(rows) left in a notebook cell: no effect
        if name in ("len", "repr", "str", "sorted", "list", "sum", "min", "max", "type"):
            return
        if method in ("print", "close", "makedirs", "mkdir", "flush", "seed", "show"):
            return
        raise Unsupported(f"no rule for the call {_first_line(node)}")

    def bind(self, target: ast.expr, value: Any, node: ast.AST) -> None:
        if isinstance(target, ast.Name):
            self.env[target.id] = value
            return
        if isinstance(target, ast.Tuple | ast.List):
            items = _unpack(value, len(target.elts))
            for element, item in zip(target.elts, items, strict=True):
                self.bind(element, item, node)
            return
        raise Unsupported(f"cannot bind {ast.unparse(target)}")

    def inline(self, call: ast.Call, target: ast.expr | None, node: ast.AST) -> None:
        function = self.functions[call.func.id]  # type: ignore[union-attr]
        saved = dict(self.env)
        params = [arg.arg for arg in function.args.args]
        defaults = function.args.defaults
        for i, param in enumerate(params):
            if i < len(call.args):
                self.env[param] = self.value(call.args[i])
            elif (j := i - (len(params) - len(defaults))) >= 0:
                self.env[param] = self.value(defaults[j])
        self.env.pop("__return__", None)
        self.step("inline", node, f"call of {function.name}() inlined")
        self.block(function.body)
        result = self.env.get("__return__")
        local_names = {
            n.id
            for n in ast.walk(function)
            if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)
        } | set(params)
        for name in local_names:  # the function's locals do not leak
            if name in saved:
                self.env[name] = saved[name]
            else:
                self.env.pop(name, None)
        if target is not None:
            self.bind(target, result, node)

    # ------------------------------------------------------------------ values (statement level)
    def value(self, node: ast.expr) -> Any:
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in self.functions
        ):
            holder = "__inline_result__"
            self.inline(node, ast.Name(holder, ast.Store()), node)
            return self.env.pop(holder)
        path = constant_string(node, self.constants)
        if path is not None and not isinstance(node, ast.Name):
            return Const(node)
        if isinstance(node, ast.Constant):
            return Const(node)
        if isinstance(node, ast.Name):
            if node.id in self.env:
                return self.env[node.id]
            raise Unsupported(f"unknown name {node.id}")
        if isinstance(node, ast.Call):
            return self.call_value(node)
        if isinstance(node, ast.Subscript):
            base = self.value(node.value)
            if isinstance(base, _Lines) and _int(node.slice) == 0:
                return Const(ast.Constant(""))  # the header line, read for its names
            if (
                isinstance(base, _Lines | Handle | Reader)
                and getattr(base, "source", None) is not None
                and isinstance(node.slice, ast.Slice)
                and _int(node.slice.lower) == 1
                and node.slice.upper is None
            ):
                if isinstance(base, Reader) and base.kind == "DictReader":
                    raise Unsupported("slicing off the first record of a DictReader")
                base.source.skip_header = True
                return base
            if isinstance(base, Arr | Stat | ArrOp) and _is_column_slice(node.slice):
                return base  # arr[:, None]
        if _is_literal(node):
            return Const(node)

        if isinstance(node, ast.ListComp):
            return self.comprehension(node)
        if isinstance(node, ast.Tuple):
            return tuple(self.value(element) for element in node.elts)
        return self.array_expression(node)

    def max_key(self, node: ast.expr) -> Scalar | None:
        """``max(counts, key=counts.get)``: the most frequent key (the first on ties)."""
        if not (
            isinstance(node, ast.Call)
            and _dotted(node.func) == "max"
            and len(node.args) == 1
            and len(node.keywords) == 1
            and node.keywords[0].arg == "key"
        ):
            return None
        counts = self.env.get(_dotted(node.args[0]))
        key = node.keywords[0].value
        if not (isinstance(counts, Keyed) and counts.count and _dotted(key).endswith(".get")):
            return None
        var = self.fresh(f"{counts.var}_most")
        table = f"{counts.var}.to_pandas().set_index({counts.key!r})[{counts.count!r}]"
        self.emit(f"{var} = {table}.idxmax()")
        self.step("argmax", node, f"max({counts.var}, key=...get) -> {var}, computed once")
        return Scalar(var)

    def call_value(self, node: ast.Call) -> Any:
        argmax = self.max_key(node)
        if argmax is not None:
            return argmax
        if _dotted(node.func).rsplit(".", 1)[-1] in (
            "set",
            "dict",
            "list",
            "defaultdict",
            "Counter",
            "OrderedDict",
        ) and all(_is_literal(a) or isinstance(a, ast.Name) for a in node.args):
            return Const(node)  # an empty collection, filled by a loop
        header_of = _marks_header(node, self.env)
        if header_of is not None:
            header_of.skip_header = True  # hdr = f.readline().strip().split(',')
            return Const(ast.Constant(""))
        name = _dotted(node.func)
        method = name.rsplit(".", 1)[-1]
        if name == "open":
            path = self.path_of(node.args[0])
            if path is None:
                raise Unsupported("open() of a path that is not a literal")
            writing = any(flag in open_mode(node) for flag in "wax")
            if not writing and path == self.sink_path:
                self.step(
                    "read back", node, f"{path} read back -> the prepared rows, str() of each value"
                )
                return _ReadBack()
            return Handle(path, writing, None if writing else self.source(path, node))
        if method in ("reader", "DictReader") and name.startswith("csv"):
            handle = self.value(node.args[0])
            if not isinstance(handle, Handle) or handle.source is None:
                raise Unsupported("csv reader over something other than an open input file")
            handle.source.parser = "csv" if method == "reader" else "dict"
            for keyword in node.keywords:
                if keyword.arg == "delimiter" and isinstance(keyword.value, ast.Constant):
                    handle.source.separator = keyword.value.value
            if method == "DictReader":
                handle.source.skip_header = True
            return Reader(handle.source, method)
        if method in ("loadtxt", "genfromtxt") and name.split(".")[0] in NUMPY:
            return self.numpy_source(node, method)
        if method == "writer" and name.startswith("csv"):
            handle = self.value(node.args[0])
            if not isinstance(handle, Handle) or not handle.writing:
                raise Unsupported("csv.writer over something other than an output file")
            for keyword in node.keywords:
                if keyword.arg == "delimiter" and _str(keyword.value) not in ("\t", None):
                    raise Unsupported("a prepared file that is not tab separated")
            return DictWriterValue(handle.path, None)
        if method == "DictWriter":
            handle = self.value(node.args[0])
            fields = next((k.value for k in node.keywords if k.arg == "fieldnames"), None)
            if fields is None and len(node.args) > 1:
                fields = node.args[1]
            names = _literal(fields, self.constants)
            if not isinstance(handle, Handle) or not isinstance(names, list):
                raise Unsupported("csv.DictWriter without literal fieldnames")
            return DictWriterValue(handle.path, [str(n) for n in names])
        if isinstance(node.func, ast.Attribute) and node.func.attr in ("splitlines", "split"):
            method = node.func.attr
            inner = node.func.value
            if (
                isinstance(inner, ast.Call)
                and isinstance(inner.func, ast.Attribute)
                and inner.func.attr == "read"
                and (method == "splitlines" or _str(node.args[0] if node.args else None) == "\n")
            ):
                handle = self.value(inner.func.value)
                if isinstance(handle, Handle) and handle.source is not None:
                    return _Lines(handle.source)
        if isinstance(node.func, ast.Attribute) and node.func.attr == "readlines":
            handle = self.value(node.func.value)
            if isinstance(handle, Handle) and handle.source is not None:
                return _Lines(handle.source)
        if method == "readline" and isinstance(self.env.get(name.rsplit(".", 1)[0]), Handle):
            handle = self.env[name.rsplit(".", 1)[0]]
            handle.source.skip_header = True
            return Const(ast.Constant(""))
        if name in ("sorted", "list", "tuple") and len(node.args) == 1 and not node.keywords:
            inner = self.env.get(_dotted(node.args[0]))
            if isinstance(inner, Rel):
                return inner  # the rows in another order: the same multiset of rows
        if name == "next" and node.args:
            target = self.value(node.args[0])
            source = target.source if isinstance(target, Handle | Reader) else None
            if source is not None:
                source.skip_header = True
                return Const(ast.Constant(""))
        if (
            isinstance(node.func, ast.Attribute)
            and isinstance(node.func.value, ast.Call)
            and _dotted(node.func.value.func).endswith("readline")
        ):
            self.value(node.func.value)  # hdr = f.readline().strip().split(',')
            return Const(ast.Constant(""))
        if isinstance(node.func, ast.Attribute) and isinstance(node.func.value, ast.Subscript):
            try:
                receiver = self.value(node.func.value)
            except Unsupported:
                receiver = None
            if isinstance(receiver, Const):
                return Const(node)  # header = lines[0].split(';')
        return self.array_expression(node)

    def path_of(self, node: ast.expr) -> str | None:
        """A literal path, also through a parameter of an inlined function."""
        path = constant_string(node, self.constants)
        if path is None and isinstance(node, ast.Name) and isinstance(self.env.get(node.id), Const):
            path = constant_string(self.env[node.id].code, self.constants)
        return path

    def is_prepared(self, value: Any) -> bool:
        """Whether a collection is the prepared data (or the rows it was written from)."""
        return value is not None and (value is self.prepared or id(value) in self.prepared_sources)

    def numpy_source(self, node: ast.Call, method: str) -> Reader:
        """``np.loadtxt(path, delimiter=',', skiprows=1)``: a numeric table, one row per line."""
        path = self.path_of(node.args[0]) if node.args else None
        if path is None:
            raise Unsupported(f"np.{method} of a path that is not a literal")
        source = self.source(path, node)
        source.parser = "numpy"
        source.separator = None  # whitespace, numpy's default
        for keyword in node.keywords:
            if keyword.arg == "delimiter":
                source.separator = _str(keyword.value)
            elif keyword.arg in ("skiprows", "skip_header"):
                skip = _int(keyword.value)
                if skip not in (0, 1):
                    raise Unsupported(f"np.{method} skipping {skip} lines")
                source.skip_header = skip == 1
            elif keyword.arg not in ("dtype", "comments", "encoding"):
                raise Unsupported(f"np.{method} with {keyword.arg}=")
        return Reader(source, method)

    def source(self, path: str, node: ast.AST) -> Source:
        for source in self.sources.values():
            if source.path == path:
                return source
        name = next((n for n, p in self.source_paths.items() if p == path), None) or "source"
        real = self.base_dir / path
        first_line = None
        if real.is_file():
            with open(real, newline="") as handle:
                first_line = handle.readline().rstrip("\r\n")
        source = Source(name, path, None, getattr(node, "lineno", 0))
        source.first_line = first_line
        self.sources[name] = source
        self.names.add(name)
        return source

    # ------------------------------------------------------------------ top-level loops
    def top_loop(self, node: ast.For) -> None:
        node = _without_enumerate_header(node)
        iterable = node.iter
        if isinstance(iterable, ast.Call) and _dotted(iterable.func) == "open":
            iterable_value = self.value(iterable)
        else:
            iterable_value = self.value(iterable)
        if isinstance(iterable_value, Keyed) and iterable_value.count:
            self.argmax_loop(
                node, Counts(iterable_value.var, iterable_value.key, iterable_value.count)
            )
            return
        if self.prepared is not None or isinstance(iterable_value, RowIndex | _Range):
            self.feature_loop(node, iterable_value)
            return
        if isinstance(iterable_value, Rel) and _only_updates_element(node):
            self.update_loop(node, iterable_value)
            return
        if isinstance(iterable_value, Rel) and self.loop_writes_sink(node):
            self.sink_loop(node, iterable_value)
            return
        self.prep_loop(node, iterable_value)

    def update_loop(self, node: ast.For, rel: Rel) -> None:
        """``for p in rows: if p[5] == '': p[5] = v``: the list is changed in place, so every
        later use sees the updated column: a project on the collection itself."""
        state = LoopState(rel.var, list(rel.columns))
        previous, self.loop = self.loop, state
        saved_env = dict(self.env)
        try:
            self.bind(node.target, copy.deepcopy(rel.shape), node)
            for statement in node.body:
                guard = None
                if isinstance(statement, ast.If):
                    guard, statement = statement.test, statement.body[0]
                target = statement.targets[0]
                element = self.row_value(target.value, structured=True)
                key = _int(target.slice) if isinstance(element, RowList) else _str(target.slice)
                current = element.items[key] if key is not None else None
                if not isinstance(current, RowVal) or current.plain_column is None:
                    raise Unsupported(f"assignment to {ast.unparse(target)}")
                new = self.row_value(statement.value).code
                if guard is not None:
                    new = ast.IfExp(self.row_value(guard).code, new, current.code)
                value = RowVal(new)
                column = current.plain_column
                self.emit(
                    f"{rel.var} = {rel.var}.project({column!r}, {sorted(value.columns)!r}, "
                    f"lambda row: {value.source})"
                )
                self.step(
                    "project",
                    statement,
                    f"in-place update of {column} in {rel.var} (all rows kept)",
                )
        finally:
            self.loop = previous
            self.env = saved_env

    def comprehension_loop(self, name: str, comp: ast.ListComp, node: ast.AST) -> None:
        """``rows = [f(x) for x in source if cond]``: the loop it abbreviates."""
        if len(comp.generators) != 1:
            raise Unsupported("a comprehension with several for clauses")
        generator = comp.generators[0]
        body: list[ast.stmt] = [
            ast.Expr(
                ast.Call(
                    ast.Attribute(ast.Name(name, ast.Load()), "append", ast.Load()), [comp.elt], []
                )
            )
        ]
        for condition in reversed(generator.ifs):
            body = [ast.If(condition, body, [])]
        loop = ast.For(generator.target, generator.iter, body, [])
        ast.copy_location(loop, node)
        ast.fix_missing_locations(loop)
        for sub in ast.walk(loop):
            if not hasattr(sub, "lineno") and isinstance(sub, ast.stmt | ast.expr):
                ast.copy_location(sub, node)
        self.env.pop(name, None)
        self.step("comprehension", node, f"list comprehension {name} -> the loop it abbreviates")
        self.top_loop(loop)

    def loop_writes_sink(self, node: ast.For) -> bool:
        for sub in ast.walk(node):
            if isinstance(sub, ast.Call) and _dotted(sub.func) == "print":
                target = next((k.value for k in sub.keywords if k.arg == "file"), None)
                out = self.env.get(_dotted(target)) if target is not None else None
                if isinstance(out, Handle) and out.writing:
                    return True
            if isinstance(sub, ast.Call) and isinstance(sub.func, ast.Attribute):
                receiver = self.env.get(_dotted(sub.func.value))
                if sub.func.attr in ("write", "writerow") and isinstance(
                    receiver, Handle | DictWriterValue
                ):
                    return True
        return False

    def prep_loop(self, node: ast.For, iterable: Any) -> None:
        element, start_var = self.start_frame(node, iterable)
        state = LoopState(start_var, self.frame_columns(iterable))
        previous, self.loop = self.loop, state
        saved_env = dict(self.env)
        try:
            self.bind(node.target, element, node)
            body = self.skip_first_flag(node)
            self.row_block(body)
        finally:
            self.loop = previous
            for name in list(self.env):
                if name not in saved_env and not isinstance(self.env[name], Rel | Keyed | Counts):
                    del self.env[name]

    def frame_columns(self, iterable: Any) -> list[str]:
        if isinstance(iterable, Rel):
            return list(iterable.columns)
        if isinstance(iterable, Keyed):
            raise Unsupported("a loop over a dict")
        source = iterable.source
        return list(self.source_columns(source))

    def source_columns(self, source: Source) -> list[str]:
        line = getattr(source, "first_line", None)
        if line is not None:
            if source.parser in ("split", "numpy"):
                source.header = [h.strip() for h in line.split(source.separator)]
            else:
                source.header = next(csv.reader([line], delimiter=source.separator), [])
        if source.skip_header and source.header:
            return [_identifier(h, i) for i, h in enumerate(source.header)]
        width = len(source.header or [])
        return [f"c{i}" for i in range(width)]

    def start_frame(self, node: ast.For, iterable: Any) -> tuple[Any, str]:
        if isinstance(iterable, Rel):
            var = self.fresh(f"{iterable.var}_rows")
            self.emit(f"{var} = {iterable.var}")
            return copy.deepcopy(iterable.shape), var
        if isinstance(iterable, Handle | _Lines | Reader):
            source = iterable.source
            if isinstance(iterable, Handle) and self.first_flag(node):
                source.skip_header = True
            var = source.name
            source.read = True
            if isinstance(iterable, Handle | _Lines):
                separator = _line_separator(node.body, _dotted(node.target))
                if separator is not None:
                    source.separator = separator
            if isinstance(iterable, Reader):
                columns = self.source_columns(source)
                self.emit_read(source, node)
                if iterable.kind == "DictReader":
                    return RowDict(
                        {
                            h: RowVal.column(c)
                            for h, c in zip(source.header or [], columns, strict=False)
                        }
                    ), var
                return RowList([RowVal.column(c) for c in columns]), var
            self.emit_read(source, node)
            return Line(source), var
        raise Unsupported(f"a loop over {type(iterable).__name__}")

    def emit_read(self, source: Source, node: ast.AST) -> None:
        columns = self.source_columns(source)
        options = [f"name={source.name!r}", "dtype=str", "keep_default_na=False"]
        header = "0" if source.skip_header else "None"
        options.insert(1, f"header={header}, names={columns!r}")
        if source.parser == "numpy":  # numbers as floats, as numpy parses them
            options[2:] = ["dtype=float"]
            sep = source.separator
            options.append(f"sep={sep!r}" if sep is not None else "sep=r'\\s+'")
        elif source.parser == "split":
            options.append("quoting=csv.QUOTE_NONE")
            if source.separator != ",":
                options.append(f"sep={source.separator!r}")
        elif source.separator != ",":
            options.append(f"sep={source.separator!r}")
        self.emit(f"{source.name} = lt.read_csv({source.name}_path, {', '.join(options)})")
        rule = {
            "split": "line.split",
            "csv": "csv.reader",
            "dict": "csv.DictReader",
            "numpy": "np.loadtxt/genfromtxt",
        }
        self.step("read_csv", node, f"{rule[source.parser]} over {source.path} -> lt.read_csv")

    def first_flag(self, node: ast.For) -> bool:
        body = node.body
        if body and isinstance(body[0], ast.If) and isinstance(body[0].test, ast.Name):
            inner = body[0].body
            flag = body[0].test.id
            return (
                len(inner) == 2
                and isinstance(inner[-1], ast.Continue)
                and isinstance(inner[0], ast.Assign)
                and ast.unparse(inner[0]) == f"{flag} = False"
            )
        return False

    def skip_first_flag(self, node: ast.For) -> list[ast.stmt]:
        if self.first_flag(node):
            self.step("read_csv", node.body[0], "header skipped by a first-line flag")
            return node.body[1:]
        return node.body

    # ------------------------------------------------------------------ row-level statements
    def row_block(self, statements: list[ast.stmt]) -> None:
        skip_next = False
        for i, statement in enumerate(statements):
            rest = statements[i + 1 :]
            if skip_next:
                skip_next = False
                continue
            if self.seen_set(statement, rest[0] if rest else None):
                skip_next = True
                continue
            if isinstance(statement, ast.For) and not rest and self.explode_loop(statement):
                return
            if isinstance(statement, ast.If) and not statement.orelse:
                if _ends_with_continue(statement.body) and len(statement.body) == 1:
                    self.row_filter(statement.test, negate=True, node=statement)
                    continue
                if not rest and not self.is_effect_choice(statement):
                    self.row_filter(statement.test, negate=False, node=statement)
                    self.row_block(statement.body)
                    return
            self.row_statement(statement)

    def is_effect_choice(self, node: ast.If) -> bool:
        return False

    def seen_set(self, node: ast.stmt, following: ast.stmt | None) -> bool:
        """``if k in seen: continue`` then ``seen.add(k)``: the first row per key stays."""
        if not (
            isinstance(node, ast.If)
            and not node.orelse
            and len(node.body) == 1
            and isinstance(node.body[0], ast.Continue)
            and isinstance(node.test, ast.Compare)
            and isinstance(node.test.ops[0], ast.In)
            and isinstance(following, ast.Expr)
            and isinstance(following.value, ast.Call)
            and isinstance(following.value.func, ast.Attribute)
            and following.value.func.attr == "add"
        ):
            return False
        name = _dotted(node.test.comparators[0])
        if _dotted(following.value.func.value) != name or not _assigned_empty_set(self.tree, name):
            return False
        if ast.dump(following.value.args[0]) != ast.dump(node.test.left):
            return False
        state = self.loop
        key = self.materialise(self.row_value(node.test.left), f"{name}_key", node)
        self.emit(f"{state.var} = {state.var}.distinct(subset=[{key!r}], keep='first')")
        self.step(
            "distinct", node, f"set {name} of seen keys -> distinct(subset=[{key}], keep='first')"
        )
        return True

    def explode_loop(self, node: ast.For) -> bool:
        """``for tag in row_value.split('|'): ...`` as the last statement: explode."""
        if not isinstance(node.target, ast.Name):
            return False
        try:
            items = self.row_value(node.iter)
        except Unsupported:
            return False
        state = self.loop
        column = self.materialise(
            RowVal(ast.Call(ast.Name("list", ast.Load()), [items.code], [])), node.target.id, node
        )
        # a Python loop over an empty list runs zero times; pandas' explode keeps a NaN row
        self.emit(
            f"{state.var} = {state.var}.filter(lambda row: len(row[{column!r}]) > 0, "
            f"source_columns=[{column!r}])"
        )
        self.emit(f"{state.var} = {state.var}.explode({column!r})")
        self.step("explode", node, f"loop over {ast.unparse(node.iter)} -> explode({column})")
        self.env[node.target.id] = RowVal.column(column)
        self.row_block(node.body)
        return True

    def row_filter(self, test: ast.expr, negate: bool, node: ast.AST) -> None:
        state = self.loop
        # membership in a dict built in another loop: an inner join
        join = self.membership(test, negate)
        if join is not None:
            self.ensure_join(join, "inner", node)
            return
        value = self.row_value(test)
        code = _negate(value.code) if negate else value.code
        columns = sorted(value.columns)
        self.emit(
            f"{state.var} = {state.var}.filter(lambda row: {ast.unparse(code)}, "
            f"source_columns={columns!r})"
        )
        self.step(
            "filter", node, f"{'if ...: continue' if negate else 'if'} -> filter on {columns}"
        )

    def membership(self, test: ast.expr, negate: bool) -> Joined | None:
        """``key in D`` (``key not in D`` with continue), ``x is None`` (negated) of a lookup."""
        if isinstance(test, ast.Compare) and len(test.ops) == 1:
            op = test.ops[0]
            wanted_in = ast.NotIn if negate else ast.In
            if isinstance(op, wanted_in):
                container = self.env.get(_dotted(test.comparators[0]))
                if isinstance(container, Keyed):
                    return self.lookup(container, self.row_value(test.left))
            wanted_is = ast.Is if negate else ast.IsNot
            if isinstance(op, wanted_is) and _is_none(test.comparators[0]):
                value = self.env.get(_dotted(test.left))
                if isinstance(value, Joined):
                    return value
        return None

    def lookup(self, keyed: Keyed, probe: RowVal, default: ast.expr | None = None) -> Joined:
        state = self.loop
        for joined in state.joins.values():
            if joined.keyed is keyed and ast.dump(joined.probe.code) == ast.dump(probe.code):
                return joined
        joined = Joined(keyed, probe, default)
        state.joins[len(state.joins)] = joined
        return joined

    def ensure_join(self, joined: Joined, how: str, node: ast.AST) -> None:
        if joined.mapping is not None:
            return
        state = self.loop
        keyed = joined.keyed
        probe = self.materialise(joined.probe, f"{keyed.key}_probe", node)
        right_columns = _shape_columns(keyed.shape) | {keyed.key}
        mapping = {}
        renames = {}
        self.names.update(state.columns)
        for column in sorted(right_columns):
            if column == keyed.key and column == probe:
                mapping[column] = column
            elif column in state.columns:
                renames[column] = self.fresh(f"{column}_{keyed.dict_name}")
                mapping[column] = renames[column]
            else:
                mapping[column] = column
        right = keyed.var
        if renames:
            right = f"{right}.rename(columns={renames!r})"
        if how == "left":
            joined.indicator = self.fresh(f"in_{keyed.dict_name}")
            right = f"{right}.project({joined.indicator!r}, [], lambda row: 1)"
            mapping["__indicator__"] = joined.indicator
        right_key = mapping[keyed.key]
        self.emit(
            f"{state.var} = {state.var}.join({right}, left_on={probe!r}, "
            f"right_on={right_key!r}, how={how!r})"
        )
        state.columns += [c for c in mapping.values() if c not in state.columns]
        joined.mapping = mapping
        kind = "dict lookup" if keyed.keep == "last" else "nested-loop search with break"
        detail = f"{kind} {keyed.dict_name}[...] -> {how} join on {probe} = {keyed.key}"
        if joined.default is not None:
            detail += f", defaults from {ast.unparse(joined.default)}"
        self.step("join", node, detail)

    def materialise(self, value: Any, hint: str, node: ast.AST) -> str:
        """The column holding ``value`` in the current frame (projecting it if needed)."""
        if not isinstance(value, RowVal):
            raise Unsupported(f"cannot store {type(value).__name__} in a column")
        plain = value.plain_column
        if plain is not None:
            return plain
        state = self.loop
        self.names.update(state.columns)
        target = self.fresh(hint)
        columns = sorted(value.columns)
        self.emit(
            f"{state.var} = {state.var}.project({target!r}, {columns!r}, "
            f"lambda row: {value.source})"
        )
        state.columns.append(target)
        self.step("project", node, f"{target} <- {columns}")
        return target

    def row_statement(self, node: ast.stmt) -> None:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target = node.targets[0]
            if isinstance(target, ast.Subscript) and _counting_get(target, node.value):
                self.count_into(target.value.id, target.slice, node)
                return
            if isinstance(target, ast.Subscript):
                container = self.env.get(_dotted(target.value))
                if (
                    isinstance(target.value, ast.Name)
                    and (container is None or isinstance(container, Keyed | Const))
                    and _assigned_empty_dict(self.tree, target.value.id)
                ):
                    self.dict_store(target, node.value, node)
                    return
                self.element_assign(target, node.value, node)
                return
            value = self.row_value(node.value, structured=True)
            if isinstance(target, ast.Name) and isinstance(value, RowVal):
                if value.plain_column is None and not _is_cheap(node.value):
                    column = self.materialise(value, target.id, node)
                    value = RowVal.column(column)
                value = RowVal(value.code, hint=target.id)
            self.bind(target, value, node)
            return
        if isinstance(node, ast.If) and node.orelse:
            if self.counting(node):
                return
            self.row_choice(node)
            return
        if (
            isinstance(node, ast.AugAssign)
            and isinstance(node.target, ast.Subscript)
            and isinstance(node.target.value, ast.Name)
            and _assigned_counter(self.tree, node.target.value.id)
            and _number(node.value) == 1
        ):
            self.count_into(node.target.value.id, node.target.slice, node)
            return
        if (
            isinstance(node, ast.AugAssign)
            and isinstance(node.target, ast.Name)
            and not isinstance(self.env.get(node.target.id), RowVal)
        ):
            self.step("ignored", node, f"counter {ast.unparse(node)} (a print statistic)")
            return
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Call):
            call = node.value
            method = call.func.attr if isinstance(call.func, ast.Attribute) else _dotted(call.func)
            receiver = (
                self.env.get(_dotted(call.func.value))
                if isinstance(call.func, ast.Attribute)
                else None
            )
            if method == "append" and isinstance(call.func, ast.Attribute):
                self.append(_dotted(call.func.value), call.args[0], node)
                return
            name = _dotted(call.func.value) if isinstance(call.func, ast.Attribute) else ""
            if method == "add" and _assigned_empty_set(self.tree, name):
                self.append(name, call.args[0], node)
                rel = self.env[name]
                self.emit(f"{rel.var} = {rel.var}.distinct()")
                self.step("distinct", node, f"set {name} of rows -> distinct()")
                return
            if method in ("write", "writerow") and isinstance(receiver, Handle | DictWriterValue):
                self.write(receiver, call.args[0], node)
                return
            if method == "print":
                target = next((k.value for k in call.keywords if k.arg == "file"), None)
                out = self.env.get(_dotted(target)) if target is not None else None
                if isinstance(out, Handle) and out.writing:
                    self.print_to(out, call, node)
                return
        if isinstance(node, ast.Assign | ast.Expr) and isinstance(
            getattr(node, "value", None), ast.Constant
        ):
            return
        if isinstance(node, ast.Assign) and _is_none(node.value):
            return
        if isinstance(node, ast.For) and self.search_loop(node):
            return
        raise Unsupported(f"no rule for {_first_line(node)} inside a loop")

    def row_choice(self, node: ast.If) -> None:
        """``if/elif/else`` that assigns one variable (or appends to one list) in every
        branch: a conditional expression."""
        branches, tests = [], []
        current: ast.stmt = node
        while True:
            tests.append(current.test)
            branches.append(current.body)
            orelse = current.orelse
            if len(orelse) == 1 and isinstance(orelse[0], ast.If):
                current = orelse[0]
                continue
            branches.append(orelse)
            break
        effects = [_single_effect(branch) for branch in branches]
        if any(effect is None for effect in effects) or len({e[0] for e in effects}) != 1:
            raise Unsupported(f"if/else with different effects per branch: {_first_line(node)}")
        expression = effects[-1][1]
        for test, effect in zip(reversed(tests), reversed(effects[:-1]), strict=True):
            expression = ast.IfExp(test, effect[1], expression)
        kind, target = effects[0][0]
        synthetic: ast.stmt
        if kind == "assign":
            synthetic = ast.Assign([ast.Name(target, ast.Store())], expression)
        else:
            synthetic = ast.Expr(
                ast.Call(
                    ast.Attribute(ast.Name(target, ast.Load()), "append", ast.Load()),
                    [expression],
                    [],
                )
            )
        ast.copy_location(synthetic, node)
        ast.fix_missing_locations(synthetic)
        self.step("project", node, f"if/elif/else chain -> conditional expression for {target}")
        self.row_statement(synthetic)

    def counting(self, node: ast.If) -> bool:
        """``if k in d: d[k] += 1 else: d[k] = 1``: a group-by count."""
        test = node.test
        if not (
            isinstance(test, ast.Compare)
            and isinstance(test.ops[0], ast.In)
            and isinstance(test.comparators[0], ast.Name)
            and len(node.body) == 1
            and isinstance(node.body[0], ast.AugAssign)
        ):
            return False
        self.count_into(test.comparators[0].id, test.left, node)
        return True

    def count_into(self, name: str, key_node: ast.expr, node: ast.AST) -> None:
        """A dict counting rows per key: ``groupby(key).agg(count)``."""
        key = self.row_value(key_node)
        state = self.loop
        column = self.materialise(key, "key", node)
        count = self.fresh(f"{name}_n")
        self.emit(f"{name} = {state.var}.groupby([{column!r}]).agg({count}=({column!r}, 'count'))")
        self.env[name] = Keyed(name, column, RowVal.column(count), name, count=count)
        self.names.add(name)
        self.step("groupby", node, f"counting dict {name} -> groupby({column}).agg(count)")

    def argmax_loop(self, node: ast.For, counts: Counts) -> None:
        """``for k in counts: if counts[k] > best: best = counts[k]; arg = k``."""
        body = node.body
        if not (len(body) == 1 and isinstance(body[0], ast.If) and not body[0].orelse):
            raise Unsupported("a loop over a counting dict that is not an arg-max")
        assigns = [s for s in body[0].body if isinstance(s, ast.Assign)]
        key_var = node.target.id  # type: ignore[union-attr]
        winner = next(
            (a.targets[0].id for a in assigns if ast.unparse(a.value) == key_var),
            None,  # type: ignore[union-attr]
        )
        if winner is None or not isinstance(body[0].test, ast.Compare):
            raise Unsupported("a loop over a counting dict that is not an arg-max")
        strict = isinstance(body[0].test.ops[0], ast.Gt)
        var = self.fresh(winner)
        # ties: a strict > keeps the first key seen, >= the last; groups are in first-seen order
        pick = "idxmax()" if strict else "iloc[::-1].idxmax()"
        self.emit(
            f"{var}_counts = {counts.var}.to_pandas().set_index({counts.key!r})[{counts.count!r}]"
        )
        self.emit(f"{var} = {var}_counts.{pick} if len({var}_counts) else None")
        self.env[winner] = Scalar(var)
        self.step(
            "argmax",
            node,
            f"arg-max loop over {counts.var} -> {var} (computed once, first key wins ties)",
        )

    def element_assign(self, target: ast.Subscript, value_node: ast.expr, node: ast.AST) -> None:
        """``p[5] = v`` on the loop element: replace that column."""
        element = self.row_value(target.value, structured=True)
        key = _int(target.slice) if isinstance(element, RowList) else _str(target.slice)
        current = element.items[key] if key is not None else None
        if not isinstance(current, RowVal) or current.plain_column is None:
            raise Unsupported(f"assignment to {ast.unparse(target)}")
        value = self.row_value(value_node)
        column = current.plain_column
        state = self.loop
        self.emit(
            f"{state.var} = {state.var}.project({column!r}, {sorted(value.columns)!r}, "
            f"lambda row: {value.source})"
        )
        self.step("project", node, f"in-place update of {column}")

    def guarded_update(self) -> None:  # pragma: no cover - kept for symmetry
        pass

    def dict_store(self, target: ast.Subscript, value_node: ast.expr, node: ast.AST) -> None:
        name = target.value.id  # type: ignore[union-attr]
        key = self.row_value(target.slice)
        value = self.row_value(value_node, structured=True)
        state = self.loop
        key_column = self.materialise(key, f"{name}_key", node)
        shape = self.store_shape(value, name, node)
        columns = [key_column] + [c for c in _ordered_columns(shape) if c != key_column]
        self.emit(
            f"{name} = {state.var}[{columns!r}].distinct(subset=[{key_column!r}], keep='last')"
        )
        self.env[name] = Keyed(name, key_column, shape, name)
        self.names.add(name)
        self.step(
            "distinct",
            node,
            f"dict {name}[{key_column}] = ... -> distinct(subset=[{key_column}], keep='last')"
            " (the last duplicate wins, as in the dict)",
        )

    def store_shape(self, value: Any, hint: str, node: ast.AST) -> Any:
        if isinstance(value, RowVal):
            column = self.materialise(value, value.hint or hint, node)
            return RowVal(column_ref(column), hint=value.hint or column)
        if isinstance(value, RowList):
            return RowList(
                [
                    self.store_shape(item, _hint(item, f"{hint}_{i}"), node)
                    for i, item in enumerate(value.items)
                ]
            )
        if isinstance(value, RowDict):
            return RowDict({k: self.store_shape(v, k, node) for k, v in value.items.items()})
        raise Unsupported(f"cannot store {type(value).__name__}")

    def append(self, name: str, value_node: ast.expr, node: ast.AST) -> None:
        value = self.row_value(value_node, structured=True)
        state = self.loop
        shape = self.store_shape(value, name, node)
        internal = _ordered_columns(shape)
        pretty = _pretty_names(shape)
        renames = {a: b for a, b in zip(internal, pretty, strict=True) if a != b}
        code = _select(state, internal)
        if len(set(internal)) != len(internal):
            raise Unsupported("a row that holds the same column twice")
        if renames:
            code += f".rename(columns={renames!r})"
        existing = self.env.get(name)
        if isinstance(existing, Rel) and self.rel_loop.get(id(existing)) != id(state):
            if len(existing.columns) != len(pretty):
                raise Unsupported(f"{name} gets rows of another shape in a second loop")
            renames = {a: b for a, b in zip(internal, existing.columns, strict=True) if a != b}
            part = f"{state.var}[{internal!r}]" + (
                f".rename(columns={renames!r})" if renames else ""
            )
            self.emit(f"{existing.var} = lt.union([{existing.var}, {part}])")
            rel = Rel(existing.var, existing.shape, existing.columns)
            self.rel_loop[id(rel)] = id(state)
            self.env[name] = rel
            self.step("union", node, f"a second loop appends to {name} -> lt.union")
            return
        if isinstance(existing, Rel):
            raise Unsupported(f"{name} is appended to twice in one loop")
        var = self.fresh(name) if name in self.sources else name
        self.names.add(var)
        self.emit(f"{var} = {code}")
        rel = Rel(var, _rename_shape(shape, renames), pretty)
        self.rel_loop[id(rel)] = id(state)
        self.env[name] = rel
        self.step("select", node, f"{name}.append(...) -> rows of {pretty}")

    def write(
        self, receiver: Any, value_node: ast.expr | None, node: ast.AST, given: Any = None
    ) -> None:
        if given is not None:
            fields = given
        elif isinstance(receiver, DictWriterValue) and receiver.fieldnames is None:
            value = self.row_value(value_node, structured=True)
            if not isinstance(value, RowList):
                raise Unsupported("csv writerow of something other than a row list")
            fields = RowList([_unwrap_str(item) for item in value.items])
            self.prepared_header = receiver.header
        elif isinstance(receiver, DictWriterValue):
            value = self.row_value(value_node, structured=True)
            if not isinstance(value, RowDict):
                raise Unsupported("writerow of something other than a row dict")
            fields = RowList([value.items[f] for f in receiver.fieldnames])
            for f, item in zip(receiver.fieldnames, fields.items, strict=True):
                item.hint = f
            self.prepared_header = receiver.header
        else:
            fields = _split_written_line(value_node, self, None)
        if self.sink_rel is not None:
            # The rows are written from a collection the features read again: its columns
            # keep their values; '%d' or f'{x:.2f}' is only how the file shows them.
            self.prepared_sources.add(id(self.sink_rel))
            fields = RowList([_unformat(item) for item in fields.items])
        self.sink_path = receiver.path
        state = self.loop
        shape = self.store_shape(fields, "field", node)
        internal = _ordered_columns(shape)
        pretty = _pretty_names(shape)
        renames = {a: b for a, b in zip(internal, pretty, strict=True) if a != b}
        code = _select(state, internal)
        if renames:
            code += f".rename(columns={renames!r})"
        self.emit(f"prepared = {code}")
        self.names.add("prepared")
        self.prepared = Rel("prepared", _rename_shape(shape, renames), pretty)
        self.step("sink", node, f"rows written to {receiver.path} -> prepared data {pretty}")

    def print_to(self, out: Handle, call: ast.Call, node: ast.AST) -> None:
        """``print(a, b, sep='\t', file=out)``: the fields of one written line."""
        sep = next((_str(k.value) for k in call.keywords if k.arg == "sep"), " ")
        end = next((_str(k.value) for k in call.keywords if k.arg == "end"), "\n")
        if sep != "\t" or end != "\n":
            raise Unsupported("print to a file with a separator other than a tab")
        items = []
        for arg in call.args:
            value = self.row_value(arg.value if isinstance(arg, ast.Starred) else arg, True)
            values = value.items if isinstance(value, RowList) else [value]
            items += [RowVal(v.code, hint=v.hint or _node_hint(arg)) for v in values]
        self.write(out, None, node, RowList(items))

    def sink_loop(self, node: ast.For, rel: Rel) -> None:
        """``for r in rows: out.write(...)``: the rows are the prepared data."""
        body = [s for s in node.body if not _is_print(s)]
        state = LoopState(rel.var, list(rel.columns))
        previous, self.loop = self.loop, state
        self.sink_rel = rel
        try:
            self.bind(node.target, copy.deepcopy(rel.shape), node)
            for statement in body:
                self.row_statement(statement)
        finally:
            self.loop = previous

    def search_loop(self, node: ast.For) -> bool:
        """``for p in products: if p[0] == key: prod = p; break`` -> first match, a join."""
        collection = self.env.get(_dotted(node.iter))
        body = node.body
        if not (
            isinstance(collection, Rel)
            and len(body) == 1
            and isinstance(body[0], ast.If)
            and isinstance(body[0].test, ast.Compare)
            and isinstance(body[0].body[-1], ast.Break)
        ):
            return False
        inner_name = node.target.id  # type: ignore[union-attr]
        assign = body[0].body[0]
        if not (isinstance(assign, ast.Assign) and ast.unparse(assign.value) == inner_name):
            return False
        test = body[0].test
        sides = [test.left, test.comparators[0]]
        inner_side = next((s for s in sides if inner_name in _names(s)), None)
        outer_side = next((s for s in sides if inner_name not in _names(s)), None)
        if inner_side is None or outer_side is None:
            return False
        saved = self.env.get(inner_name)
        self.env[inner_name] = copy.deepcopy(collection.shape)
        key = self.row_value(inner_side)
        if saved is None:
            del self.env[inner_name]
        else:
            self.env[inner_name] = saved
        if key.plain_column is None:
            return False
        name = self.fresh(f"{collection.var}_first")
        self.emit(
            f"{name} = {collection.var}.distinct(subset=[{key.plain_column!r}], keep='first')"
        )
        self.step(
            "distinct",
            node,
            f"search with break -> first {collection.var} row per {key.plain_column}",
        )
        keyed = Keyed(name, key.plain_column, collection.shape, collection.var, keep="first")
        joined = self.lookup(keyed, self.row_value(outer_side))
        self.env[assign.targets[0].id] = joined  # type: ignore[union-attr]
        return True

    # ------------------------------------------------------------------ row-level expressions
    def row_value(self, node: ast.expr, structured: bool = False) -> Any:
        value = _RowTranslator(self).translate(node)
        if not structured and not isinstance(value, RowVal):
            raise Unsupported(f"{ast.unparse(node)} is not a single value")
        return value

    # ------------------------------------------------------------------ featurisation
    def feature_loop(self, node: ast.For, iterable: Any) -> None:
        _FeatureLoop(self, node, iterable).run()

    def comprehension(self, node: ast.ListComp) -> Any:
        return _feature_comprehension(self, node)

    def array_expression(self, node: ast.expr) -> Any:
        return _ArrayTranslator(self).translate(node)

    def array_item_assign(self, target: ast.Subscript, value: ast.expr, node: ast.AST) -> None:
        raise Unsupported(f"no rule for {_first_line(node)}")


@dataclass
class _Lines:
    source: Source
    lines: bool = True


@dataclass
class _Range:
    of: Any


# ---------------------------------------------------------------------------- row translation
class _RowTranslator:
    """Turns a row-level expression into a RowVal (or a structured row value)."""

    def __init__(self, rewriter: _Rewriter):
        self.r = rewriter

    def translate(self, node: ast.expr) -> Any:
        r = self.r
        if isinstance(node, ast.Name):
            value = r.env.get(node.id)
            if isinstance(value, RowVal | RowList | RowDict | Line | Joined | _ReadBackLine):
                return value
            if isinstance(value, Const) or node.id in r.constants:
                return RowVal(ast.Name(node.id, ast.Load()))
            if isinstance(value, Scalar):
                return RowVal(ast.Name(value.name, ast.Load()))
            if node.id in r.functions:
                r.used_helpers.add(node.id)
                return RowVal(ast.Name(node.id, ast.Load()))
            if value is None:
                return RowVal(ast.Name(node.id, ast.Load()))  # a builtin or an imported module
            raise Unsupported(f"{node.id} ({type(value).__name__}) used per row")
        if isinstance(node, ast.Call):
            structured = self.structured_call(node)
            if structured is not None:
                return structured
        if isinstance(node, ast.Subscript):
            container = r.env.get(_dotted(node.value))
            if isinstance(container, Keyed):
                joined = r.lookup(container, self.translate(node.slice))
                r.ensure_join(joined, "inner", node)
                return self.joined_whole(joined)
            indexed = isinstance(r.env.get(_dotted(node.slice)), RowIndex)
            if indexed and isinstance(container, Arr) and container.kind == "row":
                return RowVal(container.code)
            if indexed and r.is_prepared(container):
                return copy.deepcopy(container.shape)
            base = self.translate(node.value)
            if isinstance(base, RowList):
                index = _int(node.slice)
                if index is not None:
                    return base.items[index]
                if isinstance(node.slice, ast.Slice):
                    return RowList(base.items[_int(node.slice.lower) or 0 : _int(node.slice.upper)])
            if isinstance(base, RowDict):
                key = _str(node.slice)
                if key is not None:
                    return base.items[key]
            if isinstance(base, Joined):
                return self.joined_item(base, node.slice)
            container = r.env.get(_dotted(node.value))
            if isinstance(container, Keyed):
                joined = r.lookup(container, self.translate(node.slice))
                r.ensure_join(joined, "inner", node)
                return self.joined_whole(joined)
        if isinstance(node, ast.Compare) and len(node.ops) == 1:
            container = r.env.get(_dotted(node.comparators[0]))
            if isinstance(container, Keyed) and isinstance(node.ops[0], ast.In | ast.NotIn):
                joined = r.lookup(container, self.translate(node.left))
                if joined.mapping is None:
                    r.ensure_join(joined, "left", node)
                code = self.matched(joined)
                if isinstance(node.ops[0], ast.NotIn):
                    code = ast.UnaryOp(ast.Not(), code)
                return RowVal(code)
            left = r.env.get(_dotted(node.left))
            if isinstance(left, Joined) and _is_none(node.comparators[0]):
                r.ensure_join(left, "left", node)
                code = self.matched(left)
                if isinstance(node.ops[0], ast.Is):
                    code = ast.UnaryOp(ast.Not(), code)
                return RowVal(code)
        if isinstance(node, ast.Tuple | ast.List):
            items = []
            for element in node.elts:
                item = self.translate(element)
                hint = _node_hint(element)
                if isinstance(item, RowVal) and hint is not None:
                    item = RowVal(item.code, hint=hint)
                items.append(item)
            return RowList(items)
        if isinstance(node, ast.Dict) and all(k is not None for k in node.keys):
            keys = [_str(k) for k in node.keys]
            if all(k is not None for k in keys):
                return RowDict(
                    {k: self.translate(v) for k, v in zip(keys, node.values, strict=True)}
                )
        if isinstance(node, ast.Call) and _dotted(node.func) == "map" and len(node.args) == 2:
            iterable = self.translate(node.args[1])
            if isinstance(iterable, RowList):
                function = node.args[0]
                return RowList(
                    [
                        RowVal(ast.Call(copy.deepcopy(function), [i.code], []), i.hint)
                        for i in iterable.items
                    ]
                )
        if isinstance(node, ast.ListComp | ast.GeneratorExp) and len(node.generators) == 1:
            generator = node.generators[0]
            iterable = self.translate(generator.iter)
            if (
                isinstance(iterable, RowList)
                and isinstance(generator.target, ast.Name)
                and not generator.ifs
            ):
                items = []
                for item in iterable.items:
                    saved = r.env.get(generator.target.id)
                    r.env[generator.target.id] = item
                    items.append(self.translate(node.elt))
                    if saved is None:
                        r.env.pop(generator.target.id)
                    else:
                        r.env[generator.target.id] = saved
                return RowList(items)
        return RowVal(self.generic(node))

    def matched(self, joined: Joined) -> ast.expr:
        if joined.indicator is None:
            return ast.Constant(True)
        return ast.Compare(column_ref(joined.indicator), [ast.Eq()], [ast.Constant(1)])

    def joined_whole(self, joined: Joined) -> Any:
        return _map_shape(joined.keyed.shape, joined.mapping)

    def joined_item(self, joined: Joined, key: ast.expr) -> Any:
        r = self.r
        if joined.mapping is None:
            r.ensure_join(joined, "left" if joined.default is not None else "inner", key)
        shape = self.joined_whole(joined)
        if isinstance(shape, RowList):
            index = _int(key)
            item = shape.items[index] if index is not None else None
        elif isinstance(shape, RowDict):
            name = _str(key)
            item = shape.items.get(name) if name is not None else None
        else:
            item = None
        if item is None:
            raise Unsupported(f"lookup of {ast.unparse(key)} in a joined row")
        if joined.default is not None:
            fallback = ast.Subscript(copy.deepcopy(joined.default), copy.deepcopy(key), ast.Load())
            return RowVal(ast.IfExp(self.matched(joined), item.code, fallback), hint=item.hint)
        return item

    def structured_call(self, node: ast.Call) -> Any:
        r = self.r
        func = node.func
        if isinstance(func, ast.Attribute) and func.attr == "split":
            base = func.value
            while (
                isinstance(base, ast.Call)
                and isinstance(base.func, ast.Attribute)
                and base.func.attr in ("strip", "rstrip", "lstrip")
            ):
                base = base.func.value
            line = self.translate(base) if isinstance(base, ast.Name) else None
            if isinstance(line, _ReadBackLine):
                return _prepared_row_shape(r, read_back=True)
            if isinstance(line, Line):
                source = line.source
                separator = node.args[0].value if node.args else None  # type: ignore[union-attr]
                if separator not in (",", "\t", ";", "|"):
                    raise Unsupported("a line split without a literal separator")
                if separator != source.separator:
                    raise Unsupported("a separator that differs from the one read")
                columns = r.source_columns(source)
                return RowList([RowVal.column(c) for c in columns])
        if isinstance(func, ast.Attribute) and func.attr == "get":
            container = r.env.get(_dotted(func.value))
            if isinstance(container, Keyed):
                default = node.args[1] if len(node.args) > 1 else ast.Constant(None)
                joined = r.lookup(container, self.translate(node.args[0]), default)
                joined.default = default
                r.ensure_join(joined, "left", node)
                if isinstance(container.shape, RowVal):  # a dict of single values
                    value = _map_shape(container.shape, joined.mapping)
                    code = ast.IfExp(self.matched(joined), value.code, copy.deepcopy(default))
                    return RowVal(code, hint=value.hint)
                return joined
        return None

    def generic(self, node: ast.expr) -> ast.expr:
        translator = self

        class Substitute(ast.NodeTransformer):
            def visit_Name(self, name: ast.Name) -> ast.AST:
                value = translator.translate(name)
                if isinstance(value, RowVal):
                    return copy.deepcopy(value.code)
                raise Unsupported(f"{name.id} is a whole row here")

            def visit_Subscript(self, sub: ast.Subscript) -> ast.AST:
                base = translator.r.env.get(_dotted(sub.value))
                if isinstance(base, RowList | RowDict | Joined | Keyed | Arr | Rel) or (
                    isinstance(sub.value, ast.Subscript | ast.Call)
                ):
                    try:
                        value = translator.translate(sub)
                    except (Unsupported, KeyError, IndexError):
                        value = None
                    if isinstance(value, RowVal):
                        return copy.deepcopy(value.code)
                return self.generic_visit(sub)

            def visit_Compare(self, compare: ast.Compare) -> ast.AST:
                container = translator.r.env.get(_dotted(compare.comparators[0]))
                left = translator.r.env.get(_dotted(compare.left))
                if isinstance(container, Keyed) or isinstance(left, Joined):
                    return copy.deepcopy(translator.translate(compare).code)
                return self.generic_visit(compare)

            def visit_Lambda(self, node: ast.Lambda) -> ast.AST:
                raise Unsupported("a lambda inside a row expression")

            def visit_Call(self, call: ast.Call) -> ast.AST:
                structured = translator.structured_call(call)
                if structured is not None:
                    if isinstance(structured, RowVal):
                        return copy.deepcopy(structured.code)
                    raise Unsupported(f"{ast.unparse(call)} is not a single value")
                return self.generic_visit(call)

        if isinstance(node, ast.Name):
            return Substitute().visit_Name(node)
        return Substitute().visit(copy.deepcopy(node))


# ---------------------------------------------------------------------------- features
def _prepared_row_shape(r: _Rewriter, read_back: bool) -> Any:
    prepared = r.prepared
    if prepared is None:
        raise Unsupported("features computed before any prepared rows were written")
    if read_back:
        return RowList([_as_written(RowVal.column(c)) for c in prepared.columns])
    return copy.deepcopy(prepared.shape)


def _as_written(value: RowVal) -> RowVal:
    """What reading a written field back gives: the ``str()`` of the value."""
    return RowVal(ast.Call(ast.Name("str", ast.Load()), [value.code], []), hint=value.hint)


def _feature_comprehension(r: _Rewriter, node: ast.ListComp) -> Any:
    if len(node.generators) != 1 or node.generators[0].ifs:
        raise Unsupported(f"comprehension {ast.unparse(node)}")
    generator = node.generators[0]
    iterable = (
        r.value(generator.iter)
        if not isinstance(generator.iter, ast.Name)
        else r.env.get(generator.iter.id)
    )
    if isinstance(iterable, Rel) and r.is_prepared(iterable):
        element = copy.deepcopy(iterable.shape)
    elif isinstance(iterable, Arr) and iterable.kind == "row":
        element = RowVal(iterable.code)
    elif isinstance(iterable, Const):
        raise Unsupported(f"comprehension over a constant {ast.unparse(node)}")
    else:
        raise Unsupported(f"comprehension over {type(iterable).__name__}")
    saved = dict(r.env)
    if any(isinstance(r.env.get(n), Stat) for n in _names(node.elt)) and isinstance(iterable, Arr):
        r.bind(generator.target, iterable, node)
        try:
            return _classify(_ArrayTranslator(r).translate(node.elt))
        finally:
            r.env = saved
    r.bind(generator.target, element, node)
    previous, r.loop = r.loop, LoopState("prepared", list(r.prepared.columns))
    try:
        value = r.row_value(node.elt, structured=True)
        if isinstance(value, RowList):  # [[a, b] for r in rows]: a vector per row
            value = RowVal(ast.List([item.code for item in value.items], ast.Load()))
    finally:
        r.loop = previous
        r.env = saved
    return Arr("row", value.code)


class _ArrayTranslator:
    """Statement-level numpy expressions over per-row arrays."""

    def __init__(self, rewriter: _Rewriter):
        self.r = rewriter

    def translate(self, node: ast.expr) -> Any:
        r = self.r
        if isinstance(node, ast.Name):
            if node.id in r.env:
                value = r.env[node.id]
                return Arr("row", value.code) if isinstance(value, RowVal) else value
            raise Unsupported(f"unknown name {node.id}")
        if isinstance(node, ast.Constant):
            return Const(node)
        if isinstance(node, ast.Call):
            name = _dotted(node.func)
            method = name.rsplit(".", 1)[-1]
            module = name.split(".")[0]
            if module in NUMPY and method in ("array", "asarray", "vstack") and node.args:
                value = self.translate(node.args[0])
                if isinstance(value, _RowsOfVectors):
                    return value.arr
                return value
            if (
                module in NUMPY
                and method in ("concatenate", "hstack", "column_stack")
                and node.args
            ):
                parts = node.args[0]
                if not isinstance(parts, ast.List | ast.Tuple):
                    raise Unsupported("np.concatenate of something other than a list")
                return Arr("blocks", parts=[self.translate(p) for p in parts.elts])
            if name in ("len",):
                return Const(node)
            if name == "range" and node.args and isinstance(node.args[0], ast.Call):
                return _Range(node.args[0])
            if name == "enumerate" and node.args:
                of = self.translate(node.args[0])
                if isinstance(of, Rel):
                    return _Enumerate(of)
            if (
                name in ("sorted",)
                and node.args
                and isinstance(node.args[0], ast.Call)
                and _dotted(node.args[0].func) == "set"
            ):
                inner = self.translate(node.args[0].args[0])
                if isinstance(inner, Arr) and inner.kind == "row":
                    return _Categories(inner)
            if (module in NUMPY and method in ("mean", "std", "min", "max")) or name in (
                "min",
                "max",
            ):
                return Stat(method, self.translate(node.args[0]), _ddof(node))
            statistics = {"mean": ("mean", 0), "fmean": ("mean", 0), "pstdev": ("std", 0),
                          "stdev": ("std", 1)}  # fmt: skip
            if module in ("statistics", *statistics) and method in statistics:
                fn, ddof = statistics[method]
                return Stat(fn, self.translate(node.args[0]), ddof)
            if isinstance(node.func, ast.Attribute) and method in ("mean", "std", "min", "max"):
                return Stat(method, self.translate(node.func.value), _ddof(node))
            if isinstance(node.func, ast.Attribute) and method == "reshape":
                return self.translate(node.func.value)
            if (
                module in NUMPY
                and method == "zeros"
                and node.args
                and isinstance(node.args[0], ast.Tuple)
            ):
                size = node.args[0].elts[1]
                return _ZeroMatrix(size)
        if isinstance(node, ast.Subscript) and _is_column_slice(node.slice):
            return self.translate(node.value)
        if isinstance(node, ast.Subscript) and isinstance(r.env.get(_dotted(node.slice)), RowIndex):
            return self.translate(node.value)
        if isinstance(node, ast.ListComp):
            return r.comprehension(node)
        if isinstance(node, ast.BinOp):
            left, right = self.translate(node.left), self.translate(node.right)
            if isinstance(left, Arr | Stat | ArrOp) or isinstance(right, Arr | Stat | ArrOp):
                return _classify(ArrOp(node.op, left, right))
        if isinstance(node, ast.Tuple):
            return tuple(self.translate(e) for e in node.elts)
        raise Unsupported(f"no rule for the expression {ast.unparse(node)}")


@dataclass
class _Categories:
    of: Arr


@dataclass
class _ZeroMatrix:
    size: ast.expr
    arr: Arr | None = None


@dataclass
class _RowsOfVectors:
    arr: Arr


def _ddof(node: ast.Call) -> int:
    for keyword in node.keywords:
        if keyword.arg == "ddof" and isinstance(keyword.value, ast.Constant):
            return int(keyword.value.value)
    return 0


class _FeatureLoop:
    """A loop over the prepared rows that fills per-row lists (features, labels)."""

    def __init__(self, rewriter: _Rewriter, node: ast.For, iterable: Any):
        self.r, self.node, self.iterable = rewriter, node, iterable
        self.lists: dict[str, list[Any]] = {}

    def run(self) -> None:
        r, node = self.r, self.node
        saved = dict(r.env)
        target = node.target
        iterable = self.iterable
        if isinstance(iterable, Handle) and not iterable.writing:
            raise Unsupported("a loop over an input file after the prepared rows were written")
        if isinstance(iterable, Handle | _Lines) or (isinstance(iterable, Const) and False):
            element: Any = Line(Source("prepared", "", None, 0))
        elif isinstance(iterable, _ReadBack):
            element = _ReadBackLine()
        elif isinstance(iterable, Rel) and r.is_prepared(iterable):
            element = copy.deepcopy(iterable.shape)
        elif isinstance(iterable, _Range):
            element = RowIndex()
        elif isinstance(iterable, _Enumerate):
            element = (RowIndex(), copy.deepcopy(iterable.of.shape))
        else:
            raise Unsupported(f"a feature loop over {type(iterable).__name__}")
        r.bind(
            target, element if not isinstance(element, tuple) else _TupleValue(list(element)), node
        )
        previous, r.loop = (
            r.loop,
            LoopState("prepared", list(r.prepared.columns if r.prepared else [])),
        )
        try:
            for statement in node.body:
                self.statement(statement)
        finally:
            r.loop = previous
        produced = {name: value for name, value in self.lists.items()}
        r.env = saved
        for name, pieces in produced.items():
            if len(pieces) == 1 and not isinstance(pieces[0], Vector):
                r.env[name] = pieces[0]
            elif len(pieces) == 1:
                r.env[name] = _RowsOfVectors(Arr("blocks", parts=pieces[0].pieces))
            else:
                r.env[name] = Arr("blocks", parts=pieces)
        for name, value in getattr(self, "matrices", {}).items():
            r.env[name] = value

    def statement(self, node: ast.stmt) -> None:
        r = self.r
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target = node.targets[0]
            if isinstance(target, ast.Name):
                value = self.value(node.value)
                r.env[target.id] = value
                return
            if isinstance(target, ast.Tuple):
                r.bind(target, self.value(node.value), node)
                return
            if isinstance(target, ast.Subscript):
                self.item_assign(target, node.value, node)
                return
        if (
            isinstance(node, ast.AugAssign)
            and isinstance(node.target, ast.Name)
            and isinstance(node.op, ast.Add)
        ):
            current = r.env.get(node.target.id)
            if isinstance(current, Vector):
                addition = self.value(node.value)
                current.pieces.extend(
                    addition.pieces if isinstance(addition, Vector) else [addition]
                )
                return
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Call):
            call = node.value
            if isinstance(call.func, ast.Attribute) and call.func.attr == "append":
                name = _dotted(call.func.value)
                current = r.env.get(name)
                value = _as_array(self.value(call.args[0]))
                if isinstance(current, Vector):
                    current.pieces.append(value)
                    return
                self.lists.setdefault(name, []).append(value)
                r.env[name] = _Appended(name)
                return
            if _dotted(call.func) == "print":
                return
        if isinstance(node, ast.If) and node.orelse:
            effects = []
            current_if: ast.stmt = node
            tests, branches = [], []
            while True:
                tests.append(current_if.test)
                branches.append(current_if.body)
                if len(current_if.orelse) == 1 and isinstance(current_if.orelse[0], ast.If):
                    current_if = current_if.orelse[0]
                    continue
                branches.append(current_if.orelse)
                break
            effects = [_single_effect(b) for b in branches]
            if all(e is not None for e in effects) and len({e[0] for e in effects}) == 1:
                expression = effects[-1][1]
                for test, effect in zip(reversed(tests), reversed(effects[:-1]), strict=True):
                    expression = ast.IfExp(test, effect[1], expression)
                kind, target_name = effects[0][0]
                if kind == "append":
                    synthetic = ast.Expr(
                        ast.Call(
                            ast.Attribute(ast.Name(target_name, ast.Load()), "append", ast.Load()),
                            [expression],
                            [],
                        )
                    )
                else:
                    synthetic = ast.Assign([ast.Name(target_name, ast.Store())], expression)
                ast.copy_location(synthetic, node)
                ast.fix_missing_locations(synthetic)
                self.statement(synthetic)
                return
        if isinstance(node, ast.For):
            self.category_loop(node)
            return
        raise Unsupported(f"no rule for {_first_line(node)} in a feature loop")

    def category_loop(self, node: ast.For) -> None:
        """``for c in CATS: r.append(1.0 if x == c else 0.0)``: a one-hot block."""
        r = self.r
        body = node.body
        if not (
            len(body) == 1 and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Call)
        ):
            raise Unsupported("a loop inside a feature loop")
        call = body[0].value
        vector = (
            r.env.get(_dotted(call.func.value)) if isinstance(call.func, ast.Attribute) else None
        )
        if not isinstance(vector, Vector):
            raise Unsupported("a loop inside a feature loop")
        onehot = self.one_hot(call.args[0], node.target, node.iter)
        vector.pieces.append(onehot)

    def one_hot(self, expression: ast.expr, variable: ast.expr, categories: ast.expr) -> Arr:
        r = self.r
        compared = _one_hot_comparison(expression, variable)
        if compared is None:
            raise Unsupported(f"{ast.unparse(expression)} is not a one-hot indicator")
        value = self.value(compared)
        cats = (
            r.value(categories)
            if not isinstance(categories, ast.Name)
            else r.env.get(categories.id)
        )
        if isinstance(cats, _Categories):
            return Arr("onehot", parts=[value], categories=None, unknown="ignore")
        if isinstance(cats, Const):
            return Arr("onehot", parts=[value], categories=cats.code, unknown="ignore")
        raise Unsupported(f"one-hot over {ast.unparse(categories)}")

    def item_assign(self, target: ast.Subscript, value_node: ast.expr, node: ast.AST) -> None:
        r = self.r
        base = r.env.get(_dotted(target.value))
        if isinstance(base, OneHotRow):
            # oneHot[CATS.index(x)] = 1.0
            index = target.slice
            if (
                isinstance(index, ast.Call)
                and isinstance(index.func, ast.Attribute)
                and index.func.attr == "index"
            ):
                base.value = self.value(index.args[0])
                base.categories = index.func.value
                base.unknown = "error"
                return
        if isinstance(base, _ZeroMatrix) and isinstance(target.slice, ast.Tuple):
            # M[i, INDEX[x[i]]] = 1.0
            column = target.slice.elts[1]
            if isinstance(column, ast.Subscript):
                mapping = r.env.get(_dotted(column.value))
                if isinstance(mapping, Const):
                    value = self.value(column.slice)
                    order = _index_dict_order(mapping.code, r.constants)
                    if order is not None:
                        base.arr = Arr("onehot", parts=[value], categories=order, unknown="error")
                        self.matrices = getattr(self, "matrices", {})
                        self.matrices[_dotted(target.value)] = base.arr
                        return
        raise Unsupported(f"no rule for {_first_line(node)} in a feature loop")

    def value(self, node: ast.expr) -> Any:
        r = self.r
        if isinstance(node, ast.List | ast.Tuple):
            if all(isinstance(e, ast.Constant) and e.value == 0.0 for e in node.elts):
                return OneHotRow(ast.Constant(len(node.elts)))
            return Vector([_as_array(self.value(e)) for e in node.elts])
        if (
            isinstance(node, ast.BinOp)
            and isinstance(node.op, ast.Mult)
            and isinstance(node.left, ast.List)
        ):
            return OneHotRow(node.right)
        if isinstance(node, ast.ListComp) and len(node.generators) == 1:
            generator = node.generators[0]
            return self.one_hot(node.elt, generator.target, generator.iter)
        if isinstance(node, ast.Name) and isinstance(r.env.get(node.id), OneHotRow):
            row = r.env[node.id]
            return Arr("onehot", parts=[row.value], categories=row.categories, unknown=row.unknown)
        if isinstance(node, ast.Name) and isinstance(r.env.get(node.id), Vector):
            return r.env[node.id]
        # a per-row element of an array computed before: arr[i]
        if isinstance(node, ast.Subscript) and isinstance(r.env.get(_dotted(node.slice)), RowIndex):
            base = r.env.get(_dotted(node.value))
            if isinstance(base, Arr | ArrOp):
                return base
            if isinstance(base, Rel) and r.is_prepared(base):
                return _PreparedRow()
        return self.row_expression(node)

    def row_expression(self, node: ast.expr) -> Any:
        r = self.r
        if _find_array_refs(node, r):
            # (scores[i] - mu) / sigma: an element-wise array expression
            return _classify(_ArrayTranslator(r).translate(node))
        return r.row_value(node, structured=True)


def _as_array(value: Any) -> Any:
    if isinstance(value, RowVal):
        return Arr("row", value.code)
    if isinstance(value, Vector):
        return Vector([_as_array(piece) for piece in value.pieces])
    return value


@dataclass
class _Appended:
    name: str


@dataclass
class _ReadBack:
    pass


@dataclass
class _ReadBackLine:
    pass


@dataclass
class _Enumerate:
    of: Rel


@dataclass
class _TupleValue:
    items: list[Any]


@dataclass
class _PreparedRow:
    pass


def _find_array_refs(node: ast.expr, r: _Rewriter) -> bool:
    for sub in ast.walk(node):
        if isinstance(sub, ast.Name) and isinstance(r.env.get(sub.id), Stat):
            return True
        if isinstance(sub, ast.Subscript) and isinstance(r.env.get(_dotted(sub.slice)), RowIndex):
            base = r.env.get(_dotted(sub.value))
            if isinstance(base, ArrOp) or (isinstance(base, Arr) and base.kind != "row"):
                return True
    return False


def _same(a: Any, b: Any) -> bool:
    return (
        isinstance(a, Arr)
        and isinstance(b, Arr)
        and a.kind == b.kind == "row"
        and ast.dump(a.code) == ast.dump(b.code)
    )


def _classify(value: Any) -> Any:
    """Recognise standardisation and min-max scaling in an element-wise array expression."""
    if not isinstance(value, ArrOp) or not isinstance(value.op, ast.Div):
        return value
    top, bottom = value.left, value.right
    if not (isinstance(top, ArrOp) and isinstance(top.op, ast.Sub) and isinstance(top.right, Stat)):
        return value
    base, centre = top.left, top.right
    scale_is_std = isinstance(bottom, Stat) and bottom.fn == "std"
    if centre.fn == "mean" and scale_is_std and _same(base, centre.of) and _same(base, bottom.of):
        return Arr("zscore", parts=[base], ddof=bottom.ddof)
    if (
        centre.fn == "min"
        and isinstance(bottom, ArrOp)
        and isinstance(bottom.op, ast.Sub)
        and isinstance(bottom.left, Stat)
        and bottom.left.fn == "max"
        and isinstance(bottom.right, Stat)
        and bottom.right.fn == "min"
        and _same(base, centre.of)
        and _same(base, bottom.left.of)
        and _same(base, bottom.right.of)
    ):
        return Arr("minmax", parts=[base])
    return value


def _one_hot_comparison(expression: ast.expr, variable: ast.expr) -> ast.expr | None:
    """The compared value of ``1.0 if x == c else 0.0`` / ``float(x == c)``."""
    name = _dotted(variable)
    test = None
    if (
        isinstance(expression, ast.IfExp)
        and _number(expression.body) == 1
        and _number(expression.orelse) == 0
    ):
        test = expression.test
    elif (
        isinstance(expression, ast.Call)
        and _dotted(expression.func) in ("float", "int")
        and expression.args
    ):
        test = expression.args[0]
    if isinstance(test, ast.Compare) and len(test.ops) == 1 and isinstance(test.ops[0], ast.Eq):
        left, right = test.left, test.comparators[0]
        if _dotted(right) == name:
            return left
        if _dotted(left) == name:
            return right
    return None


def _index_dict_order(code: ast.expr, constants: dict[str, object]) -> ast.expr | None:
    value = _literal(code, constants)
    if isinstance(value, dict) and sorted(value.values()) == list(range(len(value))):
        ordered = sorted(value, key=value.get)
        return ast.List([ast.Constant(k) for k in ordered], ast.Load())
    return None


# ---------------------------------------------------------------------------- small helpers
def _only_updates_element(node: ast.For) -> bool:
    """The loop body only assigns items of the loop element (optionally under one ``if``)."""
    name = _dotted(node.target)
    for statement in node.body:
        if isinstance(statement, ast.If) and not statement.orelse and len(statement.body) == 1:
            statement = statement.body[0]
        if not (
            isinstance(statement, ast.Assign)
            and len(statement.targets) == 1
            and isinstance(statement.targets[0], ast.Subscript)
            and _dotted(statement.targets[0].value) == name
        ):
            return False
    return bool(name)


def _listed_rows(node: ast.expr) -> ast.ListComp | None:
    """``list(csv.reader(f))``, ``list(reader)[1:]``: the comprehension ``[r for r in ...]``
    they stand for."""
    sliced = None
    if isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Slice):
        sliced, node = node, node.value
    if not (isinstance(node, ast.Call) and _dotted(node.func) == "list" and len(node.args) == 1):
        return None
    source: ast.expr = node.args[0]
    if sliced is not None:
        source = ast.Subscript(source, sliced.slice, ast.Load())
    element = ast.Name("__record__", ast.Store())
    comp = ast.ListComp(
        ast.Name("__record__", ast.Load()), [ast.comprehension(element, source, [], 0)]
    )
    return ast.copy_location(comp, node)


def _without_enumerate_header(node: ast.For) -> ast.For:
    """``for i, line in enumerate(f): if i == 0: continue`` -> a loop over ``f[1:]``."""
    if not (
        isinstance(node.iter, ast.Call)
        and _dotted(node.iter.func) == "enumerate"
        and len(node.iter.args) == 1
        and not node.iter.keywords
        and isinstance(node.target, ast.Tuple)
        and len(node.target.elts) == 2
        and isinstance(node.target.elts[0], ast.Name)
        and node.body
        and isinstance(node.body[0], ast.If)
        and node.body[0].body
        and isinstance(node.body[0].body[0], ast.Continue)
        and not node.body[0].orelse
    ):
        return node
    index = node.target.elts[0].id
    if ast.unparse(node.body[0].test) not in (f"{index} == 0", f"{index} < 1", f"not {index}"):
        return node
    rest = node.body[1:]
    if any(isinstance(n, ast.Name) and n.id == index for s in rest for n in ast.walk(s)):
        return node  # the row number is used: no rule
    sliced = ast.Subscript(node.iter.args[0], ast.Slice(ast.Constant(1), None, None), ast.Load())
    loop = ast.For(node.target.elts[1], sliced, rest, [])
    ast.copy_location(loop, node)
    for sub in ast.walk(loop):
        if isinstance(sub, ast.expr | ast.stmt) and not hasattr(sub, "lineno"):
            ast.copy_location(sub, node)
    return loop


def _node_hint(node: ast.expr) -> str | None:
    """A column name suggested by the code: ``x``, ``str(x)``, ``int(x)``."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Call) and len(node.args) == 1:
        return _node_hint(node.args[0])
    if isinstance(node, ast.Subscript) and _str(node.slice) is not None:
        return _str(node.slice)
    return None


def _marks_header(node: ast.AST, env: dict[str, Any]) -> Source | None:
    """``f.readline()`` / ``next(f)`` anywhere in an expression: the source whose header it
    consumes."""
    for sub in ast.walk(node):
        if not isinstance(sub, ast.Call):
            continue
        if isinstance(sub.func, ast.Attribute) and sub.func.attr in ("readline", "__next__"):
            target = env.get(_dotted(sub.func.value))
        elif _dotted(sub.func) == "next" and sub.args:
            target = env.get(_dotted(sub.args[0]))
        else:
            continue
        if isinstance(target, Handle | Reader) and target.source is not None:
            return target.source
    return None


def _number(node: ast.expr) -> float | None:
    return (
        node.value
        if isinstance(node, ast.Constant) and isinstance(node.value, int | float)
        else None
    )


def _is_main_guard(node: ast.If) -> bool:
    return "__name__" in ast.unparse(node.test) and "__main__" in ast.unparse(node.test)


def _mentions(node: ast.AST, name: str) -> bool:
    return any(isinstance(n, ast.Name) and n.id == name for n in ast.walk(node))


def _first_line(node: ast.AST) -> str:
    return ast.unparse(node).splitlines()[0]


def _dotted(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        inner = _dotted(node.value)
        return f"{inner}.{node.attr}" if inner else ""
    return ""


def _names(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}


def _int(node: ast.AST | None) -> int | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, int):
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        inner = _int(node.operand)
        return -inner if inner is not None else None
    return None


def _str(node: ast.AST | None) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def _is_none(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant) and node.value is None


def _is_literal(node: ast.expr) -> bool:
    try:
        ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError):
        return False
    return True


def _literal(node: ast.expr | None, constants: dict[str, object]) -> Any:
    if node is None:
        return None
    if isinstance(node, ast.Name):
        return constants.get(node.id)
    try:
        return ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError):
        return None


def _is_column_slice(node: ast.expr) -> bool:
    return (
        isinstance(node, ast.Tuple) and len(node.elts) == 2 and isinstance(node.elts[0], ast.Slice)
    )


def _is_print(node: ast.stmt) -> bool:
    """A print to the console (not to a file)."""
    return (
        isinstance(node, ast.Expr)
        and isinstance(node.value, ast.Call)
        and _dotted(node.value.func) == "print"
        and not any(k.arg == "file" for k in node.value.keywords)
    )


def _is_cheap(node: ast.expr) -> bool:
    """Conditional expressions and literals are inlined where used; the rest is projected."""
    return isinstance(node, ast.Constant)


def _ends_with_continue(body: list[ast.stmt]) -> bool:
    return bool(body) and isinstance(body[-1], ast.Continue)


def _assigned_empty_set(tree: ast.Module, name: str) -> bool:
    return any(
        isinstance(node, ast.Assign)
        and any(_dotted(t) == name for t in node.targets)
        and isinstance(node.value, ast.Call)
        and _dotted(node.value.func) == "set"
        and not node.value.args
        for node in ast.walk(tree)
    )


def _assigned_counter(tree: ast.Module, name: str) -> bool:
    """``d = defaultdict(int)`` or ``d = Counter()``."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and any(_dotted(t) == name for t in node.targets):
            value = node.value
            if isinstance(value, ast.Call):
                func = _dotted(value.func).rsplit(".", 1)[-1]
                if func == "Counter" and not value.args:
                    return True
                if func == "defaultdict" and value.args and _dotted(value.args[0]) == "int":
                    return True
    return False


def _counting_get(target: ast.Subscript, value: ast.expr) -> bool:
    """``d[k] = d.get(k, 0) + 1``."""
    return (
        isinstance(target.value, ast.Name)
        and isinstance(value, ast.BinOp)
        and isinstance(value.op, ast.Add)
        and _number(value.right) == 1
        and isinstance(value.left, ast.Call)
        and isinstance(value.left.func, ast.Attribute)
        and value.left.func.attr == "get"
        and _dotted(value.left.func.value) == target.value.id
        and len(value.left.args) == 2
        and _number(value.left.args[1]) == 0
        and ast.dump(value.left.args[0]) == ast.dump(target.slice)
    )


def _line_separator(body: list[ast.stmt], name: str) -> str | None:
    """The separator a loop splits its line variable with: ``line.strip().split(';')``."""
    for node in body:
        for sub in ast.walk(node):
            if (
                isinstance(sub, ast.Call)
                and isinstance(sub.func, ast.Attribute)
                and sub.func.attr == "split"
                and sub.args
                and _str(sub.args[0]) is not None
            ):
                base = sub.func.value
                while isinstance(base, ast.Call) and isinstance(base.func, ast.Attribute):
                    base = base.func.value
                if _dotted(base) == name:
                    return _str(sub.args[0])
    return None


def _assigned_empty_dict(tree: ast.Module, name: str) -> bool:
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and any(_dotted(t) == name for t in node.targets):
            if isinstance(node.value, ast.Dict) and not node.value.keys:
                return True
            if (
                isinstance(node.value, ast.Call)
                and _dotted(node.value.func) == "dict"
                and not node.value.args
            ):
                return True
    return False


def _single_effect(branch: list[ast.stmt]) -> tuple[tuple[str, str], ast.expr] | None:
    if len(branch) != 1:
        return None
    statement = branch[0]
    if (
        isinstance(statement, ast.Assign)
        and len(statement.targets) == 1
        and isinstance(statement.targets[0], ast.Name)
    ):
        return ("assign", statement.targets[0].id), statement.value
    if (
        isinstance(statement, ast.Expr)
        and isinstance(statement.value, ast.Call)
        and isinstance(statement.value.func, ast.Attribute)
        and statement.value.func.attr == "append"
        and len(statement.value.args) == 1
    ):
        return ("append", _dotted(statement.value.func.value)), statement.value.args[0]
    return None


def _unpack(value: Any, n: int) -> list[Any]:
    if isinstance(value, RowList) and len(value.items) == n:
        return value.items
    if isinstance(value, tuple) and len(value) == n:
        return list(value)
    if isinstance(value, _TupleValue) and len(value.items) == n:
        return value.items
    if isinstance(value, Const) and isinstance(value.code, ast.Tuple | ast.List):
        return [Const(e) for e in value.code.elts]
    raise Unsupported(f"cannot unpack {type(value).__name__} into {n} names")


def _shape_columns(shape: Any) -> set[str]:
    return set(_ordered_columns(shape))


def _ordered_columns(shape: Any) -> list[str]:
    if isinstance(shape, RowVal):
        return [shape.plain_column] if shape.plain_column else []
    items = shape.items.values() if isinstance(shape, RowDict) else shape.items
    out: list[str] = []
    for item in items:
        for column in _ordered_columns(item):
            if column not in out:
                out.append(column)
    return out


def _pretty_names(shape: Any) -> list[str]:
    if isinstance(shape, RowDict):
        return list(shape.items)
    if isinstance(shape, RowVal):
        return [shape.hint or shape.plain_column]
    names: list[str] = []
    for item in shape.items:
        name = _identifier(item.hint or item.plain_column or f"c{len(names)}", len(names))
        base, i = name, 2
        while name in names:
            name, i = f"{base}_{i}", i + 1
        names.append(name)
    return names


def _rename_shape(shape: Any, renames: dict[str, str]) -> Any:
    if isinstance(shape, RowDict):
        return RowDict({k: RowVal.column(k) for k in shape.items})
    if isinstance(shape, RowVal):
        return RowVal.column(renames.get(shape.plain_column, shape.plain_column))
    names = _pretty_names(shape)
    return RowList([RowVal.column(n) for n in names])


def _map_shape(shape: Any, mapping: dict[str, str]) -> Any:
    if isinstance(shape, RowVal):
        return RowVal.column(mapping.get(shape.plain_column, shape.plain_column))
    if isinstance(shape, RowDict):
        return RowDict({k: _map_shape(v, mapping) for k, v in shape.items.items()})
    return RowList([_map_shape(item, mapping) for item in shape.items])


def _hint(item: Any, default: str) -> str:
    return getattr(item, "hint", None) or default


def _identifier(text: str, i: int) -> str:
    cleaned = "".join(c if c.isalnum() or c == "_" else "_" for c in text).strip("_")
    if not cleaned:
        return f"c{i}"
    return cleaned if not cleaned[0].isdigit() else f"c_{cleaned}"


def _split_written_line(node: ast.expr, r: _Rewriter, value: Any) -> RowList:
    """The fields of a written line: ``a + '\\t' + b + '\\n'`` or ``'\\t'.join([...]) + '\\n'``."""
    parts: list[ast.expr] = []

    def flatten(n: ast.expr) -> None:
        if isinstance(n, ast.BinOp) and isinstance(n.op, ast.Add):
            flatten(n.left)
            flatten(n.right)
        else:
            parts.append(n)

    flatten(node)
    if parts and _str(parts[-1]) == "\n":
        parts = parts[:-1]
    if (
        len(parts) == 1
        and isinstance(parts[0], ast.Call)
        and isinstance(parts[0].func, ast.Attribute)
        and parts[0].func.attr == "join"
    ):
        separator = _str(parts[0].func.value)
        inner = r.row_value(parts[0].args[0], structured=True)
        if separator is None or not isinstance(inner, RowList):
            raise Unsupported("a written line that is not a join of fields")
        r.prepared_separator = separator
        return RowList([_unwrap_str(item) for item in inner.items])
    pieces = [piece for part in parts for piece in _pieces(part)]
    fields: list[list[ast.expr]] = [[]]
    separator = None
    for i, piece in enumerate(pieces):
        literal = _str(piece)
        if literal is None:
            fields[-1].append(piece)
            continue
        if i == len(pieces) - 1:
            literal = literal.removesuffix("\n")
        if separator is None:
            separator = next((c for c in ("\t", ",", ";", "|") if c in literal), None)
        chunks = literal.split(separator) if separator else [literal]
        for j, chunk in enumerate(chunks):
            if j:
                fields.append([])
            if chunk:
                fields[-1].append(ast.Constant(chunk))
    items = []
    for field_parts in fields:
        if len(field_parts) != 1:
            raise Unsupported("a written field built from several pieces")
        item = r.row_value(field_parts[0])
        hint = _node_hint(field_parts[0])
        items.append(_unwrap_str(RowVal(item.code, hint=hint)))
    return RowList(items)


def _pieces(node: ast.expr) -> list[ast.expr]:
    """A written string as literal pieces and expressions: f-strings, ``%`` formatting."""
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return _pieces(node.left) + _pieces(node.right)
    if isinstance(node, ast.JoinedStr):
        out: list[ast.expr] = []
        for value in node.values:
            if isinstance(value, ast.Constant):
                out.append(value)
                continue
            inner = value.value
            if value.conversion == ord("r"):
                inner = ast.Call(ast.Name("repr", ast.Load()), [inner], [])
            if value.format_spec is not None:
                out.append(ast.Call(ast.Name("format", ast.Load()), [inner, value.format_spec], []))
            else:
                out.append(ast.Call(ast.Name("str", ast.Load()), [inner], []))
        return out
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod) and _str(node.left):
        values = node.right.elts if isinstance(node.right, ast.Tuple) else [node.right]
        specs = re.split(r"(%[-+ #0]*\d*(?:\.\d+)?[sdifgeEr])", _str(node.left))
        out, k = [], 0
        for chunk in specs:
            if not chunk:
                continue
            if re.fullmatch(r"%[-+ #0]*\d*(?:\.\d+)?[sdifgeEr]", chunk):
                if k >= len(values):
                    raise Unsupported("a % format with fewer values than fields")
                value = values[k]
                k += 1
                if chunk == "%s":
                    out.append(ast.Call(ast.Name("str", ast.Load()), [value], []))
                else:
                    out.append(ast.BinOp(ast.Constant(chunk), ast.Mod(), value))
            else:
                out.append(ast.Constant(chunk.replace("%%", "%")))
        return out
    return [node]


_INVERSE = {ast.In: ast.NotIn, ast.NotIn: ast.In, ast.Is: ast.IsNot, ast.IsNot: ast.Is,
            ast.Eq: ast.NotEq, ast.NotEq: ast.Eq}  # fmt: skip


def _negate(code: ast.expr) -> ast.expr:
    """``not code``, simplified where that is exact (not for ``<``: NaN compares false)."""
    if isinstance(code, ast.UnaryOp) and isinstance(code.op, ast.Not):
        return code.operand
    if isinstance(code, ast.Compare) and len(code.ops) == 1 and type(code.ops[0]) in _INVERSE:
        return ast.Compare(code.left, [_INVERSE[type(code.ops[0])]()], code.comparators)
    return ast.UnaryOp(ast.Not(), code)


def _select(state: LoopState, columns: list[str]) -> str:
    """``frame[[...]]``, or just the frame when that keeps every column in order."""
    if columns == state.columns:
        return state.var
    return f"{state.var}[{columns!r}]"


def _unformat(item: RowVal) -> RowVal:
    """``format(x, spec)`` / ``'%d' % x`` of a column: the column itself."""
    code = item.code
    inner = None
    if isinstance(code, ast.Call) and _dotted(code.func) in ("format", "str", "repr") and code.args:
        inner = code.args[0]
    elif isinstance(code, ast.BinOp) and isinstance(code.op, ast.Mod) and _str(code.left):
        inner = code.right
    if inner is not None and RowVal(inner).plain_column is not None:
        return RowVal(inner, hint=item.hint)
    return item


def _unwrap_str(item: RowVal) -> RowVal:
    """``str(x)`` written to a text file: the column keeps ``x`` (the file has its str())."""
    code = item.code
    if isinstance(code, ast.Call) and _dotted(code.func) == "str" and len(code.args) == 1:
        return RowVal(code.args[0], hint=item.hint)
    return item


def rewrite_offline(
    code: str,
    *,
    base_dir: str | Path = ".",
    source_names: dict[str, str] | None = None,
    filename: str = "<script>",
) -> OfflineResult:
    """Rewrite a messy script's data preparation and featurisation with the offline rules.

    ``base_dir`` is the folder the script runs from (its relative paths resolve there; the
    inputs' header lines are read from there); ``source_names`` maps an input path, as the
    script writes it, to the source name to use instead of the file's stem.
    """
    tree = parse_script(code, filename)
    rewriter = _Rewriter(tree, Path(base_dir), dict(source_names or {}))
    rewriter.run()
    if not rewriter.sources:
        raise ScriptError(
            f"{filename} reads no input files (no open() or csv reader of a literal path)"
        )
    return _result(rewriter, tree)


def _result(r: _Rewriter, tree: ast.Module) -> OfflineResult:
    blocks: list[FeatureBlock] = []
    label = None
    for path, value in r.saved.items():
        stem = Path(path).stem.lower()
        if stem in ("y", "label", "labels", "target", "targets"):
            if isinstance(value, Arr) and value.kind == "row":
                label = value.code
                r.steps.append(Step("extract_label", 0, f"y of {path} <- {ast.unparse(label)}"))
            else:
                r.gaps.append(Step("not rewritten", 0, f"label {path} is not a per-row expression"))
        else:
            parts = value.parts if isinstance(value, Arr) and value.kind == "blocks" else [value]
            for i, part in enumerate(_flatten_blocks(parts)):
                if not isinstance(part, Arr) or part.kind not in _ENCODERS:
                    r.gaps.append(Step("not rewritten", 0, f"X block {i} of {path}: no rule"))
                    continue
                blocks.append(FeatureBlock(f"block{i}", part))
                r.steps.append(Step(_ENCODERS[part.kind], 0, _describe_block(i, part)))
    helpers = [
        node
        for node in tree.body
        if isinstance(node, ast.FunctionDef) and node.name in _helper_closure(r, tree)
    ]
    constants = [
        node
        for node in tree.body
        if isinstance(node, ast.Assign)
        and len(node.targets) == 1
        and isinstance(node.targets[0], ast.Name)
        and node.targets[0].id in r.constants
    ]
    imports = [node for node in tree.body if isinstance(node, ast.Import | ast.ImportFrom)]
    prepared = r.prepared
    return OfflineResult(
        sources=r.sources,
        dataprep=r.lines,
        prepared_var=prepared.var if prepared else None,
        prepared_columns=list(prepared.columns) if prepared else [],
        prepared_header=r.prepared_header,
        blocks=blocks,
        label=label,
        helpers=helpers,
        constants=constants,
        imports=imports,
        steps=r.steps,
        gaps=r.gaps,
        trains_model=r.trains_model,
    )


_ENCODERS = {
    "row": "FunctionTransformer",
    "zscore": "StandardScaler",
    "minmax": "MinMaxScaler",
    "onehot": "OneHotEncoder",
}


def _describe_block(i: int, arr: Arr) -> str:
    value = arr.parts[0] if arr.parts else arr
    code = ast.unparse(value.code) if getattr(value, "code", None) is not None else "?"
    if arr.kind == "zscore":
        return f"X block {i}: z-score (ddof={arr.ddof}) of {code}"
    if arr.kind == "minmax":
        return f"X block {i}: min-max scaling of {code}"
    if arr.kind == "onehot":
        order = "sorted values" if arr.categories is None else ast.unparse(arr.categories)
        return f"X block {i}: one-hot of {code}, categories {order}"
    return f"X block {i}: {code} per row"


def _flatten_blocks(parts: list[Any]) -> list[Any]:
    out = []
    for part in parts:
        if isinstance(part, Arr) and part.kind == "blocks":
            out.extend(_flatten_blocks(part.parts))
        elif isinstance(part, _RowsOfVectors):
            out.extend(_flatten_blocks(part.arr.parts))
        elif isinstance(part, Vector):
            out.extend(_flatten_blocks(part.pieces))
        else:
            out.append(part)
    return out


def _helper_closure(r: _Rewriter, tree: ast.Module) -> set[str]:
    """Functions the generated code calls, and the functions those call."""
    wanted = set()
    text = "\n".join(r.lines)
    for name in r.functions:
        if name in text or name in r.used_helpers:
            wanted.add(name)
    changed = True
    while changed:
        changed = False
        for name in list(wanted):
            for sub in ast.walk(r.functions[name]):
                if isinstance(sub, ast.Name) and sub.id in r.functions and sub.id not in wanted:
                    wanted.add(sub.id)
                    changed = True
    return wanted
