"""Clinical scenarios: one readable file per case (tests/data/scenarios/FORMAT.md), run through
`triage assess FILE --format json` and compared with the hand-computed expectation."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from conftest import run_cli

SCENARIOS = Path(__file__).parents[1] / "data" / "scenarios"


def _load(kind: str):
    files = sorted((SCENARIOS / kind).glob("*.toml"))
    assert files, f"no {kind} scenarios found"
    return [pytest.param(tomllib.loads(f.read_text(encoding="utf-8")), id=f.stem) for f in files]


@pytest.mark.parametrize("case", _load("valid"))
def test_valid_scenario(case, answers_file):
    expected = case["expected"]
    run = run_cli("assess", answers_file(case["answers"]), "--format", "json")
    assert run.code == 0, run.err
    result = run.json
    discussion = {point["id"]: point for point in result["discussion_points"]}
    assert result["status"] == expected["status"]
    assert result["physician_consult"]["recommended"] is True
    assert result["physician_consult"]["urgency"] == expected["urgency"]
    assert sorted(result["red_flags"]) == sorted(expected["red_flags"])
    assert sorted(item["id"] for item in result["missing_items"]) == sorted(expected["missing"])
    assert {str(step["step"]): step["status"] for step in result["steps"]} == expected["steps"]
    assert sorted(discussion) == sorted(expected["discussion"])
    if "regenerative_care_levels" in expected:
        assert discussion["regenerative_care"]["levels"] == expected["regenerative_care_levels"]
    for key, field in (("va_criteria", "criteria"), ("va_to_do", "to_do")):
        if key in expected:
            assert discussion["va_community_care"][field] == expected[key]  # contract order, not sorted
    if "va_community_care" in discussion:  # PRODUCT.md: "may qualify", never eligibility decided
        assert "may qualify" in discussion["va_community_care"]["text"]
    if "adjacent_levels" in expected:
        assert result["adjacent_levels"] == expected["adjacent_levels"]
    if "months_since_fusion" in expected:
        want = expected["months_since_fusion"]
        assert result["months_since_fusion"] == (None if want == "none" else want)


@pytest.mark.parametrize("case", _load("invalid"))
def test_invalid_scenario(case, answers_file):
    run = run_cli("assess", answers_file(case["answers"]), "--format", "json")
    assert run.code == 2
    assert run.out == ""
    lines = run.err.splitlines()
    assert lines and all(line.startswith("error: triage assess: ") for line in lines)
    assert "Traceback" not in run.err
    for field in case["expected"]["error_fields"]:
        assert any(f"error: triage assess: {field}:" in line for line in lines), (field, run.err)
