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
from triage.core.answers import parse_answers
from triage.decision.assess import assess_data
from triage.core.ruleset import load_ruleset
from triage.core.settings import load_settings
from triage.records.store import open_store

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


def test_one_version_is_said_in_the_singular(store_location):
    with open_store(store_location) as store:
        store.record_assessment(RED_FLAG, _assessed(RED_FLAG), user="alice")
    assert "re-triaged: 1 version gives its recorded result\n" in _verify(store_location).out


def test_a_result_rewritten_with_every_hash_recomputed_is_caught_by_its_answers(store_location):
    """The forger writes through the store's own code, so the content hash, the audit row, the chain,
    the head and the worklist are all consistent: only the answers still say the red flag was yes."""
    with open_store(store_location) as store:
        store.record_assessment(RED_FLAG, _forged(_assessed(RED_FLAG)), user="alice")
    verified = _verify(store_location)
    assert verified.code == 7
    assert ("error: triage audit verify: audit: intake 1 version 1: its recorded result is not what its answers give under ruleset "
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


# -- the chain anchored outside the store ------------------------------------------------------------

def _head(location) -> str:
    verified = _verify(location)
    assert verified.code == 0, verified.err
    return next(line.split(": ", 1)[1] for line in verified.out.splitlines() if line.startswith("head: "))


def _rechain(location, keyed_prefix: str = "") -> None:
    """What someone holding only the database does after changing an audit row: recompute every hash
    of the chain, and the head, so that a plain verify passes. (A keyed row's MAC they cannot
    recompute: they write the plain SHA-256, or keep the key id with a SHA-256 in its place.)"""
    from triage.records import store as store_module

    with Raw(location) as raw:
        raw.drop_guards()
        raw.execute("UPDATE audit SET detail = ? WHERE action = 'sign_in_failed'", ('{"address":"10.0.0.1"}',))
        prev = store_module.GENESIS
        rows = raw.execute("SELECT seq, at, \"user\", action, intake_id, version, detail FROM audit ORDER BY seq").fetchall()
        for seq, at, user, action, intake_id, version, detail in rows:
            digest = keyed_prefix + store_module.audit_hash(seq, at, user, action, intake_id, version, detail, prev)
            raw.execute("UPDATE audit SET prev_hash = ?, hash = ? WHERE seq = ?", (prev, digest, seq))
            prev = digest
        raw.execute("UPDATE audit_head SET hash = ?", (prev,))


def _fill(location) -> None:
    with open_store(location) as store:
        store.record_assessment(RED_FLAG, _assessed(RED_FLAG), user="alice")
        store.audit_event("sign_in_failed", user="alice", detail={"address": "127.0.0.1"})


def test_a_head_noted_earlier_is_checked_and_a_rechained_store_fails_it(store_location):
    _fill(store_location)
    noted = _head(store_location)
    assert len(noted) == 64
    with open_store(store_location) as store:  # the chain grows: the noted head is still in it
        store.audit_event("sign_in_failed", user="bob", detail={"address": "127.0.0.1"})
    assert _verify(store_location, "--expect-head", noted).code == 0
    assert _verify(store_location, "--expect-head", "0" * 63 + "1").code == 7
    _rechain(store_location)
    assert _verify(store_location).code == 0  # the forgery a plain verify cannot see
    verified = _verify(store_location, "--expect-head", noted)
    assert verified.code == 7 and "error: triage audit verify: audit: no audit row has the head given by --expect-head" in verified.err


def test_expect_head_refuses_what_is_not_a_head(tmp_path):
    run = _verify(tmp_path / "t.db", "--expect-head", "abc")
    assert run.code == 2 and "give a head as audit verify prints it" in run.err, run.err


KEY_1, KEY_2 = "1f" * 32, "2e" * 32


@pytest.fixture
def key_file(tmp_path, monkeypatch):
    path = tmp_path / "keys" / "audit.key"
    path.parent.mkdir(mode=0o700)
    path.write_text(f"# audit key, oldest first\n{KEY_1}\n", encoding="ascii")
    path.chmod(0o600)
    monkeypatch.setenv("TRIAGE_AUDIT_KEY_FILE", str(path))
    return path


def test_with_a_key_file_the_chain_is_a_mac_that_the_database_alone_cannot_recompute(store_location, key_file,
                                                                                      monkeypatch):
    _fill(store_location)
    verified = _verify(store_location)
    assert verified.code == 0, verified.err
    head = next(line for line in verified.out.splitlines() if line.startswith("head: "))
    assert head.startswith("head: k") and head.count(":") == 2
    monkeypatch.delenv("TRIAGE_AUDIT_KEY_FILE")
    unkeyed = _verify(store_location)  # without the key: the links are checked, the MACs are not (said so)
    assert unkeyed.code == 0 and "audit rows are keyed: give the key file" in unkeyed.err
    for prefix, named in (("", "the last row is not keyed, but a key file was given"),
                          (head.split(": ")[1].split(":")[0] + ":", "audit row 1: its contents were changed")):
        _rechain(store_location, prefix)  # plain hashes, or the key id kept before a plain hash
        forged = _verify(store_location, "--key-file", str(key_file))
        assert forged.code == 7 and named in forged.err, forged.err


def test_a_keyed_chain_is_never_continued_without_its_key(store_location, key_file, monkeypatch):
    _fill(store_location)
    monkeypatch.delenv("TRIAGE_AUDIT_KEY_FILE")
    run = run_cli("assess", "--save", "--db", str(store_location), str(_answers_file(key_file.parent.parent)))
    assert run.code == 5 and "audit log is keyed" in run.err and "TRIAGE_AUDIT_KEY_FILE" in run.err
    monkeypatch.setenv("TRIAGE_AUDIT_KEY_FILE", str(key_file))
    assert _verify(store_location).code == 0


def _answers_file(folder):
    path = folder / "answers.json"
    path.write_text(json.dumps(RED_FLAG), encoding="utf-8")
    return path


def test_a_key_file_others_can_read_is_refused(tmp_path, key_file):
    key_file.chmod(0o644)
    run = _verify(tmp_path / "t.db")
    assert run.code == 5 and "audit.key: the audit key file can be read by others" in run.err


def test_rotating_the_key_keeps_every_row_verifiable(store_location, key_file):
    from triage.records.store import AuditKeys

    _fill(store_location)
    with open_store(store_location) as running:  # a process that read the file before the rotation
        key_file.write_text(f"{KEY_1}\n{KEY_2}\n", encoding="ascii")
        with open_store(store_location) as restarted:  # reads both keys: signs with the newest
            restarted.audit_event("sign_in_failed", user="bob", detail={"address": "127.0.0.1"})
        running.audit_event("sign_in_failed", user="carol", detail={"address": "127.0.0.1"})  # finds KEY_2 in the chain: reads the file again
    assert _verify(store_location).code == 0
    with Raw(store_location) as raw:
        ids = [row[0].split(":")[0] for row in raw.execute("SELECT hash FROM audit ORDER BY seq").fetchall()]
    newest = "k" + AuditKeys.load(key_file).keys[1][0]
    assert ids[-2:] == [newest, newest] and ids[0] != newest
    key_file.write_text(f"{KEY_2}\n", encoding="ascii")  # the old key dropped: its rows cannot be checked
    assert _verify(store_location).code == 7
