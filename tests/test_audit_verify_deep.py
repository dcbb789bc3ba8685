"""`audit verify` cannot be fooled by a recomputed chain (issue 27.8): each version's answers are
triaged again with the recorded ruleset and settings, so a result rewritten from urgent to ready with
its hash, audit row, chain and head all recomputed is still caught; the head can be checked against a
copy kept elsewhere; and with a key file outside the database the chain is a keyed MAC that someone
holding only the database cannot recompute."""

from __future__ import annotations

import json
from datetime import date

import pytest

from conftest import run_cli
from support.postgres import Raw
from triage.answers import parse_answers
from triage.assess import assess_data
from triage.ruleset import load_ruleset
from triage.settings import load_settings
from triage.store import open_store

RED_FLAG = {"patient_id": "PT-1", "assessment_date": "2026-11-24", "fusion_date": "2026-08", "fused_levels": ["L5-S1"],
            "mri_available": "no", "pain_location": "leg", "red_flag_bladder_bowel": "yes"}


def _assessed(answers: dict) -> dict:
    return assess_data(parse_answers(answers, today=date(2026, 11, 24)), load_ruleset(), load_settings())


def _verify(location, *options: str):
    return run_cli("audit", "verify", "--db", str(location), *options)


def _forged(result: dict) -> dict:
    """What a forger who wants the emergency to wait writes: ready, no red flag, a routine consult."""
    consult = {**result["physician_consult"], "urgency": "routine"}
    return {**result, "status": "ready_for_evaluation", "red_flags": [], "physician_consult": consult}


def test_a_genuine_store_is_re_triaged_and_verifies(store_location):
    with open_store(store_location) as store:
        store.record_assessment(RED_FLAG, _assessed(RED_FLAG), user="alice")
        amended = {**RED_FLAG, "red_flag_bladder_bowel": "no"}
        store.record_assessment(amended, _assessed(amended), user="bob", intake_id=1)
    verified = _verify(store_location)
    assert verified.code == 0, verified.err
    assert "re-triaged: 2 versions give their recorded results\n" in verified.out


def test_a_result_rewritten_with_every_hash_recomputed_is_caught_by_its_answers(store_location):
    """The forger writes through the store's own code, so the content hash, the audit row, the chain,
    the head and the worklist are all consistent: only the answers still say the red flag was yes."""
    with open_store(store_location) as store:
        store.record_assessment(RED_FLAG, _forged(_assessed(RED_FLAG)), user="alice")
    verified = _verify(store_location)
    assert verified.code == 7
    assert ("error: audit: intake 1 version 1: its recorded result is not what its answers give under ruleset "
            "fbss-triage") in verified.err
    assert "status, urgency, red_flags" in verified.err and "bladder" not in verified.err  # no answer value


def test_a_version_of_another_ruleset_is_counted_not_re_triaged(store_location):
    old = {**_assessed(RED_FLAG), "ruleset": {"name": "fbss-triage", "version": "1.0.0"}}
    with open_store(store_location) as store:
        store.record_assessment(RED_FLAG, old, user="alice")
    verified = _verify(store_location)
    assert verified.code == 0
    assert "re-triaged: 0 versions give their recorded results; 1 recorded under another ruleset" in verified.out


def test_words_corrected_without_a_new_ruleset_version_are_not_a_difference(store_location):
    reworded = _assessed(RED_FLAG)
    reworded["physician_consult"] = {**reworded["physician_consult"], "message": "Reworded."}
    with open_store(store_location) as store:
        store.record_assessment(RED_FLAG, reworded, user="alice")
    assert _verify(store_location).code == 0
