"""Render a CDS Hooks card the way an EHR shows one, for docs/cds-hooks.md: `python tools/render_card.py`.

Builds the card of an example patient (an emergency-tier red flag, a record missing, a tear at an
unfused level, a veteran) with the service's own code, renders its Markdown `detail` with
markdown-it (CommonMark, as GitHub-flavoured Markdown renders these elements), and writes the
response to `docs/cds-hooks-card.json` (a test checks it is what the service gives today); with
Debian's chromium on the PATH it also takes the screenshot `docs/cds-hooks-card.png`. The page mimics a typical card panel (the CDS
Hooks sandbox's layout): indicator colour, summary, source, detail, link buttons.
"""

from __future__ import annotations

import html
import json
import shutil
import subprocess
import sys
import tempfile
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from markdown_it import MarkdownIt  # noqa: E402  (rich's dependency, so always installed)

from triage.interop import cds_hooks  # noqa: E402
from triage.core.answers import RED_FLAGS, parse_answers  # noqa: E402
from triage.decision.assess import assess  # noqa: E402
from triage.core.questionnaire import load_questionnaire  # noqa: E402
from triage.core.ruleset import load_ruleset  # noqa: E402
from triage.core.settings import load_settings  # noqa: E402

BASE_URL = "https://triage.clinic.example"
COLOURS = {"critical": "#b10e1e", "warning": "#b35900", "info": "#1d70b8"}

ANSWERS = {
    "assessment_date": "2026-11-24", "fusion_date": "2024-03", "fused_levels": ["L4-L5", "L5-S1"],
    "surgical_report_available": "no", "mri_available": "yes", "mri_date": "2026-08-14",
    "annular_tear_levels": ["L3-L4"], "pain_location": "back_and_leg", "pain_quality": ["aching", "shooting"],
    "pain_pattern_since_surgery": "improved_then_returned", "pain_score": 7, "hardware_problem_known": "no",
    "mechanical_symptoms": "no", "veteran": "yes", **{question: "no" for question in RED_FLAGS},
    "red_flag_bladder_bowel": "yes",
}


def example_card() -> dict:
    config = cds_hooks.CdsHooksConfig(base_url=BASE_URL, clients=[{"issuer": "https://ehr.clinic.example/",
                                                                   "jwks": "ehr-jwks.json"}],
                                      staff_summary_url=BASE_URL + "/staff/intakes/{intake_id}")
    result = assess(parse_answers(ANSWERS, today=date(2026, 11, 24)), load_ruleset(), load_settings())
    card = cds_hooks.card_for_result(result, load_questionnaire(), config, intake_id=42)
    card["uuid"] = "8b1f3c52-6c0e-4d2b-9a57-2f4f0e3d9c11"  # fixed, so the files change only with the card
    return card


def render_detail(markdown: str) -> str:
    return MarkdownIt("commonmark").enable("table").enable("strikethrough").render(markdown)


def page(card: dict) -> str:
    colour = COLOURS[card["indicator"]]
    links = "".join(f'<a class="button" href="{html.escape(link["url"])}">{html.escape(link["label"])}</a>'
                    for link in card.get("links", []))
    source = card["source"]
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>CDS Hooks card</title>
<style>
body {{ font: 14px/1.45 "DejaVu Sans", Arial, sans-serif; margin: 16px; background: #eef0f3; color: #1b1b1b; }}
.chart {{ background: #fff; border: 1px solid #c8ccd2; width: 760px; }}
.chart header {{ background: #34495e; color: #fff; padding: 8px 12px; font-weight: bold; }}
.card {{ margin: 12px; border: 1px solid #c8ccd2; border-left: 8px solid {colour}; padding: 10px 14px; }}
.summary {{ font-size: 16px; font-weight: bold; margin: 0 0 4px; }}
.indicator {{ display: inline-block; background: {colour}; color: #fff; font-size: 11px; padding: 1px 6px;
  border-radius: 3px; text-transform: uppercase; margin-right: 6px; vertical-align: 2px; }}
.source {{ color: #505a5f; font-size: 12px; margin-bottom: 8px; }}
.detail p, .detail ul, .detail ol {{ margin: 6px 0; }}
.detail code {{ font-size: 12px; background: #f3f2f1; padding: 0 2px; }}
.button {{ display: inline-block; border: 1px solid #1d70b8; color: #1d70b8; padding: 4px 10px; margin-top: 8px;
  text-decoration: none; border-radius: 3px; }}
</style></head>
<body><div class="chart"><header>EHR - Patient chart - decision support (CDS Hooks, patient-view)</header>
<div class="card">
<p class="summary"><span class="indicator">{html.escape(card["indicator"])}</span>{html.escape(card["summary"])}</p>
<div class="source">Source: <a href="{html.escape(source["url"])}">{html.escape(source["label"])}</a></div>
<div class="detail">{render_detail(card["detail"])}</div>
{links}
</div></div></body></html>
"""


def main() -> int:
    docs = ROOT / "docs"
    docs.mkdir(exist_ok=True)
    card = example_card()
    (docs / "cds-hooks-card.json").write_text(json.dumps({"cards": [card]}, indent=2, ensure_ascii=False) + "\n",
                                              encoding="utf-8")
    print(f"wrote {docs / 'cds-hooks-card.json'}")
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if not browser:
        print("chromium not found: no screenshot taken")
        return 0
    with tempfile.TemporaryDirectory() as folder:
        page_path = Path(folder) / "card.html"
        page_path.write_text(page(card), encoding="utf-8")
        subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                        "--window-size=800,1010", f"--screenshot={docs / 'cds-hooks-card.png'}",
                        page_path.as_uri()], check=True, capture_output=True, timeout=120)
    print(f"wrote {docs / 'cds-hooks-card.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
