"""A recorded intake (triage/records/store/) for the clinician: `triage show`'s one-screen summary, and the
provenance line of exports."""

from __future__ import annotations

import io
from typing import Any

from rich.text import Text

from triage.core.questionnaire import Questionnaire
from triage.core.languages import LANGUAGES
from triage.channels.render.labels import RECORD_QUESTIONS, SYMPTOM_QUESTIONS, answer_rows, rules_by_conclusion, va_rows
from triage.channels.render.labels import red_flag_tiers
from triage.channels.render.result import banner, body, footer, red_flags_list
from triage.channels.render.terminal import console as new_console
from triage.channels.render.terminal import hanging_list, trimmed
from triage.channels.render.terminal import section as section_title
from triage.decision.result import Result
from triage.core.result_values import Status
from triage.records.store import Record, VersionInfo


def render_show(record: Record, history: list[VersionInfo], questionnaire: Questionnaire, *,
                width: int = 100, color: bool = False, ascii_only: bool = False,
                requests: tuple = (), changes: dict[int, list[dict[str, Any]]] | None = None,
                files: tuple = ()) -> str:
    """`triage show`: the clinician's one-screen summary of a recorded version. Every line of the
    result names its rule and that rule's source; answers are shown as given, with their labels.
    ``requests``: the intake's record requests (triage.records.requests), listed under Records with their dates;
    ``changes``: for each version a received record made, the answers it changed (under Versions);
    ``files``: the record files kept (not removed), under Records."""
    from triage.records.requests import changes_text, file_text, request_text

    changes = changes or {}
    result = Result.model_validate(record.result)
    answers = record.answers
    out = io.StringIO()
    console = new_console(out, width, color)
    basis = rules_by_conclusion(result)
    sources = {entry.rule: entry.source for entry in result.trace}

    def cite(ids: list[str]) -> str:
        return f"  [{'; '.join(f'{i} {sources[i]}' for i in ids)}]" if ids else ""

    def label(question: str) -> str:
        return questionnaire.item(question).label

    def said(question: str) -> str:
        return questionnaire.answer_text(question, answers.get(question))

    def section(title: str) -> None:
        section_title(console, title)

    banner(console, result, f"Intake {record.intake_id} - version {record.version} of {len(history)}",
           ascii_only=ascii_only)
    months = result.months_since_fusion
    since = f" ({months} months before the assessment)" if months is not None else ""
    # A higher status (urgent) can hide too_early; the reader still needs to know the window is open.
    since += f", inside the healing window{cite(basis[('status', Status.too_early.value)])}" if basis.get(
        ("status", Status.too_early.value)) else ""
    for line in (
        f"{label('patient_id')}: {said('patient_id')}    Assessed: {result.assessment_date}",
        *([f"Patient answered in: {LANGUAGES.get(record.language, record.language)} ({record.language});"
           " the answers below are in English"] if record.language else []),
        f"{label('fusion_date')}: {said('fusion_date')}{since}",
        f"{label('fused_levels')}: {said('fused_levels')}    Adjacent levels: {', '.join(result.adjacent_levels) or '-'}",
    ):
        console.print(Text(line), overflow="fold")

    def answers_line(questions: tuple[str, ...]) -> str:
        return ";  ".join(f"{label}: {text}" for label, text in answer_rows(questionnaire, answers, questions))

    section("Records")
    hanging_list(console, [("", answers_line(RECORD_QUESTIONS[:3])), ("", answers_line(RECORD_QUESTIONS[3:])),
                           *(("", request_text(request)) for request in requests),
                           *(("", file_text(file)) for file in files)])

    section("Symptom pattern")
    hanging_list(console, [("", answers_line(SYMPTOM_QUESTIONS[:4])), ("", answers_line(SYMPTOM_QUESTIONS[4:]))])
    va = va_rows(questionnaire, answers)
    if va:  # the VA pre-screen, for a veteran
        hanging_list(console, [("", ";  ".join(f"{label}: {text}" for label, text in va))])

    # Every red-flag answer that is not a plain "no" gets its own line; the "no"s share one.
    section("Red flags")
    red_flags_list(console, questionnaire, answers, cite, basis, red_flag_tiers(result))

    body(console, result, cite, questionnaire)

    section("Versions")
    hanging_list(console, [("*" if info.version == record.version else " ",
                     f"v{info.version}  {info.recorded_at}  {info.status}  by {info.recorded_by} ({info.source})"
                     + ("  PATIENT REFERENCE CHANGED from the version before" if info.patient_changed else "")
                     + (f"; from the record: {changes_text(changes[info.version])}" if info.version in changes else ""))
                    for info in history])
    footer(console, result)
    return trimmed(out.getvalue())


def alert_lines(alerts, questionnaire: Questionnaire) -> list[str]:
    """Each open red-flag alert in words: tier, question, when raised, and "answer changed" when the
    answer is no longer yes (it stays open until a clinician acknowledges it)."""
    from triage.channels.render.labels import urgency_words

    from triage.records.store import worklist_rank

    lines = []
    for alert in sorted(alerts, key=lambda alert: worklist_rank("urgent", alert.urgency, [])):  # most urgent first
        line = f"{urgency_words(alert.urgency)}  {questionnaire.item(alert.question).label}: raised {alert.raised_at}"
        if alert.answer_changed_at:
            line += f"; answer changed {alert.answer_changed_at} (no longer yes)"
        lines.append(line)
    return lines


def render_alerts(alerts, questionnaire: Questionnaire, *, draft=None, width: int = 100, color: bool = False) -> str:
    """Above `triage show`'s summary: the intake's open red-flag alerts (not yet acknowledged by a
    clinician) and a new version in progress."""
    out = io.StringIO()
    console = new_console(out, width, color)
    if alerts:
        console.print(Text(f"OPEN RED-FLAG ALERT{'S' if len(alerts) > 1 else ''} (not yet acknowledged by a "
                           "clinician)", style="bold red"))
        hanging_list(console, [("!!", line) for line in alert_lines(alerts, questionnaire)])
    if draft is not None:
        console.print(Text(f"A new version is in progress (draft revision {draft.revision}, saved {draft.saved_at} "
                           f"by {draft.saved_by}), not sent yet.", style="bold"))
    return trimmed(out.getvalue())


def render_draft(intake_id: int, draft, alerts, questionnaire: Questionnaire, *, width: int = 100,
                 color: bool = False, ascii_only: bool = False) -> str:
    """`triage show` of an intake that has only a draft (never sent): its open red flags first, then
    the answers so far. Nothing is assessed yet, so there is no status, step or topic."""
    from rich import box
    from rich.panel import Panel

    from triage.core.ruleset import shipped_red_flag_tiers

    answers = draft.answers if draft is not None else {}
    out = io.StringIO()
    console = new_console(out, width, color)
    flagged = bool(alerts) or any(answers.get(q) == "yes" for q in shipped_red_flag_tiers())
    saved = f"revision {draft.revision}, saved {draft.saved_at} by {draft.saved_by}" if draft else "no answers"
    console.print(Panel(Text(f"NOT SENT YET: a draft in progress ({saved}). Nothing is assessed yet: the answers "
                             "so far are below.", style="bold red" if flagged else "bold"),
                        title=f"Intake {intake_id} - draft", box=box.ASCII2 if ascii_only else box.HEAVY))
    if alerts:
        console.print(Text(f"\nOPEN RED-FLAG ALERT{'S' if len(alerts) > 1 else ''} (not yet acknowledged by a "
                           "clinician)", style="bold red"))
        hanging_list(console, [("!!", line) for line in alert_lines(alerts, questionnaire)])
    section_title(console, "Red flags")
    red_flags_list(console, questionnaire, answers, lambda ids: "", _NoBasis(),
                   {q: t for q, t in shipped_red_flag_tiers().items() if answers.get(q) == "yes"})
    section_title(console, "Answers so far")
    hanging_list(console, [("", f"{item.label}: {questionnaire.answer_text(item.id, answers.get(item.id))}")
                           for item in questionnaire.items if not item.safety and item.id in answers]
                 or [("", "none yet")])
    console.print(Text(f"\nContinue it: triage intake --resume-intake {intake_id}", style="dim"))
    return trimmed(out.getvalue())


class _NoBasis(dict):
    """A draft has no result, so no rule to cite."""

    def __missing__(self, key):
        return []
