"""The `triage` command line. Outer layer: parses arguments, calls the core, prints, maps errors to
exit codes. Nothing here decides anything clinical."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from datetime import date
from pathlib import Path
from typing import TextIO

from triage.errors import Conflict, DefinitionError, EngineError, InvalidInput, Problem, StoreError, TriageError
from triage.intake_cli import add_parser as add_intake_parser

EXIT_OK = 0
EXIT_INVALID = 2  # invalid answers, file or command line: one line per problem, naming the field
EXIT_DEFINITION = 3  # a questionnaire, rules or settings file is broken
EXIT_ENGINE = 4  # the engine failed or broke a safety invariant; no result is given
EXIT_STORE = 5  # the store cannot be used: not a triage store, damaged, newer schema, busy, not writable
EXIT_CONFLICT = 6  # the intake changed since the version this change was based on; nothing was saved
EXIT_AUDIT = 7  # `audit verify`: the audit log or a recorded version was changed or removed
EXIT_INTERRUPTED = 130  # Ctrl-C
EXIT_INTERNAL = 70  # a bug: reported in one line (TRIAGE_DEBUG=1 shows the traceback)

EXIT_CODES_HELP = """exit codes:
  0    a result (or catalogue) was printed
  2    invalid input: one line per problem, each naming the field or file
  3    a definition or settings file is broken (names the file and item)
  4    the rules engine failed or broke a safety check; no result is given
  5    the store cannot be used (not a triage store, damaged, newer version, busy)
  6    conflict: the intake changed since the version you based this on; nothing saved
  7    audit verify: a row or recorded version was changed or removed
  130  interrupted (Ctrl-C)
"""


class UsageError(InvalidInput):
    """Command-line problems exit like invalid input: 2, naming the option."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # argparse would print usage and exit itself
        raise UsageError([Problem(self.prog, message)])


def _as_of(text: str) -> date:
    from triage.dates import parse_full_date

    try:
        return parse_full_date(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _settings_path(args) -> Path | None:
    value = getattr(args, "settings", None) or os.environ.get("TRIAGE_SETTINGS")
    return Path(value) if value else None


def _use_color(stream: TextIO) -> bool:
    return stream.isatty() and "NO_COLOR" not in os.environ and os.environ.get("TERM") != "dumb"


def _width(stream: TextIO) -> int:
    if stream.isatty():
        try:
            return os.get_terminal_size(stream.fileno()).columns
        except OSError:
            pass
    return 100


def cmd_assess(args, out: TextIO) -> int:
    from triage.answers import parse_answers
    from triage.assess import assess
    from triage.files import read_answers_file
    from triage.ruleset import load_ruleset
    from triage.settings import load_settings

    raw = read_answers_file(args.file)
    source = "file"
    from triage import fhir

    if fhir.is_response(raw):  # a FHIR QuestionnaireResponse for our questionnaire
        from triage.questionnaire import load_questionnaire as questionnaire_for_fhir

        raw, source = fhir.answers_from_response(raw, questionnaire_for_fhir()), "fhir"
    settings = load_settings(_settings_path(args))
    answers = parse_answers(raw, today=date.today(), as_of=args.as_of)
    result = assess(answers, load_ruleset(), settings)
    if args.save or args.amend:
        from triage.store_cli import save_assessment

        save_assessment(args, answers.answered(), result.to_json(), source, args.err)
    if args.format == "json":
        out.write(json.dumps(result.to_json(), indent=2, ensure_ascii=False) + "\n")
        return EXIT_OK
    from triage import render
    from triage.questionnaire import load_questionnaire  # only the text forms show question wording

    questionnaire = load_questionnaire()
    if args.format == "markdown":
        out.write(render.render_markdown(result, answers.answered(), questionnaire))
    else:
        out.write(render.render_text(result, answers.answered(), questionnaire,
                                     width=_width(out), color=_use_color(out)))
    return EXIT_OK


def write_formatted(out: TextIO, fmt: str, subject, *, as_json, as_markdown, as_text) -> int:
    """Print ``subject`` in the chosen format; text gets the terminal's width and colour."""
    if fmt == "json":
        out.write(json.dumps(as_json(subject), indent=2, ensure_ascii=False) + "\n")
    elif fmt == "markdown":
        out.write(as_markdown(subject))
    else:
        out.write(as_text(subject, width=_width(out), color=_use_color(out)))
    return EXIT_OK


def cmd_rules(args, out: TextIO) -> int:
    from triage import render
    from triage.ruleset import load_ruleset

    return write_formatted(out, args.format, load_ruleset(), as_json=render.rules_catalogue,
                           as_markdown=render.render_rules_markdown, as_text=render.render_rules_text)


def cmd_questions(args, out: TextIO) -> int:
    from triage import render
    from triage.questionnaire import load_questionnaire

    questionnaire = load_questionnaire()
    if args.audience and args.format != "fhir":
        raise InvalidInput([Problem("--audience", "applies to --format fhir only")])
    if args.format == "fhir":
        from triage.fhir import questionnaire_resource

        resource = questionnaire_resource(questionnaire, args.audience or "coordinator")
        out.write(json.dumps(resource, indent=2, ensure_ascii=False) + "\n")
        return EXIT_OK
    return write_formatted(out, args.format, questionnaire, as_json=render.questions_catalogue,
                           as_markdown=render.render_questions_markdown, as_text=render.render_questions_text)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="triage",
        description="Pre-consultation triage after a failed lumbar fusion. Decision support only: "
        "it is not a diagnosis, and every result recommends a physician consult.",
        epilog=EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    assess = commands.add_parser(
        "assess", help="triage one answers file and print the result",
        description="Triage one answers file (the answers contract: a flat JSON object).",
        epilog=EXIT_CODES_HELP, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    assess.add_argument("file", metavar="FILE", help="answers JSON file (or a FHIR QuestionnaireResponse for "
                        "`triage questions --format fhir`), or - for standard input")
    assess.add_argument("--format", choices=("text", "json", "markdown"), default="text",
                        help="text: summary for the terminal (default); json: the result contract; "
                        "markdown: for the record")
    assess.add_argument("--as-of", type=_as_of, metavar="DATE",
                        help="assessment date YYYY-MM-DD (overrides the file's assessment_date; default: "
                        "the file's, else today)")
    assess.add_argument("--settings", metavar="FILE", help="clinic settings TOML (default: TRIAGE_SETTINGS, "
                        "else the shipped defaults)")
    from triage import store_cli

    store_cli.add_assess_options(assess)
    assess.set_defaults(handler=cmd_assess)

    rules = commands.add_parser("rules", help="print the rule catalogue for clinical review",
                                description="Every rule with id, version, step, title, condition, "
                                "rationale, source and the answer fields it reads.")
    rules.add_argument("--format", choices=("text", "json", "markdown"), default="text")
    rules.set_defaults(handler=cmd_rules)

    questions = commands.add_parser("questions", help="print the questionnaire vocabulary",
                                    description="Question ids, wording, allowed values and skip logic.")
    questions.add_argument("--format", choices=("text", "json", "markdown", "fhir"), default="text",
                           help="fhir: the FHIR R4 (SDC) Questionnaire")
    questions.add_argument("--audience", choices=("coordinator", "patient"),
                           help="with --format fhir: coordinator (default) = every question, what exports "
                           "reference; patient = the patient form, without the coordinator-only questions")
    questions.set_defaults(handler=cmd_questions)
    add_intake_parser(commands)
    store_cli.add_parser(commands)

    from triage.batch_cli import add_parser as add_batch_parser  # handler lives in its own module

    add_batch_parser(commands)
    return parser


# Each typed core error -> its exit code and any note; the first matching class wins.
_ERRORS = (
    (DefinitionError, EXIT_DEFINITION, ""),
    (Conflict, EXIT_CONFLICT, ""),
    (StoreError, EXIT_STORE, ""),
    (EngineError, EXIT_ENGINE, " (no result was given; please report this)"),
    (TriageError, EXIT_INVALID, ""),
)


def _report(problems: list[Problem], err: TextIO) -> None:
    for problem in problems:
        err.write(f"error: {problem}\n")


def main(argv: list[str] | None = None, out: TextIO | None = None, err: TextIO | None = None) -> int:
    out = out or sys.stdout
    err = err or sys.stderr
    try:
        with contextlib.redirect_stdout(out):  # argparse writes --help to sys.stdout itself
            args = build_parser().parse_args(argv)
        if not getattr(args, "handler", None):
            build_parser().print_help(out)
            return EXIT_INVALID
        args.err = err  # handlers report side notes (e.g. "saved: intake 3") on standard error
        return args.handler(args, out)
    except InvalidInput as error:
        _report(error.problems, err)
        return EXIT_INVALID
    except TriageError as error:
        kind, code, note = next(entry for entry in _ERRORS if isinstance(error, entry[0]))
        prefix = f"{kind.__name__.removesuffix('Error').lower()}: " if kind is not TriageError else ""
        err.write(f"error: {prefix}{error}{note}\n")
        return code
    except KeyboardInterrupt:
        err.write("interrupted\n")
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader went away (e.g. `| head`); silence the interpreter's own flush error.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except SystemExit as done:  # --help and --version
        return int(done.code or 0)
    except Exception as error:  # never a traceback for a user; keep it one line
        if os.environ.get("TRIAGE_DEBUG"):
            raise
        err.write(f"error: internal: {type(error).__name__}: {error} (please report; TRIAGE_DEBUG=1 shows details)\n")
        return EXIT_INTERNAL


def run() -> None:
    sys.exit(main())
