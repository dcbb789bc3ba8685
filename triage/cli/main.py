"""`triage`: builds the command line from the command modules, runs one command, and turns every
typed error of the core into one line and its exit code. Nothing here decides anything clinical.

To add a command: write a module in this package with ``register(commands)`` (see common.add_command)
and add it to COMMANDS below.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from typing import TextIO

from triage.cli import assess, batch, catalogues, intake, records, users, web
from triage.cli.common import IO, ExitCode, Parser, exit_codes_text
from triage.errors import Conflict, DefinitionError, EngineError, InvalidInput, Problem, StoreError, TriageError

# One line per command module, in the order `triage --help` lists their commands.
COMMANDS = (assess, batch, catalogues, intake, records, users, web)


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="triage",
        description="Pre-consultation triage after a failed lumbar fusion. Decision support only: "
        "it is not a diagnosis, and every result recommends a physician consult.",
        epilog=exit_codes_text(ExitCode),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    for module in COMMANDS:
        module.register(commands)
    return parser


# Each typed core error -> its exit code and any note; the first matching class wins.
_ERRORS = (
    (DefinitionError, ExitCode.DEFINITION, ""),
    (Conflict, ExitCode.CONFLICT, ""),
    (StoreError, ExitCode.STORE, ""),
    (EngineError, ExitCode.ENGINE, " (no result was given; please report this)"),
    (TriageError, ExitCode.INVALID, ""),
)


def _report(problems: list[Problem], err: TextIO) -> None:
    for problem in problems:
        err.write(f"error: {problem}\n")


def main(argv: list[str] | None = None, out: TextIO | None = None, err: TextIO | None = None) -> int:
    io = IO(out or sys.stdout, err or sys.stderr)
    try:
        with contextlib.redirect_stdout(io.out):  # argparse writes --help to sys.stdout itself
            parser = build_parser()
            args = parser.parse_args(argv)
        if not getattr(args, "handler", None):
            parser.print_help(io.out)
            return ExitCode.INVALID
        return int(args.handler(args, io))
    except InvalidInput as error:
        _report(error.problems, io.err)
        return ExitCode.INVALID
    except TriageError as error:
        kind, code, note = next(entry for entry in _ERRORS if isinstance(error, entry[0]))
        prefix = f"{kind.__name__.removesuffix('Error').lower()}: " if kind is not TriageError else ""
        io.err.write(f"error: {prefix}{error}{note}\n")
        return code
    except KeyboardInterrupt:
        io.err.write("interrupted\n")
        return ExitCode.INTERRUPTED
    except BrokenPipeError:
        # The reader went away (e.g. `| head`); silence the interpreter's own flush error.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return ExitCode.OK
    except SystemExit as done:  # --help
        return int(done.code or 0)
    except Exception as error:  # never a traceback for a user; keep it one line
        if os.environ.get("TRIAGE_DEBUG"):
            raise
        io.err.write(f"error: internal: {type(error).__name__}: {error} (please report; TRIAGE_DEBUG=1 "
                     "shows details)\n")
        return ExitCode.INTERNAL


def run() -> None:
    sys.exit(main())
