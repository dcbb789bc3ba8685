"""A result rendered for people: ``text`` (rich, for the terminal) and ``markdown`` (for the record).

Reads a Result, never decides anything. Each line names the rule behind it, so a clinician can check
it. The banner, body and footer are shared with the clinician's `show` (record.py).
"""

from __future__ import annotations

import io

from rich import box
from rich.console import Console, Group
from rich.panel import Panel
from rich.text import Text

from triage.core.questionnaire import Questionnaire
from triage.channels.render.labels import (
    BANNERS,
    RECORD_QUESTIONS,
    STEP_MARKS,
    SYMPTOM_QUESTIONS,
    va_rows,
    answer_rows,
    answered_no_text,
    banner_words,
    basis_text,
    ASK_NOW_MARK,
    in_words,
    red_flag_rows,
    red_flag_tiers,
    rules_by_conclusion,
    settings_line,
    status_reasons,
    urgency_words,
)
from triage.channels.render.terminal import console as new_console
from triage.channels.render.terminal import hanging_list, section, trimmed
from triage.decision.result import Result
from triage.core.result_values import Status
from triage.core.safe_text import for_markdown

def _overview(result: Result, answers: dict, questionnaire: Questionnaire, shown=str) -> list[str]:
    """The two overview lines; ``shown`` makes a person's value safe for the document kind."""
    def said(question: str) -> str:
        return questionnaire.answer_text(question, answers.get(question))

    months = result.months_since_fusion
    since = f" ({months} months before the assessment)" if months is not None else ""
    # A higher status (urgent) hides too_early; the reader still needs to know the window is open.
    healing = rules_by_conclusion(result).get(("status", Status.too_early.value))
    since += f", inside the healing window {basis_text(healing)}" if healing else ""
    adjacent = ", ".join(result.adjacent_levels) or "-"
    return [
        f"Patient: {shown(answers.get('patient_id', '-'))}    Assessed: {result.assessment_date}",
        f"Fusion: {said('fusion_date')}{since}    Fused: {said('fused_levels')}    Adjacent: {adjacent}",
    ]


def banner(console: Console, result: Result, title: str, *, ascii_only: bool = False) -> None:
    """Status in words and marks (never colour alone), why when too early, and the consult line.
    ``ascii_only`` (TERM=dumb) draws the frame with plain characters."""
    _, style = BANNERS[result.status]
    consult = result.physician_consult
    why = [Text(reason) for reason in status_reasons(result)]
    console.print(Panel(Group(Text(banner_words(result), style=style, justify="center"), *why, Text(consult.message)),
                        title=title, subtitle=f"physician consult ({urgency_words(consult.urgency)})",
                        box=box.ASCII2 if ascii_only else box.HEAVY if result.status == Status.urgent else box.ROUNDED))


def body(console: Console, result: Result, cite, questionnaire: Questionnaire | None = None) -> None:
    """Missing items, the four steps and the discussion points, each line citing its rules."""
    basis = rules_by_conclusion(result)

    def reason(item) -> str:
        return in_words(item.reason, questionnaire) if questionnaire is not None else item.reason

    section(console, "Missing before evaluation")
    hanging_list(console, [("[ ]", f"{item.label}: {reason(item)}{cite(basis[('missing', item.id)])}")
                    for item in result.missing_items] or [("", "nothing missing")])
    section(console, "Decision steps")
    for step in result.steps:
        mark, word, step_style = STEP_MARKS[step.status]
        ids = basis[("step_status", f"{step.step}:{step.status.value}")]
        hanging_list(console, [(mark, Text.assemble(f"{step.step}. {step.title}: ", (word, step_style or "bold")))])
        hanging_list(console, [("", " ".join(step.reasons) + cite(ids))], indent=5)
    section(console, "Topics the physician may want to discuss")
    hanging_list(console, [("*", f"{point.text}{cite(basis[('discussion', point.id)])}")
                    for point in result.discussion_points] or [("", "none")])


def footer(console: Console, result: Result) -> None:
    console.print(Text(f"\n{settings_line(result)}"))
    console.print(Text(result.disclaimer, style="italic"))


def red_flags_list(console: Console, questionnaire: Questionnaire, answers: dict, cite, basis,
                   tiers: dict[str, str] | None = None) -> None:
    """Every red-flag answer that is not a plain "no" on its own line (with the rule that flagged a
    yes); the "no"s share one line, so a negative screen reads as one."""
    rows, answered_no, total = red_flag_rows(questionnaire, answers, tiers)
    lines = [(marker if marker != "?" else "? ",
              Text(text, style="bold") if marker == ASK_NOW_MARK else f"{text}{cite(basis[('red_flag', flag)])}")
             for marker, flag, text in rows]
    if answered_no:
        lines.append(("", answered_no_text(answered_no, total)))
    hanging_list(console, lines)


def render_text(result: Result, answers: dict, questionnaire: Questionnaire, *, width: int = 100,
                color: bool = False, ascii_only: bool = False) -> str:
    """The coordinator's at-a-glance summary. ``answers`` is the answers-contract object."""
    out = io.StringIO()
    console = new_console(out, width, color)
    basis = rules_by_conclusion(result)
    banner(console, result, "Pre-consultation triage", ascii_only=ascii_only)
    for line in _overview(result, answers, questionnaire):
        console.print(Text(line), overflow="fold")
    section(console, "Red flags")
    red_flags_list(console, questionnaire, answers, lambda ids: f"  {basis_text(ids)}" if ids else "", basis,
                   red_flag_tiers(result))
    body(console, result, lambda ids: f"  {basis_text(ids)}" if ids else "", questionnaire)
    footer(console, result)
    return trimmed(out.getvalue())


def render_banner(result: Result, *, width: int = 100, color: bool = False, ascii_only: bool = False,
                  title: str = "Pre-consultation triage (again, from the top)") -> str:
    """The status banner alone: the last lines of a result taller than the screen, whose top (and
    its URGENT banner) has scrolled away."""
    out = io.StringIO()
    banner(new_console(out, width, color), result, title, ascii_only=ascii_only)
    return trimmed(out.getvalue())


def render_markdown(result: Result, answers: dict, questionnaire: Questionnaire) -> str:
    """The same summary as Markdown, for the record or a printout."""
    basis = rules_by_conclusion(result)
    consult = result.physician_consult
    lines = [
        "# Pre-consultation triage",
        "",
        f"**{banner_words(result)}**",
        "",
        *(f"{reason}\n" for reason in status_reasons(result)),
        f"**Physician consult ({urgency_words(consult.urgency)}):** {consult.message}",
        "",
        *(f"- {line}" for line in _overview(result, answers, questionnaire, shown=for_markdown)),
        "",
    ]
    lines += ["## Records", ""]
    # Answers shown as given (a stored record may hold anything): literal Markdown text.
    lines += [f"- **{label}:** {for_markdown(text)}" for label, text in answer_rows(questionnaire, answers, RECORD_QUESTIONS)]
    lines += ["", "## Symptom pattern", ""]
    lines += [f"- **{label}:** {for_markdown(text)}" for label, text in
              [*answer_rows(questionnaire, answers, SYMPTOM_QUESTIONS), *va_rows(questionnaire, answers)]]
    lines += ["", "## Red flags", ""]
    rows, answered_no, total = red_flag_rows(questionnaire, answers, red_flag_tiers(result))
    lines += [(f"- **!! {text}** {basis_text(basis[('red_flag', flag)])}" if marker == "!!"
               else f"- **{marker} {text}**" if marker == ASK_NOW_MARK else f"- ? {text}")
              for marker, flag, text in rows]
    lines += [f"- {answered_no_text(answered_no, total)}"] if answered_no else []
    lines.append("")
    lines += ["## Missing before evaluation", ""]
    lines += [f"- [ ] **{m.label}**: {in_words(m.reason, questionnaire)} {basis_text(basis[('missing', m.id)])}" for m in result.missing_items]
    lines += ["- nothing missing"] if not result.missing_items else []
    lines += ["", "## Decision steps", "", "| Step | Status | Why | Rules |", "|---|---|---|---|"]
    for step in result.steps:
        mark, word, _ = STEP_MARKS[step.status]
        rules = ", ".join(basis[("step_status", f"{step.step}:{step.status.value}")])
        lines.append(f"| {step.step}. {step.title} | {mark} {word} | {' '.join(step.reasons)} | {rules} |")
    lines += ["", "## Topics the physician may want to discuss", ""]
    lines += [f"- {p.text} {basis_text(basis[('discussion', p.id)])}" for p in result.discussion_points]
    lines += ["- none"] if not result.discussion_points else []
    lines += [
        "",
        settings_line(result),
        "",
        f"_{result.disclaimer}_",
        "",
    ]
    return "\n".join(lines)


