"""One printable HTML page of a recorded intake: inline CSS with print styles, no scripts or external
resources, every text escaped. No rich: the web layer uses it too."""

from __future__ import annotations

from typing import Any, NamedTuple

from triage.core.questionnaire import Questionnaire
from triage.channels.render.labels import (
    BANNERS,
    RECORD_QUESTIONS,
    STEP_MARKS,
    SYMPTOM_QUESTIONS,
    va_rows,
    answer_rows,
    answered_no_text,
    provenance,
    ASK_NOW_MARK,
    in_words,
    red_flag_rows,
    red_flag_tiers,
    settings_line,
    urgency_words,
    banner_words,
    rules_by_conclusion,
)
from triage.decision.result import Result
from triage.core.result_values import Status
from triage.core.safe_text import for_html

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
dl.overview, dl.answers { display: grid; gap: .1rem .8rem; margin: .4rem 0; }
dl.overview { grid-template-columns: max-content minmax(0, 1fr); }
dl.answers { grid-template-columns: minmax(0, max-content) minmax(5em, 1fr); }
dl.overview dt, dl.answers dt { font-weight: 600; }
dl.overview dd, dl.answers dd { margin: 0; }
dl.overview dd { overflow-wrap: anywhere; }  /* a 200-character patient reference stays on the page */
li, td, dd { overflow-wrap: break-word; }
.columns { display: grid; grid-template-columns: 1fr 1fr; gap: 0 1.2rem; }
.columns h2 { margin-top: .6rem; }
ul.flags { list-style: none; padding-left: 0; }
.mark, .step { display: inline-block; min-width: 3.2em; text-align: center; font-size: .8em; font-weight: 700;
               border: 1px solid #555; border-radius: .25rem; padding: 0 .3em; margin-right: .3em; }
.flag-yes .mark { background: #b00020; color: #fff; border-color: #b00020; }
.flag-open .mark { background: #fff3c4; }
.flag-ask .mark { background: #fff; color: #b00020; border: 2px solid #b00020; font-weight: 700; }
.step.done { background: #d8f0d8; }
.step.attention { background: #fff3c4; border-color: #8a6d00; }
.step.not_applicable { color: #555; border-style: dashed; }
a { color: inherit; }
ul { margin: .2rem 0; padding-left: 1.3rem; }
table { border-collapse: collapse; width: 100%; }
th, td { border: 1px solid #bbb; padding: .25rem .4rem; vertical-align: top; text-align: left; overflow-wrap: anywhere; }
.basis { color: #444; font-size: .85em; }
.status { white-space: nowrap; }
.meta, .disclaimer { font-size: .85em; color: #333; margin-top: .8rem; }
.disclaimer { font-style: italic; }
@media print {
  html { font-size: 8pt; }  /* every rem below scales with it */
  body { margin: 0; max-width: none; font-size: 1rem; line-height: 1.2; }
  h1 { font-size: 1.4rem; margin: 0 0 .2rem; }
  h2 { font-size: 1.1rem; margin: .45rem 0 .15rem; }
  .banner { padding: .2rem .5rem; margin: .25rem 0; }
  .consult { margin: .25rem 0; }
  dl.overview, dl.answers { margin: .15rem 0; gap: 0 .6rem; }
  ul { margin: .1rem 0; }
  th, td { padding: .1rem .25rem; }
  .sources, .meta, .disclaimer { font-size: .9em; margin-top: .35rem; }
  .banner, .mark, .step { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
  h2, table, li { break-inside: avoid; }
  @page { margin: 11mm; }  /* fits one A4 or Letter page, worst case included */
}
"""


class Cover(NamedTuple):
    """A notice the web's print view lays over the page on screen (its idle cover; the exported file
    has none): its own style block, and its markup, placed after <main>. <main> then has the class
    ``idle-hidden-after``, which that style hides when the notice shows."""

    style: str
    html: str


def _e(value: Any) -> str:
    return for_html(value)


def _requests_html(requests: list[dict[str, Any]]) -> list[str]:
    """The record requests with their dates (an identified export's ``record_requests``)."""
    from triage.records.requests import RecordRequest, request_text

    if not requests:
        return []
    fields = RecordRequest.__dataclass_fields__
    lines = [request_text(RecordRequest(**{k: v for k, v in r.items() if k in fields})) for r in requests]
    return ["<h3>Record requests</h3><ul>", *(f"<li>{_e(line)}</li>" for line in lines), "</ul>"]


def render_html(result: Result, doc: dict[str, Any], questionnaire: Questionnaire,
                sources: dict[str, tuple[str, str]] | None = None, *, cover: Cover | None = None) -> str:
    """One printable page: inline CSS with print styles, no scripts or external resources, every
    text escaped. ``doc`` is an export document (triage/records/export.py), possibly de-identified; it holds
    what `triage show` holds. ``sources`` (key -> (title, reference), from the ruleset) lists the
    sources the page cites at its end; each citation links to its entry there. ``cover``: see
    ``Cover`` (the page is otherwise byte for byte the same)."""
    basis = rules_by_conclusion(result)
    cited_source = {entry.rule: entry.source for entry in result.trace}
    sources = sources or {}

    def cite(ids: list[str]) -> str:
        if not ids:
            return ""
        cited = []
        for rule in ids:
            source = cited_source.get(rule, "")
            key = source.split("#")[0]
            where = f'<a href="#source-{_e(key)}">{_e(source)}</a>' if key in sources else _e(source)
            cited.append(f"{_e(rule)} {where}".strip())
        return f' <span class="basis">[{"; ".join(cited)}]</span>'

    answers = doc["answers"]
    healing = basis.get(("status", Status.too_early.value))
    words = banner_words(result)
    consult = result.physician_consult
    months = result.months_since_fusion
    overview = [
        ("Patient", answers.get("patient_id", "[removed]" if doc["deidentified"] else "-"), ""),
        ("Assessed", result.assessment_date, ""),
        ("Fusion", questionnaire.answer_text("fusion_date", answers.get("fusion_date"))
                   + (f" ({months} months before the assessment)" if months is not None else "")
                   + (", inside the healing window" if healing else ""), cite(healing or [])),
        ("Fused levels", questionnaire.answer_text("fused_levels", answers.get("fused_levels")), ""),
        ("Adjacent levels", ", ".join(result.adjacent_levels) or "-", ""),
    ]

    def answer_list(questions, extra=()) -> list[str]:
        rows = [*answer_rows(questionnaire, answers, questions), *extra]
        return ['<dl class="answers">', *(f"<dt>{_e(label)}</dt><dd>{_e(text)}</dd>" for label, text in rows), "</dl>"]

    cover_style = f"<style>{cover.style}</style>" if cover else ""
    main_class = ' class="idle-hidden-after"' if cover else ""
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>Pre-consultation triage{'' if doc['deidentified'] else ' - intake ' + _e(doc['intake_id'])}</title>",
        f"<style>{_CSS}</style>{cover_style}</head><body><main{main_class}>",
        "<h1>Pre-consultation triage</h1>",
        f'<div class="banner {_e(result.status.value)}">{_e(words)}</div>',
        f'<p class="consult">Physician consult ({_e(urgency_words(consult.urgency))}): {_e(consult.message)}</p>',
        '<dl class="overview">',
        *(f"<dt>{_e(label)}</dt><dd>{_e(value)}{basis_html}</dd>" for label, value, basis_html in overview),
        "</dl>",
        "<div class='columns'><section><h2>Records</h2>", *answer_list(RECORD_QUESTIONS),
        *_requests_html(doc.get("record_requests") or []), "</section>",
        "<section><h2>Symptom pattern</h2>", *answer_list(SYMPTOM_QUESTIONS, va_rows(questionnaire, answers)), "</section></div>",
        "<h2>Red flags</h2><ul class='flags'>",
    ]
    rows, answered_no, total = red_flag_rows(questionnaire, answers, red_flag_tiers(result))
    kinds = {"!!": ("flag-yes", "yes"), ASK_NOW_MARK: ("flag-ask", "ask now"), "?": ("flag-open", "open")}
    parts += [f"<li class='{kinds[marker][0]}'><span class='mark'>{kinds[marker][1]}</span> "
              f"{'<strong>' if marker == ASK_NOW_MARK else ''}{_e(text)}{'</strong>' if marker == ASK_NOW_MARK else ''}"
              f"{cite(basis[('red_flag', flag)])}</li>" for marker, flag, text in rows]
    parts += [f"<li class='flag-no'><span class='mark'>no</span> {_e(answered_no_text(answered_no, total))}</li>"] \
        if answered_no else []
    parts.append("</ul>")
    parts.append("<h2>Missing before evaluation</h2><ul>")
    parts += [f"<li><strong>{_e(item.label)}</strong>: {_e(in_words(item.reason, questionnaire))}{cite(basis[('missing', item.id)])}</li>"
              for item in result.missing_items] or ["<li>nothing missing</li>"]
    parts.append("</ul>")
    parts.append("<h2>Decision steps</h2><table><thead><tr><th>Step</th><th>Status</th><th>Why</th>"
                 "<th>Basis</th></tr></thead><tbody>")
    for step in result.steps:
        _, word, _ = STEP_MARKS[step.status]
        ids = basis[("step_status", f"{step.step}:{step.status.value}")]
        parts.append(f"<tr><td>{step.step}. {_e(step.title)}</td><td class='status'><span class='step "
                     f"{_e(step.status.value)}'>{_e(word)}</span></td>"
                     f"<td>{_e(' '.join(step.reasons))}</td><td>{cite(ids)}</td></tr>")
    parts.append("</tbody></table>")
    parts.append("<h2>Topics the physician may want to discuss</h2><ul>")
    parts += [f"<li>{_e(point.text)}{cite(basis[('discussion', point.id)])}</li>"
              for point in result.discussion_points] or ["<li>none</li>"]
    parts.append("</ul>")
    used = sorted({source.split("#")[0] for source in cited_source.values()} & set(sources))
    if used:
        parts.append("<h2>Sources</h2><ul class='sources'>")
        for key in used:
            title, reference = sources[key]
            shown = (f'<a href="{_e(reference)}">{_e(reference)}</a>' if reference.startswith(("https://", "http://"))
                     else _e(reference))
            parts.append(f"<li id='source-{_e(key)}'><strong>{_e(key)}</strong>: {_e(title)} ({shown})</li>")
        parts.append("</ul>")
    parts += [
        f'<p class="meta">{_e(settings_line(result))} {_e(provenance(doc))}</p>',
        f'<p class="disclaimer">{_e(result.disclaimer)}</p>',
        f"</main>{cover.html if cover else ''}</body></html>",
        "",
    ]
    return "\n".join(parts)
