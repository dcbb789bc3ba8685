"""Human renderings of a result: ``text`` (rich, for the terminal) and ``markdown``.

Outer layer: reads a Result, never decides anything. Every status is spelled out in words and marks,
so nothing depends on colour. Each line names the rule behind it, so a clinician can check it.
"""

from __future__ import annotations

import io
from collections import defaultdict
from typing import Any

from rich import box
from rich.console import Console, Group, RenderHook
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from triage.facts import FACTS
from triage.questionnaire import Questionnaire
from triage.result import Result, Status, StepStatus
from triage.safe_text import for_html, for_markdown, for_terminal, unsafe_character
from triage.ruleset import Ruleset
from triage.store import Record, VersionInfo

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


def _overview(result: Result, answers: dict, shown=str) -> list[str]:
    """The two overview lines; ``shown`` makes a person's value safe for the document kind."""
    fusion = answers.get("fusion_date", "not answered")
    months = result.months_since_fusion
    since = f" ({months} months before the assessment)" if months is not None else ""
    # A higher status (urgent) hides too_early; the reader still needs to know the window is open.
    healing = rules_by_conclusion(result).get(("status", Status.too_early.value))
    since += f", inside the healing window {_basis(healing)}" if healing else ""
    fused = ", ".join(answers["fused_levels"]) if isinstance(answers.get("fused_levels"), list) else answers.get("fused_levels", "not answered")
    adjacent = ", ".join(result.adjacent_levels) or "-"
    return [
        f"Patient: {shown(answers.get('patient_id', '-'))}    Assessed: {result.assessment_date}",
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


def _needs_neutralising(text: str) -> bool:
    return unsafe_character(text, allow_newline=True) is not None


class _Neutralised:
    """Renders what it wraps, with every text segment passed through ``for_terminal``: a stored or
    typed value cannot carry an escape sequence or a bidi override onto the screen. rich's own
    styling is applied after this, so colours still work."""

    def __init__(self, inner):
        self.inner = inner

    def __rich_console__(self, console, options):
        from rich.segment import Segment

        for segment in console.render(self.inner, options):
            if segment.control or not _needs_neutralising(segment.text):
                yield segment
            else:
                yield Segment(for_terminal(segment.text), segment.style)


class _NeutraliseHook(RenderHook):
    def process_renderables(self, renderables):
        return [_Neutralised(renderable) for renderable in renderables]


def terminal_console(file, *, width: int, color: bool, **options) -> Console:
    """The one way a rich console for the terminal is made: every text it prints is neutralised
    (triage/safe_text.py). Used by every text rendering, `triage intake` and `triage batch`."""
    console = Console(file=file, width=width, no_color=not color, highlight=False, emoji=False,
                      legacy_windows=False, **options)
    console.push_render_hook(_NeutraliseHook())
    return console


def _console(out: io.StringIO, width: int, color: bool) -> Console:
    return terminal_console(out, width=width, color=color, force_terminal=color)


def _section(console: Console, title: str) -> None:
    console.print(Text(f"\n{title}", style="bold"))


def _banner(console: Console, result: Result, title: str) -> None:
    """Status in words and marks (never colour alone), why when too early, and the consult line."""
    banner, style = BANNERS[result.status]
    consult = result.physician_consult
    why = [Text(reason) for reason in _status_reasons(result)]
    console.print(Panel(Group(Text(banner, style=style, justify="center"), *why, Text(consult.message)),
                        title=title, subtitle=f"physician consult: recommended ({consult.urgency})",
                        box=box.HEAVY if result.status == Status.urgent else box.ROUNDED))


def _body(console: Console, result: Result, cite) -> None:
    """Missing items, the four steps and the discussion points, each line citing its rules."""
    basis = rules_by_conclusion(result)
    _section(console, "Missing before evaluation")
    _list(console, [("[ ]", f"{item.label}: {item.reason}{cite(basis[('missing', item.id)])}")
                    for item in result.missing_items] or [("", "nothing missing")])
    _section(console, "Decision steps")
    for step in result.steps:
        mark, word, step_style = STEP_MARKS[step.status]
        ids = basis[("step_status", f"{step.step}:{step.status.value}")]
        _list(console, [(mark, Text.assemble(f"{step.step}. {step.title}: ", (word, step_style or "bold")))])
        _list(console, [("", " ".join(step.reasons) + cite(ids))], indent=5)
    _section(console, "Topics the physician may want to discuss")
    _list(console, [("*", f"{point.text}{cite(basis[('discussion', point.id)])}")
                    for point in result.discussion_points] or [("", "none")])


def _footer(console: Console, result: Result) -> None:
    settings = result.settings
    console.print(Text(
        f"\nRuleset {result.ruleset.name} {result.ruleset.version}; healing window "
        f"{settings['healing_window_months']} months, MRI currency {settings['mri_currency_months']} months."))
    console.print(Text(result.disclaimer, style="italic"))


def render_text(result: Result, answers: dict, questionnaire: Questionnaire, *, width: int = 100,
                color: bool = False) -> str:
    """The coordinator's at-a-glance summary. ``answers`` is the answers-contract object."""
    out = io.StringIO()
    console = _console(out, width, color)
    basis = rules_by_conclusion(result)
    _banner(console, result, "Pre-consultation triage")
    for line in _overview(result, answers):
        console.print(Text(line), overflow="fold")
    if result.red_flags:
        _section(console, "Red flags answered yes")
        _list(console, [("!!", f"{questionnaire.item(flag).label}  {_basis(basis[('red_flag', flag)])}")
                        for flag in result.red_flags])
    _body(console, result, lambda ids: f"  {_basis(ids)}" if ids else "")
    _footer(console, result)
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
        *(f"- {line}" for line in _overview(result, answers, shown=for_markdown)),
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
    console = _console(out, width, color)
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
    console = _console(out, width, color)
    info = questionnaire.questionnaire
    console.print(Text(f"{info.title} ({info.id} {info.version})", style="bold"))
    for item in questionnaire.items:
        safety = "  [red flag]" if item.safety else ""
        console.print(Text(f"\n{item.id}{safety}", style="bold"))
        for label, value in (("label", item.label), ("asks", item.text), ("allowed", item.allowed_values()),
                             ("asked", _asked_when(item)), ("who", ", ".join(item.audience))):
            _list(console, [(f"{label + ':':<8}", value)])
    return _trimmed(out.getvalue())


# ---------------------------------------------------------------------------------------------
# Recorded intakes (triage/store.py): the clinician's `show` summary and the export renderings.

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


def render_show(record: Record, history: list[VersionInfo], questionnaire: Questionnaire, *,
                width: int = 100, color: bool = False) -> str:
    """`triage show`: the clinician's one-screen summary of a recorded version. Every line of the
    result names its rule and that rule's source; answers are shown as given, with their labels."""
    result = Result.model_validate(record.result)
    answers = record.answers
    out = io.StringIO()
    console = _console(out, width, color)
    basis = rules_by_conclusion(result)
    sources = {entry.rule: entry.source for entry in result.trace}

    def cite(ids: list[str]) -> str:
        return f"  [{'; '.join(f'{i} {sources[i]}' for i in ids)}]" if ids else ""

    def label(question: str) -> str:
        return questionnaire.item(question).label

    def said(question: str) -> str:
        return answer_text(questionnaire, question, answers)

    def section(title: str) -> None:
        _section(console, title)

    _banner(console, result, f"Intake {record.intake_id} - version {record.version} of {len(history)}")
    months = result.months_since_fusion
    since = f" ({months} months before the assessment)" if months is not None else ""
    # A higher status (urgent) can hide too_early; the reader still needs to know the window is open.
    since += f", inside the healing window{cite(basis[('status', Status.too_early.value)])}" if basis.get(
        ("status", Status.too_early.value)) else ""
    for line in (
        f"{label('patient_id')}: {said('patient_id')}    Assessed: {result.assessment_date}",
        f"{label('fusion_date')}: {said('fusion_date')}{since}",
        f"{label('fused_levels')}: {said('fused_levels')}    Adjacent levels: {', '.join(result.adjacent_levels) or '-'}",
    ):
        console.print(Text(line), overflow="fold")

    def answers_line(questions: tuple[str, ...]) -> str:
        return ";  ".join(f"{label(q)}: {said(q)}" for q in questions)

    section("Records")
    _list(console, [("", answers_line(("surgical_report_available", "mri_available", "mri_date"))),
                    ("", answers_line(("annular_tear_levels",)))])

    section("Symptom pattern")
    _list(console, [("", answers_line(("pain_location", "pain_quality", "pain_pattern_since_surgery", "pain_score"))),
                    ("", answers_line(("hardware_problem_known", "mechanical_symptoms", "veteran")))])

    # Every red-flag answer that is not a plain "no" gets its own line; the "no"s share one.
    section("Red flags")
    flags = [item.id for item in questionnaire.items if item.safety]
    rows = [("!!" if said(flag) == "yes" else "? ", f"{label(flag)}: {said(flag)}{cite(basis[('red_flag', flag)])}")
            for flag in flags if said(flag) != "no"]
    answered_no = [flag for flag in flags if said(flag) == "no"]
    if answered_no:
        rows.append(("", f"answered no: {len(answered_no)} of {len(flags)}"
                         + ("" if len(answered_no) == len(flags) else
                            f" ({', '.join(label(flag) for flag in answered_no)})")))
    _list(console, rows)

    _body(console, result, cite)

    section("Versions")
    _list(console, [("*" if info.version == record.version else " ",
                     f"v{info.version}  {info.recorded_at}  {info.status}  by {info.recorded_by} ({info.source})")
                    for info in history])
    _footer(console, result)
    return _trimmed(out.getvalue())


def provenance(doc: dict[str, Any], shown=str) -> str:
    """Where an export came from; ``shown`` makes the recorder's name safe for the document kind."""
    if doc["deidentified"]:
        return f"De-identified export (HIPAA Safe Harbor: identifiers removed, dates reduced to the year); recorded {doc['recorded_year']}."
    return (f"Intake {doc['intake_id']} version {doc['version']}, recorded {doc['recorded_at']} by "
            f"{shown(doc['recorded_by'])} (from {doc['source']}).")


# HTML: one printable page, no external resources, every text escaped.

_CSS = """
:root { color-scheme: light; }
body { font: 11pt/1.4 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #111;
       max-width: 48rem; margin: 1.5rem auto; padding: 0 1rem; }
h1 { font-size: 1.35rem; margin: 0 0 .4rem; }
h2 { font-size: 1.05rem; margin: 1.1rem 0 .3rem; border-bottom: 1px solid #bbb; }
.banner { font-weight: 700; padding: .45rem .7rem; border: 2px solid #111; margin: .5rem 0; }
.urgent { background: #b00020; color: #fff; border-color: #b00020; }
.too_early, .records_needed { background: #fff3c4; }
.ready_for_evaluation { background: #d8f0d8; }
.consult { font-weight: 600; }
dl.overview { display: grid; grid-template-columns: max-content 1fr; gap: .1rem .8rem; margin: .4rem 0; }
dl.overview dt { font-weight: 600; }
dl.overview dd { margin: 0; }
ul { margin: .2rem 0; padding-left: 1.3rem; }
table { border-collapse: collapse; width: 100%; }
th, td { border: 1px solid #bbb; padding: .25rem .4rem; vertical-align: top; text-align: left; }
.basis { color: #444; font-size: .85em; }
.status { white-space: nowrap; }
.meta, .disclaimer { font-size: .85em; color: #333; margin-top: .8rem; }
.disclaimer { font-style: italic; }
@media print {
  body { margin: 0; max-width: none; font-size: 8.5pt; line-height: 1.25; }
  h1 { font-size: 1.2rem; }
  h2 { margin: .7rem 0 .2rem; }
  th, td { padding: .15rem .3rem; }
  .banner { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
  h2, table, li { break-inside: avoid; }
  @page { margin: 11mm; }  /* fits one A4 or Letter page, worst case included */
}
"""


def _e(value: Any) -> str:
    return for_html(value)


def render_html(result: Result, doc: dict[str, Any], questionnaire: Questionnaire) -> str:
    """One printable page: inline CSS with print styles, no scripts or external resources, every
    text escaped. ``doc`` is an export document (triage/export.py), possibly de-identified."""
    basis = rules_by_conclusion(result)
    sources = {entry.rule: entry.source for entry in result.trace}

    def cite(ids: list[str]) -> str:
        if not ids:
            return ""
        cited = "; ".join(f"{rule} {sources.get(rule, '')}".strip() for rule in ids)
        return f' <span class="basis">[{_e(cited)}]</span>'

    answers = doc["answers"]
    healing = basis.get(("status", Status.too_early.value))
    banner, _ = BANNERS[result.status]
    consult = result.physician_consult
    fused = answers.get("fused_levels", "not answered")
    months = result.months_since_fusion
    overview = [
        ("Patient", answers.get("patient_id", "[removed]" if doc["deidentified"] else "-"), ""),
        ("Assessed", result.assessment_date, ""),
        ("Fusion", f"{answers.get('fusion_date', 'not answered')}"
                   + (f" ({months} months before the assessment)" if months is not None else "")
                   + (", inside the healing window" if healing else ""), cite(healing or [])),
        ("Fused levels", ", ".join(fused) if isinstance(fused, list) else fused, ""),
        ("Adjacent levels", ", ".join(result.adjacent_levels) or "-", ""),
    ]
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>Pre-consultation triage{'' if doc['deidentified'] else ' - intake ' + _e(doc['intake_id'])}</title>",
        f"<style>{_CSS}</style></head><body>",
        "<h1>Pre-consultation triage</h1>",
        f'<div class="banner {_e(result.status.value)}">{_e(banner)}</div>',
        f'<p class="consult">Physician consult: recommended ({_e(consult.urgency)}). {_e(consult.message)}</p>',
        '<dl class="overview">',
        *(f"<dt>{_e(label)}</dt><dd>{_e(value)}{basis_html}</dd>" for label, value, basis_html in overview),
        "</dl>",
    ]
    if result.red_flags:
        parts.append("<h2>Red flags answered yes</h2><ul>")
        parts += [f"<li><strong>{_e(questionnaire.item(flag).label)}</strong>{cite(basis[('red_flag', flag)])}</li>"
                  for flag in result.red_flags]
        parts.append("</ul>")
    parts.append("<h2>Missing before evaluation</h2><ul>")
    parts += [f"<li><strong>{_e(item.label)}</strong>: {_e(item.reason)}{cite(basis[('missing', item.id)])}</li>"
              for item in result.missing_items] or ["<li>nothing missing</li>"]
    parts.append("</ul>")
    parts.append("<h2>Decision steps</h2><table><thead><tr><th>Step</th><th>Status</th><th>Why</th>"
                 "<th>Basis</th></tr></thead><tbody>")
    for step in result.steps:
        mark, word, _ = STEP_MARKS[step.status]
        ids = basis[("step_status", f"{step.step}:{step.status.value}")]
        parts.append(f"<tr><td>{step.step}. {_e(step.title)}</td><td class='status'>{_e(mark)} {_e(word)}</td>"
                     f"<td>{_e(' '.join(step.reasons))}</td><td>{cite(ids)}</td></tr>")
    parts.append("</tbody></table>")
    parts.append("<h2>Topics the physician may want to discuss</h2><ul>")
    parts += [f"<li>{_e(point.text)}{cite(basis[('discussion', point.id)])}</li>"
              for point in result.discussion_points] or ["<li>none</li>"]
    parts.append("</ul>")
    settings = result.settings
    parts += [
        f'<p class="meta">Ruleset {_e(result.ruleset.name)} {_e(result.ruleset.version)}; healing window '
        f"{_e(settings['healing_window_months'])} months, MRI currency {_e(settings['mri_currency_months'])} months. "
        f"{_e(provenance(doc))}</p>",
        f'<p class="disclaimer">{_e(result.disclaimer)}</p>',
        "</body></html>",
        "",
    ]
    return "\n".join(parts)
