"""``lester rewrite``: rewrite a messy script into a Lester pipeline and prove it.

Exit codes: 0 the rewrite was verified equivalent and written to ``-o``; 1 it was not (it
is written next to ``-o`` with the suffix ``.unverified.py``, and ``-o`` is left alone); 2
bad input (a missing script, one that does not parse, reads or writes no files, fails on
its own inputs, an unknown source), and nothing is written.

Examples
--------
>>> from click.testing import CliRunner
>>> CliRunner().invoke(rewrite_command, ["missing.py", "-o", "p.py"]).exit_code
2
"""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from lester.cli.runs_cmd import parse_sources
from lester.errors import LesterError


def unverified_path(output: Path) -> Path:
    """Where an unverified rewrite goes: ``pipeline.py`` -> ``pipeline.unverified.py``.

    Examples
    --------
    >>> unverified_path(Path("out/pipeline.py")).as_posix()
    'out/pipeline.unverified.py'
    """
    return output.with_name(output.stem + ".unverified.py")


@click.command("rewrite")
@click.argument("script", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--source",
    "--sources",
    "sources",
    multiple=True,
    help="Name an input as name=path (the path as the script reads it); repeatable.",
)
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to write the verified pipeline module.",
)
@click.option("--llm", "use_llm", is_flag=True, help="Rewrite with an LLM (sends the code).")
@click.option("--max-rounds", default=4, show_default=True, help="LLM rounds at most.")
@click.option("--force", is_flag=True, help="Overwrite an existing output file.")
@click.option("--no-edge-cases", is_flag=True, help="Verify on the real inputs only.")
@click.option("--sample-rows", type=int, default=None, help="Verify on a sample of records.")
def rewrite_command(
    script: Path,
    sources: tuple[str, ...],
    output: Path,
    use_llm: bool,
    max_rounds: int,
    force: bool,
    no_edge_cases: bool,
    sample_rows: int | None,
) -> None:
    """Rewrite SCRIPT into Lester's declarative API and verify the rewrite by running both.

    Offline by default: rules over the script's syntax tree, no code leaves the machine.
    Example: lester rewrite messy.py -o pipeline.py
    """
    from lester.rewrite.api import rewrite_script

    console = Console()
    named = parse_sources(sources)
    if output.exists() and not force:
        _bad_input(f"{output} exists; pass --force to overwrite it")
    try:
        with console.status("rewriting and verifying ...") as status:
            outcome = rewrite_script(
                script,
                sources=named,
                use_llm=use_llm,
                max_rounds=max_rounds,
                edge_cases=not no_edge_cases,
                sample_rows=sample_rows,
                progress=lambda message: status.update(escape(message)),
            )
    except LesterError as error:
        _bad_input(str(error))
    _report(console, outcome)
    if outcome.code is None:
        console.print("[red]no rewrite was produced[/red]")
        raise SystemExit(1)
    if outcome.equivalent:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(outcome.code, encoding="utf-8")
        console.print(f"[green]verified equivalent[/green]: wrote {escape(str(output))}")
        return
    target = unverified_path(output)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(outcome.code, encoding="utf-8")
    console.print(
        f"[red]NOT verified[/red]: wrote {escape(str(target))} for review; "
        f"{escape(str(output))} was not written"
    )
    raise SystemExit(1)


def _bad_input(message: str) -> None:
    click.echo(f"Error: {message}", err=True)
    raise SystemExit(2)


def _report(console: Console, outcome) -> None:
    console.print(f"[bold]lester rewrite[/bold] {escape(str(outcome.script))} ({outcome.method})")
    inputs = ", ".join(f"{name}={path}" for name, path in outcome.sources.items())
    outputs = ", ".join(sorted({output.path for output in outcome.io.outputs}))
    console.print(f"inputs: {escape(inputs)}")
    console.print(f"outputs: {escape(outputs)}")
    if outcome.steps:
        table = Table("line", "rule", "what", title="rewritten")
        for step in outcome.steps:
            table.add_row(str(step.line), step.rule, escape(step.detail))
        console.print(table)
    for line in outcome.llm_lines:
        console.print(escape(line))
    if outcome.gaps:
        table = Table("line", "why", title="NOT rewritten (kept in _not_rewritten)")
        for gap in outcome.gaps:
            table.add_row(str(gap.line), escape(gap.detail))
        console.print(table)
    if outcome.verdict is None:
        console.print("[red]verification: not run (no prepared data was found)[/red]")
        return
    console.print(escape(outcome.verdict.summary()))
    if not outcome.verdict.equivalent:
        console.print(escape(outcome.verdict.feedback()))
