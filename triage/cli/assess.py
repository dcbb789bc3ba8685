"""`triage assess FILE`: triage one answers file and print the result; `--save` / `--amend ID` also
record it in the store."""

from __future__ import annotations

import functools
from datetime import date

from triage.cli import common
from triage.cli.common import IO, ExitCode, UsageError
from triage.errors import Problem


def register(commands) -> None:
    parser = common.add_command(
        commands, "assess", help="triage one answers file and print the result",
        description="Triage one answers file (the answers contract: a flat JSON object).",
        handler=run, exit_codes=(ExitCode.DEFINITION, ExitCode.ENGINE, ExitCode.STORE, ExitCode.CONFLICT),
    )
    parser.add_argument("file", metavar="FILE", help="answers JSON file (or a FHIR QuestionnaireResponse for "
                        "`triage questions --format fhir`), or - for standard input")
    parser.add_argument("--format", choices=("text", "json", "markdown"), default="text",
                        help="text: summary for the terminal (default); json: the result contract; "
                        "markdown: for the record")
    parser.add_argument("--as-of", type=common.as_of_date, metavar="DATE",
                        help="assessment date YYYY-MM-DD (overrides the file's assessment_date; default: "
                        "the file's, else today)")
    common.add_settings_option(parser)
    group = parser.add_argument_group("store", common.STORE_HELP)
    group.add_argument("--save", action="store_true", help="record the answers and result as a new intake")
    group.add_argument("--amend", type=common.intake_id, metavar="ID",
                       help="record them as a new version of intake ID instead (implies --save)")
    group.add_argument("--base-version", type=common.version_number, metavar="N",
                       help="with --amend: the version you checked; if another was recorded since, nothing is "
                       "saved and the exit code is 6 (default: amend the latest)")
    common.add_store_options(group, who_help="who records it")


def run(args, io: IO) -> int:
    from triage import fhir
    from triage.answers import parse_answers
    from triage.assess import assess
    from triage.files import read_answers_file
    from triage.ruleset import load_ruleset

    if args.base_version is not None and args.amend is None:
        raise UsageError([Problem("--base-version", "only goes with --amend ID")])
    raw = read_answers_file(args.file)
    source = "file"
    if fhir.is_response(raw):  # a FHIR QuestionnaireResponse for our questionnaire
        raw, source = fhir.answers_from_response(raw, _questionnaire()), "fhir"
    settings = common.load_settings(args)
    answers = parse_answers(raw, today=date.today(), as_of=args.as_of)
    result = assess(answers, load_ruleset(), settings)
    if args.save or args.amend:
        _save(args, io, answers.answered(), result.to_json(), source)
    if args.format == "json":
        io.write_json(result.to_json())
        return ExitCode.OK
    from triage.render import result as render

    questionnaire = _questionnaire()
    if args.format == "markdown":
        io.out.write(render.render_markdown(result, answers.answered(), questionnaire))
    else:
        io.out.write(render.render_text(result, answers.answered(), questionnaire,
                                        width=io.width(), color=io.color()))
    return ExitCode.OK


@functools.cache
def _questionnaire():
    """Loaded only when needed (FHIR input, text forms): JSON output never pays for it."""
    from triage.questionnaire import load_questionnaire

    return load_questionnaire()


def _save(args, io: IO, answers: dict, result: dict, source: str) -> None:
    """Record the assessment before anything is printed: a failed save prints no result, and the
    answers file is untouched, so nothing is lost."""
    with common.open_store(args) as store:
        intake, version = store.record_assessment(answers, result, user=common.user(args), intake_id=args.amend,
                                                  base_version=args.base_version, source=source)
    io.note(f"saved: intake {intake} version {version} (triage show {intake})")
