"""Run the triage command from a checkout: `python cli.py assess FILE` (same as the `triage` command)."""

from triage.cli import run

if __name__ == "__main__":
    run()
