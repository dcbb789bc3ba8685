"""The card: the result of one triage as the EHR shows it (a summary under 140 characters, an
indicator by status and urgency tier, a Markdown detail with every value escaped, the rule catalogue
as its source), or the card that says no questionnaire is on file or that it cannot be read. Decision
support only: never a suggestion, an order or a diagnosis.
"""

from __future__ import annotations

import re
import uuid
from typing import TYPE_CHECKING, Any

from triage.interop.cds_hooks.config import CdsHooksConfig
from triage.core.errors import InvalidInput

if TYPE_CHECKING:  # annotations only
    from triage.core.questionnaire import Questionnaire
    from triage.decision.result import Result

# The indicator of each status (and, for `urgent`, of each urgency tier). Unlisted urgent tiers get
# `critical`: an unexpected value is shown as the most urgent, never the least.
URGENT_INDICATOR = {"emergency": "critical", "same_day": "critical", "soon": "warning"}
STATUS_INDICATOR = {"too_early": "warning", "records_needed": "warning", "ready_for_evaluation": "info"}
STATUS_WORDS = {
    "urgent": "URGENT - red flag reported",
    "too_early": "too early to evaluate (healing window)",
    "records_needed": "records or answers still needed",
    "ready_for_evaluation": "ready for evaluation",
}
URGENCY_WORDS = {
    "emergency": "emergency, now",
    "same_day": "same day",
    "soon": "within a few days",
    "routine": "routine",
}
STEP_STATUS_WORDS = {"done": "done", "to_do": "to do", "attention": "attention", "not_applicable": "not applicable"}
SUMMARY_LIMIT = 140  # characters, exclusive (specification: "<140-character summary")


# Characters that start markup inline (each line of the detail begins with our own text, so block
# markers such as "-" or "1." cannot start a line from a value); "://" and "www." would autolink.
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>#|~&!])")
_WWW = re.compile(r"(www)\.", re.IGNORECASE)


def md(text: Any) -> str:
    """Text as literal GitHub-flavoured Markdown: no link, image, HTML or emphasis can be injected
    (the EHR renders `detail`; a patient's free text must never become a link or markup there)."""
    flat = " ".join(str(text).split())
    escaped = _MARKDOWN_SPECIAL.sub(r"\\\1", flat)
    return _WWW.sub(r"\1\\.", escaped.replace("://", "\\://"))


def indicator(status: str, urgency: str) -> str:
    if status == "urgent":
        return URGENT_INDICATOR.get(urgency, "critical")
    return STATUS_INDICATOR.get(status, "warning")


def summary(status: str, urgency: str) -> str:
    text = (f"Spine pre-consultation: {STATUS_WORDS.get(status, status)}; "
            f"physician consult: {URGENCY_WORDS.get(urgency, urgency)}")
    if len(text) >= SUMMARY_LIMIT:  # cannot happen with the words above; a test checks every pair
        text = text[:SUMMARY_LIMIT - 2] + "…"
    return text


def _source(result: Result, config: CdsHooksConfig) -> dict[str, str]:
    return {"label": f"{result.ruleset.name} {result.ruleset.version}", "url": config.catalogue_url}


def _records_on_file(result: Result) -> list[str]:
    """The record items (triage.records.requests) the rules no longer list as missing: on file."""
    from triage.records.requests import load_record_items

    missing = {item.id for item in result.missing_items}
    return [f"- {md(item.title[:1].upper() + item.title[1:])}" for item_id, item in load_record_items().items.items()
            if item_id not in missing]


def card_detail(result: Result, questionnaire: Questionnaire, *, response_status: str | None = None) -> str:
    """The card's Markdown detail: consult, red flags, missing items, the four steps with reasons,
    topics, and the rules behind them."""
    consult = result.physician_consult
    labels = {item.id: item.label for item in questionnaire.items}
    lines = [f"**Physician consult: {md(URGENCY_WORDS.get(consult.urgency, consult.urgency))}.** {md(consult.message)}", ""]
    if result.status.value == "too_early":  # the other statuses are explained by their own lists below
        lines += [f"**Too early to evaluate.** {md(entry.reason)} (`{entry.rule}`)" for entry in result.trace
                  if entry.concluded.get("status") == "too_early"] + [""]
    if response_status and response_status != "completed":
        lines += [f"Questionnaire status: **{md(response_status)}** (not finished; unanswered questions are "
                  "reported as missing, never as no).", ""]
    if result.red_flags:
        lines += ["**Red flags answered yes**", ""]
        lines += [f"- {md(labels.get(flag, flag))}" for flag in result.red_flags]
        lines.append("")
    lines += ["**Missing before evaluation**", ""]
    lines += [f"- {md(item.label)}: {md(item.reason)}" for item in result.missing_items] or ["- nothing"]
    lines += ["", "**Records on file**", ""] + (_records_on_file(result) or ["- none"])
    lines += ["", "**Steps**", ""]
    for step in result.steps:
        status = STEP_STATUS_WORDS.get(step.status.value, step.status.value)
        lines.append(f"{step.step}. {md(step.title)}: **{md(status)}**. {md(' '.join(step.reasons))}")
    lines += ["", "**Topics the physician may want to discuss**", ""]
    lines += [f"- {md(point.text)}" for point in result.discussion_points] or ["- none"]
    rules = ", ".join(f"`{entry.rule}` v{entry.version}" for entry in result.trace)
    lines += ["", f"Rules: {rules}.", "",
              f"Assessed as of {md(result.assessment_date)} by ruleset {md(result.ruleset.name)} "
              f"{md(result.ruleset.version)}. {md(result.disclaimer)}"]
    return "\n".join(lines)


def card_for_result(result: Result, questionnaire: Questionnaire, config: CdsHooksConfig, *,
                    intake_id: int | None = None, response_status: str | None = None) -> dict[str, Any]:
    status, urgency = result.status.value, result.physician_consult.urgency
    card: dict[str, Any] = {
        "uuid": str(uuid.uuid4()),
        "summary": summary(status, urgency),
        "indicator": indicator(status, urgency),
        "detail": card_detail(result, questionnaire, response_status=response_status),
        "source": _source(result, config),
    }
    if intake_id is not None and config.staff_summary_url:
        card["links"] = [{"label": "Open the pre-consultation summary",
                          "url": config.staff_summary_url.replace("{intake_id}", str(intake_id)),
                          "type": "absolute"}]
    return card


def card_no_response(config: CdsHooksConfig, ruleset_label: str) -> dict[str, Any]:
    return {
        "uuid": str(uuid.uuid4()),
        "summary": "Spine pre-consultation: no questionnaire on file for this patient",
        "indicator": "info",
        "detail": "No pre-consultation questionnaire response of this clinic's questionnaire was found for "
                  "this patient, so nothing has been triaged. A physician consult is always recommended.",
        "source": {"label": ruleset_label, "url": config.catalogue_url},
    }


def card_unreadable(error: InvalidInput, config: CdsHooksConfig, ruleset_label: str) -> dict[str, Any]:
    """The response on file cannot be triaged: say so (a warning), never stay silent."""
    problems = "\n".join(f"- `{md(problem.where)}`: {md(problem.message)}" for problem in error.problems[:20])
    return {
        "uuid": str(uuid.uuid4()),
        "summary": "Spine pre-consultation: the questionnaire on file could not be triaged; review it directly",
        "indicator": "warning",
        "detail": "The latest pre-consultation questionnaire response could not be read, so no triage "
                  f"result is shown. Problems found:\n\n{problems}\n\nA physician consult is always recommended.",
        "source": {"label": ruleset_label, "url": config.catalogue_url},
    }
