"""`triage rules` and `triage questions`: the catalogues a clinician reviews and the vocabulary of the
answers contract."""

from __future__ import annotations

from triage.channels.cli import common
from triage.channels.cli.common import IO, ExitCode


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
                  "triage questions -f fhir --audience patient > patient-form.json",
                  "triage questions --lang es                     # what a Spanish reader is asked"))
    common.add_format_option(questions, ("text", "json", "markdown", "fhir"),
                             "text: for the terminal (default); json: for tools; markdown: a table; "
                             "fhir: the FHIR R4 (SDC) Questionnaire")
    questions.add_argument("--audience", choices=("coordinator", "patient"),
                           help="with -f fhir: coordinator (default) = every question, what exports "
                           "reference; patient = the patient form, without the coordinator-only questions")
    common.add_settings_option(questions)  # the VA access standards are written into the question wording
    common.add_language_option(questions, "the language of the patient wording; labels stay English. With -f "
                               "fhir, giving --lang adds the other languages as translation extensions",
                               default=None)
    common.add_pager_option(questions)


def run_rules(args, io: IO) -> int:
    from triage.channels.render import catalogues
    from triage.core.ruleset import load_ruleset

    return common.write_formatted(io, args.format, load_ruleset(), as_json=catalogues.rules_catalogue,
                                  as_markdown=catalogues.render_rules_markdown,
                                  as_text=catalogues.render_rules_text, pager=args.pager)


def run_questions(args, io: IO) -> int:
    from functools import partial

    from triage.core.languages import DEFAULT_LANGUAGE, LANGUAGES, load_language, web_translation_info
    from triage.core.questionnaire import load_definition
    from triage.channels.render import catalogues
    from triage.core.ruleset import load_ruleset

    if args.audience and args.format != "fhir":
        from triage.core.errors import InvalidInput, Problem

        raise InvalidInput([Problem("--audience", "applies to --format fhir only")])
    definition, ruleset, settings = load_definition(), load_ruleset(), common.load_settings(args)
    # the clinic's standards in the wording, in each language
    languages = {code: load_language(code, questionnaire=definition, ruleset=ruleset, settings=settings,
                                     check_all=False) for code in LANGUAGES}
    chosen = languages[args.lang or DEFAULT_LANGUAGE]
    if args.format == "fhir":
        from triage.interop.fhir import questionnaire_resource

        # --lang given: that language first, the others as translation extensions; without it, the
        # English resource as it has always been (form renderers and validators that ignore
        # extensions see the same thing either way).
        others = tuple(language.questionnaire for code, language in languages.items()
                       if code != chosen.language) if args.lang else ()
        io.write_json(questionnaire_resource(chosen.questionnaire, args.audience or "coordinator", others))
        return ExitCode.OK
    # Staff see each translation's review status here (patients never do), and each red-flag tier.
    reviews = {code: language.translation.info for code, language in languages.items() if language.translation}
    web_reviews = {code: web_translation_info(code) for code in reviews}  # the web pages' own words
    tiers = catalogues.red_flag_tiers(ruleset)
    return common.write_formatted(io, args.format, chosen.questionnaire,
                                  as_json=partial(catalogues.questions_catalogue, tiers=tiers, reviews=reviews,
                                                  web_reviews=web_reviews),
                                  as_markdown=partial(catalogues.render_questions_markdown, tiers=tiers,
                                                      reviews=reviews, web_reviews=web_reviews),
                                  as_text=partial(catalogues.render_questions_text, tiers=tiers, reviews=reviews,
                                                  web_reviews=web_reviews),
                                  pager=args.pager)
