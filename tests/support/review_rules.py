"""The clinically reviewed state of every rule, recorded by ``python tests/regen.py rules``.

The record, tests/data/review/rules.json, holds for each rule id, its version, a hash of what the
rule means (step, source, reads, condition, and what it concludes: status, urgency tier, red flag,
missing item, step status, discussion point, VA criterion or to-do), and the same meaning in words
(`when`, `then`) so that the diff a clinician signs off is readable without the rules file at hand.
tests/whole/test_rules_review.py fails when a
rule's meaning changes while its version does not, and when the record is out of date. Run this only
after the changed rules were reviewed; the diff of rules.json is what the reviewer signs off.

Wording (title, rationale, the reason's text) is left out on purpose: rules/fbss-triage.toml asks for
a new version "when the rule's meaning changes", and wording is checked by tests/whole/test_language.py.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from support import DATA

RECORD = DATA / "review" / "rules.json"


MEANING = {"step": True, "source": True, "reads": True, "when": True,
           "then": {"status", "consult", "red_flag", "missing", "step_status", "discussion", "va_criterion", "va_to_do"}}


def rule_digest(rule) -> str:
    meaning = rule.model_dump(mode="json", by_alias=True, exclude_none=True, include=MEANING)
    canonical = json.dumps(meaning, sort_keys=True)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]


def current_record(ruleset) -> dict:
    return {
        "ruleset": {"name": ruleset.ruleset.name, "version": ruleset.ruleset.version},
        "rules": {
            rule.id: {
                "version": rule.version,
                "digest": rule_digest(rule),
                "source": rule.source,
                "when": rule.when.describe(),
                "then": rule.then.as_dict(),
            }
            for rule in ruleset.rules
        },
    }


def write_record() -> Path:
    from triage.core.ruleset import load_ruleset

    RECORD.parent.mkdir(exist_ok=True)
    RECORD.write_text(json.dumps(current_record(load_ruleset()), indent=2) + "\n", encoding="utf-8")
    return RECORD
