"""`triage rules` and `triage questions`: the catalogues a clinician reviews and the vocabulary of the
answers contract."""

from __future__ import annotations

from triage.cli import common
from triage.cli.common import IO, ExitCode


def register(commands) -> None:
    rules = common.add_command(
        commands, "rules", help="print the rule catalogue for clinical review",
        description="Every rule with id, version, step, title, condition, rationale, source and the answer "
        "fields it reads.", handler=run_rules, exit_codes=(ExitCode.DEFINITION,),
        examples=("triage rules | less", "triage rules -f markdown > rule-catalogue.md"))
    common.add_format_option(rules, ("text", "json", "markdown"),
                             "text: for the terminal (default); json: every field, for tools; markdown: "
                             "for a clinical review document")
    common.add_pager_option(rules)

    questions = common.add_command(
        commands, "questions", help="print the questionnaire vocabulary",
        description="Question ids, wording, allowed values and skip logic.", handler=run_questions,
        exit_codes=(ExitCode.DEFINITION,),
        examples=("triage questions", "triage questions -f fhir > questionnaire.json",
                  "triage questions -f fhir --audience patient > patient-form.json"))
    common.add_format_option(questions, ("text", "json", "markdown", "fhir"),
                             "text: for the terminal (default); json: for tools; markdown: a table; "
                             "fhir: the FHIR R4 (SDC) Questionnaire")
    questions.add_argument("--audience", choices=("coordinator", "patient"),
                           help="with -f fhir: coordinator (default) = every question, what exports "
                           "reference; patient = the patient form, without the coordinator-only questions")
    common.add_settings_option(questions)  # the VA access standards are written into the question wording
    common.add_pager_option(questions)


def run_rules(args, io: IO) -> int:
    from triage.render import catalogues
    from triage.ruleset import load_ruleset

    return common.write_formatted(io, args.format, load_ruleset(), as_json=catalogues.rules_catalogue,
                                  as_markdown=catalogues.render_rules_markdown,
                                  as_text=catalogues.render_rules_text, pager=args.pager)


def run_questions(args, io: IO) -> int:
    from triage.questionnaire import load_questionnaire
    from triage.render import catalogues

    if args.audience and args.format != "fhir":
        from triage.errors import InvalidInput, Problem

        raise InvalidInput([Problem("--audience", "applies to --format fhir only")])
    from functools import partial

    from triage.ruleset import load_ruleset

    questionnaire = load_questionnaire(settings=common.load_settings(args))  # the clinic's standards in the wording
    if args.format == "fhir":
        from triage.fhir import questionnaire_resource

        io.write_json(questionnaire_resource(questionnaire, args.audience or "coordinator"))
        return ExitCode.OK
    tiers = catalogues.red_flag_tiers(load_ruleset())  # each red-flag question's urgency tier
    return common.write_formatted(io, args.format, questionnaire,
                                  as_json=partial(catalogues.questions_catalogue, tiers=tiers),
                                  as_markdown=partial(catalogues.render_questions_markdown, tiers=tiers),
                                  as_text=partial(catalogues.render_questions_text, tiers=tiers), pager=args.pager)
