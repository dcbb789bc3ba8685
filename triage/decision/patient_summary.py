"""What a patient sees at the end of an intake: the instruction for the most urgent red flag
answered yes (one per urgency tier: emergency, same day, within days), the records to bring, and
thanks with the word that a physician reviews everything.

Built from a Result by picking ONLY those parts, so discussion points, step statuses, status words and
any interpretation cannot reach a patient by construction (and tests check it on generated answers).
Plain text, no rich: it is the same on any terminal, and golden files pin it.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass

from triage.core.questionnaire import Questionnaire
from triage.decision.result import Result
from triage.core.result_values import URGENCY_ORDER
from triage.core.ruleset import Ruleset
from triage.core.settings import Settings


@dataclass(frozen=True)
class PatientSummary:
    tier: str | None  # the most urgent tier among the red flags answered yes, or None
    instructions: str | None  # that tier's instruction from the ruleset's [messages]
    to_bring: list[str]  # plain words for each missing item, in the ruleset's order
    stopped_early: bool


def most_urgent_tier(red_flags: list[str], ruleset: Ruleset) -> str | None:
    """The highest urgency tier among these red-flag questions (the rules file gives each its tier)."""
    tiers = {ruleset.red_flag_tier(flag) for flag in red_flags}
    return next((tier for tier in URGENCY_ORDER if tier in tiers), None)


def red_flag_instructions(tier: str, ruleset: Ruleset, settings: Settings,
                          values: dict[str, object] | None = None) -> str:
    """What a patient reads for a red flag of this tier, with the clinic's numbers filled in.
    ``values``: the settings as a translation reads them (``triage.core.languages``); default English."""
    return ruleset.messages.instructions(tier).format_map(values if values is not None else settings.text_values())


def patient_summary(result: Result, ruleset: Ruleset, settings: Settings, *,
                    stopped_early: bool = False, values: dict[str, object] | None = None) -> PatientSummary:
    """``ruleset`` gives the patient texts (a translated copy for another language: see
    ``triage.core.languages``); ``values`` the settings as those texts read them."""
    tier = most_urgent_tier(result.red_flags, ruleset)
    to_bring = [ruleset.missing_items[item.id].to_bring for item in result.missing_items]
    # A veteran who holds a VA referral or authorization number is asked to bring it: the result
    # says so by leaving "request_va_referral" out of the VA to-do.
    va = next((point for point in result.discussion_points if point.id == "va_community_care"), None)
    if va is not None and "request_va_referral" not in (va.to_do or []):
        to_bring.append(ruleset.messages.bring_va_referral)
    return PatientSummary(
        tier=tier,
        instructions=red_flag_instructions(tier, ruleset, settings, values) if tier else None,
        to_bring=to_bring,
        stopped_early=stopped_early,
    )


def framed(title: str, text: str, width: int, *, ascii_only: bool = False) -> list[str]:
    """``text`` in the frame of the live red-flag warning (the terminal's rich Panel: heavy lines, or
    plain ASCII on TERM=dumb; the title centred in the top border; a blank line and two spaces inside):
    the warning and the closing instruction look the same, so a patient knows them for one thing."""
    h, v, corners = ("-", "|", "++++") if ascii_only else ("\u2501", "\u2503", "\u250f\u2513\u2517\u251b")
    inner = width - 2  # between the two side lines
    label = f" {title} "
    body = textwrap.wrap(text, inner - 4)
    if len(label) > inner - 2:  # a title longer than the frame: its first line inside instead
        label, body = "", [*textwrap.wrap(title, inner - 4), *body]
    left = (inner - len(label)) // 2
    blank = v + " " * inner + v
    return [corners[0] + h * left + label + h * (inner - left - len(label)) + corners[1], blank,
            *(f"{v}  {line:<{inner - 4}}  {v}" for line in body), blank, corners[2] + h * inner + corners[3]]


def render_patient_summary(summary: PatientSummary, questionnaire: Questionnaire, *, width: int = 80,
                           ascii_only: bool = False) -> str:
    """The closing screen for a patient. The red-flag instruction comes first, in the live warning's
    frame (its tier's heading as the title), unmistakable without colour."""
    wording = questionnaire.patient_wording
    width = max(40, width)
    lines: list[str] = []

    def para(text: str, indent: str = "", first: str | None = None) -> None:
        lines.extend(textwrap.wrap(text, width, initial_indent=first if first is not None else indent,
                                   subsequent_indent=indent) or [""])

    lines += [wording.summary_title, "=" * len(wording.summary_title), ""]
    if summary.instructions:
        lines += [*framed(wording.tier_heading(summary.tier), summary.instructions, width, ascii_only=ascii_only), ""]
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
