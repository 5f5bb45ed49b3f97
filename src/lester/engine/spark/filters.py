"""Compile filter strings (the pandas query subset Lester supports) to Spark column expressions.

Supported: comparisons (``== != < <= > >=``, chained), ``in`` / ``not in`` a list or an
``@`` list, ``and`` / ``or`` / ``not`` (and ``& | ~``), arithmetic, the ``.str`` methods
``contains startswith endswith match fullmatch lower upper strip lstrip rstrip len``, the
``.dt`` fields ``year month day hour minute second dayofweek weekday dayofyear quarter``,
``isna isnull notna notnull`` and ``.apply(@func)`` (an Arrow-batched pandas UDF). ``@``
values become literals. Missing values follow pandas: a comparison with a missing value is
false, except ``!=``, which is true.

Anything else raises :class:`UnsupportedFilterError` naming the construct, before Spark runs
anything: :func:`check_filter` needs no Spark at all.

Examples
--------
>>> check_filter("country in @targets and mail_text.str.contains('bank', regex=False)")
>>> check_filter("mail_text.str.zfill(3) == '007'")
Traceback (most recent call last):
...
lester.engine.spark.filters.UnsupportedFilterError: filter "mail_text.str.zfill(3) == '007'" ...
"""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable, Mapping
from typing import Any

from lester.errors import LesterError
from lester.frame.expressions import parse_filter, variable_of

STR_PREDICATES = ("contains", "startswith", "endswith", "match", "fullmatch")
STR_VALUES = ("lower", "upper", "strip", "lstrip", "rstrip", "len")
DT_FIELDS = (
    "year", "month", "day", "hour", "minute", "second", "dayofweek", "weekday", "dayofyear",
    "quarter",
)  # fmt: skip
NULL_TESTS = ("isna", "isnull", "notna", "notnull")
HINT = (
    "use a callable, filter(func, source_columns=[...]), or compute the value with project(...) "
    "and filter on that column"
)
_ARITHMETIC: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_COMPARISONS: dict[type, Callable[[Any, Any], Any]] = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
}


class UnsupportedFilterError(LesterError, ValueError):
    """A filter string uses a construct the Spark engine cannot compile."""


class _Absorb:
    """A stand-in for Spark columns and functions when only checking: absorbs every use."""

    def __getattr__(self, name: str) -> Any:
        return self

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self

    def _op(self, *args: Any) -> Any:
        return self

    __eq__ = __ne__ = __lt__ = __le__ = __gt__ = __ge__ = _op  # type: ignore[assignment]
    __and__ = __or__ = __invert__ = __neg__ = _op
    __add__ = __sub__ = __mul__ = __truediv__ = __mod__ = __pow__ = _op
    __radd__ = __rsub__ = __rmul__ = __rtruediv__ = __rmod__ = __rpow__ = _op
    __hash__ = object.__hash__


class _Literal:
    """A Python value from the expression (a constant, an ``@`` value or a list of them)."""

    def __init__(self, value: Any) -> None:
        self.value = value


def check_filter(expression: str) -> None:
    """Raise :class:`UnsupportedFilterError` if the Spark engine cannot compile ``expression``.

    Examples
    --------
    >>> check_filter("a > 1 and not b.isna()")
    """
    compiler = FilterCompiler(expression, {}, lambda name: name, None, None)
    compiler.compile()


def compile_filter(
    expression: str,
    bindings: Mapping[str, Any],
    column: Callable[[str], str],
    apply_udf: Callable[[Any, Any], Any],
) -> Any:
    """The Spark boolean column (never null) of ``expression``.

    ``column`` maps a user column to its internal Spark column name; ``apply_udf(func,
    value)`` builds the pandas UDF of ``value.apply(func)``.
    """
    from pyspark.sql import functions

    return FilterCompiler(expression, bindings, column, functions, apply_udf).compile()


class FilterCompiler:
    """Walks the AST of a filter; with ``functions=None`` it only checks what it could build."""

    def __init__(
        self,
        expression: str,
        bindings: Mapping[str, Any],
        column: Callable[[str], str],
        functions: Any,
        apply_udf: Callable[[Any, Any], Any] | None,
    ) -> None:
        self.expression = expression
        self.bindings = bindings
        self.column = column
        self.F = functions if functions is not None else _Absorb()
        self.checking = functions is None
        self.apply_udf = apply_udf
        self.tree, self.quoted = parse_filter(expression)

    def unsupported(self, construct: str) -> UnsupportedFilterError:
        return UnsupportedFilterError(
            f"filter {self.expression!r} uses {construct}, which the Spark engine cannot "
            f"compile (it supports comparisons, in @list, and/or/not, arithmetic, the .str "
            f"methods {', '.join(STR_PREDICATES + STR_VALUES)}, .dt fields, isna/notna and "
            f".apply(@func)); {HINT}"
        )

    def compile(self) -> Any:
        return self.predicate(self.tree.body)

    # ------------------------------------------------------------------ booleans
    def predicate(self, node: ast.AST) -> Any:
        """A boolean column that is never null (missing counts as false)."""
        value = self.value(node)
        if isinstance(value, _Literal):
            return self.F.lit(bool(value.value))
        return self.F.coalesce(value, self.F.lit(False))

    def boolean(self, node: ast.AST) -> Any:
        if isinstance(node, ast.BoolOp):
            parts = [self.predicate(value) for value in node.values]
            combine = operator.and_ if isinstance(node.op, ast.And) else operator.or_
            result = parts[0]
            for part in parts[1:]:
                result = combine(result, part)
            return result
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not | ast.Invert):
            return ~self.predicate(node.operand)
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitAnd | ast.BitOr):
            combine = operator.and_ if isinstance(node.op, ast.BitAnd) else operator.or_
            return combine(self.predicate(node.left), self.predicate(node.right))
        raise self.unsupported(_describe(node))

    def compare(self, node: ast.Compare) -> Any:
        result = None
        left = node.left
        for op, right in zip(node.ops, node.comparators, strict=True):
            part = self.comparison(op, left, right)
            result = part if result is None else result & part
            left = right
        return result

    def comparison(self, op: ast.cmpop, left: ast.AST, right: ast.AST) -> Any:
        if isinstance(op, ast.In | ast.NotIn):
            members = self.value(right)
            if not isinstance(members, _Literal):
                raise self.unsupported("'in' with a column on the right")
            found = self.membership(self.as_column(self.value(left)), members.value)
            return ~found if isinstance(op, ast.NotIn) else found
        compare = _COMPARISONS.get(type(op))
        if compare is None:
            raise self.unsupported(f"the comparison {type(op).__name__}")
        a, b = self.as_column(self.value(left)), self.as_column(self.value(right))
        missing_is = isinstance(op, ast.NotEq)  # pandas: NaN != x is true, NaN == x false
        return self.F.coalesce(compare(a, b), self.F.lit(missing_is))

    def membership(self, column: Any, values: Any) -> Any:
        if self.checking:
            return self.F
        if isinstance(values, str) or not hasattr(values, "__iter__"):
            raise self.unsupported(f"'in' with {type(values).__name__} (expected a list)")
        values = list(values)
        present = [v for v in values if not _is_missing(v)]
        found = column.isin(present) if present else self.F.lit(False)
        if len(present) < len(values):  # pandas isin matches a missing value to NaN/None
            found = found | column.isNull()
        return self.F.coalesce(found, self.F.lit(False))

    # ------------------------------------------------------------------ values
    def value(self, node: ast.AST) -> Any:
        if isinstance(node, ast.BoolOp | ast.UnaryOp) and not (
            isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd)
        ):
            return self.boolean(node)
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitAnd | ast.BitOr):
            return self.boolean(node)
        if isinstance(node, ast.Compare):
            return self.compare(node)
        if isinstance(node, ast.Constant):
            return _Literal(node.value)
        if isinstance(node, ast.List | ast.Tuple | ast.Set):
            items = [self.value(item) for item in node.elts]
            if not all(isinstance(item, _Literal) for item in items):
                raise self.unsupported("a list that holds columns")
            return _Literal([item.value for item in items])
        if isinstance(node, ast.Name):
            return self.name(node.id)
        if isinstance(node, ast.UnaryOp):  # + or -
            operand = self.value(node.operand)
            if isinstance(operand, _Literal):
                return _Literal(-operand.value if isinstance(node.op, ast.USub) else operand.value)
            return -operand if isinstance(node.op, ast.USub) else operand
        if isinstance(node, ast.BinOp):
            return self.arithmetic(node)
        if isinstance(node, ast.Attribute):
            return self.attribute(node)
        if isinstance(node, ast.Call):
            return self.call(node)
        raise self.unsupported(_describe(node))

    def name(self, identifier: str) -> Any:
        variable = variable_of(identifier)
        if variable is not None:
            if self.checking:  # values are bound later; any value will do
                return _Literal(self.F)
            if variable not in self.bindings:
                raise self.unsupported(f"@{variable}, which has no bound value")
            return _Literal(self.bindings[variable])
        if identifier in ("inf", "nan", "NaN"):
            return _Literal(math.inf if identifier == "inf" else math.nan)
        return self.F.col(self.column(self.quoted.get(identifier, identifier)))

    def as_column(self, value: Any) -> Any:
        if isinstance(value, _Literal):
            if isinstance(value.value, list | tuple | set | dict):
                raise self.unsupported("a list outside 'in'")
            return self.F.lit(None if _is_missing(value.value) else value.value)
        return value

    def arithmetic(self, node: ast.BinOp) -> Any:
        combine = _ARITHMETIC.get(type(node.op))
        if combine is None:
            raise self.unsupported(f"the operator {type(node.op).__name__}")
        left, right = self.value(node.left), self.value(node.right)
        if isinstance(left, _Literal) and isinstance(right, _Literal):
            return _Literal(combine(left.value, right.value))
        return combine(self.as_column(left), self.as_column(right))

    def attribute(self, node: ast.Attribute) -> Any:
        owner = node.value
        if isinstance(owner, ast.Attribute) and owner.attr == "dt":
            if node.attr not in DT_FIELDS:
                raise self.unsupported(f".dt.{node.attr}")
            return self.datetime_field(self.as_column(self.value(owner.value)), node.attr)
        raise self.unsupported(f"the attribute .{node.attr}")

    def datetime_field(self, column: Any, field: str) -> Any:
        F = self.F
        if field in ("dayofweek", "weekday"):  # pandas: Monday=0; Spark: Sunday=1
            return (F.dayofweek(column) + 5) % 7
        simple = {"day": F.dayofmonth, "dayofyear": F.dayofyear}
        return simple.get(field, getattr(F, field))(column)

    def call(self, node: ast.Call) -> Any:
        function = node.func
        if not isinstance(function, ast.Attribute):
            raise self.unsupported(f"a call of {_describe(function)}")
        method, owner = function.attr, function.value
        if isinstance(owner, ast.Attribute) and owner.attr == "str":
            target = self.as_column(self.value(owner.value))
            return self.string_method(target, method, node)
        if method in NULL_TESTS and not node.args and not node.keywords:
            target = self.as_column(self.value(owner))
            return target.isNull() if method in ("isna", "isnull") else target.isNotNull()
        if method == "apply":
            return self.apply(owner, node)
        raise self.unsupported(f".{method}(...)")

    def literal_arguments(self, node: ast.Call, names: tuple[str, ...]) -> dict[str, Any]:
        """Positional and keyword arguments of a call, all literals, by parameter name."""
        if len(node.args) > len(names):
            raise self.unsupported(f"{len(node.args)} positional arguments")
        found: dict[str, Any] = {}
        for name, argument in zip(names, node.args, strict=False):
            found[name] = argument
        for keyword in node.keywords:
            if keyword.arg not in names:
                raise self.unsupported(f"the argument {keyword.arg}=")
            found[keyword.arg] = keyword.value
        values = {}
        for name, argument in found.items():
            value = self.value(argument)
            if not isinstance(value, _Literal):
                raise self.unsupported(f"a column as the argument {name}=")
            values[name] = value.value
        return values

    def string_method(self, column: Any, method: str, node: ast.Call) -> Any:
        F = self.F
        if method in STR_VALUES:
            self.literal_arguments(node, ())
            function = {"len": F.length, "strip": F.trim, "lstrip": F.ltrim, "rstrip": F.rtrim}
            return function.get(method, getattr(F, method, None))(column)
        if method not in STR_PREDICATES:
            raise self.unsupported(f".str.{method}")
        parameters = ("pat", "case", "flags", "na", "regex")
        if method in ("startswith", "endswith"):
            parameters = ("pat", "na")
        arguments = self.literal_arguments(node, parameters)
        if "pat" not in arguments or arguments.get("flags", 0):
            raise self.unsupported(f".str.{method} without a pattern or with flags")
        pattern, case = arguments["pat"], arguments.get("case", True)
        regex = arguments.get("regex", True) and method != "startswith" and method != "endswith"
        if method in ("startswith", "endswith"):
            patterns = list(pattern) if isinstance(pattern, tuple | list) else [pattern]
            result = None
            for item in patterns:
                part = getattr(column, method)(F.lit(item))
                result = part if result is None else result | part
        elif method in ("match", "fullmatch") or regex:
            anchored = {"match": f"^(?:{pattern})", "fullmatch": f"^(?:{pattern})$"}
            expression = anchored.get(method, pattern)
            result = column.rlike(("" if case else "(?i)") + expression)
        else:
            text = column if case else F.lower(column)
            result = text.contains(F.lit(pattern if case else str(pattern).lower()))
        missing = arguments.get("na", False)
        return F.coalesce(result, F.lit(bool(missing) if not _is_missing(missing) else False))

    def apply(self, owner: ast.AST, node: ast.Call) -> Any:
        if len(node.args) != 1 or node.keywords or not isinstance(node.args[0], ast.Name):
            raise self.unsupported(".apply with anything but one @function")
        function = self.value(node.args[0])
        if not isinstance(function, _Literal) or (
            not self.checking and not callable(function.value)
        ):
            raise self.unsupported(".apply of something that is not an @function")
        target = self.as_column(self.value(owner))
        if self.checking:
            return target
        return self.apply_udf(function.value, target)


def _is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _describe(node: ast.AST) -> str:
    try:
        return f"{type(node).__name__} '{ast.unparse(node)}'"
    except Exception:  # unparse fails on some placeholder trees
        return type(node).__name__
