"""CDS Hooks: the card (triage/interop/cds_hooks/cards.py): one per status and urgency tier, saying what `triage
assess` says, validated against a pydantic model of the specification's card schema (extra="forbid"),
with no markup or link from an answer and no forbidden phrasing.
"""

from __future__ import annotations

import json
from datetime import date

import pytest

from support.cds_hooks_support import (
    BASE_URL, ISSUER, STATUSES, URGENCIES, answers_for, call, card_of, hook_request, load_tool, ready_answers,
    response_resource, searchset, valid_response,
)
from support.cds_hooks_support import client, ehr, make_client  # noqa: F401 (fixtures)
from conftest import ROOT, run_cli
from triage.interop import cds_hooks
from triage.interop.cds_hooks import CdsHooksConfig
from triage.core.questionnaire import load_questionnaire


@pytest.mark.parametrize("status, indicator", [
    ("urgent", "critical"), ("too_early", "warning"), ("records_needed", "warning"), ("ready_for_evaluation", "info"),
])
def test_each_status_becomes_its_card(client, ehr, status, indicator):
    card = card_of(call(client, ehr, hook_request(searchset(response_resource(answers_for(status))))))
    assert card.indicator == indicator
    assert cds_hooks.STATUS_WORDS[status] in card.summary
    assert card.source.label == "fbss-triage " + _ruleset_version()
    assert card.source.url == f"{BASE_URL}/rules"
    assert card.links is None  # no staff summary page configured
    detail = card.detail
    for number in (1, 2, 3, 4):
        assert f"\n{number}. " in detail
    assert "Rules: `" in detail and "Physician consult" in detail


def _ruleset_version():
    from triage.core.ruleset import load_ruleset

    return load_ruleset().ruleset.version


def test_the_card_says_what_triage_assess_says_about_the_same_response(client, ehr, tmp_path):
    """The same code as `triage assess`: every line of its result appears on the card."""
    answers = answers_for("records_needed") | {"pain_location": None, "veteran": "yes"}
    answers = {key: value for key, value in answers.items() if value is not None}
    resource = response_resource(answers)
    path = tmp_path / "response.json"
    path.write_text(json.dumps(resource), encoding="utf-8")
    run = run_cli("assess", str(path), "--format", "json")
    assert run.code == 0, run.err
    result = run.json
    card = card_of(call(client, ehr, hook_request(searchset(resource))))
    detail = _unescaped(card.detail)
    assert result["status"] == "records_needed"
    for item in result["missing_items"]:
        assert f"{item['label']}: {item['reason']}" in detail
    for step in result["steps"]:
        assert step["title"] in detail and " ".join(step["reasons"]) in detail
    for point in result["discussion_points"]:
        assert " ".join(point["text"].split()) in detail
    for entry in result["trace"]:
        assert f"`{entry['rule']}` v{entry['version']}" in card.detail
    assert {point["id"] for point in result["discussion_points"]} >= {"va_community_care"}


def _unescaped(markdown: str) -> str:
    import re

    return re.sub(r"\\(.)", r"\1", markdown)


def test_too_early_card_says_until_when(client, ehr):
    card = card_of(call(client, ehr, hook_request(searchset(response_resource(answers_for("too_early"))))))
    assert "**Too early to evaluate.** " in card.detail and "(`HEAL-01`)" in card.detail


def test_cards_keep_the_specifications_field_order(client, ehr):
    response = call(client, ehr, hook_request(searchset(response_resource(answers_for("urgent")))))
    text = response.get_data(as_text=True)
    assert text.index('"summary"') < text.index('"indicator"') < text.index('"detail"') < text.index('"source"')


def test_urgent_card_names_the_red_flag_and_the_consult_instruction(client, ehr):
    card = card_of(call(client, ehr, hook_request(searchset(response_resource(answers_for("urgent"))))))
    detail = _unescaped(card.detail)
    assert "Red flags answered yes" in detail and "RF: new bladder/bowel problem" in detail
    assert card.summary.startswith("Spine pre-consultation: URGENT")


def _tier_of_each_red_flag() -> dict[str, str]:
    """Question -> urgency tier, as the shipped rules say (the rule concluding that red flag)."""
    from triage.core.ruleset import load_ruleset

    return {rule.then.red_flag: rule.then.consult for rule in load_ruleset().rules if rule.then.red_flag}


@pytest.mark.parametrize("question", sorted(_tier_of_each_red_flag()))
def test_each_red_flag_alone_gives_the_card_of_its_tier(client, ehr, question):
    tier = _tier_of_each_red_flag()[question]
    answers = ready_answers() | {question: "yes"}
    card = card_of(call(client, ehr, hook_request(searchset(response_resource(answers)))))
    assert card.indicator == cds_hooks.URGENT_INDICATOR[tier]
    assert card.summary == cds_hooks.summary("urgent", tier)


@pytest.mark.parametrize("status", STATUSES)
@pytest.mark.parametrize("urgency", URGENCIES + ("a_tier_added_later",))
def test_summary_is_under_140_characters_with_status_and_urgency_in_words(status, urgency):
    text = cds_hooks.summary(status, urgency)
    assert len(text) < 140
    assert cds_hooks.STATUS_WORDS[status] in text
    assert cds_hooks.URGENCY_WORDS.get(urgency, urgency) in text


@pytest.mark.parametrize("status, urgency, expected", [
    ("urgent", "emergency", "critical"),
    ("urgent", "same_day", "critical"),
    ("urgent", "soon", "warning"),
    ("urgent", "a_tier_added_later", "critical"),  # unknown tiers are shown as the most urgent
    ("too_early", "routine", "warning"),
    ("records_needed", "routine", "warning"),
    ("ready_for_evaluation", "routine", "info"),
])
def test_indicator_of_each_status_and_tier(status, urgency, expected):
    assert cds_hooks.indicator(status, urgency) == expected


@pytest.mark.parametrize("urgency, expected", [("same_day", "critical"), ("soon", "warning")])
def test_a_result_of_each_urgent_tier_becomes_a_card_of_its_indicator(urgency, expected):
    """Ruleset 2.0.0's tiers: the card follows `physician_consult.urgency` whatever produced it."""
    from support.cds_hooks_support import Card

    result = _result(answers_for("urgent"))
    tiered = result.model_copy(update={"physician_consult": result.physician_consult.model_copy(update={"urgency": urgency})})
    card = Card.model_validate(cds_hooks.card_for_result(tiered, _questionnaire(), _config()))
    assert card.indicator == expected
    assert cds_hooks.URGENCY_WORDS[urgency] in card.summary


def _result(answers):
    from triage.core.answers import parse_answers
    from triage.decision.assess import assess
    from triage.core.ruleset import load_ruleset
    from triage.core.settings import load_settings

    return assess(parse_answers(answers, today=date(2026, 11, 24)), load_ruleset(), load_settings())


def _questionnaire():
    from triage.core.questionnaire import load_questionnaire

    return load_questionnaire()


def _config(**changes):
    return CdsHooksConfig(base_url=BASE_URL, clients=[{"issuer": ISSUER, "jwks": "/nonexistent"}], **changes)


def test_link_to_the_staff_summary_only_when_the_page_exists(make_client, ehr):
    ours = response_resource(ready_answers(), resource_id="intake-42-v3")
    configured = make_client(staff_summary_url=f"{BASE_URL}/staff/intakes/{{intake_id}}")
    card = card_of(call(configured, ehr, hook_request(searchset(ours))))
    assert [(link.url, link.type) for link in card.links] == [(f"{BASE_URL}/staff/intakes/42", "absolute")]
    # an identifier in our intake system names the intake too
    identified = response_resource(ready_answers()) | {
        "identifier": {"system": "https://fbss-triage.example.org/fhir/intake", "value": "7"}}
    card = card_of(call(configured, ehr, hook_request(searchset(identified))))
    assert card.links[0].url == f"{BASE_URL}/staff/intakes/7"
    # a response that is not one of our intakes, or no staff pages: no link
    card = card_of(call(configured, ehr, hook_request(searchset(response_resource(ready_answers())))))
    assert card.links is None
    card = card_of(call(make_client(), ehr, hook_request(searchset(ours))))
    assert card.links is None


def test_an_unfinished_response_says_so_and_unanswered_is_missing(client, ehr):
    answers = {key: value for key, value in ready_answers().items() if key != "red_flag_major_trauma"}
    card = card_of(call(client, ehr, hook_request(searchset(response_resource(answers, status="in-progress")))))
    assert card.indicator == "warning"
    assert "in\\-progress" in card.detail or "in-progress" in card.detail
    assert "Red-flag screen" in _unescaped(card.detail)


def test_a_response_that_cannot_be_read_gives_a_warning_card_not_silence(client, ehr):
    other = response_resource(ready_answers()) | {"questionnaire": "https://elsewhere.example/Questionnaire/x"}
    card = card_of(call(client, ehr, hook_request(searchset(other))))
    assert card.indicator == "warning"
    assert "could not be triaged" in card.summary
    assert "`questionnaire`" in card.detail


def test_answers_cannot_inject_markup_or_links_into_the_card():
    hostile = "[click](https://evil.example) <img src=x onerror=alert(1)> www.evil.example **bold** | `code`"
    escaped = cds_hooks.md(hostile)
    assert "](" not in escaped.replace("\\](", "")
    assert "<" not in escaped.replace("\\<", "")
    assert "https://" not in escaped and "www." not in escaped
    assert "**" not in escaped.replace("\\*", "")
    result = _result(answers_for("records_needed"))
    step = result.steps[0].model_copy(update={"reasons": [hostile]})
    card = cds_hooks.card_for_result(result.model_copy(update={"steps": [step, *result.steps[1:]]}),
                                     _questionnaire(), _config())
    assert escaped in card["detail"] and hostile not in card["detail"]
    # Rendered as the EHR renders it (CommonMark with raw HTML allowed): text, never markup.
    from markdown_it import MarkdownIt

    rendered = MarkdownIt("commonmark").render(card["detail"])
    assert "<a " not in rendered and "<img" not in rendered and "<strong>bold" not in rendered
    assert "[click](https://evil.example) &lt;img src=x onerror=alert(1)&gt;" in rendered


def test_the_card_shown_in_the_readme_is_what_the_service_gives_today():
    """docs/cds-hooks-card.json (and its screenshot) come from `python tools/render_card.py`."""
    render_card = load_tool("render_card")
    shown = json.loads((ROOT / "docs" / "cds-hooks-card.json").read_text(encoding="utf-8"))
    assert shown == {"cards": [render_card.example_card()]}, "run: python tools/render_card.py"
    valid_response(shown)


@pytest.mark.parametrize("status", STATUSES)
def test_no_forbidden_phrasing_on_any_card(client, ehr, status):
    from support.wording import forbidden_in

    document = call(client, ehr, hook_request(searchset(response_resource(answers_for(status))))).get_json()
    card = document["cards"][0]
    for text in (card["summary"], _unescaped(card["detail"])):
        assert forbidden_in(text) is None, text
