"""Status words and marks, and which rules concluded what: shared by every rendering (terminal,
Markdown, HTML, web pages). No rich here, so the web layer can use it without the terminal's stack.
Every status is spelled out in words and marks, so nothing depends on colour."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from triage.decision.result import Result
from triage.core.result_values import URGENCY_WORDS, Status, StepStatus

BANNERS = {
    Status.urgent: ("!! URGENT: RED FLAG ANSWERED YES !!", "bold white on red"),
    Status.too_early: ("TOO EARLY: inside the post-operative healing window", "bold black on yellow"),
    Status.records_needed: ("RECORDS NEEDED before evaluation", "bold black on yellow"),
    Status.ready_for_evaluation: ("READY FOR EVALUATION", "bold black on green"),
}
STEP_MARKS = {
    StepStatus.done: ("[x]", "done", "green"),
    StepStatus.to_do: ("[ ]", "to do", ""),
    StepStatus.attention: ("[!]", "ATTENTION", "bold yellow"),
    StepStatus.not_applicable: ("[-]", "not applicable", "dim"),
}


TIER_WIDTH = max(len(word) for word in URGENCY_WORDS.values())  # tier words line up under each other


def urgency_words(urgency: str | None) -> str:
    """A consult urgency in the words every staff view uses: EMERGENCY, SAME DAY, WITHIN DAYS, routine."""
    return URGENCY_WORDS.get(urgency or "", (urgency or "-").upper())


def banner_words(result: Result) -> str:
    """The status in words; an urgent result names its tier, so it reads right without colour."""
    if result.status == Status.urgent:
        return f"!! URGENT - {urgency_words(result.physician_consult.urgency)}: RED FLAG ANSWERED YES !!"
    return BANNERS[result.status][0]


def red_flag_tiers(result: Result) -> dict[str, str]:
    """Each red flag answered yes -> its tier, as the rule that concluded it said (read from the trace,
    so a version recorded under an older ruleset shows the tier it was given then)."""
    return {entry.concluded["red_flag"]: entry.concluded.get("consult", "")
            for entry in result.trace if "red_flag" in entry.concluded}


def settings_line(result: Result) -> str:
    """The ruleset and the clinic settings behind a result, in one line (a version recorded under an
    older ruleset may lack the VA access standards)."""
    settings = result.settings
    line = (f"Ruleset {result.ruleset.name} {result.ruleset.version}; healing window "
            f"{settings['healing_window_months']} months, MRI currency {settings['mri_currency_months']} months")
    if "va_drive_time_standard_minutes" in settings:
        line += (f"; VA access standards {settings['va_drive_time_standard_minutes']} minutes' drive, "
                 f"{settings['va_wait_standard_days']} days' wait")
    return line + "."


def rules_by_conclusion(result: Result) -> dict[tuple[str, str], list[str]]:
    """(kind, value) -> ids of the rules that concluded it, e.g. ("missing", "current_mri")."""
    index: dict[tuple[str, str], list[str]] = defaultdict(list)
    for entry in result.trace:
        for kind, value in entry.concluded.items():
            key = (kind, f"{entry.step}:{value}" if kind == "step_status" else str(value))
            index[key].append(entry.rule)
    return index


def basis_text(ids: list[str]) -> str:
    return f"[{', '.join(ids)}]" if ids else ""


def status_reasons(result: Result) -> list[str]:
    """Why the result is too early (until when); other statuses are explained by their own lists."""
    if result.status != Status.too_early:
        return []
    return [f"{e.reason} [{e.rule}]" for e in result.trace if e.concluded.get("status") == Status.too_early.value]


def provenance(doc: dict[str, Any], shown=str) -> str:
    """Where an exported version came from (an export document of triage/records/export.py); ``shown``
    makes the recorder's name safe for the document kind."""
    if doc["deidentified"]:
        return f"De-identified export (HIPAA Safe Harbor: identifiers removed, dates reduced to the year); recorded {doc['recorded_year']}."
    return (f"Intake {doc['intake_id']} version {doc['version']}, recorded {doc['recorded_at']} by "
            f"{shown(doc['recorded_by'])} (from {doc['source']}).")


# The answers a clinician reads beside the result, in every rendering of it (show, Markdown, HTML).
RECORD_QUESTIONS = ("surgical_report_available", "mri_available", "mri_date", "annular_tear_levels")
SYMPTOM_QUESTIONS = ("pain_location", "pain_quality", "pain_pattern_since_surgery", "pain_score",
                     "hardware_problem_known", "mechanical_symptoms", "veteran")
# The veterans' pre-screen, asked (and so shown) only when `veteran` is yes.
VA_QUESTIONS_SHOWN = ("va_enrolled", "va_drive_time_over_standard", "va_wait_over_standard",
                      "va_no_full_service_facility", "va_referral")


def va_rows(questionnaire, answers: dict[str, Any]) -> list[tuple[str, str]]:
    """(label, answer) of the VA questions when the patient is a veteran; nothing otherwise."""
    return answer_rows(questionnaire, answers, VA_QUESTIONS_SHOWN) if answers.get("veteran") == "yes" else []


def answer_rows(questionnaire, answers: dict[str, Any], questions) -> list[tuple[str, str]]:
    """(label, answer as text) for ``questions``."""
    return [(questionnaire.item(q).label, questionnaire.answer_text(q, answers.get(q))) for q in questions]


def red_flag_rows(questionnaire, answers: dict[str, Any],
                  tiers: dict[str, str] | None = None) -> tuple[list[tuple[str, str, str]], list[str], int]:
    """The red-flag screen as answered: (marker, question id, label: answer) for every answer that is
    not a plain "no" (``!!`` yes, ``?`` unknown or not answered), the labels answered no, and how
    many questions the screen has. A reader sees a negative screen as such, not as a missing section.
    With ``tiers`` (red_flag_tiers of the result), a yes starts with its tier in words."""
    flags = [item for item in questionnaire.items if item.safety]
    rows, answered_no = [], []
    for item in flags:
        said = questionnaire.answer_text(item.id, answers.get(item.id))
        if answers.get(item.id) == "no":
            answered_no.append(item.label)
        elif answers.get(item.id) == "yes":
            tier = f"{urgency_words(tiers.get(item.id)):<{TIER_WIDTH}}  " if tiers and item.id in tiers else ""
            rows.append(("!!", item.id, f"{tier}{item.label}: yes"))
        elif asks_now(item.id):
            rows.append((ASK_NOW_MARK, item.id, f"{item.label}: {ask_now_text(said)}"))
        else:
            rows.append(("?", item.id, f"{item.label}: {said}"))
    return rows, answered_no, len(flags)


def in_words(text: str, questionnaire) -> str:
    """A recorded reason with the red-flag question ids it names (the open red-flag screen: "Still open
    (ask again): red_flag_saddle_numbness unknown") in words: each id becomes its question's label."""
    import re

    def label(match) -> str:
        try:
            return f"{questionnaire.item(match.group(1)).label}:"
        except (KeyError, StopIteration, ValueError):
            return match.group(1)
    return re.sub(r"\b(red_flag_[a-z_]+)\b(?=\s)", label, text)


ASK_NOW_MARK = "!?"  # an emergency or same-day question answered unknown or not answered
ASK_NOW = "NOT ANSWERED - ask now"


def asks_now(question: str) -> bool:
    """An emergency or same-day red-flag question (shipped rules) that was not answered yes or no
    must be asked now: it is marked so, never shown like a "no"."""
    from triage.core.ruleset import shipped_red_flag_tiers

    return shipped_red_flag_tiers().get(question) in ("emergency", "same_day")


def ask_now_text(said: str) -> str:
    """"NOT ANSWERED - ask now", with "unknown" when that was the answer."""
    return ASK_NOW if said == "not answered" else f"{ASK_NOW} (answered {said})"


def answered_no_text(answered_no: list[str], total: int) -> str:
    if not answered_no:
        return f"answered no: 0 of {total}"
    listed = "" if len(answered_no) == total else f" ({', '.join(answered_no)})"
    return f"answered no: {len(answered_no)} of {total}{listed}"
