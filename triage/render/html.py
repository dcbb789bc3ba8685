"""One printable HTML page of a recorded intake: inline CSS with print styles, no scripts or external
resources, every text escaped. No rich: the web layer uses it too."""

from __future__ import annotations

import html
from typing import Any

from triage.questionnaire import Questionnaire
from triage.render.labels import BANNERS, STEP_MARKS, provenance, rules_by_conclusion
from triage.result import Result, Status

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
th, td { border: 1px solid #bbb; padding: .25rem .4rem; vertical-align: top; text-align: left; overflow-wrap: anywhere; }
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
    return html.escape(str(value), quote=True)


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
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>Pre-consultation triage{'' if doc['deidentified'] else ' - intake ' + _e(doc['intake_id'])}</title>",
        f"<style>{_CSS}</style></head><body><main>",
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
        "</main></body></html>",
        "",
    ]
    return "\n".join(parts)
