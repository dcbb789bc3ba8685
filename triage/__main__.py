"""`python -m triage ...` is the `triage` command."""

from triage.channels.cli.main import run

run()
