"""Matrix column provenance: which input columns feed which columns of a feature matrix.

For a fitted scikit-learn ``ColumnTransformer`` we derive, per input column, the half-open
ranges of output columns of ``X`` that can change when that input column changes. Each
transformer's structure is modelled as a boolean dependency matrix ``(n_inputs, n_outputs)``;
pipelines compose the matrices of their steps. Transformers of unknown structure map all of
their inputs to all of their outputs, so the mapping errs on the side of too many columns,
never too few.

Examples
--------
>>> import pandas as pd
>>> from sklearn.compose import ColumnTransformer
>>> from sklearn.preprocessing import OneHotEncoder, StandardScaler
>>> frame = pd.DataFrame({"a": ["x", "y", "x"], "b": ["u", "u", "v"], "n": [1.0, 2.0, 4.0]})
>>> ct = ColumnTransformer(
...     [("cat", OneHotEncoder(), ["a", "b"]), ("num", StandardScaler(), ["n"])]
... ).fit(frame)
>>> provenance = matrix_column_provenance(ct)
>>> provenance.ranges("b"), provenance.ranges("n")
([(2, 4)], [(4, 5)])
>>> provenance.feature_names("a")
['cat__a_x', 'cat__a_y']
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import numpy as np
import pandas as pd

from lester.errors import UnknownColumnError, describe_names

Rule = Callable[[Any, int, int], "_Dependency | None"]


@dataclass(frozen=True)
class FeatureBlock:
    """A run of consecutive columns of ``X`` fed by the same input columns of one transformer.

    Parameters
    ----------
    transformer:
        The ColumnTransformer's name of the transformer (``"remainder"`` for the remainder).
    input_columns:
        The input columns that feed every column of the run.
    start, stop:
        Half-open range of the run in ``X``.
    feature_names:
        The names of the ``stop - start`` columns of the run.

    Examples
    --------
    >>> block = FeatureBlock("cat", ("a",), 0, 2, ("cat__a_x", "cat__a_y"))
    >>> block.stop - block.start
    2
    """

    transformer: str
    input_columns: tuple[str, ...]
    start: int
    stop: int
    feature_names: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        """Return the block as a JSON-serialisable dict.

        Examples
        --------
        >>> FeatureBlock("num", ("n",), 4, 5, ("num__n",)).to_dict()["input_columns"]
        ['n']
        """
        return {
            "transformer": self.transformer,
            "input_columns": list(self.input_columns),
            "start": self.start,
            "stop": self.stop,
            "feature_names": list(self.feature_names),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FeatureBlock:
        """Rebuild a block from :meth:`to_dict` output.

        Examples
        --------
        >>> block = FeatureBlock("num", ("n",), 4, 5, ("num__n",))
        >>> FeatureBlock.from_dict(block.to_dict()) == block
        True
        """
        return cls(
            transformer=str(data["transformer"]),
            input_columns=tuple(str(c) for c in data["input_columns"]),
            start=int(data["start"]),
            stop=int(data["stop"]),
            feature_names=tuple(str(n) for n in data["feature_names"]),
        )


@dataclass(frozen=True)
class MatrixColumnProvenance:
    """For each input column, the columns of the feature matrix ``X`` that it feeds.

    Parameters
    ----------
    blocks:
        Runs of ``X`` columns in order; together they cover ``range(n_features)`` exactly once.
    n_features:
        Number of columns of ``X``.
    input_columns:
        All input columns of the ColumnTransformer, including those that feed no column of
        ``X`` (dropped ones). Defaults to the columns that occur in ``blocks``.

    Examples
    --------
    >>> provenance = MatrixColumnProvenance(
    ...     (FeatureBlock("cat", ("a",), 0, 2, ("a_x", "a_y")),
    ...      FeatureBlock("num", ("n",), 2, 3, ("n",))),
    ...     n_features=3,
    ... )
    >>> provenance.ranges("a"), provenance.columns_of_feature(2)
    ([(0, 2)], ['n'])
    """

    blocks: tuple[FeatureBlock, ...]
    n_features: int
    input_columns: tuple[str, ...] = ()
    _ranges: dict[str, tuple[tuple[int, int], ...]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "blocks", tuple(self.blocks))
        _check_partition(self.blocks, self.n_features)
        fed = list(dict.fromkeys(c for block in self.blocks for c in block.input_columns))
        if not self.input_columns:
            object.__setattr__(self, "input_columns", tuple(fed))
        object.__setattr__(self, "input_columns", tuple(self.input_columns))
        missing = set(fed) - set(self.input_columns)
        if missing:
            raise ValueError(f"blocks use columns missing from input_columns: {sorted(missing)}")
        object.__setattr__(self, "_ranges", _ranges_by_column(self.blocks))

    def ranges(self, column: str) -> list[tuple[int, int]]:
        """Merged, sorted half-open ranges of ``X`` columns fed by ``column``.

        A known input column that feeds nothing (it was dropped) has no ranges.

        Raises
        ------
        UnknownColumnError
            If ``column`` is not an input column of the ColumnTransformer.

        Examples
        --------
        >>> provenance = MatrixColumnProvenance((FeatureBlock("t", ("a",), 0, 2, ("p", "q")),), 2)
        >>> provenance.ranges("a")
        [(0, 2)]
        """
        self._check_known(column)
        return list(self._ranges.get(column, ()))

    def columns(self) -> list[str]:
        """Input columns that feed ``X``, in the order of their first ``X`` column.

        Examples
        --------
        >>> blocks = (FeatureBlock("t", ("b",), 0, 1, ("p",)),
        ...           FeatureBlock("t", ("a",), 1, 2, ("q",)))
        >>> MatrixColumnProvenance(blocks, 2).columns()
        ['b', 'a']
        """
        return list(self._ranges)

    def feature_names(self, column: str) -> list[str]:
        """Names of the ``X`` columns fed by ``column``, in ``X`` order.

        Examples
        --------
        >>> provenance = MatrixColumnProvenance((FeatureBlock("t", ("a",), 0, 2, ("p", "q")),), 2)
        >>> provenance.feature_names("a")
        ['p', 'q']
        """
        self._check_known(column)
        return [
            name
            for block in self.blocks
            if column in block.input_columns
            for name in block.feature_names
        ]

    def columns_of_feature(self, j: int) -> list[str]:
        """Input columns that feed column ``j`` of ``X``.

        Examples
        --------
        >>> provenance = MatrixColumnProvenance((FeatureBlock("t", ("a", "b"), 0, 1, ("p",)),), 1)
        >>> provenance.columns_of_feature(0)
        ['a', 'b']
        """
        if not 0 <= j < self.n_features:
            raise IndexError(f"feature {j} is out of range for {self.n_features} features")
        starts = [block.start for block in self.blocks]
        return list(self.blocks[bisect.bisect_right(starts, j) - 1].input_columns)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-serialisable dict; :meth:`from_dict` inverts it.

        Examples
        --------
        >>> provenance = MatrixColumnProvenance((FeatureBlock("t", ("a",), 0, 2, ("p", "q")),), 2)
        >>> provenance.to_dict()["columns"]
        {'a': [[0, 2]]}
        """
        return {
            "n_features": self.n_features,
            "input_columns": list(self.input_columns),
            "columns": {c: [list(r) for r in ranges] for c, ranges in self._ranges.items()},
            "blocks": [block.to_dict() for block in self.blocks],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MatrixColumnProvenance:
        """Rebuild the provenance from :meth:`to_dict` output.

        Examples
        --------
        >>> provenance = MatrixColumnProvenance((FeatureBlock("t", ("a",), 0, 1, ("p",)),), 1)
        >>> MatrixColumnProvenance.from_dict(provenance.to_dict()) == provenance
        True
        """
        provenance = cls(
            blocks=tuple(FeatureBlock.from_dict(b) for b in data["blocks"]),
            n_features=int(data["n_features"]),
            input_columns=tuple(str(c) for c in data.get("input_columns", ())),
        )
        stated = data.get("columns")
        if stated is not None and provenance.to_dict()["columns"] != stated:
            raise ValueError("'columns' does not agree with 'blocks'")
        return provenance

    def _check_known(self, column: str) -> None:
        if column not in self.input_columns:
            raise UnknownColumnError(
                f"unknown column {column!r}; the ColumnTransformer's input columns are "
                f"{describe_names(self.input_columns)}"
            )


def matrix_column_provenance(column_transformer: Any) -> MatrixColumnProvenance:
    """Derive the matrix column provenance of a fitted ``ColumnTransformer``.

    Parameters
    ----------
    column_transformer:
        A fitted :class:`sklearn.compose.ColumnTransformer`. Input columns are named by
        ``feature_names_in_``, or ``"x0", "x1", ...`` when it was fitted without names.

    Returns
    -------
    MatrixColumnProvenance
        The runs of ``X`` columns and the input columns feeding each of them.

    Examples
    --------
    >>> import pandas as pd
    >>> from sklearn.compose import ColumnTransformer
    >>> from sklearn.preprocessing import PolynomialFeatures
    >>> frame = pd.DataFrame({"a": [1.0, 2.0], "b": [3.0, 5.0], "c": [0.0, 1.0]})
    >>> ct = ColumnTransformer(
    ...     [("poly", PolynomialFeatures(include_bias=False), ["a", "b"])],
    ...     remainder="passthrough",
    ... ).fit(frame)
    >>> provenance = matrix_column_provenance(ct)
    >>> provenance.ranges("a"), provenance.ranges("b"), provenance.ranges("c")
    ([(0, 1), (2, 4)], [(1, 2), (3, 5)], [(5, 6)])
    >>> provenance.columns_of_feature(3)
    ['a', 'b']
    """
    from sklearn.utils.validation import check_is_fitted

    check_is_fitted(column_transformer, "transformers_")
    names_in = _input_names(column_transformer)
    slices = column_transformer.output_indices_
    n_features = max((s.stop for s in slices.values()), default=0)
    names_out = _output_names(column_transformer, n_features)
    blocks: list[FeatureBlock] = []
    for name, transformer, spec in column_transformer.transformers_:
        output = slices.get(name, slice(0, 0))
        if _is_string(transformer, "drop") or output.stop <= output.start:
            continue
        columns = _resolve_columns(spec, names_in)
        dependency = _dependency(transformer, len(columns), output.stop - output.start)
        for start, stop, sources in dependency.runs():
            blocks.append(
                FeatureBlock(
                    transformer=name,
                    input_columns=tuple(dict.fromkeys(columns[i] for i in sources)),
                    start=output.start + start,
                    stop=output.start + stop,
                    feature_names=tuple(names_out[output.start + start : output.start + stop]),
                )
            )
    blocks.sort(key=lambda block: block.start)
    return MatrixColumnProvenance(tuple(blocks), n_features, tuple(names_in))


def _check_partition(blocks: Sequence[FeatureBlock], n_features: int) -> None:
    position = 0
    for block in blocks:
        if block.start != position or block.stop <= block.start:
            raise ValueError(f"blocks must tile range({n_features}) in order; got {block}")
        if len(block.feature_names) != block.stop - block.start:
            raise ValueError(f"block {block} needs one feature name per column")
        if not block.input_columns:
            raise ValueError(f"block {block} has no input columns")
        position = block.stop
    if position != n_features:
        raise ValueError(f"blocks cover {position} of {n_features} features")


def _ranges_by_column(blocks: Sequence[FeatureBlock]) -> dict[str, tuple[tuple[int, int], ...]]:
    merged: dict[str, list[list[int]]] = {}
    for block in blocks:
        for column in block.input_columns:
            runs = merged.setdefault(column, [])
            if runs and runs[-1][1] == block.start:
                runs[-1][1] = block.stop
            else:
                runs.append([block.start, block.stop])
    return {c: tuple((start, stop) for start, stop in runs) for c, runs in merged.items()}


def _input_names(column_transformer: Any) -> list[str]:
    names = getattr(column_transformer, "feature_names_in_", None)
    if names is None:
        return [f"x{i}" for i in range(column_transformer.n_features_in_)]
    return [str(name) for name in names]


def _output_names(column_transformer: Any, n_features: int) -> list[str]:
    try:
        names = [str(n) for n in column_transformer.get_feature_names_out()]
    except (AttributeError, NotImplementedError, ValueError, TypeError):
        names = []
    if len(names) == n_features:
        return names
    # Some transformer cannot name its outputs: name each block on its own.
    names = [""] * n_features
    for name, transformer, _ in column_transformer.transformers_:
        output = column_transformer.output_indices_.get(name, slice(0, 0))
        width = output.stop - output.start
        names[output] = _block_names(name, transformer, width)
    return names


def _block_names(name: str, transformer: Any, width: int) -> list[str]:
    try:
        own = [str(n) for n in transformer.get_feature_names_out()]
    except (AttributeError, NotImplementedError, ValueError, TypeError):
        own = []
    if len(own) == width:
        return [f"{name}__{n}" for n in own]
    return [f"{name}__{i}" for i in range(width)]


def _resolve_columns(spec: Any, names: list[str]) -> list[str]:
    if isinstance(spec, str):
        return [spec]
    if isinstance(spec, (int, np.integer)) and not isinstance(spec, (bool, np.bool_)):
        return [names[spec]]
    if isinstance(spec, slice):
        return _resolve_slice(spec, names)
    if callable(spec):
        raise TypeError("fitted transformers_ should hold resolved columns, not a callable")
    values = np.asarray(spec)
    if values.size == 0:
        return []
    if values.dtype == bool:
        return [names[i] for i in np.flatnonzero(values)]
    if np.issubdtype(values.dtype, np.integer):
        return [names[i] for i in values]
    return [str(v) for v in values]


def _resolve_slice(spec: slice, names: list[str]) -> list[str]:
    if isinstance(spec.start, str) or isinstance(spec.stop, str):
        # Label slices include their stop label, as in pandas' .loc.
        start = 0 if spec.start is None else names.index(spec.start)
        stop = len(names) if spec.stop is None else names.index(spec.stop) + 1
        return names[start : stop : spec.step]
    return names[spec]


def _is_string(value: Any, text: str) -> bool:
    return isinstance(value, str) and value == text


@dataclass(frozen=True)
class _Dependency:
    """Which of ``n_in`` inputs feed which of ``n_out`` outputs of one transformation.

    ``matrix`` is a sparse ``(n_in, n_out)`` array whose nonzero entries mark dependencies, or
    ``None`` when every input feeds every output (kept implicit because hashing can make it
    huge).
    """

    n_in: int
    n_out: int
    matrix: Any = None

    @classmethod
    def full(cls, n_in: int, n_out: int) -> _Dependency:
        return cls(n_in, n_out)

    @classmethod
    def from_pairs(cls, n_in: int, n_out: int, rows: Any, cols: Any) -> _Dependency:
        from scipy import sparse

        rows, cols = np.asarray(rows, dtype=np.int64), np.asarray(cols, dtype=np.int64)
        data = np.ones(rows.size, dtype=np.int32)
        matrix = sparse.csr_array((data, (rows, cols)), shape=(n_in, n_out))
        return cls(n_in, n_out, matrix)

    @classmethod
    def identity(cls, n: int) -> _Dependency:
        return cls.from_pairs(n, n, np.arange(n), np.arange(n))

    @classmethod
    def per_input(cls, widths: Sequence[int]) -> _Dependency:
        """Input ``i`` feeds its own ``widths[i]`` consecutive outputs."""
        widths = np.asarray(widths, dtype=np.int64)
        rows = np.repeat(np.arange(widths.size), widths)
        return cls.from_pairs(widths.size, int(widths.sum()), rows, np.arange(rows.size))

    @classmethod
    def hstack(cls, parts: Sequence[_Dependency]) -> _Dependency:
        from scipy import sparse

        n_in = parts[0].n_in
        if all(part.matrix is None for part in parts):
            return cls.full(n_in, sum(part.n_out for part in parts))
        matrices = [part.explicit() for part in parts]
        matrix = sparse.hstack(matrices, format="csr")
        return cls(n_in, sum(part.n_out for part in parts), matrix)

    def explicit(self) -> Any:
        from scipy import sparse

        if self.matrix is not None:
            return self.matrix
        return sparse.csr_array(np.ones((self.n_in, self.n_out), dtype=np.int32))

    def then(self, other: _Dependency) -> _Dependency:
        """Compose with the dependency of the next transformation."""
        if self.n_out != other.n_in:
            raise ValueError(f"cannot feed {self.n_out} outputs into {other.n_in} inputs")
        if other.matrix is None:
            used = self._inputs_feeding_anything()
            return self._broadcast(used, np.ones(other.n_out, dtype=bool), other.n_out)
        if self.matrix is None:
            fed = np.asarray(other.matrix.sum(axis=0)).ravel() > 0
            return self._broadcast(np.ones(self.n_in, dtype=bool), fed, other.n_out)
        product = (self.matrix @ other.matrix).astype(bool).astype(np.int32)
        return _Dependency(self.n_in, other.n_out, product.tocsr())

    def _inputs_feeding_anything(self) -> np.ndarray:
        if self.matrix is None:
            return np.full(self.n_in, self.n_out > 0)
        return np.asarray(self.matrix.sum(axis=1)).ravel() > 0

    def _broadcast(self, rows: np.ndarray, cols: np.ndarray, n_out: int) -> _Dependency:
        if rows.all() and cols.all():
            return _Dependency.full(self.n_in, n_out)
        r, c = np.meshgrid(np.flatnonzero(rows), np.flatnonzero(cols), indexing="ij")
        return _Dependency.from_pairs(self.n_in, n_out, r.ravel(), c.ravel())

    def runs(self) -> Iterator[tuple[int, int, tuple[int, ...]]]:
        """Maximal runs ``(start, stop, inputs)`` of outputs fed by the same inputs.

        An output fed by no input is constant (e.g. a bias column); it is attributed to all
        inputs so that every output has a source.
        """
        everything = tuple(range(self.n_in))
        if self.matrix is None:
            if self.n_out:
                yield 0, self.n_out, everything
            return
        by_output = self.matrix.tocsc()
        by_output.eliminate_zeros()
        by_output.sort_indices()
        indptr, indices = by_output.indptr, by_output.indices
        start, current = 0, None
        for j in range(self.n_out):
            sources = tuple(indices[indptr[j] : indptr[j + 1]].tolist()) or everything
            if sources != current:
                if current is not None:
                    yield start, j, current
                start, current = j, sources
        if current is not None:
            yield start, self.n_out, current


def _dependency(transformer: Any, n_in: int, n_out: int) -> _Dependency:
    """The dependency of one fitted transformer; all-to-all when its structure is unknown."""
    if transformer is None or _is_string(transformer, "passthrough"):
        rule: Rule | None = _identity_rule
    else:
        rule = _rules().get(type(transformer)) or _selector_rule_for(transformer)
    try:
        found = rule(transformer, n_in, n_out) if rule is not None else None
    except (AttributeError, ValueError, TypeError, IndexError):
        # A fitted attribute we rely on is missing or unexpected: stay conservative.
        found = None
    if found is None or (found.n_in, found.n_out) != (n_in, n_out):
        return _Dependency.full(n_in, n_out)
    return found


def _identity_rule(transformer: Any, n_in: int, n_out: int) -> _Dependency | None:
    return _Dependency.identity(n_in) if n_in == n_out else None


def _function_rule(transformer: Any, n_in: int, n_out: int) -> _Dependency | None:
    if transformer.func is None:
        return _identity_rule(transformer, n_in, n_out)
    return None


def _one_hot_rule(encoder: Any, n_in: int, n_out: int) -> _Dependency | None:
    widths = [len(categories) for categories in encoder.categories_]
    infrequent = getattr(encoder, "infrequent_categories_", [None] * len(widths))
    drop = encoder.drop_idx_ if encoder.drop_idx_ is not None else [None] * len(widths)
    for i, (rare, dropped) in enumerate(zip(infrequent, drop, strict=True)):
        if rare is not None:
            widths[i] -= len(rare) - 1
        if dropped is not None:
            widths[i] -= 1
    return _Dependency.per_input(widths)


def _kbins_rule(discretizer: Any, n_in: int, n_out: int) -> _Dependency | None:
    if discretizer.encode == "ordinal":
        return _identity_rule(discretizer, n_in, n_out)
    return _Dependency.per_input(discretizer.n_bins_)


def _target_encoder_rule(encoder: Any, n_in: int, n_out: int) -> _Dependency | None:
    if encoder.target_type_ == "multiclass":
        return _Dependency.per_input([len(encoder.classes_)] * n_in)
    return _identity_rule(encoder, n_in, n_out)


def _spline_rule(spline: Any, n_in: int, n_out: int) -> _Dependency | None:
    if n_in == 0 or n_out % n_in:
        return None
    return _Dependency.per_input([n_out // n_in] * n_in)


def _polynomial_rule(polynomial: Any, n_in: int, n_out: int) -> _Dependency | None:
    rows, cols = np.nonzero(np.asarray(polynomial.powers_).T)
    return _Dependency.from_pairs(n_in, n_out, rows, cols)


def _indicator_rule(indicator: Any, n_in: int, n_out: int) -> _Dependency | None:
    return _one_output_per(indicator.features_, n_in)


def _one_output_per(inputs: Any, n_in: int) -> _Dependency:
    """Output ``j`` is fed by input ``inputs[j]`` alone."""
    inputs = np.asarray(inputs, dtype=np.int64)
    return _Dependency.from_pairs(n_in, inputs.size, inputs, np.arange(inputs.size))


def _with_indicator(imputed: _Dependency, imputer: Any, n_in: int) -> _Dependency:
    if not getattr(imputer, "add_indicator", False):
        return imputed
    return _Dependency.hstack([imputed, _one_output_per(imputer.indicator_.features_, n_in)])


def _simple_imputer_rule(imputer: Any, n_in: int, n_out: int) -> _Dependency | None:
    kept = np.arange(n_in)
    if not imputer.keep_empty_features:
        # Features without any observed value have a NaN statistic and are dropped.
        kept = np.flatnonzero(~pd.isna(np.asarray(imputer.statistics_, dtype=object)))
    return _with_indicator(_one_output_per(kept, n_in), imputer, n_in)


def _model_imputer_rule(imputer: Any, n_in: int, n_out: int) -> _Dependency | None:
    # Imputed values come from neighbours or models that read every input column.
    n_indicators = imputer.indicator_.features_.size if imputer.add_indicator else 0
    return _with_indicator(_Dependency.full(n_in, n_out - n_indicators), imputer, n_in)


def _selector_rule(selector: Any, n_in: int, n_out: int) -> _Dependency | None:
    return _one_output_per(selector.get_support(indices=True), n_in)


def _selector_rule_for(transformer: Any) -> Rule | None:
    from sklearn.feature_selection import SelectorMixin

    inherits_transform = getattr(type(transformer), "transform", None) is SelectorMixin.transform
    if isinstance(transformer, SelectorMixin) and inherits_transform:
        return _selector_rule
    return None


def _pipeline_rule(pipeline: Any, n_in: int, n_out: int) -> _Dependency | None:
    steps = [s for _, s in pipeline.steps if s is not None and not _is_string(s, "passthrough")]
    composed = _Dependency.identity(n_in)
    for i, step in enumerate(steps):
        width = n_out if i == len(steps) - 1 else _output_width(step, steps[i + 1])
        if width is None:
            return None
        composed = composed.then(_dependency(step, composed.n_out, width))
    return composed


def _output_width(step: Any, next_step: Any) -> int | None:
    width = getattr(next_step, "n_features_in_", None)
    if width is not None:
        return int(width)
    try:
        return len(step.get_feature_names_out())
    except (AttributeError, NotImplementedError, ValueError, TypeError):
        return None


def _column_transformer_rule(inner: Any, n_in: int, n_out: int) -> _Dependency | None:
    provenance = matrix_column_provenance(inner)
    position = {name: i for i, name in enumerate(provenance.input_columns)}
    rows, cols = [], []
    for block in provenance.blocks:
        for column in block.input_columns:
            rows.extend([position[column]] * (block.stop - block.start))
            cols.extend(range(block.start, block.stop))
    return _Dependency.from_pairs(len(position), provenance.n_features, rows, cols)


def _feature_union_rule(union: Any, n_in: int, n_out: int) -> _Dependency | None:
    parts = []
    for _, transformer in union.transformer_list:
        if _is_string(transformer, "drop"):
            continue
        width = n_in if _is_string(transformer, "passthrough") else _own_width(transformer)
        if width is None:
            return None
        parts.append(_dependency(transformer, n_in, width))
    return _Dependency.hstack(parts) if parts else None


def _own_width(transformer: Any) -> int | None:
    try:
        return len(transformer.get_feature_names_out())
    except (AttributeError, NotImplementedError, ValueError, TypeError):
        return None


@cache
def _rules() -> dict[type, Rule]:
    """Rules by exact type: a subclass may change ``transform``, so it gets no rule."""
    # enable_iterative_imputer is the documented way to reach IterativeImputer; importing
    # it only makes the class importable.
    from sklearn import impute, preprocessing
    from sklearn.compose import ColumnTransformer
    from sklearn.experimental import enable_iterative_imputer  # noqa: F401
    from sklearn.pipeline import FeatureUnion, Pipeline

    elementwise = [
        preprocessing.StandardScaler,
        preprocessing.MinMaxScaler,
        preprocessing.MaxAbsScaler,
        preprocessing.RobustScaler,
        preprocessing.QuantileTransformer,
        preprocessing.PowerTransformer,
        preprocessing.Binarizer,
        preprocessing.OrdinalEncoder,
    ]
    rules: dict[type, Rule] = {cls: _identity_rule for cls in elementwise}
    rules |= {
        preprocessing.FunctionTransformer: _function_rule,
        preprocessing.OneHotEncoder: _one_hot_rule,
        preprocessing.KBinsDiscretizer: _kbins_rule,
        preprocessing.TargetEncoder: _target_encoder_rule,
        preprocessing.SplineTransformer: _spline_rule,
        preprocessing.PolynomialFeatures: _polynomial_rule,
        impute.SimpleImputer: _simple_imputer_rule,
        impute.MissingIndicator: _indicator_rule,
        impute.KNNImputer: _model_imputer_rule,
        impute.IterativeImputer: _model_imputer_rule,
        Pipeline: _pipeline_rule,
        FeatureUnion: _feature_union_rule,
        ColumnTransformer: _column_transformer_rule,
    }
    return rules
