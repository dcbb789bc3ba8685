"""Exports of one recorded intake: json, markdown, html (printable, self-contained) and fhir, with an
optional de-identified form (HIPAA Safe Harbor).

De-identification removes every identifier this tool holds and reduces every date to its year:
- the patient reference, and any text that repeats it;
- the intake id, version numbers' timestamps and who recorded them (staff names, audit pointers);
- every date and timestamp (assessment, fusion, MRI, recorded, healing-window end, MRI currency
  start) to its year, in fields and inside sentences;
- months since fusion (with the year of the assessment it gives the month of surgery back).
What remains is clinical content: answers to the questions, the result and the rules behind it.
"""

from __future__ import annotations

import copy
import html
import json
import re
from typing import Any

from triage.questionnaire import Questionnaire
from triage.store import Record, VersionInfo

FORMATS = ("json", "markdown", "html", "fhir")
DATE_FIELDS = ("assessment_date", "fusion_date", "mri_date")
# A date or timestamp anywhere in text: 2024, 2024-03, 2024-03-05, 2024-03-05T10:00:00Z -> its year.
_DATE = re.compile(r"\b(\d{4})-(?:0[1-9]|1[0-2])(?:-\d{2}(?:T[0-9:.]+(?:Z|[+-]\d{2}:\d{2})?)?)?\b")
REMOVED = "[removed]"


def year_only(text: str) -> str:
    return _DATE.sub(lambda match: match.group(1), text)


def _scrub(value: Any, patient_id: str | None) -> Any:
    if isinstance(value, str):
        # Whole-token match, and not for tiny references that would mangle ordinary numbers.
        if patient_id and len(patient_id) >= 3:
            value = re.sub(rf"(?<!\w){re.escape(patient_id)}(?!\w)", REMOVED, value)
        return year_only(value)
    if isinstance(value, list):
        return [_scrub(item, patient_id) for item in value]
    if isinstance(value, dict):
        return {key: _scrub(item, patient_id) for key, item in value.items()}
    return value


def deidentify_answers(answers: dict[str, Any]) -> dict[str, Any]:
    patient_id = answers.get("patient_id")
    kept = {key: value for key, value in answers.items() if key != "patient_id"}
    return _scrub(kept, patient_id)


def deidentify_result(result: dict[str, Any], patient_id: str | None) -> dict[str, Any]:
    result = copy.deepcopy(result)
    result["months_since_fusion"] = None
    for entry in result.get("trace", []):
        entry.get("inputs", {}).pop("patient_id", None)
    return _scrub(result, patient_id)


def document(record: Record, history: list[VersionInfo], *, deidentify: bool) -> dict[str, Any]:
    """The json export: the recorded version with its answers, result and provenance."""
    if deidentify:
        return {
            "deidentified": True,
            "recorded_year": record.recorded_at[:4],
            "source": record.source,
            "ruleset": record.ruleset,
            "answers": deidentify_answers(record.answers),
            "result": deidentify_result(record.result, record.answers.get("patient_id")),
        }
    return {
        "deidentified": False,
        "intake_id": record.intake_id,
        "version": record.version,
        "recorded_at": record.recorded_at,
        "recorded_by": record.recorded_by,
        "source": record.source,
        "ruleset": record.ruleset,
        "content_sha256": record.content_sha256,
        "answers": record.answers,
        "result": record.result,
        "versions": [vars(info) for info in history],
    }


def render(fmt: str, record: Record, history: list[VersionInfo], questionnaire: Questionnaire,
           *, deidentify: bool) -> str:
    doc = document(record, history, deidentify=deidentify)
    if fmt == "json":
        return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
    if fmt == "fhir":
        from triage import fhir

        resource = fhir.response_resource(
            questionnaire, doc["answers"],
            authored=doc["recorded_year"] if deidentify else record.recorded_at,
            resource_id=None if deidentify else f"intake-{record.intake_id}-v{record.version}",
        )
        return json.dumps(resource, indent=2, ensure_ascii=False) + "\n"
    from triage.render import render_markdown
    from triage.result import Result

    result = Result.model_validate(doc["result"])
    if fmt == "markdown":
        return render_markdown(result, doc["answers"], questionnaire) + _markdown_provenance(doc)
    if fmt == "html":
        return render_html(result, doc, questionnaire)
    raise ValueError(f"unknown export format {fmt!r}")


def _provenance(doc: dict[str, Any]) -> str:
    if doc["deidentified"]:
        return f"De-identified export (HIPAA Safe Harbor: identifiers removed, dates reduced to the year); recorded {doc['recorded_year']}."
    return (f"Intake {doc['intake_id']} version {doc['version']}, recorded {doc['recorded_at']} by "
            f"{doc['recorded_by']} (from {doc['source']}).")


def _markdown_provenance(doc: dict[str, Any]) -> str:
    return f"\n{_provenance(doc)}\n"


# ---------------------------------------------------------------------------------------------
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
.basis { color: #444; font-size: .85em; white-space: nowrap; }
.meta, .disclaimer { font-size: .85em; color: #333; margin-top: .8rem; }
.disclaimer { font-style: italic; }
@media print {
  body { margin: 0; max-width: none; font-size: 10pt; }
  .banner { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
  h2, table, li { break-inside: avoid; }
  @page { size: A4; margin: 14mm; }
}
"""


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def render_html(result, doc: dict[str, Any], questionnaire: Questionnaire) -> str:
    from triage.render import BANNERS, STEP_MARKS, rules_by_conclusion

    basis = rules_by_conclusion(result)
    sources = {entry.rule: entry.source for entry in result.trace}

    def cite(ids: list[str]) -> str:
        if not ids:
            return ""
        cited = "; ".join(f"{rule} {sources.get(rule, '')}".strip() for rule in ids)
        return f' <span class="basis">[{_e(cited)}]</span>'

    answers = doc["answers"]
    banner, _ = BANNERS[result.status]
    consult = result.physician_consult
    fused = answers.get("fused_levels", "not answered")
    months = result.months_since_fusion
    overview = [
        ("Patient", answers.get("patient_id", REMOVED if doc["deidentified"] else "-")),
        ("Assessed", result.assessment_date),
        ("Fusion", f"{answers.get('fusion_date', 'not answered')}"
                   + (f" ({months} months before the assessment)" if months is not None else "")),
        ("Fused levels", ", ".join(fused) if isinstance(fused, list) else fused),
        ("Adjacent levels", ", ".join(result.adjacent_levels) or "-"),
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
        *(f"<dt>{_e(label)}</dt><dd>{_e(value)}</dd>" for label, value in overview),
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
        parts.append(f"<tr><td>{step.step}. {_e(step.title)}</td><td>{_e(mark)} {_e(word)}</td>"
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
        f"{_e(_provenance(doc))}</p>",
        f'<p class="disclaimer">{_e(result.disclaimer)}</p>',
        "</body></html>",
        "",
    ]
    return "\n".join(parts)
