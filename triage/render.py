"""Human renderings of a result: ``text`` (rich, for the terminal) and ``markdown``.

Outer layer: reads a Result, never decides anything. Every status is spelled out in words and marks,
so nothing depends on colour. Each line names the rule behind it, so a clinician can check it.
"""

from __future__ import annotations

import io
from collections import defaultdict

from rich import box
from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from triage.facts import FACTS
from triage.questionnaire import Questionnaire
from triage.result import Result, Status, StepStatus
from triage.ruleset import Ruleset

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


def _basis(ids: list[str]) -> str:
    return f"[{', '.join(ids)}]" if ids else ""


def _status_reasons(result: Result) -> list[str]:
    """Why the result is too early (until when); other statuses are explained by their own lists."""
    if result.status != Status.too_early:
        return []
    return [f"{e.reason} [{e.rule}]" for e in result.trace if e.concluded.get("status") == Status.too_early.value]


def _overview(result: Result, answers: dict) -> list[str]:
    fusion = answers.get("fusion_date", "not answered")
    months = result.months_since_fusion
    since = f" ({months} months before the assessment)" if months is not None else ""
    # A higher status (urgent) hides too_early; the reader still needs to know the window is open.
    healing = rules_by_conclusion(result).get(("status", Status.too_early.value))
    since += f", inside the healing window {_basis(healing)}" if healing else ""
    fused = ", ".join(answers["fused_levels"]) if isinstance(answers.get("fused_levels"), list) else answers.get("fused_levels", "not answered")
    adjacent = ", ".join(result.adjacent_levels) or "-"
    return [
        f"Patient: {answers.get('patient_id', '-')}    Assessed: {result.assessment_date}",
        f"Fusion: {fusion}{since}    Fused: {fused or '-'}    Adjacent: {adjacent}",
    ]


def _list(console: Console, rows: list[tuple[str, Text | str]], indent: int = 2) -> None:
    """Marker + text with a hanging indent, so wrapped lines stay under their item."""
    grid = Table.grid(padding=(0, 1))
    grid.add_column(no_wrap=True)
    grid.add_column(ratio=1, overflow="fold")
    for marker, text in rows:  # plain strings as Text: "[x]" must not be read as rich markup
        grid.add_row(Text(" " * indent + marker), text if isinstance(text, Text) else Text(text))
    console.print(grid)


def _trimmed(rendered: str) -> str:
    """rich pads table rows to the full width; trailing spaces only make diffs and copies noisy."""
    return "\n".join(line.rstrip() for line in rendered.split("\n"))


def render_text(result: Result, answers: dict, questionnaire: Questionnaire, *, width: int = 100,
                color: bool = False) -> str:
    """The coordinator's at-a-glance summary. ``answers`` is the answers-contract object."""
    out = io.StringIO()
    console = Console(file=out, width=width, no_color=not color, force_terminal=color,
                      highlight=False, emoji=False, legacy_windows=False)
    basis = rules_by_conclusion(result)
    banner, style = BANNERS[result.status]
    consult = result.physician_consult
    heading = Text(banner, style=style, justify="center")
    why = [Text(reason) for reason in _status_reasons(result)]
    console.print(Panel(Group(heading, *why, Text(consult.message)), title="Pre-consultation triage",
                        subtitle=f"physician consult: recommended ({consult.urgency})",
                        box=box.HEAVY if result.status == Status.urgent else box.ROUNDED))
    for line in _overview(result, answers):
        console.print(Text(line), overflow="fold")

    def section(title: str) -> None:
        console.print(Text(f"\n{title}", style="bold"))

    if result.red_flags:
        section("Red flags answered yes")
        _list(console, [("!!", f"{questionnaire.item(flag).label}  {_basis(basis[('red_flag', flag)])}")
                        for flag in result.red_flags])

    section("Missing before evaluation")
    _list(console, [("[ ]", f"{item.label}: {item.reason}  {_basis(basis[('missing', item.id)])}")
                    for item in result.missing_items] or [("", "nothing missing")])

    section("Decision steps")
    for step in result.steps:
        mark, word, step_style = STEP_MARKS[step.status]
        rules = basis[("step_status", f"{step.step}:{step.status.value}")]
        _list(console, [(mark, Text.assemble(f"{step.step}. {step.title}: ", (word, step_style or "bold")))])
        _list(console, [("", " ".join(step.reasons) + f"  {_basis(rules)}")], indent=5)

    section("Topics the physician may want to discuss")
    _list(console, [("*", f"{point.text}  {_basis(basis[('discussion', point.id)])}")
                    for point in result.discussion_points] or [("", "none")])

    settings = result.settings
    console.print(Text(
        f"\nRuleset {result.ruleset.name} {result.ruleset.version}; healing window "
        f"{settings['healing_window_months']} months, MRI currency {settings['mri_currency_months']} months."
    ))
    console.print(Text(result.disclaimer, style="italic"))
    return _trimmed(out.getvalue())


def render_markdown(result: Result, answers: dict, questionnaire: Questionnaire) -> str:
    """The same summary as Markdown, for the record or a printout."""
    basis = rules_by_conclusion(result)
    banner, _ = BANNERS[result.status]
    consult = result.physician_consult
    lines = [
        "# Pre-consultation triage",
        "",
        f"**{banner}**",
        "",
        *(f"{reason}\n" for reason in _status_reasons(result)),
        f"**Physician consult: recommended ({consult.urgency}).** {consult.message}",
        "",
        *(f"- {line}" for line in _overview(result, answers)),
        "",
    ]
    if result.red_flags:
        lines += ["## Red flags answered yes", ""]
        lines += [f"- **{questionnaire.item(f).label}** {_basis(basis[('red_flag', f)])}" for f in result.red_flags]
        lines.append("")
    lines += ["## Missing before evaluation", ""]
    lines += [f"- [ ] **{m.label}**: {m.reason} {_basis(basis[('missing', m.id)])}" for m in result.missing_items]
    lines += ["- nothing missing"] if not result.missing_items else []
    lines += ["", "## Decision steps", "", "| Step | Status | Why | Rules |", "|---|---|---|---|"]
    for step in result.steps:
        mark, word, _ = STEP_MARKS[step.status]
        rules = ", ".join(basis[("step_status", f"{step.step}:{step.status.value}")])
        lines.append(f"| {step.step}. {step.title} | {mark} {word} | {' '.join(step.reasons)} | {rules} |")
    lines += ["", "## Topics the physician may want to discuss", ""]
    lines += [f"- {p.text} {_basis(basis[('discussion', p.id)])}" for p in result.discussion_points]
    lines += ["- none"] if not result.discussion_points else []
    settings = result.settings
    lines += [
        "",
        f"Ruleset {result.ruleset.name} {result.ruleset.version}; healing window "
        f"{settings['healing_window_months']} months, MRI currency {settings['mri_currency_months']} months.",
        "",
        f"_{result.disclaimer}_",
        "",
    ]
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# Catalogues: the rules a clinician reviews, and the questionnaire's vocabulary.

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


def render_rules_markdown(ruleset: Ruleset) -> str:
    info = ruleset.ruleset
    lines = [f"# Rule catalogue: {info.title}", "",
             f"Ruleset `{info.name}` version {info.version}, released {info.released} ({info.validation_status}).", ""]
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
    console = Console(file=out, width=width, no_color=not color, force_terminal=color, highlight=False)
    info = ruleset.ruleset
    console.print(Text(f"{info.title}", style="bold"))
    console.print(Text(f"Ruleset {info.name} {info.version}, released {info.released} ({info.validation_status})\n"))
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
            _list(console, [(f"{label + ':':<10}", value)])
        console.print()
    return _trimmed(out.getvalue())


def questions_catalogue(questionnaire: Questionnaire) -> dict:
    data = questionnaire.model_dump(mode="json", exclude_none=True)
    for item, dumped in zip(questionnaire.items, data["items"]):
        dumped["allowed"] = item.allowed_values()
    return data


def _asked_when(item) -> str:
    return f"only when {item.ask_when.question} is {item.ask_when.eq}" if item.ask_when else "always"


def render_questions_markdown(questionnaire: Questionnaire) -> str:
    info = questionnaire.questionnaire
    lines = [f"# Questionnaire: {info.title}", "", f"`{info.id}` version {info.version}", "",
             "| id | label | patient wording | allowed | asked | who |", "|---|---|---|---|---|---|"]
    for item in questionnaire.items:
        safety = " (red flag)" if item.safety else ""
        lines.append(f"| `{item.id}` | {item.label}{safety} | {item.text} | {item.allowed_values()} | "
                     f"{_asked_when(item)} | {', '.join(item.audience)} |")
    return "\n".join(lines) + "\n"


def render_questions_text(questionnaire: Questionnaire, *, width: int = 100, color: bool = False) -> str:
    out = io.StringIO()
    console = Console(file=out, width=width, no_color=not color, force_terminal=color, highlight=False)
    info = questionnaire.questionnaire
    console.print(Text(f"{info.title} ({info.id} {info.version})", style="bold"))
    for item in questionnaire.items:
        safety = "  [red flag]" if item.safety else ""
        console.print(Text(f"\n{item.id}{safety}", style="bold"))
        for label, value in (("label", item.label), ("asks", item.text), ("allowed", item.allowed_values()),
                             ("asked", _asked_when(item)), ("who", ", ".join(item.audience))):
            _list(console, [(f"{label + ':':<8}", value)])
    return _trimmed(out.getvalue())
