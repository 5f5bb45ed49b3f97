"""The prompts of the LLM rewrite: the paper's chain, adapted to Lester's actual API.

Section 3.2 of the paper rewrites the data preparation with one main prompt plus three
refinements (``@`` for local variables in query strings, Lester's method names, input paths
as parameters), the feature encoding with a ColumnTransformer prompt, and here a third
prompt covers the label (and the model factory the runner's contract asks for). When the
assembled module fails a check, :func:`repair_prompt` and :func:`follow_up_prompt` feed the
error back.

Every prompt is a :class:`Prompt`: a name (shown in the report, so a user sees which
prompts were sent) and its text.

Examples
--------
>>> prompt = dataprep_prompt("rows = []", sources={"orders": "orders.csv"},
...                          output_columns=["order_id", "amount"])
>>> prompt.name
'dataprep'
>>> "['order_id', 'amount']" in prompt.text and "orders_path" in prompt.text
True
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

SYSTEM_PROMPT = """\
You rewrite messy Python data science scripts into pipelines for Lester, a dataframe library \
that tracks row and column provenance. You answer with Python code only, in one ```python \
block. The rewrite must compute exactly what the script computes, including its quirks \
(which duplicate wins, case-sensitive matching, population standard deviation, rounding)."""

LESTER_API = """\
Lester's API (import lester as lt):
- lt.read_csv(path, name="<source>", primary_key="<unique column>" or None, header=0 or None, \
names=[...], plus pandas.read_csv options such as dtype=..., keep_default_na=False)
- frame.filter("pandas query string"): a local variable in the string is written @name, \
e.g. frame.filter("country in @target_countries")
- frame.project(target_column="new", source_columns=["a", "b"], func=lambda row: ...): \
one new (or replaced) column per call; func gets a row holding only source_columns, so \
source_columns must list exactly the columns func reads
- lt.join(left, right, left_on="k", right_on="k2", how="inner" or "left") (also on="k")
- lt.union([frame_a, frame_b]); frame.distinct(); frame.explode("column")
- frame.groupby(["k"]).agg(out=("column", "count" | "sum" | "mean" | "min" | "max"))
- frame.rename(columns={"old": "new"}); frame[["a", "b"]] or frame.select(["a", "b"])
A frame is not a pandas DataFrame: no iteration, .apply, .loc, .assign, .merge, .query."""

CONTRACT = """\
The final module defines, at top level and with no code running on import:
- _lester_dataprep(<source>_path, ...) returning the prepared data as a Lester frame, with \
the columns of the prepared data the script writes, in the same order;
- encode_features() returning an unfitted sklearn ColumnTransformer that turns the prepared \
data (a pandas DataFrame) into the script's feature matrix X, blocks in the script's order;
- extract_label(df) returning the script's label vector y (numpy, float) for a pandas \
DataFrame of the prepared data;
- create_model(num_features) returning the unfitted model the script trains, or \
sklearn.linear_model.LogisticRegression() when it trains none.
Allowed imports: lester, pandas, numpy, sklearn, math, datetime, dateutil, hashlib, re, \
collections, itertools, functools, string, statistics. Never write files."""


@dataclass(frozen=True)
class Prompt:
    """A named prompt text.

    Examples
    --------
    >>> Prompt("labels", "Rewrite ...").name
    'labels'
    """

    name: str
    text: str


def _columns_phrase(output_columns: Sequence[str] | None) -> str:
    if output_columns:
        return repr(list(output_columns))
    return "the columns of the prepared data that the script writes, in the order it writes them"


def _sources_phrase(sources: Mapping[str, str]) -> str:
    return ", ".join(f"{name}_path (the file {file})" for name, file in sources.items())


def _samples_block(samples: Mapping[str, Sequence[str]]) -> str:
    if not samples:
        return ""
    blocks = [
        f"First line(s) of {file}:\n" + "\n".join(lines) for file, lines in samples.items() if lines
    ]
    return "\n\n" + "\n\n".join(blocks) if blocks else ""


def dataprep_prompt(
    script: str,
    *,
    sources: Mapping[str, str],
    output_columns: Sequence[str] | None = None,
    samples: Mapping[str, Sequence[str]] | None = None,
) -> Prompt:
    """The paper's main data-preparation prompt, in Lester's terms.

    ``sources`` maps source names to the file names the script reads; ``samples`` maps
    file names to the first lines of each file (only when the caller chose to send them).

    Examples
    --------
    >>> text = dataprep_prompt("x = 1", sources={"a": "a.csv"}).text
    >>> "single function called _lester_dataprep" in text
    True
    """
    text = (
        "The following code is written in Python with for loops and manual data parsing. "
        "Please rewrite the data preparation part of it (everything up to the prepared data "
        "it writes) to use a dataframe library called lester. lester has an API similar to "
        "pandas and supports the following operations: read_csv, filter, project, join, "
        "union, distinct, groupby().agg, explode, rename, select. The project method has "
        "the parameters target_column, source_columns and func: target_column refers to the "
        "new column which should be created, source_columns refers to the list of input "
        "columns that func reads, and func computes the new value from a row. Please create "
        "a single, separate project statement for each new column that is computed. Only "
        "respond with Python code. Do not iterate over dataframes. The code should contain "
        "a single function called _lester_dataprep, which returns a single dataframe called "
        "result_df as result. This final dataframe should have the following columns: "
        f"{_columns_phrase(output_columns)}. Its parameters are {_sources_phrase(sources)}."
        f"\n\n{LESTER_API}{_samples_block(samples or {})}\n\n```python\n{script}\n```"
    )
    return Prompt("dataprep", text)


def local_variables_prompt() -> Prompt:
    """Refinement 1: local variables in filter strings are written ``@name``.

    Examples
    --------
    >>> "@" in local_variables_prompt().text
    True
    """
    return Prompt(
        "dataprep-local-variables",
        "In lester's filter query strings, a reference to a local Python variable must be "
        "prefixed with '@' as in pandas query, e.g. filter(\"country in @target_countries\"); "
        "a column name is written without '@'. Make sure every such reference is annotated "
        "correctly and that each variable is defined in _lester_dataprep. Only respond with "
        "the complete Python code.",
    )


def method_names_prompt() -> Prompt:
    """Refinement 2: pandas method names replaced by Lester's.

    Examples
    --------
    >>> "merge" in method_names_prompt().text
    True
    """
    return Prompt(
        "dataprep-method-names",
        "Make sure the code only uses lester's method names and signatures: pandas' merge "
        "becomes lt.join(left, right, left_on=..., right_on=..., how=...), query becomes "
        "filter, assign becomes project(target_column=..., source_columns=[...], func=...), "
        "concat becomes lt.union([...]), drop_duplicates becomes distinct(), and columns are "
        "selected with frame[[...]]. Keep read_csv(path, name=..., primary_key=..., "
        "header=..., names=[...]). Only respond with the complete Python code.",
    )


def path_parameters_prompt(sources: Mapping[str, str]) -> Prompt:
    """Refinement 3: hard-coded input paths become parameters of ``_lester_dataprep``.

    Examples
    --------
    >>> "customers_path" in path_parameters_prompt({"customers": "data/c.csv"}).text
    True
    """
    names = ", ".join(f'{name}_path (read it with name="{name}")' for name in sources)
    return Prompt(
        "dataprep-path-parameters",
        "Replace every hard-coded input path with a parameter of _lester_dataprep: "
        f"{_sources_phrase(sources)}. The parameters are exactly: {names}. The function "
        "must not write any file. Only respond with the complete Python code.",
    )


def features_prompt(script: str, *, output_columns: Sequence[str] | None = None) -> Prompt:
    """The paper's feature-encoding prompt: a ColumnTransformer replaces the NumPy code.

    Examples
    --------
    >>> "unfitted ColumnTransformer" in features_prompt("X = 1").text
    True
    """
    text = (
        "The following Python reads a CSV file and manually encodes the data as features "
        "for a machine learning model. Please rewrite the code to use estimator/transformers "
        "from scikit-learn and the ColumnTransformer from scikit-learn. Only respond with "
        "Python code. Create a function called encode_features which returns an unfitted "
        "ColumnTransformer which contains the feature encoding logic. The encode_features "
        "function should be able to work on data that follows the exact schema of the "
        "prepared data, a pandas DataFrame with the columns "
        f"{_columns_phrase(output_columns)}. Keep the feature blocks in the order the code "
        "concatenates them. Use StandardScaler for (x - mean) / std (NumPy's std is the "
        "population std, as StandardScaler's), MinMaxScaler for min-max scaling, "
        "OneHotEncoder(categories=[[...]], sparse_output=False, handle_unknown='ignore') "
        "with the categories in the code's order, 'passthrough' for unchanged columns, and "
        "FunctionTransformer for other per-row functions (it receives a DataFrame of its "
        "columns and must return a 2-D array). Define every helper at module level."
        f"\n\n```python\n{script}\n```"
    )
    return Prompt("features", text)


def labels_prompt(script: str, *, output_columns: Sequence[str] | None = None) -> Prompt:
    """The label prompt: ``extract_label(df)`` and ``create_model(num_features)``.

    Examples
    --------
    >>> "extract_label(df)" in labels_prompt("y = 1").text
    True
    """
    text = (
        "The following Python computes the label vector y of a machine learning model from "
        "the prepared data. Please rewrite it as a function extract_label(df) that receives "
        "the prepared data as a pandas DataFrame with the columns "
        f"{_columns_phrase(output_columns)} and returns y as a 1-D NumPy array of floats, "
        "computed exactly as the code computes it, even where the code looks wrong (e.g. "
        "when it reads a variable left over from an earlier loop). Also write "
        "create_model(num_features) returning the unfitted model the code trains, or "
        "sklearn.linear_model.LogisticRegression() when it trains none. Only respond with "
        f"Python code.\n\n```python\n{script}\n```"
    )
    return Prompt("labels", text)


def repair_prompt(script: str, candidate: str, feedback: str) -> Prompt:
    """The first repair message: the script, the assembled module and what failed.

    Examples
    --------
    >>> text = repair_prompt("x = 1", "y = 2", "line 1: boom").text
    >>> "line 1: boom" in text and "complete corrected module" in text
    True
    """
    text = (
        "The pipeline module below was rewritten from the script that follows it and then "
        "checked. It failed:\n\n"
        f"{feedback}\n\n"
        "Return the complete corrected module (imports, _lester_dataprep, encode_features, "
        "extract_label, create_model) in one ```python block.\n\n"
        f"{CONTRACT}\n\n{LESTER_API}\n\n"
        f"The module:\n```python\n{candidate}\n```\n\n"
        f"The original script:\n```python\n{script}\n```"
    )
    return Prompt("repair", text)


def follow_up_prompt(feedback: str) -> Prompt:
    """A later repair message in the same conversation.

    Examples
    --------
    >>> follow_up_prompt("rows differ").name
    'repair'
    """
    return Prompt(
        "repair",
        "The corrected module failed again:\n\n"
        f"{feedback}\n\n"
        "Return the complete corrected module in one ```python block.",
    )
