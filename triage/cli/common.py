"""What every command of the terminal layer shares: the exit codes, the streams (``IO``), the parser
and the options several commands take. Command modules import this module and the core, never each
other (tests/test_architecture.py checks it)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import dataclass, field
from datetime import date
from enum import IntEnum
from pathlib import Path
from typing import Any, Callable, Iterable, TextIO

from triage.errors import InvalidInput, Problem


class ExitCode(IntEnum):
    """Every exit code of `triage`, with the one line that explains it. Each command's --help and the
    README's table are made from (or checked against) this table; there is no other copy."""

    def __new__(cls, value: int, meaning: str):
        member = int.__new__(cls, value)
        member._value_ = value
        member.meaning = meaning
        return member

    OK = 0, "success: the result, summary, catalogue or listing was printed"
    INVALID = 2, ("invalid input or command line: one line per problem on standard error, each naming "
                  "the field, file or option; nothing entered is lost")
    DEFINITION = 3, "a definition or settings file is broken (names the file and the item)"
    ENGINE = 4, "the rules engine failed or broke a safety check; no result is given"
    STORE = 5, ("the store cannot be used: not a triage store, damaged, written by a newer version, "
                "busy for over 10 s, or not writable (names the file)")
    CONFLICT = 6, ("conflict: the intake changed since the version this change was based on; nothing "
                   "was overwritten")
    AUDIT = 7, "audit verify: an audit row or a recorded version was changed or removed"
    INTERNAL = 70, "a bug, reported in one line (TRIAGE_DEBUG=1 shows the traceback); please report it"
    HANGUP = 129, "the terminal was closed; the answers entered are saved"
    INTERRUPTED = 130, "interrupted (Ctrl-C, or Ctrl-D at a prompt); answers already entered are saved"


# Codes any command can end with; each command adds its own (add_command's ``exit_codes``).
ALWAYS = (ExitCode.OK, ExitCode.INVALID, ExitCode.INTERNAL, ExitCode.INTERRUPTED)


def exit_codes_text(codes: Iterable[ExitCode], width: int = 78) -> str:
    """The ``exit codes:`` section of a --help epilog: the given codes, with their meanings."""
    import textwrap

    lines = ["exit codes:"]
    for code in sorted(set(codes)):
        lines += textwrap.wrap(code.meaning, width, initial_indent=f"  {int(code):<5}",
                               subsequent_indent=" " * 7)
    return "\n".join(lines) + "\n"


def exit_codes_markdown() -> str:
    """The README's exit-code table (tests/test_cli.py compares the two)."""
    rows = [f"| {int(code)} | {code.meaning} |" for code in ExitCode]
    return "\n".join(["| code | meaning |", "|---|---|", *rows]) + "\n"


@dataclass
class IO:
    """The streams a command talks through: results on ``out``, notes and errors on ``err``, answers
    typed on ``stdin``. Tests pass StringIO objects; a real run passes the process's streams."""

    out: TextIO
    err: TextIO
    stdin: TextIO = field(default_factory=lambda: sys.stdin)

    def width(self, stream: TextIO | None = None) -> int:
        """The terminal's width for ``stream`` (default: out); 100 when it is not a terminal."""
        stream = stream or self.out
        if stream.isatty():
            try:
                return os.get_terminal_size(stream.fileno()).columns
            except OSError:
                pass
        return 100

    def color(self, stream: TextIO | None = None) -> bool:
        stream = stream or self.out
        return stream.isatty() and "NO_COLOR" not in os.environ and os.environ.get("TERM") != "dumb"

    def note(self, text: str) -> None:
        """A side note for the person (e.g. ``saved: intake 3``): standard error, so that standard
        output holds only the result."""
        self.err.write(f"{text}\n")

    def write_json(self, data: Any) -> None:
        self.out.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")


Handler = Callable[[argparse.Namespace, IO], int]


class UsageError(InvalidInput):
    """Command-line problems exit like invalid input (2), naming the command and option."""


class Parser(argparse.ArgumentParser):
    def error(self, message: str):  # argparse would print usage and exit by itself
        raise UsageError([Problem(self.prog, message)])


def add_command(commands, name: str, *, help: str, description: str, handler: Handler,
                exit_codes: Iterable[ExitCode] = (), notes: str = "") -> Parser:
    """One subcommand: its parser, whose --help ends with ``notes`` and the exit codes it can
    return (from ExitCode), and the handler ``(args, io) -> int`` that runs it."""
    epilog = (notes.rstrip("\n") + "\n\n" if notes else "") + exit_codes_text([*ALWAYS, *exit_codes])
    parser = commands.add_parser(name, help=help, description=description, epilog=epilog,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.set_defaults(handler=handler)
    return parser


# --- options several commands share ---------------------------------------------------------------

def as_of_date(text: str) -> date:
    """argparse type of --as-of: a full date YYYY-MM-DD."""
    from triage.dates import parse_full_date

    try:
        return parse_full_date(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def intake_id(text: str) -> int:
    if text.isdigit() and int(text) > 0:
        return int(text)
    raise argparse.ArgumentTypeError(f"{text!r} is not an intake id (a whole number, as `triage list` shows)")


def version_number(text: str) -> int:
    if text.isdigit():
        return int(text)
    raise argparse.ArgumentTypeError(f"{text!r} is not a version number")


def add_settings_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--settings", metavar="FILE", help="clinic settings TOML (default: TRIAGE_SETTINGS, "
                        "else the shipped defaults)")


def settings_path(args: argparse.Namespace) -> Path | None:
    value = getattr(args, "settings", None) or os.environ.get("TRIAGE_SETTINGS")
    return Path(value) if value else None


def load_settings(args: argparse.Namespace):
    from triage.settings import load_settings as load

    return load(settings_path(args))


STORE_HELP = """the store: --db PATH, else the TRIAGE_DB environment variable, else
$XDG_DATA_HOME/fbss-triage/triage.db (default ~/.local/share/fbss-triage/triage.db); created on
first use (folder 0700, file 0600).
"""


def add_store_options(parser, *, who: bool = True, who_help: str = "who is doing this") -> None:
    """--db and --user for any command that uses the store (read them with store_path and user)."""
    parser.add_argument("--db", metavar="PATH", help="the store file (default: TRIAGE_DB, else the per-user store)")
    if who:
        parser.add_argument("--user", metavar="NAME", help=f"{who_help}, for the audit log (default: the OS user)")


def store_path(args: argparse.Namespace) -> Path:
    from triage.store import default_path

    value = getattr(args, "db", None) or os.environ.get("TRIAGE_DB")
    return Path(value) if value else default_path()


def user(args: argparse.Namespace) -> str:
    from triage.store import current_user

    return getattr(args, "user", None) or current_user()


def open_store(args: argparse.Namespace):
    from triage.store import open_store as open_

    return open_(store_path(args))


def write_formatted(io: IO, fmt: str, subject, *, as_json, as_markdown, as_text) -> int:
    """Print ``subject`` in the chosen format; text gets the terminal's width and colour."""
    if fmt == "json":
        io.write_json(as_json(subject))
    elif fmt == "markdown":
        io.out.write(as_markdown(subject))
    else:
        io.out.write(as_text(subject, width=io.width(), color=io.color()))
    return ExitCode.OK
