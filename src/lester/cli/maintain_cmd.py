"""``lester affected``, ``forget-values``, ``forget-rows`` and ``verify-forgotten``.

Examples
--------
>>> from click.testing import CliRunner
>>> CliRunner().invoke(affected_command, ["--source", "mails", "--store", "missing"]).exit_code
1
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from lester.cli.runs_cmd import (
    MLFLOW_OPTION,
    MLFLOW_URI_OPTION,
    STORE_OPTION,
    _fail,
    _open_store,
    lineage_sinks,
)
from lester.errors import LesterError

SOURCE = click.option("--source", required=True, help="Source name or file path.")
KEYS = click.option("--keys", multiple=True, help="Primary-key values (repeatable).")
WHERE = click.option("--where", default=None, help="A pandas query on the source.")
AS_JSON = click.option("--json", "as_json", is_flag=True, help="Print JSON.")


def _selection(source: str, keys: tuple[str, ...], where: str | None) -> Any:
    from lester.maintenance import Selection

    if bool(keys) == (where is not None):
        raise click.UsageError("give either --keys or --where")
    return Selection(source, tuple(keys) if keys else None, where)


def _model_options(function):
    for option in reversed(
        [
            click.option("--run", "run_ids", multiple=True, help="Run to update (repeatable)."),
            click.option("--all-affected", is_flag=True, help="Update every affected run."),
            click.option("--compare-retrain", is_flag=True, help="Also time a full retraining."),
            click.option("--allow-retrain", is_flag=True, help="Retrain unsupported models."),
            click.option("--second-order", is_flag=True, help="LiSSA update for networks."),
            click.option("--budget", type=float, default=None, help="Gradient residual budget."),
            click.option("--who", default=None, help="Who asks (for the audit log)."),
            MLFLOW_OPTION,
            MLFLOW_URI_OPTION,
            AS_JSON,
        ]
    ):
        function = option(function)
    return function


def _target_runs(store: Any, source: str, column: str | None, run_ids, all_affected) -> list[str]:
    from lester.maintenance import find_affected

    if bool(run_ids) == all_affected:
        raise click.UsageError("give either --run RUN (repeatable) or --all-affected")
    if run_ids:
        return list(run_ids)
    runs = [impact.run_id for impact in find_affected(store, source, column)]
    if not runs:
        raise click.ClickException(f"no run in the store depends on {source}")
    return runs


def _report(statuses: list[Any], as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps([status.to_dict() for status in statuses], indent=2, default=str))
        return
    console = Console()
    for status in statuses:
        model = status.model or {}
        console.print(
            f"[bold]{status.run_id}[/] {status.command} {escape(status.selection)}: "
            f"version {status.version_before} → {status.version_after}, rows {status.rows}, "
            f"model {model.get('method')} (residual {model.get('gradient_residual')}), "
            f"{status.seconds * 1000:.0f} ms"
            + (f"; store scan clean: {status.scan['clean']}" if status.scan else "")
        )


def _run_updates(operation, store: Any, run_ids: list[str], as_json: bool) -> None:
    """Update every run, then scan the store once for what they all forgot."""
    from lester.maintenance.updates import forget_everywhere

    done: list[Any] = []
    try:
        statuses = forget_everywhere(store, run_ids, operation, on_done=done.append)
    except LesterError as error:
        _report(done, as_json)
        _fail(error)
    _report(statuses, as_json)


def _options(
    store_path, compare_retrain, allow_retrain, second_order, budget, who, mlflow, mlflow_uri
) -> Any:  # fmt: skip
    from lester.maintenance import UpdateOptions

    try:
        sinks = lineage_sinks(store_path, mlflow, mlflow_uri)
    except LesterError as error:
        _fail(error)
    return UpdateOptions(budget, second_order, compare_retrain, allow_retrain, who, sinks)


@click.command("affected")
@SOURCE
@click.option("--column", default=None, help="Only artifacts depending on this column.")
@KEYS
@WHERE
@STORE_OPTION
@AS_JSON
def affected_command(source, column, keys, where, store_path: Path, as_json: bool) -> None:
    """Every pipeline and run whose artifacts depend on a source (and column), and how many
    rows of each artifact derive from the selected tuples."""
    from lester.maintenance import find_affected

    if keys and where:
        raise click.UsageError("give --keys or --where, not both")
    store = _open_store(store_path)
    try:
        impacts = find_affected(store, source, column, list(keys) or None, where)
    except LesterError as error:
        _fail(error)
    if as_json:
        click.echo(json.dumps([impact.to_dict() for impact in impacts], indent=2, default=str))
        return
    table = Table(title=f"runs depending on {escape(source)}" + (f".{column}" if column else ""))
    for name in ("run", "pipeline", "version", "artifact", "depends through", "rows"):
        table.add_column(name)
    for impact in impacts:
        for artifact in impact.artifacts:
            rows = "" if artifact.rows is None else str(artifact.rows)
            parts = escape(", ".join(artifact.parts))
            table.add_row(impact.run_id, impact.pipeline, str(impact.version), artifact.artifact,
                          parts, rows)  # fmt: skip
    Console().print(table)


@click.command("forget-values")
@SOURCE
@click.option("--column", required=True, help="The source column whose values go.")
@KEYS
@WHERE
@STORE_OPTION
@_model_options
def forget_values_command(
    source, column, keys, where, store_path, run_ids, all_affected, compare_retrain,
    allow_retrain, second_order, budget, who, mlflow, mlflow_uri, as_json,
) -> None:  # fmt: skip
    """Null every cell derived from these values, re-encode their X ranges, update the model."""
    from lester.maintenance import forget_values

    selection = _selection(source, keys, where)
    store = _open_store(store_path)
    options = _options(store_path, compare_retrain, allow_retrain, second_order, budget, who,
                       mlflow, mlflow_uri)  # fmt: skip
    runs = _target_runs(store, source, column, run_ids, all_affected)
    _run_updates(
        lambda run, scan: forget_values(store, run, selection, column, options, scan),
        store, runs, as_json,
    )  # fmt: skip


@click.command("forget-rows")
@SOURCE
@KEYS
@WHERE
@STORE_OPTION
@_model_options
def forget_rows_command(
    source, keys, where, store_path, run_ids, all_affected, compare_retrain, allow_retrain,
    second_order, budget, who, mlflow, mlflow_uri, as_json,
) -> None:  # fmt: skip
    """Remove every training and test row derived from these tuples; update the model."""
    from lester.maintenance import forget_rows

    selection = _selection(source, keys, where)
    store = _open_store(store_path)
    options = _options(store_path, compare_retrain, allow_retrain, second_order, budget, who,
                       mlflow, mlflow_uri)  # fmt: skip
    runs = _target_runs(store, source, None, run_ids, all_affected)
    _run_updates(
        lambda run, scan: forget_rows(store, run, selection, options, scan), store, runs, as_json
    )


@click.command("correct")
@SOURCE
@click.option("--keys", multiple=True, required=True, help="Primary-key values (repeatable).")
@click.option("--set", "assignments", multiple=True, required=True, help="column=value.")
@STORE_OPTION
@_model_options
def correct_command(
    source, keys, assignments, store_path, run_ids, all_affected, compare_retrain,
    allow_retrain, second_order, budget, who, mlflow, mlflow_uri, as_json,
) -> None:  # fmt: skip
    """Push corrected source values through: derived cells recomputed, rows whose filter or
    join membership changes removed or added, features from the fitted encoders, model
    updated."""
    from lester.maintenance.correct import correct, parse_assignments

    selection = _selection(source, keys, None)
    store = _open_store(store_path)
    try:
        values = parse_assignments(list(assignments))
    except LesterError as error:
        raise click.BadParameter(str(error), param_hint="'--set'") from None
    options = _options(store_path, compare_retrain, allow_retrain, second_order, budget, who,
                       mlflow, mlflow_uri)  # fmt: skip
    runs = _target_runs(store, source, None, run_ids, all_affected)
    _run_updates(
        lambda run, scan: correct(store, run, selection, values, options), store, runs, as_json
    )


@click.command("verify-forgotten")
@SOURCE
@click.option("--column", default=None, help="Only this column's values.")
@KEYS
@WHERE
@STORE_OPTION
@AS_JSON
def verify_forgotten_command(source, column, keys, where, store_path, as_json) -> None:
    """Scan every byte of the store for the values of these source tuples."""
    from lester.maintenance import verify_forgotten

    selection = _selection(source, keys, where)
    store = _open_store(store_path)
    try:
        result = verify_forgotten(store, source, column, selection)
    except LesterError as error:
        _fail(error)
    if as_json:
        click.echo(json.dumps(result.to_dict(), indent=2))
        return
    Console().print(
        f"scanned {result.files} files ({result.bytes} bytes) for {result.checked} values: "
        f"none found"
        + (f"; {result.too_short} values too short to check" if result.too_short else "")
    )
