"""`triage show`: the clinician's one-screen summary of a recorded intake.

Outer layer (rich). Every line of the result names the rule behind it and that rule's source, so a
clinician can check it independently; the answers are shown as given, labelled by the questionnaire.
"""

from __future__ import annotations

import io
from typing import Any

from rich import box
from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from triage.questionnaire import Questionnaire
from triage.render import BANNERS, STEP_MARKS, rules_by_conclusion
from triage.result import Result, Status
from triage.store import Record, VersionInfo

NOT_ANSWERED = "not answered"


def answer_text(questionnaire: Questionnaire, question: str, answers: dict[str, Any]) -> str:
    """An answer as a coordinator reads it: option labels, levels joined, 'not answered'."""
    if question not in answers:
        return NOT_ANSWERED
    value = answers[question]
    item = questionnaire.item(question)
    labels = {option.value: option.label for option in item.options}
    if isinstance(value, list):
        return ", ".join(labels.get(v, v) for v in value) if value else "none"
    return labels.get(value, str(value))


def _grid(console: Console, rows: list[tuple[str, Text | str]], indent: int = 2) -> None:
    grid = Table.grid(padding=(0, 1))
    grid.add_column(no_wrap=True)
    grid.add_column(ratio=1, overflow="fold")
    for marker, text in rows:
        grid.add_row(Text(" " * indent + marker), text if isinstance(text, Text) else Text(text))
    console.print(grid)


def render_show(record: Record, history: list[VersionInfo], questionnaire: Questionnaire, *,
                width: int = 100, color: bool = False) -> str:
    result = Result.model_validate(record.result)
    answers = record.answers
    out = io.StringIO()
    console = Console(file=out, width=width, no_color=not color, force_terminal=color, highlight=False,
                      emoji=False, legacy_windows=False)
    basis = rules_by_conclusion(result)
    sources = {entry.rule: entry.source for entry in result.trace}

    def cite(ids: list[str]) -> str:
        return f"  [{'; '.join(f'{i} {sources[i]}' for i in ids)}]" if ids else ""

    def label(question: str) -> str:
        return questionnaire.item(question).label

    def said(question: str) -> str:
        return answer_text(questionnaire, question, answers)

    def section(title: str) -> None:
        console.print(Text(f"\n{title}", style="bold"))

    banner, style = BANNERS[result.status]
    console.print(Panel(
        Group(Text(banner, style=style, justify="center"), Text(result.physician_consult.message)),
        title=f"Intake {record.intake_id} - version {record.version} of {len(history)}",
        subtitle=f"physician consult: recommended ({result.physician_consult.urgency})",
        box=box.HEAVY if result.status == Status.urgent else box.ROUNDED))
    months = result.months_since_fusion
    since = f" ({months} months before the assessment)" if months is not None else ""
    for line in (
        f"{label('patient_id')}: {said('patient_id')}    Assessed: {result.assessment_date}    "
        f"Recorded: {record.recorded_at} by {record.recorded_by} ({record.source})",
        f"{label('fusion_date')}: {said('fusion_date')}{since}",
        f"{label('fused_levels')}: {said('fused_levels')}    Adjacent levels: {', '.join(result.adjacent_levels) or '-'}",
    ):
        console.print(Text(line), overflow="fold")

    section("Records")
    _grid(console, [("", f"{label(q)}: {said(q)}") for q in
                    ("surgical_report_available", "mri_available", "mri_date", "annular_tear_levels")])

    section("Symptom pattern")
    _grid(console, [("", f"{label(q)}: {said(q)}") for q in
                    ("pain_location", "pain_quality", "pain_pattern_since_surgery", "pain_score",
                     "hardware_problem_known", "mechanical_symptoms", "veteran")])

    section("Red flags")
    flags = [item.id for item in questionnaire.items if item.safety]
    rows = []
    for flag in flags:
        answer = said(flag)
        marker = "!!" if answer == "yes" else ("  " if answer == "no" else "? ")
        rows.append((marker, f"{label(flag)}: {answer}{cite(basis[('red_flag', flag)])}"))
    _grid(console, rows)

    section("Missing before evaluation")
    _grid(console, [("[ ]", f"{item.label}: {item.reason}{cite(basis[('missing', item.id)])}")
                    for item in result.missing_items] or [("", "nothing missing")])

    section("Decision steps")
    for step in result.steps:
        mark, word, step_style = STEP_MARKS[step.status]
        ids = basis[("step_status", f"{step.step}:{step.status.value}")]
        _grid(console, [(mark, Text.assemble(f"{step.step}. {step.title}: ", (word, step_style or "bold")))])
        _grid(console, [("", " ".join(step.reasons) + cite(ids))], indent=5)

    section("Topics the physician may want to discuss")
    _grid(console, [("*", f"{point.text}{cite(basis[('discussion', point.id)])}")
                    for point in result.discussion_points] or [("", "none")])

    section("Versions")
    _grid(console, [("*" if info.version == record.version else " ",
                     f"v{info.version}  {info.recorded_at}  {info.status}  by {info.recorded_by} ({info.source})")
                    for info in history])

    settings = result.settings
    console.print(Text(
        f"\nRuleset {result.ruleset.name} {result.ruleset.version}; healing window "
        f"{settings['healing_window_months']} months, MRI currency {settings['mri_currency_months']} months."))
    console.print(Text(result.disclaimer, style="italic"))
    return "\n".join(line.rstrip() for line in out.getvalue().split("\n"))
