"""What every command of the terminal layer shares: the exit codes, the streams (``IO``), the parser
and the options several commands take. Command modules import this module and the core, never each
other (tests/whole/test_architecture.py checks it)."""

from __future__ import annotations

import argparse
import functools
import json
import os
import sys
from dataclasses import dataclass, field
from datetime import date
from enum import IntEnum
from pathlib import Path
from typing import Any, Callable, Iterable, TextIO

from triage.core.errors import InvalidInput, Problem, TriageError


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
    AUDIT = 7, "audit verify: a stored value was changed, added or removed (names each changed row)"
    SAVED_NOT_SHOWN = 8, ("the intake WAS saved, but the command could not finish afterwards (output closed "
                          "or full); do not save it again: see it with `triage show ID`")
    INTERNAL = 70, "a bug, reported in one line (TRIAGE_DEBUG=1 shows the traceback); please report it"
    OUTPUT = 74, "standard output cannot be written (closed, disk full); nothing was saved"
    HANGUP = 129, "the terminal was closed; the answers entered are saved"
    INTERRUPTED = 130, "interrupted (Ctrl-C, or Ctrl-D at a prompt); answers already entered are saved"


# Each typed core error -> its exit code and a note; the first matching class wins.
def _error_table():
    from triage.core.errors import Conflict, DefinitionError, EngineError, StoreError, TriageError

    return (
        (OutputError, ExitCode.OUTPUT, ""),
        (DefinitionError, ExitCode.DEFINITION, ""),
        (Conflict, ExitCode.CONFLICT, ""),
        (StoreError, ExitCode.STORE, ""),
        (EngineError, ExitCode.ENGINE, " (no result was given; please report this)"),
        (TriageError, ExitCode.INVALID, ""),
    )


def report(error: Exception, err: TextIO, subject: str = "", command: str = "") -> ExitCode:
    """Write a typed core error as one line per problem (``error: [command: ][subject: ]...``) and
    return its exit code. ``command`` names the command that was run (``triage show``, as IO.command);
    ``subject`` names the file when a command handles several."""
    from triage.core.safe_text import for_terminal

    # An error line can quote what someone typed (a key, a file name, a linkId): neutralised here,
    # the one place error lines are written (triage/core/safe_text.py).
    named = f"error: {command}: " if command else "error: "
    prefix = f"{named}{subject}: " if subject else named
    if isinstance(error, InvalidInput):
        for problem in error.problems:  # a problem that names the file (or the command) already says so
            head = "error: " if _names_command(problem.where) else named if problem.where == subject else prefix
            err.write(for_terminal(f"{head}{problem}") + "\n")
        return ExitCode.INVALID
    kind, code, note = next(entry for entry in _error_table() if isinstance(error, entry[0]))
    label = f"{kind.__name__.removesuffix('Error').lower()}: " if code != ExitCode.INVALID else ""
    err.write(for_terminal(f"{prefix}{label}{error}{note}") + "\n")
    return code


def _names_command(where: str) -> bool:
    """A command-line problem from argparse names its command itself (``triage show``)."""
    return where == "triage" or where.startswith("triage ")


def command_words(args: argparse.Namespace) -> str:
    """``triage show``, ``triage audit verify``: the command that was run, as error lines name it (an
    action of a command is kept in ``<command>_command``: audit_command, db_command, records_command)."""
    command = getattr(args, "command", None)
    action = getattr(args, f"{command}_command", None) if command else None
    return " ".join(word for word in ("triage", command, action) if word)


class OutputError(TriageError):
    """Standard output cannot be written (closed, disk full): its own exit code, never "internal"."""

    def __init__(self, error: BaseException):
        reason = getattr(error, "strerror", None) or str(error)
        super().__init__(f"standard output cannot be written ({reason.lower()})")


# Codes any command can end with; each command adds its own (add_command's ``exit_codes``).
ALWAYS = (ExitCode.OK, ExitCode.INVALID, ExitCode.INTERNAL, ExitCode.OUTPUT, ExitCode.INTERRUPTED)

# What the codes every command can return mean for a command that keeps nothing typed at a prompt (the
# README's table gives their widest meaning, which is intake's); a command gives its own words with
# add_command's ``exit_words``.
PLAIN_WORDS = {
    ExitCode.OK: "success",
    ExitCode.INVALID: "invalid command line or input: one line per problem on standard error, naming the "
                      "option, file or field",
    ExitCode.OUTPUT: "standard output cannot be written (closed, disk full)",
    ExitCode.INTERRUPTED: "interrupted (Ctrl-C)",
}


def exit_codes_text(codes: Iterable[ExitCode], width: int = 78, words: dict | None = None) -> str:
    """The ``exit codes:`` section of a --help epilog: the given codes, with their meanings (``words``
    replaces the table's meaning of some codes)."""
    words = words or {}
    return "\n".join(["exit codes:", *(_code_lines(code, width, words.get(code, code.meaning))
                                        for code in sorted(set(codes)))]) + "\n"


@functools.cache
def _code_lines(code: ExitCode, width: int, meaning: str) -> str:
    import textwrap

    return "\n".join(textwrap.wrap(meaning, width, initial_indent=f"  {int(code):<5}", subsequent_indent=" " * 7))


def _wrap_block(text: str, width: int) -> str:
    """A --help notes block refilled to ``width``. Unindented lines form paragraphs. An indented line
    starts a block that takes in the lines after it with the same indent (its paragraph) or a deeper
    one (a hanging continuation, as under ``coordinator: ...``), refilled under that indent; a table
    row (two spaces inside, as in ``Enter       keep the answer``) hangs under its second column."""
    import re
    import textwrap

    def indent_of(line: str) -> int:
        return len(line) - len(line.lstrip())

    def fill(words: str, first: int, rest: int) -> list[str]:
        return textwrap.wrap(words, width, initial_indent=" " * first, subsequent_indent=" " * rest,
                             break_on_hyphens=False, break_long_words=False) or [""]

    lines, out, number = text.rstrip("\n").split("\n"), [], 0
    while number < len(lines):
        line = lines[number]
        if not line.strip():
            out.append("")
            number += 1
            continue
        first = indent_of(line)
        row = re.search(r"\S {2,}(?=\S)", line[first:]) if first else None
        block, rest, number = [line.strip()], first + 2 if not first else first, number + 1
        if row:
            rest = first + row.end()
        while number < len(lines) and lines[number].strip():
            follow = lines[number]
            deeper = first > 0 and indent_of(follow) > first  # an unindented paragraph takes unindented lines
            same = indent_of(follow) == first and not row and not (first and re.search(r"\S {2,}\S", follow.strip())) \
                and not (first == 0 and block[-1].endswith(":"))  # a heading such as "output:" stands alone
            if not (deeper or same):
                break
            if deeper and not row:
                rest = indent_of(follow)
            block.append(follow.strip())
            number += 1
        out.extend(fill(" ".join(block), first, rest if first else 0))
    return "\n".join(out) + "\n"


def _examples_text(examples: tuple[str, ...], width: int) -> str:
    """The examples, their ``# comments`` in one column when that fits the width; a comment that
    does not fit goes on the line after its command, and a long command is broken with ``\\``."""
    split = [(command.rstrip(), comment.strip()) for command, _, comment in
             (example.partition(" #") if " #" in example else (example, "", "") for example in examples)]
    column = max((len(command) for command, comment in split if comment), default=0) + 4
    lines = []
    for command, comment in split:
        if comment and column + len(comment) + 2 <= width + 2:
            lines.append(f"  {command.ljust(column - 2)}# {comment}")
            continue
        current = "  "
        for word in command.split(" "):
            if current.strip() and len(current) + 1 + len(word) + 2 > width:
                lines.append(current + " \\")
                current = "      " + word
            else:
                current = current + (" " if current.strip() else "") + word
        lines.append(current)
        if comment:
            lines.append(f"      # {comment}")
    return "examples:\n" + "".join(line + "\n" for line in lines)


def exit_codes_markdown() -> str:
    """The README's exit-code table (tests/channels/cli/test_cli.py compares the two)."""
    rows = [f"| {int(code)} | {code.meaning} |" for code in ExitCode]
    return "\n".join(["| code | meaning |", "|---|---|", *rows]) + "\n"


@dataclass
class IO:
    """The streams a command talks through: results on ``out``, notes and errors on ``err``, answers
    typed on ``stdin``. Tests pass StringIO objects; a real run passes the process's streams."""

    out: TextIO
    err: TextIO
    stdin: TextIO = field(default_factory=lambda: sys.stdin)
    # (intake, version) once a command has committed one: from then on the exit code must say so.
    saved: list[tuple[int, int]] = field(default_factory=list)
    # A patient at the terminal (`triage intake --mode patient`): their language's wording. Lines for
    # staff (an error naming a file, the exit-8 line) then go to ``staff_err``, never to their screen.
    patient: Any = None
    # Set once a patient's first answers are saved: from then on any failure tells them, in their
    # words, that their answers so far are saved (the error line itself is for staff).
    patient_started: bool = False
    # The command that was run (``triage show``): every error line names it (see ``error``).
    command: str = "triage"

    @property
    def staff_err(self) -> TextIO:
        """Where a line for staff goes: standard error, unless a patient reads it (a terminal while
        ``patient`` is set); a kiosk that sends standard error to a log (``2>>kiosk.log``) keeps them."""
        if self.patient is not None and self.err.isatty():
            return _Discard()
        return self.err

    def width(self, stream: TextIO | None = None) -> int:
        """The width to write ``stream`` (default: out) at: the terminal's, else COLUMNS (a pipe into
        `less` in an 80-column terminal must not be 100 wide: words broke mid-word there), else 80."""
        stream = stream or self.out
        if stream.isatty():
            try:
                return os.get_terminal_size(stream.fileno()).columns
            except OSError:
                pass
        columns = os.environ.get("COLUMNS", "")
        return int(columns) if columns.isascii() and columns.isdigit() and 20 <= int(columns) <= 1000 else 80

    def color(self, stream: TextIO | None = None) -> bool:
        stream = stream or self.out
        return stream.isatty() and "NO_COLOR" not in os.environ and os.environ.get("TERM") != "dumb"

    def height(self) -> int:
        try:
            return os.get_terminal_size(self.out.fileno()).lines
        except (OSError, ValueError, AttributeError):
            return 24

    def page(self, text: str, *, pager: bool = True) -> None:
        """Write ``text`` to out; through $PAGER (default ``less -R``) when out is a terminal and the
        text is taller than it. Never when piped or with --no-pager (``pager=False``)."""
        if pager and self.out.isatty() and text.count("\n") >= self.height() - 1 and self._pager(text):
            return
        self.out.write(text)

    def _pager(self, text: str) -> bool:
        import shlex
        import subprocess

        command = shlex.split(os.environ.get("PAGER") or "less -R")
        if not command:  # PAGER="" turns paging off
            return False
        env = dict(os.environ)
        if os.path.basename(command[0]) == "less":
            env.setdefault("LESS", "FRX")  # keep colours; quit at once when it fits after all
        self.out.flush()
        try:
            subprocess.run(command, input=text, text=True, env=env, check=False)
        except OSError:  # no such pager: print instead
            return False
        except KeyboardInterrupt:  # Ctrl-C in the pager just ends it
            pass
        return True

    def unicode(self, stream: TextIO | None = None) -> bool:
        """Whether box characters and ellipses will show: a UTF-8 stream and a terminal that is not
        TERM=dumb."""
        stream = stream or self.out
        encoding = (getattr(stream, "encoding", None) or "utf-8").lower().replace("-", "")
        return encoding == "utf8" and os.environ.get("TERM") != "dumb"

    def note(self, text: str) -> None:
        """A side note for the person (e.g. ``saved: intake 3``): standard error, so that standard
        output holds only the result."""
        from triage.core.safe_text import for_terminal

        self.err.write(for_terminal(text) + "\n")  # notes can name files and people: neutralised

    def tell_patient(self, text: str, *, blank_before: bool = False) -> None:
        """A sentence for the patient at the terminal (their language's words, never a path), wrapped
        to the screen so that no word is cut at its edge. On standard error, like every other line
        about how the intake went; on standard output when only that is the screen (a kiosk that
        logs standard error), or when standard output cannot be written."""
        import textwrap

        streams = [self.err]
        try:
            if not self.err.isatty() and self.out.isatty():
                streams.insert(0, self.out)
        except (OSError, ValueError):
            pass
        for stream in streams:
            try:
                lines = textwrap.wrap(text, max(self.width(stream) - 1, 20), break_long_words=False,
                                      break_on_hyphens=False)
                stream.write(("\n" if blank_before else "") + "\n".join(lines) + "\n")
                stream.flush()
                return
            except (OSError, ValueError, OutputError):
                continue

    def error(self, text: str) -> None:
        """One error line naming the command: ``error: triage db backup: ...`` (neutralised)."""
        from triage.core.safe_text import for_terminal

        self.err.write(for_terminal(f"error: {self.command}: {text}") + "\n")

    def write_json(self, data: Any) -> None:
        from triage.core.safe_text import json_text

        self.out.write(json_text(data, indent=2) + "\n")


class _Discard:
    """A stream that keeps nothing (see IO.staff_err)."""

    def write(self, text: str) -> int:
        return len(text)

    def flush(self) -> None:
        pass


Handler = Callable[[argparse.Namespace, IO], int]


class UsageError(InvalidInput):
    """Command-line problems exit like invalid input (2), naming the command and option."""


class Parser(argparse.ArgumentParser):
    """argparse with one-line errors naming the command (``triage assess: ...``), a did-you-mean
    for a mistyped choice, wrapped descriptions and a verbatim epilog (examples, notes, exit codes)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", _Formatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str):  # argparse would print usage and exit by itself
        raise UsageError([Problem(self.prog, _did_you_mean(message))])

    def format_help(self) -> str:
        # The epilog may be a function: made only for --help (wrapping every exit code's meaning cost
        # every command's start-up a millisecond).
        epilog, self.epilog = self.epilog, None
        try:
            text = super().format_help()
        finally:
            self.epilog = epilog
        epilog = epilog() if callable(epilog) else epilog
        return text + ("\n" + epilog if epilog else "")


class _Formatter(argparse.HelpFormatter):
    """Wraps descriptions and help to the terminal (COLUMNS), at most 100 columns."""

    def __init__(self, prog: str, **kwargs):
        kwargs.setdefault("width", _help_width())
        kwargs.setdefault("max_help_position", 28)
        super().__init__(prog, **kwargs)


@functools.cache
def _help_width() -> int:
    """Asked once per process: argparse makes a formatter for every option it adds."""
    import shutil

    return min(shutil.get_terminal_size((80, 24)).columns, 100) - 2


def _did_you_mean(message: str) -> str:
    """``invalid choice: 'asses' (choose from 'assess', ...)`` -> ``... did you mean 'assess'?``."""
    import difflib
    import re

    match = re.search(r"invalid choice: '([^']*)' \(choose from (.*)\)", message)
    if not match:
        return message
    typed, choices = match.group(1), re.findall(r"'([^']*)'", match.group(2))
    close = difflib.get_close_matches(typed, choices, n=1, cutoff=0.6)
    hint = f"did you mean '{close[0]}'?" if close else f"one of: {', '.join(choices)}"
    if message.startswith("argument COMMAND:"):
        return f"'{typed}' is not a command ({hint})"
    return f"{message[:match.start()]}invalid choice: '{typed}' ({hint})"


class _Skipped:
    """What a command that was not asked for registers itself on (``triage.channels.cli.main.build_parser``):
    every call is accepted and builds nothing, so starting a command builds only its own options."""

    def __getattr__(self, name: str):
        return self._nothing

    def _nothing(self, *args, **kwargs) -> "_Skipped":
        return self


_SKIPPED = _Skipped()


def add_command(commands, name: str, *, help: str, description: str, handler: Handler,
                exit_codes: Iterable[ExitCode] = (), examples: Iterable[str] = (), notes: str = "",
                exit_words: dict[ExitCode, str] | None = None) -> Parser:
    """One subcommand: its parser, whose --help ends with EXAMPLES, ``notes`` and the exit codes it
    can return (from ExitCode; the codes every command shares in PLAIN_WORDS, unless ``exit_words``
    or ``exit_codes`` names them: then in those words, or the table's), and the handler
    ``(args, io) -> int`` that runs it. The epilog is wrapped to the terminal."""
    if commands is _SKIPPED or getattr(commands, "wanted", name) != name:
        return _SKIPPED
    examples, exit_codes = tuple(examples), tuple(exit_codes)  # read again at each --help

    def epilog() -> str:
        width = _help_width()
        words = {code: meaning for code, meaning in PLAIN_WORDS.items() if code not in exit_codes}
        words.update(exit_words or {})
        parts = []
        if examples:
            parts.append(_examples_text(examples, width))
        if notes:
            parts.append(_wrap_block(notes, width))
        parts.append(exit_codes_text([*ALWAYS, *exit_codes], width=width - 2, words=words))
        return "\n".join(parts)

    parser = commands.add_parser(name, help=help, description=description, epilog=epilog)
    parser.set_defaults(handler=handler)
    return parser


def add_pager_option(parser) -> None:
    parser.add_argument("--no-pager", dest="pager", action="store_false",
                        help="print straight to the terminal (the pager is used only on a terminal, when "
                        "the output is taller than the screen: $PAGER, else less -R)")


def add_format_option(parser, choices: tuple[str, ...], help: str, default: str | None = "text",
                      required: bool = False) -> None:
    # FORMAT in the usage line, the choices in the help: `{text,json,markdown,fhir}` twice overflowed
    # a 60-column terminal.
    parser.add_argument("-f", "--format", choices=choices, default=None if required else default,
                        required=required, metavar="FORMAT", help=f"{', '.join(choices)}: {help}")


# --- options several commands share ---------------------------------------------------------------

def as_of_date(text: str) -> date:
    """argparse type of --as-of: a full date YYYY-MM-DD."""
    from triage.core.dates import parse_full_date

    try:
        return parse_full_date(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


LARGEST_ID = 2**63 - 1  # the store's integer range (SQLite integer, PostgreSQL bigint)


def _whole_number(text: str) -> int | None:
    """ASCII digits only (int() also reads other scripts' digits) and within the store's range."""
    if text.isascii() and text.isdigit() and len(text) <= 19 and int(text) <= LARGEST_ID:
        return int(text)
    return None


def intake_id(text: str) -> int:
    number = _whole_number(text)
    if number:
        return number
    raise argparse.ArgumentTypeError(f"{text!r} is not an intake id (a whole number, as `triage list` shows)")


def version_number(text: str) -> int:
    number = _whole_number(text)
    if number is not None:
        return number
    raise argparse.ArgumentTypeError(f"{text!r} is not a version number")


def count(text: str) -> int:
    """How many (``--limit``, ``--offset``): a whole number, 0 or more."""
    number = _whole_number(text)
    if number is not None:
        return number
    raise argparse.ArgumentTypeError(f"{text!r} is not a number of intakes (a whole number, 0 or more)")


def person_name(text: str) -> str:
    """argparse type of --user: recorded in the audit log and shown by `show` and the exports."""
    from triage.core.safe_text import refuse_unsafe

    if not text.strip():
        raise argparse.ArgumentTypeError("is empty; give the name of who is doing this")
    if len(text) > 100:
        raise argparse.ArgumentTypeError("is longer than 100 characters")
    try:
        return refuse_unsafe(text).strip()
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def add_settings_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--settings", metavar="FILE", help="clinic settings TOML (default: TRIAGE_SETTINGS, "
                        "else settings in the service's configuration file, else the shipped defaults)")


def settings_path(args: argparse.Namespace) -> Path | None:
    """--settings, else TRIAGE_SETTINGS, else the service's configuration file's (triage.channels.config),
    else None (the shipped defaults)."""
    value, where = getattr(args, "settings", None), "--settings"
    if value is None:
        value, where = os.environ.get("TRIAGE_SETTINGS"), "TRIAGE_SETTINGS"
    if value is not None and not value.strip():  # set but empty: a mistake, not "use the defaults"
        raise UsageError([Problem(where, "is empty; give a settings file, or leave it out for the shipped defaults")])
    if value is None:
        from triage.channels.config import configured_settings

        value = configured_settings()
    return Path(value) if value else None


def load_settings(args: argparse.Namespace):
    from triage.core.settings import load_settings as load

    return load(settings_path(args))


def add_language_option(parser, help: str, default: str | None = "en") -> None:
    """--lang: the language a patient reads (coordinator and clinician wording is English)."""
    from triage.core.language_names import LANGUAGES  # names only: no definition is loaded to build the parser

    parser.add_argument("--lang", choices=tuple(LANGUAGES), default=default,
                        help=help + " (" + ", ".join(f"{code} = {name}" for code, name in LANGUAGES.items())
                        + f"; default {default or 'en'})")


STORE_HELP = """the store: --db PATH, else the TRIAGE_DB environment variable, else db in the
service's configuration file (TRIAGE_CONFIG, else /etc/fbss-triage/triage.toml when it exists),
else $XDG_DATA_HOME/fbss-triage/triage.db (default: ~/.local/share/fbss-triage/triage.db);
created on first use (folder 0700, file 0600). A warning says when the store opened is not the
configured one (see docs/operations.md). A PostgreSQL store for several machines:
--db postgresql://USER@HOST/DATABASE?sslmode=verify-full (see docs/store.md).
"""


def add_store_options(parser, *, who: bool = True, who_help: str = "who is doing this") -> None:
    """--db and --user for any command that uses the store (read them with store_path and user)."""
    parser.add_argument("--db", metavar="PATH", help="the store file or postgresql:// URL (default: TRIAGE_DB, else db in the service's "
                        "configuration file, else the per-user store)")
    parser.add_argument("--insecure-transport", action="store_true", dest="insecure_transport",
                        help="allow a postgresql:// store over TCP without a verified certificate (logged)")
    if who:
        parser.add_argument("--user", type=person_name, metavar="NAME", help=f"{who_help}, for the audit log (default: the OS user)")


def store_path(args: argparse.Namespace) -> Path | str:
    """The store's file, or its PostgreSQL URL (``postgresql://...``) as given."""
    return _store_choice(args)[0]


def _store_choice(args: argparse.Namespace) -> tuple[Path | str, str, "tuple[str, Path] | None"]:
    """The store (--db, else TRIAGE_DB, else the configuration file's db, else the per-user store),
    what chose it, and the store the service's configuration file names (with the file), if any."""
    from triage.channels.config import configured_store
    from triage.records.store import default_path, is_postgresql_url

    configured = configured_store()
    value, chosen_by = getattr(args, "db", None), "--db"
    if value is None:
        value, chosen_by = os.environ.get("TRIAGE_DB"), "TRIAGE_DB"
        if value is not None and not value.strip():
            # Set but empty is a mistake (a typo in a script), not a wish for the per-user store.
            raise UsageError([Problem("TRIAGE_DB", "is set but empty; give a store path, or unset it to use "
                                      f"the per-user store ({default_path()})")])
    elif not value.strip():
        raise UsageError([Problem("--db", "is empty; give a store path")])
    if value is None and configured is not None:
        value, chosen_by = configured[0], str(configured[1])
    if value is None:
        return default_path(), "default", configured
    if is_postgresql_url(value):
        return value, chosen_by, configured
    return Path(value), chosen_by, configured


def user(args: argparse.Namespace) -> str:
    from triage.records.store import current_user

    return getattr(args, "user", None) or current_user()


def store_warning(args: argparse.Namespace) -> str | None:
    """The warning line when the store this command opens is not the one the service's configuration
    file names (the service and this command would not see the same intakes); once per command."""
    from triage.channels.config import mask_url, same_store

    location, chosen_by, configured = _store_choice(args)
    if configured is None or getattr(args, "store_warned", False) or same_store(location, configured[0]):
        return None
    args.store_warned = True  # once per command, however often it opens the store
    return (f"warning: this store ({mask_url(str(location))}, from {chosen_by}) is not the one configured for the "
            f"service ({mask_url(configured[0])}, in {configured[1]})")


def open_store(args: argparse.Namespace, io: "IO | None" = None, *, for_reading: bool = False):
    """The store of --db / TRIAGE_DB. Reading commands (``for_reading``) read a store they cannot
    write (a read-only file system or copy) instead of refusing it, and say that this access cannot
    be recorded in its audit log."""
    from triage.records.store import open_store as open_

    warning = store_warning(args)
    if warning:
        from triage.core.safe_text import for_terminal

        (io.staff_err if io is not None else sys.stderr).write(for_terminal(warning) + "\n")  # paths: staff only
    location = _store_choice(args)[0]
    if getattr(args, "insecure_transport", False):  # as TRIAGE_INSECURE_TRANSPORT=1 (processes started inherit it)
        os.environ["TRIAGE_INSECURE_TRANSPORT"] = "1"
    store = open_(location, for_reading=for_reading)
    if store.read_only and io is not None and getattr(args, "audit_command", None) != "verify":
        io.note(f"note: {store.path} is read-only: this access cannot be recorded in its audit log")
    return store


def write_formatted(io: IO, fmt: str, subject, *, as_json, as_markdown, as_text, pager: bool = True) -> int:
    """Print ``subject`` in the chosen format; text gets the terminal's width, colour and pager."""
    if fmt == "json":
        io.write_json(as_json(subject))
    elif fmt == "markdown":
        io.out.write(as_markdown(subject))
    else:
        io.page(as_text(subject, width=io.width(), color=io.color()), pager=pager)
    return ExitCode.OK
