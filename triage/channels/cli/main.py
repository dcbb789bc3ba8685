"""`triage`: builds the command line from the command modules, runs one command, and turns every
typed error of the core into one line and its exit code. Nothing here decides anything clinical.

To add a command: write a module in this package with ``register(commands)`` (see common.add_command)
and add it, with the commands it registers, to COMMANDS below.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import sys
from typing import TextIO

from triage.channels.cli.common import IO, ExitCode, OutputError, Parser, UsageError, command_words, exit_codes_text, report
from triage.core.errors import Problem, TriageError
from triage.core.safe_text import for_terminal

# Each command module (triage/channels/cli/NAME.py) and the commands it registers, in the order `triage --help`
# lists them. Starting a command imports its own module only: `triage assess` does not load the web's
# or the store's command code (tests/whole/test_architecture.py checks this table against the modules).
COMMANDS: dict[str, tuple[str, ...]] = {
    "assess": ("assess",),
    "batch": ("batch",),
    "catalogues": ("rules", "questions"),
    "intake": ("intake",),
    "records": ("list", "show", "export", "audit"),
    "record_requests": ("records",),
    "db": ("db",),
    "users": ("users",),
    "web": ("serve", "invite"),
}


class _Version(argparse.Action):
    """`triage --version`: the program, ruleset and questionnaire versions (read only when asked)."""

    def __init__(self, option_strings, dest=argparse.SUPPRESS, default=argparse.SUPPRESS, help=None):
        super().__init__(option_strings, dest=dest, default=default, nargs=0, help=help)

    def __call__(self, parser, namespace, values, option_string=None):
        from importlib import metadata

        from triage.core.questionnaire import load_questionnaire
        from triage.core.ruleset import load_ruleset

        try:
            program = metadata.version("fbss-triage")
        except metadata.PackageNotFoundError:  # a checkout that was never installed
            program = "(not installed)"
        ruleset, questionnaire = load_ruleset().ruleset, load_questionnaire().questionnaire
        sys.stdout.write(f"triage {program}; ruleset {ruleset.name} {ruleset.version}; "
                         f"questionnaire {questionnaire.id} {questionnaire.version}\n")
        parser.exit()


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The command line. ``only``: build that command's options alone (the others are registered as
    nothing, see common.add_command): starting a command does not build twenty others' help."""
    parser = Parser(
        prog="triage",
        description="Pre-consultation triage after a failed lumbar fusion. Decision support only: "
        "it is not a diagnosis, and every result recommends a physician consult.",
        epilog=lambda: "`triage COMMAND --help` shows a command's options and examples.\n\n" + exit_codes_text(ExitCode),
    )
    parser.add_argument("--version", action=_Version, help="print the program, ruleset and questionnaire versions")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    parser.commands = commands
    if only is not None:
        commands.wanted = only
    for module, names in COMMANDS.items():
        if only is None or only in names:
            importlib.import_module(f"triage.channels.cli.{module}").register(commands)
    return parser


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


class _Output:
    """Standard output: a write or flush that fails (closed, disk full, EIO) becomes OutputError,
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
            raise OutputError(error) from None

    def flush(self) -> None:
        try:
            self._stream.flush()
        except BrokenPipeError:
            raise
        except (OSError, ValueError) as error:
            raise OutputError(error) from None

    def __getattr__(self, name):
        return getattr(self._stream, name)


def main(argv: list[str] | None = None, out: TextIO | None = None, err: TextIO | None = None) -> int:
    io = IO(_Output(out or sys.stdout or _Closed("standard output")),
            _BestEffort(err or sys.stderr or _Closed("standard error")))
    code = _run(argv, io)
    if io.saved and code != ExitCode.OK:
        # An intake is committed: an exit code that says "failed" would make someone save it twice.
        if io.patient is not None:  # a patient reads that it is saved and their number, in their language
            wording = io.patient
            io.tell_patient(f"{wording.saved_not_shown} {wording.come_back_code.format(code=io.saved[-1][0])}",
                            blank_before=True)
        saved = ", ".join(f"intake {intake} version {version}" for intake, version in io.saved)
        io.staff_err.write(f"error: {io.command}: saved: {saved} WAS saved, but the command could not finish (exit {int(code)}); "
                           f"do not save it again: see it with `triage show {io.saved[-1][0]}`\n")
        return ExitCode.SAVED_NOT_SHOWN
    return code


def _run(argv: list[str] | None, io: IO) -> int:
    try:
        with contextlib.redirect_stdout(io.out):  # argparse writes --help and --version to sys.stdout
            argv = sys.argv[1:] if argv is None else argv
            # The command alone when the first word names one; else (no command, an option first, a
            # mistyped command) the whole command line, so help and "did you mean" list every command.
            parser = build_parser(only=argv[0]) if argv and not argv[0].startswith("-") else None
            if parser is None or argv[0] not in parser.commands.choices:
                parser = build_parser()
            args, extra = parser.parse_known_args(argv)
        io.command = command_words(args)
        if extra:  # name the command they were given to, not just `triage`
            raise UsageError([Problem(io.command, f"unrecognized arguments: {' '.join(extra)}"
                                             f"{_option_hint(parser, args, extra)}")])
        if not argv:  # bare `triage`: the commands on one screen, and how to learn more
            io.err.write(_short_usage(parser))
            return ExitCode.INVALID
        if not getattr(args, "handler", None):
            parser.print_help(io.out)
            return ExitCode.INVALID
        code = int(args.handler(args, io))
        io.out.flush()  # a full disk shows here, while it can still be reported
        return code
    except TriageError as error:  # once saved, a patient reads main's sentence instead
        if io.patient_started and not io.saved:
            io.tell_patient(io.patient.went_wrong, blank_before=True)
        staff = io.staff_err if io.saved or io.patient_started else io.err
        return int(report(error, staff, command=io.command))
    except KeyboardInterrupt:  # (an intake's questions say it themselves; this is Ctrl-C at any other time)
        if io.patient_started and not io.saved:
            io.tell_patient(io.patient.interrupted, blank_before=True)
        else:
            io.err.write("interrupted\n")
        return ExitCode.INTERRUPTED
    except BrokenPipeError:
        # The reader went away (e.g. `| head`); silence the interpreter's own flush error.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return ExitCode.OK
    except SystemExit as done:  # --help, --version
        return int(done.code or 0)
    except Exception as error:  # never a traceback for a user; keep it one line
        if os.environ.get("TRIAGE_DEBUG"):
            raise
        if io.patient_started and not io.saved:
            io.tell_patient(io.patient.went_wrong, blank_before=True)
        (io.staff_err if io.patient_started else io.err).write(
            for_terminal(f"error: {io.command}: internal: {type(error).__name__}: {error} (please report; "
                         "TRIAGE_DEBUG=1 shows details)") + "\n")
        return ExitCode.INTERNAL


def _short_usage(parser: argparse.ArgumentParser) -> str:
    """What bare `triage` prints: every command with its one-line help, then where to read more."""
    rows = [(action.dest, action.help or "") for action in parser.commands._choices_actions]
    width = max(len(name) for name, _ in rows) + 2
    lines = ["usage: triage COMMAND [OPTIONS]", "", "commands:",
             *(f"  {name.ljust(width)}{help}" for name, help in rows), "",
             "`triage COMMAND --help` shows a command's options and examples;",
             "`triage --help` shows this list with the exit codes."]
    return "\n".join(lines) + "\n"


def _option_hint(parser: argparse.ArgumentParser, args, extra: list[str]) -> str:
    """`` (did you mean --status?)`` for a mistyped option of the command that was run."""
    import difflib

    command = parser
    for key in ("command", "audit_command", "db_command", "users_command", "records_command"):  # down to the action that ran
        choices = next((action.choices for action in command._actions
                        if isinstance(action, argparse._SubParsersAction)), {})
        command = choices.get(getattr(args, key, None), command)
    options = [option for action in command._actions for option in action.option_strings if option.startswith("--")]
    hints = []
    for word in extra:
        if word.startswith("--"):
            close = difflib.get_close_matches(word.split("=", 1)[0], options, n=1, cutoff=0.7)
            if close:
                hints.append(f"{word.split('=', 1)[0]}: did you mean {close[0]}?")
    return f" ({'; '.join(hints)})" if hints else ""


def run() -> None:
    sys.exit(main())
