"""The ``lester datagen`` command: write synthetic customers and mails for the running example.

Examples
--------
>>> import tempfile
>>> from click.testing import CliRunner
>>> out = tempfile.mkdtemp()
>>> CliRunner().invoke(datagen, ["--customers", "10", "--out", out]).exit_code
0
"""

from __future__ import annotations

import time
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from lester.datagen import DatagenError, DatagenResult, generate


@click.command("datagen")
@click.option(
    "--customers",
    "num_customers",
    type=click.IntRange(min=1),
    required=True,
    help="Number of customers to generate.",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(path_type=Path),
    required=True,
    help="Directory for customers.csv, mails.csv and leaks.json (created if missing).",
)
@click.option("--seed", type=int, default=42, show_default=True, help="Random seed.")
@click.option(
    "--mails-per-customer",
    type=click.IntRange(min=1),
    default=10,
    show_default=True,
    help="Number of mails per customer.",
)
def datagen(num_customers: int, out_dir: Path, seed: int, mails_per_customer: int) -> None:
    """Generate deterministic synthetic bank customers and their mails.

    About 1% of the German customers leak a credit-card number in their mail subjects; leaks.json
    lists them.

    Example: lester datagen --customers 10000 --out data/synthetic
    """
    started = time.perf_counter()
    try:
        result = generate(num_customers, out_dir, seed=seed, mails_per_customer=mails_per_customer)
    except DatagenError as error:
        raise click.BadParameter(str(error), param_hint="'--out'") from error
    except OSError as error:
        raise click.ClickException(f"cannot write to '{out_dir}': {error}") from error
    print_summary(result, time.perf_counter() - started)


def print_summary(result: DatagenResult, seconds: float, console: Console | None = None) -> None:
    """Print the written paths, the row counts and the number of leaking customers.

    Examples
    --------
    >>> import tempfile
    >>> result = generate(3, tempfile.mkdtemp(), mails_per_customer=1)
    >>> print_summary(result, 0.1, Console(width=200))  # doctest: +ELLIPSIS
    Generated 3 customers and 3 mails in 0.1 s
    ...
    """
    console = console or Console()
    console.print(
        f"Generated [bold]{result.num_customers:,}[/] customers and "
        f"[bold]{result.num_mails:,}[/] mails in {seconds:.1f} s"
    )
    table = Table("file", "path", "rows")
    table.add_row("customers", str(result.customers_path), f"{result.num_customers:,}")
    table.add_row("mails", str(result.mails_path), f"{result.num_mails:,}")
    table.add_row("leaks", str(result.leaks_path), "")
    console.print(table)
    console.print(
        "German customers with a credit-card number in their mail subjects: "
        f"[yellow]{len(result.leaked_customer_ids)}[/] ({len(result.leaked_mail_ids)} mails)"
    )
