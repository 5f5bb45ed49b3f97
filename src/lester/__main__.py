"""``python -m lester`` runs the command line."""

from lester.cli import main

main()
