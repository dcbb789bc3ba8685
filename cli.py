"""`python cli.py ...` from a checkout: the same as `triage ...` and `python -m triage ...`."""
from triage.channels.cli.main import run

run()
