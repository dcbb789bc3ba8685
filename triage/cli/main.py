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

from triage.cli import assess, batch, catalogues, intake, records
from triage.cli.common import IO, ExitCode, Parser, exit_codes_text
from triage.safe_text import for_terminal
from triage.errors import Conflict, DefinitionError, EngineError, InvalidInput, Problem, StoreError, TriageError

# One line per command module, in the order `triage --help` lists their commands.
COMMANDS = (assess, batch, catalogues, intake, records)


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


def say_error(err: TextIO, text: str) -> None:
    """The one way an error line reaches the terminal: a message can quote what someone typed (a
    key, a file name, a linkId), so it is neutralised first (triage/safe_text.py)."""
    err.write(for_terminal(f"error: {text}") + "\n")


def _report(problems: list[Problem], err: TextIO) -> None:
    for problem in problems:
        say_error(err, str(problem))


class _Closed:
    """Stands in for a standard stream the process was started without (Python sets it to None):
    writing fails like writing to a closed file."""

    def __init__(self, name: str):
        self.name = name

    def write(self, text: str) -> int:
        raise OSError(9, f"{self.name} is closed")

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False

    def fileno(self) -> int:
        raise OSError(9, f"{self.name} is closed")


class _BestEffort:
    """Standard error: a message that cannot be written (closed, full) is dropped; the exit code
    still says what happened."""

    def __init__(self, stream):
        self._stream = stream

    def write(self, text: str) -> int:
        try:
            return self._stream.write(text)
        except (OSError, ValueError):
            return len(text)

    def flush(self) -> None:
        try:
            self._stream.flush()
        except (OSError, ValueError):
            pass

    def __getattr__(self, name):
        return getattr(self._stream, name)


class OutputFailed(TriageError):
    def __init__(self, error: BaseException):
        reason = getattr(error, "strerror", None) or str(error)
        super().__init__(f"standard output cannot be written ({reason.lower()})")


class _Output:
    """Standard output: a write or flush that fails (closed, disk full, EIO) becomes OutputFailed,
    reported as what it is, never as an internal error. A reader that went away (`| head`) is
    BrokenPipeError, handled on its own."""

    def __init__(self, stream):
        self._stream = stream

    def write(self, text: str) -> int:
        try:
            return self._stream.write(text)
        except BrokenPipeError:
            raise
        except (OSError, ValueError) as error:
            raise OutputFailed(error) from None

    def flush(self) -> None:
        try:
            self._stream.flush()
        except BrokenPipeError:
            raise
        except (OSError, ValueError) as error:
            raise OutputFailed(error) from None

    def __getattr__(self, name):
        return getattr(self._stream, name)


def main(argv: list[str] | None = None, out: TextIO | None = None, err: TextIO | None = None) -> int:
    io = IO(_Output(out or sys.stdout or _Closed("standard output")),
            _BestEffort(err or sys.stderr or _Closed("standard error")))
    code = _run(argv, io)
    if io.saved and code != ExitCode.OK:
        # The intake is committed: an exit code that says "failed" would make someone save it twice.
        intake, version = io.saved
        say_error(io.err, f"the intake WAS saved (intake {intake} version {version}), but the command could "
                  f"not finish (exit {int(code)}); do not save it again: see it with `triage show {intake}`")
        return ExitCode.SAVED_NOT_SHOWN
    return code


def _run(argv: list[str] | None, io: IO) -> int:
    try:
        with contextlib.redirect_stdout(io.out):  # argparse writes --help to sys.stdout itself
            parser = build_parser()
            args = parser.parse_args(argv)
        if not getattr(args, "handler", None):
            parser.print_help(io.out)
            return ExitCode.INVALID
        code = int(args.handler(args, io))
        io.out.flush()  # a full disk shows here, while it can still be reported
        return code
    except OutputFailed as error:
        say_error(io.err, f"output: {error}")
        return ExitCode.OUTPUT
    except InvalidInput as error:
        _report(error.problems, io.err)
        return ExitCode.INVALID
    except TriageError as error:
        kind, code, note = next(entry for entry in _ERRORS if isinstance(error, entry[0]))
        prefix = f"{kind.__name__.removesuffix('Error').lower()}: " if kind is not TriageError else ""
        say_error(io.err, f"{prefix}{error}{note}")
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
        say_error(io.err, f"internal: {type(error).__name__}: {error} (please report; TRIAGE_DEBUG=1 "
                  "shows details)")
        return ExitCode.INTERNAL


def run() -> None:
    sys.exit(main())
