"""The ``lester`` command line.

Every command exits non-zero on bad input with a message naming what is wrong, and changes
nothing on disk in that case.

Examples
--------
>>> from click.testing import CliRunner
>>> CliRunner().invoke(main, ["--help"]).exit_code
0
"""

from __future__ import annotations

import click

from lester.cli.datagen_cmd import datagen
from lester.cli.inspect_cmd import inspect_group
from lester.cli.maintain_cmd import (
    affected_command,
    correct_command,
    forget_rows_command,
    forget_values_command,
    verify_forgotten_command,
)
from lester.cli.rewrite_cmd import rewrite_command
from lester.cli.runs_cmd import run_command, runs_command, show_command


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="lester")
def main() -> None:
    """Lester: declarative ML pipelines with provenance, and fast maintenance of their
    artifacts when inputs must be deleted or corrected."""


main.add_command(datagen)
main.add_command(run_command)
main.add_command(runs_command)
main.add_command(show_command)
main.add_command(affected_command)
main.add_command(forget_values_command)
main.add_command(forget_rows_command)
main.add_command(correct_command)
main.add_command(verify_forgotten_command)
main.add_command(inspect_group)
main.add_command(rewrite_command)
