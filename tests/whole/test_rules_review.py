"""Rules never change without review: a changed rule must carry a new version, and the reviewed
record (tests/data/review/rules.json, written by `python tests/regen.py rules` after review) must match."""

from __future__ import annotations

import json

from support.review_rules import RECORD, current_record, rule_digest
from triage.core.ruleset import load_ruleset

RULESET = load_ruleset()


def test_every_rule_matches_its_reviewed_record():
    reviewed = json.loads(RECORD.read_text(encoding="utf-8"))
    now = current_record(RULESET)
    problems = []
    for rule_id, record in reviewed["rules"].items():
        if rule_id not in now["rules"]:
            problems.append(f"{rule_id} was removed (ids are never reused; review, then run python tests/regen.py rules)")
            continue
        current = now["rules"][rule_id]
        if current["digest"] != record["digest"] and current["version"] == record["version"]:
            problems.append(f"{rule_id} changed but its version is still {record['version']}: raise it, and the ruleset version")
        elif current != record:
            problems.append(f"{rule_id} is at version {current['version']}, reviewed at {record['version']}: "
                            "after review, run python tests/regen.py rules")
    problems += [f"{rule_id} is new and not reviewed: after review, run python tests/regen.py rules"
                 for rule_id in now["rules"] if rule_id not in reviewed["rules"]]
    if reviewed["rules"] != now["rules"] and reviewed["ruleset"] == now["ruleset"]:
        problems.append("rules changed but the ruleset version did not")
    assert not problems, "\n".join(problems)


def test_a_changed_meaning_changes_the_digest_and_wording_does_not():
    rule = RULESET.rule("RF-01")
    other = RULESET.rule("RF-02")
    assert rule_digest(rule.model_copy(update={"when": other.when})) != rule_digest(rule)
    assert rule_digest(rule.model_copy(update={"then": other.then})) != rule_digest(rule)
    assert rule_digest(rule.model_copy(update={"step": 3})) != rule_digest(rule)
    retiered = rule.model_copy(update={"then": rule.then.model_copy(update={"consult": "soon"})})
    assert rule_digest(retiered) != rule_digest(rule)  # a red flag's urgency tier is part of its meaning
    va = RULESET.rule("VA-04")
    assert rule_digest(va.model_copy(update={"then": va.then.model_copy(update={"va_to_do": "request_va_referral"})})) \
        != rule_digest(va)
    reworded = rule.model_copy(update={"title": "x", "rationale": "y",
                                       "then": rule.then.model_copy(update={"reason": "z"})})
    assert rule_digest(reworded) == rule_digest(rule)
