"""Re-triage a recorded version for `audit verify`: its stored answers through the recorded ruleset with
the recorded settings, compared with the stored result.

The audit chain proves that nothing changed since a row was written, unless whoever changed a result
recomputed its hash, its audit row, the chain and the head. The answers still say what the patient
answered: a result rewritten from urgent to ready is then caught here, because the answers say a red
flag was yes. Domain core: the store calls this through ``Store.verify_audit(retriage=...)`` and never
imports the engine.

What is compared: the decisions (status, urgency, red flags, missing items, step statuses, discussion
points and their to-do, adjacent levels, months since fusion, the assessment date, the rules that
fired), not the words. A ruleset's words may be corrected without a new version; its decisions may not.
A version recorded under another ruleset (name or version) than the one installed is counted, not
re-triaged: that ruleset is not here to run.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from triage.core.errors import EngineError, InvalidInput


def decisions(result: dict[str, Any]) -> dict[str, Any]:
    """What a result decided, without its words."""
    consult = result.get("physician_consult") or {}
    return {
        "status": result.get("status"),
        "urgency": consult.get("urgency"),
        "consult": consult.get("recommended"),
        "red_flags": list(result.get("red_flags") or []),
        "missing_items": [item.get("id") for item in result.get("missing_items") or []],
        "steps": [[step.get("step"), step.get("status")] for step in result.get("steps") or []],
        "discussion_points": [[point.get("id"), point.get("to_do")] for point in result.get("discussion_points") or []],
        "adjacent_levels": result.get("adjacent_levels"),
        "months_since_fusion": result.get("months_since_fusion"),
        "assessment_date": result.get("assessment_date"),
        "rules": [entry.get("rule") for entry in result.get("trace") or []],
    }


class Retriage:
    """``retriage(answers, result, settings)`` -> (re-triaged?, what differs or None). One per verify
    run: the ruleset is loaded once, settings validated once per distinct recorded settings, and the
    engine's decisions are kept (triage.decision.decisions), so a store of any size costs one assessment per
    version at batch speed."""

    def __init__(self) -> None:
        from triage.core.ruleset import load_ruleset

        self.ruleset = load_ruleset()
        self._settings: dict[str, Any] = {}

    def __call__(self, answers: dict[str, Any], result: dict[str, Any],
                 settings: dict[str, Any]) -> tuple[bool, str | None]:
        from triage.core.answers import parse_answers
        from triage.decision.batch_json import assess_record

        recorded = result.get("ruleset") or {}
        if (recorded.get("name"), recorded.get("version")) != (self.ruleset.ruleset.name, self.ruleset.ruleset.version):
            return False, None
        try:
            parsed = parse_answers(answers, today=_assessed(result, answers))
            # The batch's path: the result's JSON from kept templates (the same bytes as the full
            # result; tests/whole/test_speed.py), read back as data.
            fresh = json.loads(assess_record(parsed, self.ruleset, self._validated(settings))[1])
        except InvalidInput:
            return True, "its answers are not a valid answers object"
        except EngineError:
            return True, "its answers cannot be assessed again (the engine refused them)"
        except (ValueError, TypeError):
            return True, "its settings are not valid settings"
        stored, again = decisions(result), decisions(fresh)
        differ = [name for name in stored if stored[name] != again[name]]
        if not differ:
            return True, None
        return True, (f"its recorded result is not what its answers give under ruleset {self.ruleset.ruleset.name} "
                      f"{self.ruleset.ruleset.version} ({', '.join(differ)} differ)")

    def _validated(self, settings: dict[str, Any]):
        from triage.core.settings import Settings

        key = json.dumps(settings, sort_keys=True)
        known = self._settings.get(key)
        if known is None:
            known = self._settings[key] = Settings.model_validate(settings)
        return known


def _assessed(result: dict[str, Any], answers: dict[str, Any]) -> date:
    """The day the version was assessed (the answers' own date wins in parse_answers anyway)."""
    for value in (result.get("assessment_date"), answers.get("assessment_date")):
        try:
            return date.fromisoformat(str(value))
        except ValueError:
            continue
    return date.today()
