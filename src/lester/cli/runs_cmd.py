"""``lester run``, ``lester runs`` and ``lester show``: run pipelines and look at runs.

Examples
--------
>>> from click.testing import CliRunner
>>> CliRunner().invoke(run_command, ["missing.py"]).exit_code
2
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.tree import Tree

from lester.errors import LesterError

STORE_OPTION = click.option(
    "--store",
    "store_path",
    default=".lester",
    show_default=True,
    type=click.Path(path_type=Path),
    help="The store folder.",
)


MLFLOW_OPTION = click.option(
    "--mlflow", is_flag=True, help="Also log to MLflow (needs lester[mlflow]; see docs/lineage.md)."
)
MLFLOW_URI_OPTION = click.option(
    "--mlflow-uri",
    default=None,
    help="MLflow tracking URI (implies --mlflow); default MLFLOW_TRACKING_URI or sqlite:///mlflow.db.",
)


def lineage_sinks(store_path: Path, mlflow: bool, mlflow_uri: str | None) -> list[Any]:
    """The lineage sinks of a command: the configured ones, plus MLflow if asked for."""
    from lester.lineage import configured_sinks

    return configured_sinks(store_path, mlflow=mlflow, mlflow_uri=mlflow_uri)


def parse_sources(values: tuple[str, ...]) -> dict[str, str]:
    """``("customers=data/c.csv", ...)`` -> ``{"customers": "data/c.csv"}``.

    Examples
    --------
    >>> parse_sources(("mails=m.csv",))
    {'mails': 'm.csv'}
    """
    sources: dict[str, str] = {}
    for value in values:
        name, separator, path = value.partition("=")
        if not separator or not name or not path:
            raise click.BadParameter(f"expected name=path, got {value!r}", param_hint="'--source'")
        if name in sources:
            raise click.BadParameter(f"source {name!r} is given twice", param_hint="'--source'")
        sources[name] = path
    return sources


def _fail(error: LesterError) -> None:
    raise click.ClickException(str(error)) from error


@click.command("run")
@click.argument("pipeline_path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--source", "sources", multiple=True, help="A source as name=path (repeatable).")
@STORE_OPTION
@click.option("--seed", default=42, show_default=True, help="Seed of the split and the model.")
@click.option("--test-size", default=0.2, show_default=True, help="Fraction of rows for test.")
@click.option("--quiet", is_flag=True, help="No progress display.")
@MLFLOW_OPTION
@MLFLOW_URI_OPTION
@click.option(
    "--engine",
    type=click.Choice(["pandas", "spark"]),
    default="pandas",
    show_default=True,
    help="Execute the pipeline with pandas or on Apache Spark (pip install 'lester[spark]').",
)
@click.option("--spark-master", default=None, help="Spark master URL, e.g. local[2] or spark://...")
def run_command(
    pipeline_path: Path,
    sources: tuple[str, ...],
    store_path: Path,
    seed: int,
    test_size: float,
    quiet: bool,
    mlflow: bool,
    mlflow_uri: str | None,
    engine: str,
    spark_master: str | None,
) -> None:
    """Run a pipeline module and capture every artifact with its provenance.

    Example: lester run examples/creditcard/pipeline.py --source customers=data/customers.csv
    --source mails=data/mails.csv
    """
    from lester.runner import run

    try:
        sinks = lineage_sinks(store_path, mlflow, mlflow_uri)
        result = run(
            pipeline_path, parse_sources(sources), store_path, seed, test_size, quiet, sinks,
            engine=engine, spark_master=spark_master,
        )  # fmt: skip
    except LesterError as error:
        _fail(error)
    console = Console()
    metrics = ", ".join(f"{k}={v:.4g}" for k, v in result.metrics.items())
    console.print(f"[bold green]run {result.run_id}[/] captured in {result.store}: {metrics}")


@click.command("runs")
@STORE_OPTION
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def runs_command(store_path: Path, as_json: bool) -> None:
    """List the runs in the store."""
    store = _open_store(store_path)
    records = store.runs()
    if as_json:
        click.echo(json.dumps([record.to_dict() for record in records], indent=2, default=str))
        return
    table = Table(title=f"runs in {store_path}")
    table.add_column("run", no_wrap=True, overflow="fold", min_width=20)
    for column in ("pipeline", "version", "created", "accuracy"):
        table.add_column(column)
    for record in records:
        accuracy = record.metrics.get("accuracy") if record.metrics else None
        table.add_row(
            record.run_id,
            record.pipeline,
            str(record.version),
            str(record.created),
            "" if accuracy is None else f"{accuracy:.4f}",
        )
    Console().print(table)


@click.command("show")
@click.argument("run_id")
@STORE_OPTION
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a tree.")
@click.option("--rows", default=0, show_default=True, help="Also print N training rows.")
def show_command(run_id: str, store_path: Path, as_json: bool, rows: int) -> None:
    """Show a run: sources, shapes, metrics, column and matrix column provenance.

    RUN_ID may be `latest` for the most recent run.
    """
    store = _open_store(store_path)
    try:
        run_id = resolve_run_id(store, run_id)
        summary = run_summary(store, run_id)
        sample = training_rows(store, run_id, rows) if rows > 0 else None
    except LesterError as error:
        _fail(error)
    if as_json:
        if sample is not None:
            summary["rows"] = sample.to_dict(orient="records")
        click.echo(json.dumps(summary, indent=2, default=str))
        return
    console = Console()
    console.print(summary_tree(summary))
    if sample is not None:
        console.print(rows_table(sample))


def resolve_run_id(store: Any, run_id: str) -> str:
    """``latest`` names the most recently created run."""
    if run_id != "latest":
        return run_id
    records = sorted(store.runs(), key=lambda record: str(record.created))
    if not records:
        raise click.ClickException(f"the store at {store.root} has no runs yet")
    return records[-1].run_id


def training_rows(store: Any, run_id: str, n: int) -> Any:
    """The first ``n`` training rows with their provenance polynomials."""
    from lester.runner.artifacts import load_split

    split = load_split(store.open_run(run_id), "train")
    sample = split.data.head(n).copy()
    sample.insert(0, "provenance", [split.render(i) for i in range(len(sample))])
    return sample


def rows_table(sample: Any) -> Table:
    """Rows as a rich table, long values shortened."""
    table = Table(title="training rows with their provenance polynomials")
    table.add_column("provenance", no_wrap=True)
    for column in sample.columns[1:]:
        table.add_column(str(column), overflow="ellipsis", no_wrap=True, max_width=24)
    for row in sample.itertuples(index=False, name=None):
        table.add_row(escape(str(row[0])), *(_short(value) for value in row[1:]))
    return table


def _short(value: Any, limit: int = 40) -> str:
    """A cell's text, shortened, with rich markup (``[...]`` in polynomials) escaped."""
    text = str(value)
    return escape(text if len(text) <= limit else text[: limit - 1] + "…")


def _open_store(store_path: Path) -> Any:
    from lester.store import Store

    if not (store_path / "catalog.sqlite").is_file():
        raise click.ClickException(f"no store at {store_path} (run `lester run` first)")
    try:
        return Store(store_path)
    except LesterError as error:
        _fail(error)


def run_summary(store: Any, run_id: str) -> dict[str, Any]:
    """Everything ``lester show`` prints, as a JSON-ready dict."""
    run = store.open_run(run_id)
    provenance = run.json("provenance")
    features = run.json("features")
    shapes = {name: list(run.matrix_shape(name)) for name in ("train/X", "test/X")}
    return {
        "run_id": run_id,
        "version": run.version,
        "pipeline": run.json("pipeline"),
        "sources": run.json("sources"),
        "shapes": shapes,
        "metrics": run.json("metrics"),
        "column_provenance": provenance["column_provenance"],
        "row_dependencies": provenance["row_dependencies"],
        "label_columns": provenance["label_columns"],
        "matrix_column_provenance": features,
        "model": run.json("model/spec"),
        "plan": provenance["plan"],
    }


def summary_tree(summary: dict[str, Any]) -> Tree:
    """A readable tree of a run summary."""
    tree = Tree(f"[bold]{summary['run_id']}[/] (version {summary['version']})")
    sources = tree.add("sources")
    for source in summary["sources"]:
        sources.add(
            f"{source['name']}: {source['path']} ({source['rows']} rows, "
            f"key={source['primary_key'] or 'row number'}, sha256={str(source['sha256'])[:12]}…)"
        )
    shapes = tree.add("shapes")
    for name, shape in summary["shapes"].items():
        shapes.add(f"{name}: {shape[0]} x {shape[1]}")
    metrics = tree.add("metrics")
    for name, value in summary["metrics"].items():
        metrics.add(f"{name} = {value:.4g}")
    columns = tree.add("column provenance")
    for column, origins in summary["column_provenance"].items():
        columns.add(f"{column} ← {', '.join(origins)}")
    tree.add(f"row dependencies: {', '.join(summary['row_dependencies'])}")
    tree.add(f"label reads: {', '.join(summary['label_columns'])}")
    n_features = summary["matrix_column_provenance"]["n_features"]
    matrix = tree.add(f"matrix column provenance (X has {n_features} columns)")
    for column, ranges in summary["matrix_column_provenance"]["columns"].items():
        spans = ", ".join(f"[{start}:{stop})" for start, stop in ranges) or "dropped"
        matrix.add(f"{column} → X{spans}")
    tree.add(f"model: {summary['model']['kind']}")
    return tree
