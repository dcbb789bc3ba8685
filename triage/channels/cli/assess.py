"""`triage assess FILE...`: triage answers files and print one result each; `--save` / `--amend ID`
also record them in the store."""

from __future__ import annotations

import functools
from datetime import date

from triage.channels.cli import common
from triage.channels.cli.common import IO, ExitCode, UsageError
from triage.core.errors import Problem, TriageError


def register(commands) -> None:
    parser = common.add_command(
        commands, "assess", help="triage answers files and print the result",
        description="Triage one or more answers files (the answers contract: a flat JSON object) and print "
        "one result each. With several files each result follows a `==> FILE <==` line (text and "
        "markdown), or the results form a JSON array of {file, result} or {file, errors}; a file with "
        "problems is reported and the others are still triaged.",
        handler=run, exit_codes=(ExitCode.DEFINITION, ExitCode.ENGINE, ExitCode.STORE, ExitCode.CONFLICT,
                                 ExitCode.SAVED_NOT_SHOWN, ExitCode.OUTPUT),
        examples=("triage assess examples/red-flag.json",
                  "triage assess visit.json -f markdown > visit.md",
                  "triage assess a.json b.json --save          # record each as a new intake",
                  "triage assess visit.json --amend 4 --base-version 2",
                  "echo '{\"fusion_date\": \"2026-09\"}' | triage assess - --as-of 2026-11-24"),
    )
    parser.add_argument("file", metavar="FILE", nargs="+",
                        help="answers JSON file (or a FHIR QuestionnaireResponse for `triage questions "
                        "--format fhir`), or - for standard input")
    common.add_format_option(parser, ("text", "json", "markdown"),
                             "text: summary for the terminal (default); json: the result contract; "
                             "markdown: for the record")
    parser.add_argument("--as-of", type=common.as_of_date, metavar="DATE",
                        help="assessment date YYYY-MM-DD (overrides the file's assessment_date; default: "
                        "the file's, else today)")
    common.add_settings_option(parser)
    group = parser.add_argument_group("store", common.STORE_HELP)
    group.add_argument("--save", action="store_true", help="record the answers and result as a new intake")
    group.add_argument("--amend", type=common.intake_id, metavar="ID",
                       help="record them as a new version of intake ID instead (implies --save; one FILE)")
    group.add_argument("--base-version", type=common.version_number, metavar="N",
                       help="with --amend: the version you checked; if another was recorded since, nothing is "
                       "saved and the exit code is 6 (default: amend the latest)")
    group.add_argument("--discard-draft", action="store_true", dest="discard_draft",
                       help="with --amend: replace the intake's draft in progress (without it, an intake with a "
                       "draft is a conflict, exit 6, and the draft is kept; its red-flag alerts stay either way)")
    group.add_argument("--change-patient", action="store_true", dest="change_patient",
                       help="with --amend: the answers name another patient reference than the intake's, on "
                       "purpose (without it they are refused, exit 2); the version history shows the change")
    common.add_store_options(group, who_help="who records it")


def run(args, io: IO) -> int:
    from triage.core.ruleset import load_ruleset

    for option, given in (("--base-version", args.base_version is not None), ("--discard-draft", args.discard_draft),
                          ("--change-patient", args.change_patient)):
        if given and args.amend is None:
            raise UsageError([Problem(option, "only goes with --amend ID")])
    if args.amend is not None and len(args.file) > 1:
        raise UsageError([Problem("--amend", "amends one intake: give one FILE")])
    if args.file.count("-") > 1:
        raise UsageError([Problem("FILE", "- (standard input) can be given once")])
    # Definitions first: a broken one stops everything (exit 3) before any file is read.
    ruleset, settings = load_ruleset(), common.load_settings(args)
    if len(args.file) == 1:
        return _one(args, io, args.file[0], ruleset, settings)
    codes, documents = [], []
    for number, path in enumerate(args.file):
        if args.format != "json":
            io.out.write(f"{'' if number == 0 else chr(10)}==> {path} <==\n")
        try:
            result = _assess(args, io, path, ruleset, settings)
        except TriageError as error:
            codes.append(common.report(error, io.err, subject=path, command=io.command))
            if args.format == "json":
                problems = getattr(error, "problems", None) or [Problem("", str(error))]
                documents.append({"file": path, "errors": [{"field": p.where, "message": p.message}
                                                           for p in problems]})
            else:
                io.out.write("(no result: see the error above)\n")
            continue
        codes.append(ExitCode.OK)
        if args.format == "json":
            documents.append({"file": path, "result": result[0]})
        else:
            _print(args, io, *result)
    if args.format == "json":
        io.write_json(documents)
    return max(codes)


def _one(args, io: IO, path: str, ruleset, settings) -> int:
    result, answers = _assess(args, io, path, ruleset, settings)
    if args.format == "json":
        io.write_json(result)
    else:
        _print(args, io, result, answers)
    return ExitCode.OK


def _assess(args, io: IO, path: str, ruleset, settings):
    """(the result contract as JSON data, answers) for one file; recorded first when asked (a failed
    save prints no result). JSON output prints the data as it is: the result models are built only to
    render text or Markdown (``_print``)."""
    from triage.interop import fhir
    from triage.core.answers import parse_answers
    from triage.decision.assess import assess_data
    from triage.core.files import read_answers_file

    raw = read_answers_file(path)
    source = "file"
    if fhir.is_response(raw) and fhir.is_deidentified(raw):  # dates are years: every reading of them
        return _assess_years(args, io, path, fhir.answers_from_response(raw, _questionnaire()), ruleset, settings)
    if fhir.is_response(raw):  # a FHIR QuestionnaireResponse for our questionnaire
        raw, source = fhir.answers_from_response(raw, _questionnaire()), "fhir"
    answers = parse_answers(raw, today=date.today(), as_of=args.as_of)
    result = assess_data(answers, ruleset, settings)
    if args.save or args.amend:
        _save(args, io, answers.answered(), result, source)
    return result, answers


class _Given:
    """Answers as given (de-identified: years), for the renderers' ``answered()``."""

    def __init__(self, answers: dict):
        self._answers = answers

    def answered(self) -> dict:
        return dict(self._answers)


def _assess_years(args, io: IO, path: str, raw: dict, ruleset, settings):
    """A de-identified response: the same status and tier as the original when the years decide it;
    otherwise the most cautious reading, and a note naming what the years could not decide."""
    from triage.interop.deidentified import assess_years
    from triage.core.errors import InvalidInput, Problem

    if args.save or args.amend or args.as_of:
        option = "--save" if args.save else "--amend" if args.amend else "--as-of"
        raise InvalidInput([Problem(option, "a de-identified response (dates to the year) cannot be recorded "
                                            "or re-dated; assess it without this option")])
    assessed = assess_years(raw, ruleset, settings, today=date.today())
    io.note(f"{path}: de-identified answers (dates to the year)" + (
        "; the years decide every interval" if not assessed.undecided else
        "; could not be computed from years alone: " + "; ".join(assessed.undecided)
        + "; the result is the most cautious reading"))
    return assessed.result, _Given(assessed.answers)


def _print(args, io: IO, data, answers) -> None:
    from triage.channels.render import result as render
    from triage.decision.result import Result

    result = Result.model_validate(data)
    if args.format == "markdown":
        io.out.write(render.render_markdown(result, answers.answered(), _questionnaire()))
    else:
        io.out.write(render.render_text(result, answers.answered(), _questionnaire(),
                                        width=io.width(), color=io.color(), ascii_only=not io.unicode()))


@functools.cache
def _questionnaire():
    """Loaded only when needed (FHIR input, text forms): JSON output never pays for it."""
    from triage.core.questionnaire import load_questionnaire

    return load_questionnaire()


def _save(args, io: IO, answers: dict, result: dict, source: str) -> None:
    """Record the assessment before anything is printed: a failed save prints no result, and the
    answers file is untouched, so nothing is lost."""
    with common.open_store(args, io) as store:
        intake, version = store.record_assessment(answers, result, user=common.user(args), intake_id=args.amend,
                                                  base_version=args.base_version, source=source,
                                                  discard_draft=args.discard_draft, change_patient=args.change_patient)
    io.saved.append((intake, version))  # committed: from here on the exit code must say so (cli/main.py)
    io.note(f"saved: intake {intake} version {version} (triage show {intake})")
