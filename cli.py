"""`python cli.py ...` from a checkout: the same as `triage ...` and `python -m triage ...`."""
from triage.cli.main import run

run()
