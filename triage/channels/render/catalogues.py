"""The catalogues: the rules a clinician reviews, and the questionnaire's vocabulary (json, markdown,
text)."""

from __future__ import annotations

import io

from rich.text import Text

from triage.core.facts import FACTS
from triage.core.answers import RED_FLAGS
from triage.core.languages import LANGUAGES
from triage.core.questionnaire import Questionnaire
from triage.core.result_values import URGENCY_WORDS
from triage.channels.render.terminal import console as new_console
from triage.channels.render.terminal import hanging_list, trimmed
from triage.core.ruleset import Ruleset

def rules_catalogue(ruleset: Ruleset) -> dict:
    """The JSON catalogue: every rule with its metadata, plain-language condition and full source."""
    return {
        "ruleset": ruleset.ruleset.model_dump(),
        "sources": {key: source.model_dump() for key, source in ruleset.sources.items()},
        "rules": [
            {
                **rule.model_dump(mode="json", by_alias=True, exclude={"when", "then"}),
                "source_title": ruleset.sources[rule.source.split("#")[0]].title,
                "condition": rule.when.describe(),
                "concludes": rule.then.as_dict(),
                "settings": rule.settings_used,
                "when": rule.when.model_dump(mode="json", by_alias=True, exclude_none=True),
            }
            for rule in ruleset.rules
        ],
        "facts": {
            name: {"values": list(spec.values), "reads": list(spec.reads), "meaning": spec.meaning,
                   "settings": list(spec.settings)}
            for name, spec in FACTS.items()
        },
    }


def _step_label(step: int | None) -> str:
    return str(step) if step else "-"


def red_flag_tiers(ruleset: Ruleset) -> dict[str, str]:
    """Each red-flag question -> its urgency tier (the rules file's data), in questionnaire order."""
    return {question: ruleset.red_flag_tier(question) for question in RED_FLAGS}


def _tier_rows(ruleset: Ruleset) -> list[tuple[str, str, str]]:
    rule_of = {rule.then.red_flag: rule.id for rule in ruleset.rules if rule.then.red_flag}
    return [(URGENCY_WORDS[tier], question, rule_of[question]) for question, tier in red_flag_tiers(ruleset).items()]


def render_rules_markdown(ruleset: Ruleset) -> str:
    info = ruleset.ruleset
    lines = [f"# Rule catalogue: {info.title}", "",
             f"Ruleset `{info.name}` version {info.version}, released {info.released} ({info.validation_status}).", "",
             "## Red-flag questions and their urgency tiers", "",
             "The result's urgency is the highest tier among the questions answered yes.", "",
             "| tier | question | rule |", "|---|---|---|",
             *(f"| {word} | `{question}` | {rule_id} |" for word, question, rule_id in _tier_rows(ruleset)), ""]
    for rule in ruleset.rules:
        source = ruleset.sources[rule.source.split("#")[0]]
        lines += [
            f"## {rule.id} v{rule.version}: {rule.title}", "",
            f"- **Step:** {_step_label(rule.step)}",
            f"- **When:** {rule.when.describe()}",
            f"- **Concludes:** {', '.join(f'{k} = {v}' for k, v in rule.then.as_dict().items())}",
            f"- **Reads:** {', '.join(rule.reads) or 'nothing (always applies)'}",
            f"- **Source:** {source.title} ({rule.source})",
            f"- **Rationale:** {rule.rationale}", "",
        ]
    return "\n".join(lines)


def render_rules_text(ruleset: Ruleset, *, width: int = 100, color: bool = False) -> str:
    out = io.StringIO()
    console = new_console(out, width, color)
    info = ruleset.ruleset
    console.print(Text(f"{info.title}", style="bold"))
    console.print(Text(f"Ruleset {info.name} {info.version}, released {info.released} ({info.validation_status})\n"))
    console.print(Text("Red-flag urgency tiers (the result's urgency is the highest tier answered yes)", style="bold"))
    hanging_list(console, [(f"{word:<11}", f"{question}  ({rule_id})") for word, question, rule_id in _tier_rows(ruleset)])
    console.print()
    for rule in ruleset.rules:
        source = ruleset.sources[rule.source.split("#")[0]]
        console.print(Text(f"{rule.id} v{rule.version}  step {_step_label(rule.step)}  {rule.title}", style="bold"))
        for label, value in (
            ("when", rule.when.describe()),
            ("concludes", ", ".join(f"{k} = {v}" for k, v in rule.then.as_dict().items())),
            ("reads", ", ".join(rule.reads) or "nothing (always applies)"),
            ("source", f"{source.title} ({rule.source})"),
            ("why", rule.rationale),
        ):
            hanging_list(console, [(f"{label + ':':<10}", value)])
        console.print()
    return trimmed(out.getvalue())


def _review(info) -> str:
    return info.review_status + (f" by {info.reviewed_by} on {info.reviewed_on}" if info.reviewed_by else "")


def _reviews_line(questionnaire: Questionnaire, reviews: dict, web_reviews: dict | None = None) -> str:
    """The language shown and each translation's review status (the questionnaire's, and the web
    pages' own words), in one line for staff."""
    web_reviews = web_reviews or {}
    parts = [f"{code} ({LANGUAGES.get(code, code)}): {_review(info)}"
             + (f" (web pages: {_review(web_reviews[code])})" if code in web_reviews else "")
             for code, info in reviews.items()]
    shown = LANGUAGES.get(questionnaire.language, questionnaire.language)
    return (f"Patient wording in {shown} ({questionnaire.language}). Translations: " + ("; ".join(parts) or "none")
            + ". pending_review = not yet signed off by a qualified medical translator.")


def questions_catalogue(questionnaire: Questionnaire, tiers: dict[str, str] | None = None,
                        reviews: dict | None = None, web_reviews: dict | None = None) -> dict:
    data = questionnaire.model_dump(mode="json", exclude_none=True)
    for item, dumped in zip(questionnaire.items, data["items"]):
        dumped["allowed"] = item.allowed_values()
        if tiers and item.id in tiers:
            dumped["urgency_tier"] = tiers[item.id]
    data["language"] = questionnaire.language
    data["translations"] = {code: info.model_dump() for code, info in (reviews or {}).items()}
    for code, info in (web_reviews or {}).items():
        if code in data["translations"]:
            data["translations"][code]["web_pages"] = info.model_dump()
    return data


def _red_flag_mark(item, tiers: dict[str, str] | None, before: str, after: str) -> str:
    if not item.safety:
        return ""
    tier = (tiers or {}).get(item.id)
    return f"{before}red flag: {URGENCY_WORDS[tier]}{after}" if tier else f"{before}red flag{after}"


def _asked_when(item) -> str:
    return f"only when {item.ask_when.question} is {item.ask_when.eq}" if item.ask_when else "always"


def render_questions_markdown(questionnaire: Questionnaire, tiers: dict[str, str] | None = None,
                              reviews: dict | None = None, web_reviews: dict | None = None) -> str:
    info = questionnaire.questionnaire
    lines = [f"# Questionnaire: {info.title}", "", f"`{info.id}` version {info.version}", "",
             _reviews_line(questionnaire, reviews or {}, web_reviews), "",
             "| id | label | patient wording | allowed | asked | who |", "|---|---|---|---|---|---|"]
    for item in questionnaire.items:
        safety = _red_flag_mark(item, tiers, " (", ")")
        lines.append(f"| `{item.id}` | {item.label}{safety} | {item.text} | {item.allowed_values()} | "
                     f"{_asked_when(item)} | {', '.join(item.audience)} |")
    return "\n".join(lines) + "\n"


def render_questions_text(questionnaire: Questionnaire, tiers: dict[str, str] | None = None, *, width: int = 100,
                          color: bool = False, reviews: dict | None = None, web_reviews: dict | None = None) -> str:
    out = io.StringIO()
    console = new_console(out, width, color)
    info = questionnaire.questionnaire
    console.print(Text(f"{info.title} ({info.id} {info.version})", style="bold"))
    console.print(Text(_reviews_line(questionnaire, reviews or {}, web_reviews)))
    for item in questionnaire.items:
        safety = _red_flag_mark(item, tiers, "  [", "]")
        console.print(Text(f"\n{item.id}{safety}", style="bold"))
        for label, value in (("label", item.label), ("asks", item.text), ("allowed", item.allowed_values()),
                             ("asked", _asked_when(item)), ("who", ", ".join(item.audience))):
            hanging_list(console, [(f"{label + ':':<8}", value)])
    return trimmed(out.getvalue())

