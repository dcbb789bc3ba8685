"""What a patient sees at the end of an intake: the emergency instruction when a red flag was
answered yes, the records to bring, and thanks with the word that a physician reviews everything.

Built from a Result by picking ONLY those parts, so discussion points, step statuses, status words and
any interpretation cannot reach a patient by construction (and tests check it on generated answers).
Plain text, no rich: it is the same on any terminal, and golden files pin it.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass

from triage.questionnaire import Questionnaire
from triage.result import Result
from triage.ruleset import Ruleset
from triage.settings import Settings


@dataclass(frozen=True)
class PatientSummary:
    emergency: str | None  # the ruleset's emergency_instructions, when a red flag was answered yes
    to_bring: list[str]  # plain words for each missing item, in the ruleset's order
    stopped_early: bool


def patient_summary(result: Result, ruleset: Ruleset, settings: Settings, *,
                    stopped_early: bool = False) -> PatientSummary:
    emergency = None
    if result.red_flags:
        emergency = ruleset.messages.emergency_instructions.format_map(settings.model_dump())
    return PatientSummary(
        emergency=emergency,
        to_bring=[ruleset.missing_items[item.id].to_bring for item in result.missing_items],
        stopped_early=stopped_early,
    )


def render_patient_summary(summary: PatientSummary, questionnaire: Questionnaire, *, width: int = 80) -> str:
    """The closing screen for a patient. The emergency instruction comes first, framed so that it is
    unmistakable without colour."""
    wording = questionnaire.patient_wording
    width = max(40, width)
    lines: list[str] = []

    def para(text: str, indent: str = "", first: str | None = None) -> None:
        lines.extend(textwrap.wrap(text, width, initial_indent=first if first is not None else indent,
                                   subsequent_indent=indent) or [""])

    lines += [wording.summary_title, "=" * len(wording.summary_title), ""]
    if summary.emergency:  # a plain box: unmistakable on any terminal, with or without colour
        inner = width - 4
        lines.append("+" + "-" * (inner + 2) + "+")
        for line in textwrap.wrap(f"{wording.emergency_heading}: {summary.emergency}", inner):
            lines.append(f"| {line:<{inner}} |")
        lines += ["+" + "-" * (inner + 2) + "+", ""]
    if summary.stopped_early:
        para(wording.stopped)
        lines.append("")
    if summary.to_bring:
        para(wording.bring_heading)
        for text in summary.to_bring:
            para(text, indent="   ", first=" - ")
    else:
        para(wording.bring_nothing)
    lines.append("")
    para(questionnaire.questionnaire.patient_outro)  # a physician reviews everything
    return "\n".join(lines) + "\n"
