"""`python -m triage ...` is the `triage` command."""

from triage.cli.main import run

run()
