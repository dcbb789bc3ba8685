"""Status words and marks, and which rules concluded what: shared by every rendering (terminal,
Markdown, HTML, web pages). No rich here, so the web layer can use it without the terminal's stack.
Every status is spelled out in words and marks, so nothing depends on colour."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from triage.result import Result, Status, StepStatus

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
    """Where an exported version came from (an export document of triage/export.py); ``shown``
    makes the recorder's name safe for the document kind."""
    if doc["deidentified"]:
        return f"De-identified export (HIPAA Safe Harbor: identifiers removed, dates reduced to the year); recorded {doc['recorded_year']}."
    return (f"Intake {doc['intake_id']} version {doc['version']}, recorded {doc['recorded_at']} by "
            f"{shown(doc['recorded_by'])} (from {doc['source']}).")


# The answers a clinician reads beside the result, in every rendering of it (show, Markdown, HTML).
RECORD_QUESTIONS = ("surgical_report_available", "mri_available", "mri_date", "annular_tear_levels")
SYMPTOM_QUESTIONS = ("pain_location", "pain_quality", "pain_pattern_since_surgery", "pain_score",
                     "hardware_problem_known", "mechanical_symptoms", "veteran")


def answer_rows(questionnaire, answers: dict[str, Any], questions) -> list[tuple[str, str]]:
    """(label, answer as text) for ``questions``."""
    return [(questionnaire.item(q).label, questionnaire.answer_text(q, answers.get(q))) for q in questions]


def red_flag_rows(questionnaire, answers: dict[str, Any]) -> tuple[list[tuple[str, str, str]], list[str], int]:
    """The red-flag screen as answered: (marker, question id, label: answer) for every answer that is
    not a plain "no" (``!!`` yes, ``?`` unknown or not answered), the labels answered no, and how
    many questions the screen has. A reader sees a negative screen as such, not as a missing section."""
    flags = [item for item in questionnaire.items if item.safety]
    rows, answered_no = [], []
    for item in flags:
        said = questionnaire.answer_text(item.id, answers.get(item.id))
        if answers.get(item.id) == "no":
            answered_no.append(item.label)
        else:
            rows.append(("!!" if answers.get(item.id) == "yes" else "?", item.id, f"{item.label}: {said}"))
    return rows, answered_no, len(flags)


def answered_no_text(answered_no: list[str], total: int) -> str:
    if not answered_no:
        return f"answered no: 0 of {total}"
    listed = "" if len(answered_no) == total else f" ({', '.join(answered_no)})"
    return f"answered no: {len(answered_no)} of {total}{listed}"
