"""The side-by-side record of every patient text that changed since the reviewed baseline, written by
``python tests/regen.py wording`` to tests/data/review/wording-<version>.md.

The baseline, tests/data/review/patient-texts-<version>.json, holds every patient text of the last
reviewed questionnaire (English and Spanish, terminal and web, the rules' patient messages), exactly
as `triage.core.languages.patient_texts`, the translation and the web messages give them. The record
lists each text that changed, was added or was removed, old and new side by side, so that the
reviewer (a clinician for the English, a qualified medical translator for the Spanish) reads the
change without a diff tool. tests/whole/test_wording_review.py fails when the record is out of date.
"""

from __future__ import annotations

import json
from pathlib import Path

from support import DATA

BASELINE_VERSION = "2.0.0"
BASELINE = DATA / "review" / f"patient-texts-{BASELINE_VERSION}.json"
CHANNELS = {"en": "English (questionnaire, terminal, rules' patient messages)",
            "es": "Spanish (questionnaire, terminal, rules' patient messages)",
            "web.en": "English (web pages)", "web.es": "Spanish (web pages)"}


def current_texts() -> dict:
    from triage.core.languages import load_translation, patient_texts
    from triage.core.questionnaire import load_definition
    from triage.core.ruleset import load_ruleset
    from triage.channels.web.messages import load_messages

    definition, ruleset = load_definition(), load_ruleset()
    return {"questionnaire": definition.questionnaire.version, "ruleset": ruleset.ruleset.version,
            "en": patient_texts(definition, ruleset), "es": load_translation("es", definition, ruleset).texts,
            "web.en": load_messages().messages, "web.es": load_messages(language="es").messages}


def changes(before: dict, after: dict) -> dict[str, list[tuple[str, str, str]]]:
    """(key, before, after) per channel; an added text has before "", a removed one after ""."""
    found = {}
    for channel in CHANNELS:
        old, new = before[channel], after[channel]
        found[channel] = [(key, old.get(key, ""), new.get(key, "")) for key in sorted(old.keys() | new.keys())
                          if old.get(key) != new.get(key)]
    return found


def _cell(text: str) -> str:
    return (text or "(none)").replace("|", "\\|").replace("\n", " ")


def render(before: dict, after: dict) -> str:
    lines = [f"# Patient texts: questionnaire {before['questionnaire']} -> {after['questionnaire']}, "
             f"ruleset {before['ruleset']} -> {after['ruleset']}",
             "",
             "Written by `python tests/regen.py wording` from the reviewed baseline "
             f"(`{BASELINE.name}`) and today's definitions; never edited by hand. Every patient text that",
             "changed, side by side. The reasons, row by row, are in `questionnaire-2.1.0.md`; the sign-off",
             "is there too. The Spanish stays `pending_review` until a qualified medical translator signs it.",
             ""]
    for channel, rows in changes(before, after).items():
        lines += [f"## {CHANNELS[channel]}: {len(rows)} changed", ""]
        if not rows:
            lines += ["No change.", ""]
            continue
        lines += ["| text | before | after |", "|---|---|---|"]
        lines += [f"| `{key}` | {_cell(old)} | {_cell(new)} |" for key, old, new in rows]
        lines.append("")
    return "\n".join(lines)


def record_path(after: dict) -> Path:
    return DATA / "review" / f"wording-{after['questionnaire']}.md"


def write_record() -> Path:
    before = json.loads(BASELINE.read_text(encoding="utf-8"))
    after = current_texts()
    path = record_path(after)
    path.write_text(render(before, after), encoding="utf-8")
    return path
