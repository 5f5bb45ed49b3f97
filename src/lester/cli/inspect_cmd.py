"""``lester inspect usage|fairness|leakage|features RUN``: questions about a captured run,
answered from its stored provenance.

Examples
--------
>>> from click.testing import CliRunner
>>> CliRunner().invoke(inspect_group, ["--help"]).exit_code
0
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from lester.cli.runs_cmd import STORE_OPTION
from lester.errors import LesterError

RUN_ARGUMENT = click.argument("run_id", metavar="RUN")
JSON_OPTION = click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
PLOT_OPTION = click.option(
    "--plot",
    "plot_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also draw a bar chart into this PNG file.",
)
PREVIEW = 20


@click.group("inspect")
def inspect_group() -> None:
    """Inspect a captured run through its provenance: record usage, group fairness,
    train/test leakage, feature and label lineage.

    RUN is a run id or `latest`.
    """


@inspect_group.command("usage")
@RUN_ARGUMENT
@STORE_OPTION
@JSON_OPTION
@PLOT_OPTION
@click.option(
    "--out",
    "out_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write one row per source tuple (source, tuple_id, key, in_train, in_test, row "
    "counts) as Parquet.",
)
def usage_command(
    run_id: str, store_path: Path, as_json: bool, plot_path: Path | None, out_path: Path | None
) -> None:
    """Which tuples of each source reached the training data, the test data, or neither.

    Example: lester inspect usage latest --out usage.parquet
    """
    from lester.inspection import usage

    _check_targets(plot_path, out_path)
    report = _answer(lambda: usage(run_id, store_path))
    if out_path is not None:
        report.to_parquet(out_path)
    _finish(report, as_json, plot_path, lambda: _usage_table(report))
    if out_path is not None and not as_json:
        Console().print(f"wrote {len(report.to_frame())} tuples to {out_path}")


@inspect_group.command("fairness")
@RUN_ARGUMENT
@STORE_OPTION
@click.option(
    "--group",
    "group",
    required=True,
    metavar="SOURCE.COLUMN",
    help="The column that defines the groups: any column of any source of the run.",
)
@click.option(
    "--metric",
    type=click.Choice(["equal_opportunity", "demographic_parity", "accuracy"]),
    default="equal_opportunity",
    show_default=True,
)
@click.option("--split", type=click.Choice(["test", "train"]), default="test", show_default=True)
@click.option("--positive", help="The positive class (default: the largest label).")
@JSON_OPTION
@PLOT_OPTION
def fairness_command(
    run_id: str,
    store_path: Path,
    group: str,
    metric: str,
    split: str,
    positive: str | None,
    as_json: bool,
    plot_path: Path | None,
) -> None:
    """The metric of the model's predictions per group, and the difference between groups.

    Example: lester inspect fairness latest --group customers.level --metric demographic_parity
    """
    from lester.inspection import fairness

    _check_targets(plot_path)
    report = _answer(
        lambda: fairness(
            run_id, store_path, group=group, metric=metric, split=split, positive=positive
        )
    )
    _finish(report, as_json, plot_path, lambda: _fairness_table(report))


@inspect_group.command("leakage")
@RUN_ARGUMENT
@STORE_OPTION
@click.option("--limit", default=10, show_default=True, help="Tuples listed per source.")
@JSON_OPTION
@PLOT_OPTION
def leakage_command(
    run_id: str, store_path: Path, limit: int, as_json: bool, plot_path: Path | None
) -> None:
    """Source tuples that feed both a training row and a test row, with the row counts."""
    from lester.inspection import leakage

    _check_targets(plot_path)
    report = _answer(lambda: leakage(run_id, store_path))
    _finish(report, as_json, plot_path, lambda: _leakage_tables(report, limit))


@inspect_group.command("features")
@RUN_ARGUMENT
@STORE_OPTION
@JSON_OPTION
@PLOT_OPTION
def features_command(run_id: str, store_path: Path, as_json: bool, plot_path: Path | None) -> None:
    """Each input column's ranges of X with feature names and source columns, and which
    source columns reach the label."""
    from lester.inspection import features

    _check_targets(plot_path)
    report = _answer(lambda: features(run_id, store_path))
    _finish(report, as_json, plot_path, lambda: _features_tables(report))


# ------------------------------------------------------------------------------ helpers
def _check_targets(*paths: Path | None) -> None:
    """Fail before any work when an output file cannot be written where asked."""
    for path in paths:
        if path is not None and not path.parent.is_dir():
            raise click.BadParameter(f"folder {path.parent} does not exist", param_hint=str(path))


def _answer(inspection: Callable[[], Any]) -> Any:
    try:
        return inspection()
    except LesterError as error:
        raise click.ClickException(str(error)) from error


def _finish(
    report: Any, as_json: bool, plot_path: Path | None, tables: Callable[[], Sequence[Any]]
) -> None:
    if plot_path is not None:
        _answer(lambda: report.plot(plot_path))
    if as_json:
        click.echo(json.dumps(report.to_dict(), indent=2, default=str))
        return
    console = Console()
    for table in tables():
        console.print(table)
    if plot_path is not None:
        console.print(f"plot written to {plot_path}")


def _usage_table(report: Any) -> list[Table]:
    table = Table(title=f"record usage of run {report.run_id}")
    table.add_column("source", no_wrap=True)
    for column in ("tuples", "train", "test", "both", "neither"):
        table.add_column(column, justify="right", no_wrap=True, min_width=len(column))
    table.add_column("train array", no_wrap=True)
    for name, source in report.sources.items():
        counts = source.counts()
        flags = "".join("1" if used else "0" for used in source.in_train[:PREVIEW])
        table.add_row(
            name,
            *(f"{counts[c]:,}" for c in ("tuples", "train", "test", "both", "neither")),
            flags + ("…" if len(source.keys) > PREVIEW else ""),
        )
    table.caption = (
        "train array: in train (1) or not (0), tuples in source order; the keys and full "
        "arrays of train and test: --json or --out usage.parquet"
    )
    return [table]


def _fairness_table(report: Any) -> list[Table]:
    from lester.inspection.fairness import group_label

    table = Table(
        title=f"{report.metric} by {report.group} on {report.split} (run {report.run_id})"
    )
    for column in ("group", "rows", "label positives", "predicted positives", report.metric):
        table.add_column(column, justify="left" if column == "group" else "right")
    for row in report.table.itertuples(index=False):
        value = "undefined" if row.value != row.value else f"{row.value:.4f}"
        table.add_row(
            escape(group_label(row.group)),
            f"{row.rows:,}",
            f"{row.label_positives:,}",
            f"{row.predicted_positives:,}",
            value,
        )
    difference = report.difference
    spread = (
        "undefined (fewer than two groups)" if difference != difference else f"{difference:.4f}"
    )
    caption = [f"difference (max - min): {spread}; positive class {report.positive!r}"]
    if report.ambiguous_rows:
        caption.append(f"{report.ambiguous_rows} rows derive from several groups")
    caption.extend(report.warnings)
    table.caption = "\n".join(caption)
    return [table]


def _leakage_tables(report: Any, limit: int) -> list[Table]:
    summary = Table(title=f"source tuples feeding both train and test (run {report.run_id})")
    for column in ("source", "tuples", "shared tuples", "train rows", "test rows"):
        summary.add_column(column, justify="left" if column == "source" else "right")
    for name, counts in report.summary().items():
        summary.add_row(
            name,
            *(f"{counts[c]:,}" for c in ("tuples", "shared_tuples", "train_rows", "test_rows")),
        )
    tables = [summary]
    for name, shared in report.sources.items():
        if shared.empty:
            continue
        detail = Table(title=f"{name}: most shared tuples (first {min(limit, len(shared))})")
        for column in ("key", "train rows", "test rows"):
            detail.add_column(column, justify="left" if column == "key" else "right")
        for row in shared.head(limit).itertuples(index=False):
            detail.add_row(escape(str(row.key)), f"{row.train_rows:,}", f"{row.test_rows:,}")
        tables.append(detail)
    return tables


def _features_tables(report: Any) -> list[Table]:
    table = Table(title=f"feature matrix X of run {report.run_id} ({report.n_features} columns)")
    table.add_column("input column")
    table.add_column("source columns")
    table.add_column("X ranges", no_wrap=True)
    table.add_column("width", justify="right")
    table.add_column("feature names", overflow="fold")
    for column in report.columns.values():
        table.add_row(
            column.name,
            "\n".join(column.source_columns) or "(computed)",
            column.describe_ranges().replace(", ", "\n"),
            str(column.width),
            escape(_names_preview(column.feature_names)),
        )
    label = Table(title="label")
    label.add_column("label reads")
    label.add_column("source columns reaching the label")
    label.add_column("source columns deciding which rows exist")
    label.add_row(
        "\n".join(report.label_columns) or "(none found)",
        "\n".join(report.label_source_columns) or "(none)",
        "\n".join(report.row_dependencies) or "(none)",
    )
    return [table, label]


def _names_preview(names: Sequence[str], shown: int = 2) -> str:
    """The first names, one per line, and how many more there are."""
    preview = "\n".join(names[:shown])
    return preview + (f"\n… (+{len(names) - shown})" if len(names) > shown else "")
