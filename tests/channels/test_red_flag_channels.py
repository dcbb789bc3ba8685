"""A red flag reaches staff from every channel and every way an intake ends, by construction: the
store raises the alert when the answer is saved (PRODUCT.md: a red-flag yes is visible to staff the
moment it is saved, whatever the channel, sent or not, until a clinician acknowledges it).

The matrix: channel (terminal coordinator, terminal patient, web patient, web kiosk, ``assess --save``,
``--amend``, ``batch --save``) x tier (emergency, same_day, soon) x ending (finished, stopped,
interrupted or closed, resumed in the other channel). For each: an alert row exists at the question's
tier, ``triage list`` and ``triage list --urgency TIER`` / ``--status urgent`` put the intake first,
the staff worklist and its filters too, and ``triage show`` and the staff summary name the flag.

Fast: in-process (``run_cli`` with piped standard input, Flask's test client); pexpect only for the
terminal endings a script cannot reach (stopping at the red-flag question, a closed terminal).
"""

from __future__ import annotations

import io
import json
import re
import signal
import sys

import pytest

pytest.importorskip("flask")

from support.cli import TRIAGE, installed_env, run_cli  # noqa: E402
from support.web import Patient, add_staff, answer_all, invite, make_app, sign_in  # noqa: E402
from triage.records.store import open_store  # noqa: E402

# One red-flag question of each tier (the rules file gives each question its tier).
FLAGS = {"emergency": "red_flag_saddle_numbness", "same_day": "red_flag_fever_or_wound",
         "soon": "red_flag_cancer_or_weight_loss"}
RED_FLAGS = ["red_flag_bladder_bowel", "red_flag_saddle_numbness", "red_flag_sexual_function", "red_flag_both_legs",
             "red_flag_progressive_weakness", "red_flag_clot_signs", "red_flag_major_trauma",
             "red_flag_fever_or_wound", "red_flag_cancer_or_weight_loss", "red_flag_immunosuppression"]
LABELS = {"red_flag_saddle_numbness": "RF: new saddle numbness", "red_flag_fever_or_wound": "RF: recent fever or wound problem",
          "red_flag_cancer_or_weight_loss": "RF: cancer ever treated / weight loss"}
WORDS = {"emergency": "EMERGENCY", "same_day": "SAME DAY", "soon": "WITHIN DAYS"}

# Piped lines of `triage intake` up to the red-flag screen (as tests/channels/cli/test_intake_terminal.py types them).
COORDINATOR_BEFORE = ["P-2", "2026-11-24", "2024-03", "L4-S1", "y", "y", "09/2025", "L3-4", "3", "2 3", "1", "7",
                      "n", "n"]
PATIENT_BEFORE = ["2024-03", "L4-5", "y", "n", "1", "1", "1", "5", "n", "n"]


def flag_lines(flag: str, *, upto: bool = False) -> list[str]:
    """The red-flag screen's lines: yes to ``flag``, no to the rest (``upto``: stop after the yes)."""
    index = RED_FLAGS.index(flag)
    lines = ["n"] * index + ["y"]
    return lines if upto else lines + ["n"] * (len(RED_FLAGS) - index - 1) + ["n"]  # and veteran: no


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "store" / "triage.db"
    add_staff(path, "clint", "clinician")
    # Others in the store, less pressing, recorded and not: the flagged intake must still come first.
    assert run_cli("assess", str(EXAMPLES / "adjacent-tear.json"), "--save", "--db", str(path)).code == 0
    with open_store(path) as store:
        store.save_draft({"patient_id": "OTHER-DRAFT", "pain_score": 3}, user="nurse")
    return path


from conftest import ROOT  # noqa: E402

EXAMPLES = ROOT / "examples"


def intake_cli(monkeypatch, db, lines: list[str], *args: str):
    """`triage intake` in-process with piped standard input (not a terminal: scripted mode)."""
    monkeypatch.setattr(sys, "stdin", io.StringIO("".join(f"{line}\n" for line in lines)))
    return run_cli("intake", "--db", str(db), *args)


def newest(db) -> int:
    with open_store(db) as store:
        return max(row.intake_id for row in store.worklist())


# --- what staff must see, whatever the channel and ending ---------------------------------------------

def staff_see(db, intake_id: int, tier: str, flag: str) -> None:
    with open_store(db) as store:
        alerts = [(a.question, a.urgency) for a in store.open_alerts() if a.intake_id == intake_id]
    assert (flag, tier) in alerts, alerts

    listed = run_cli("list", "--db", str(db), "--format", "json").json["intakes"]
    assert listed[0]["intake_id"] == intake_id, listed  # first, whatever else is in the store
    for option in (("--urgency", tier), ("--status", "urgent")):
        rows = run_cli("list", "--db", str(db), *option, "--format", "json").json["intakes"]
        assert rows and rows[0]["intake_id"] == intake_id, (option, rows)
    text = run_cli("list", "--db", str(db), "--urgency", tier).out
    assert re.search(rf"^ *{intake_id} .*urgent {WORDS[tier]}", text, re.M), text

    shown = run_cli("show", str(intake_id), "--db", str(db))
    assert shown.code == 0, shown.err
    assert LABELS[flag] in shown.out and WORDS[tier] in shown.out
    assert re.search(rf"OPEN RED-FLAG ALERT[^\n]*\n(  !! [^\n]*\n(     [^\n]*\n)*)*  !! {WORDS[tier]} +{re.escape(LABELS[flag])}", shown.out), shown.out

    staff = sign_in(make_app(db).test_client(), "clint")
    for query in (f"?urgency={tier}", "?status=urgent", ""):
        staff.get(f"/staff/{query}")
        assert re.search(r"<title>\(\d+ red flags?\) Worklist", staff.page)  # seen from another tab too
        first = re.search(r'href="/staff/intakes/(\d+)"', staff.page)
        assert first and int(first.group(1)) == intake_id, (query, staff.text)
    staff.get(f"/staff/intakes/{intake_id}")
    assert staff.status == 200 and LABELS[flag] in staff.text and "not yet acknowledged" in staff.text


# --- terminal -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("tier", FLAGS)
@pytest.mark.parametrize("mode", ["coordinator", "patient"])
@pytest.mark.parametrize("ending", ["finished", "interrupted"])
def test_terminal(monkeypatch, db, mode, tier, ending):
    flag = FLAGS[tier]
    before = COORDINATOR_BEFORE if mode == "coordinator" else PATIENT_BEFORE
    lines = before + flag_lines(flag, upto=ending == "interrupted")
    run = intake_cli(monkeypatch, db, lines, "--mode", mode)
    assert run.code == (0 if ending == "finished" else 2), run.err  # input ended early: exit 2, answers kept
    staff_see(db, newest(db), tier, flag)


def _spawn(db, tmp_path, *args):
    import pexpect

    return pexpect.spawn(TRIAGE[0], ["intake", "--db", str(db), *args], cwd=str(tmp_path),
                         env=installed_env(TERM="dumb", NO_COLOR="1", PYTHONIOENCODING="utf-8"),
                         encoding="utf-8", timeout=30, dimensions=(50, 100))


@pytest.mark.parametrize("ending", ["stopped", "closed"])
def test_terminal_patient_stops_or_closes_the_terminal_at_the_emergency_question(monkeypatch, db, tmp_path, ending):
    """The issue's patient: yes to saddle numbness, then `s` (or the terminal closes)."""
    import pexpect

    flag = FLAGS["emergency"]
    # Up to the red-flag screen by script (it ends there: exit 2, the draft kept), then at a terminal.
    assert intake_cli(monkeypatch, db, PATIENT_BEFORE + ["n"], "--mode", "patient").code == 2
    intake_id = newest(db)
    child = _spawn(db, tmp_path, "--mode", "patient", "--resume-intake", str(intake_id))
    child.expect_exact("Your answer: ")
    child.sendline("1")  # yes
    if ending == "stopped":
        child.expect_exact("or s to stop here")
        child.expect_exact("Your answer: ")
        child.sendline("s")
        child.expect(pexpect.EOF)
        child.close()
        assert child.exitstatus == 0
    else:
        child.expect_exact("or s to stop here")
        child.kill(signal.SIGHUP)
        child.expect(pexpect.EOF)
        child.close()
    staff_see(db, intake_id, "emergency", flag)


# --- web ------------------------------------------------------------------------------------------------

def web_visitor(db, kiosk: bool) -> tuple[Patient, int]:
    app = make_app(db, kiosk=kiosk)
    if kiosk:
        visitor = Patient(app.test_client()).get("/intake/")
        visitor.post("/intake/new")
        code = re.search(r'class="code-display">([^<]+)<', visitor.page).group(1)
        visitor = Patient(app.test_client()).open_code(code)
        intake_id = newest(db)
    else:
        code, intake_id = invite(db, patient_id="P-WEB")
        visitor = Patient(app.test_client()).open_code(code)
    visitor.get(re.search(r'href="(/intake/questions/[a-z_]+)"', visitor.page).group(1))
    return visitor, intake_id


def answer_until_yes(visitor: Patient, flag: str) -> None:
    """Answer (as tests/support/web.py's full intake) up to ``flag``, and yes to it: the warning page."""
    from support.web import FULL_INTAKE

    planned = dict(FULL_INTAKE)
    for _ in range(60):
        if visitor.question == flag:
            visitor.answer(answer="yes")
            assert "/intake/warning/" in visitor.path
            return
        visitor.answer(**planned.get(visitor.question, {"answer": "no"}))
    raise AssertionError(f"{flag} was never asked")


@pytest.mark.parametrize("tier", FLAGS)
@pytest.mark.parametrize("kiosk", [False, True], ids=["web patient", "web kiosk"])
@pytest.mark.parametrize("ending", ["finished", "stopped", "interrupted"])
def test_web(db, kiosk, tier, ending):
    flag = FLAGS[tier]
    visitor, intake_id = web_visitor(db, kiosk)
    answer_until_yes(visitor, flag)
    if ending == "finished":
        visitor.post(choice="continue")
        answer_all(visitor)
        visitor.post()
        assert visitor.path == "/intake/done"
    elif ending == "stopped":
        visitor.post(choice="stop")
        assert visitor.path == "/intake/stopped"
    # interrupted: the patient walks away from the warning page; nothing more is sent
    staff_see(db, intake_id, tier, flag)


# --- resumed in the other channel -----------------------------------------------------------------------

@pytest.mark.parametrize("tier", FLAGS)
def test_a_terminal_draft_finished_on_the_web(monkeypatch, db, tier):
    flag = FLAGS[tier]
    assert intake_cli(monkeypatch, db, PATIENT_BEFORE + flag_lines(flag, upto=True), "--mode", "patient").code == 2
    intake_id = newest(db)
    from triage.records import invites

    code = invites.new_code()
    with open_store(db) as store:
        store.create_invite(invites.code_hash(code), expires_at=invites.expiry(7), user="cora", intake_id=intake_id)
    visitor = Patient(make_app(db).test_client()).open_code(code)
    visitor.get(re.search(r'href="(/intake/[a-z_/]+)"', visitor.page).group(1))
    answer_all(visitor)
    visitor.post()
    assert visitor.path == "/intake/done"
    staff_see(db, intake_id, tier, flag)


@pytest.mark.parametrize("tier", FLAGS)
def test_a_web_draft_resumed_in_the_terminal(monkeypatch, db, tier):
    flag = FLAGS[tier]
    visitor, intake_id = web_visitor(db, kiosk=False)
    answer_until_yes(visitor, flag)
    # The coordinator opens it at the terminal (every answer is saved again there) and is called away.
    run = intake_cli(monkeypatch, db, [], "--resume-intake", str(intake_id))
    assert run.code == 2, run.err
    staff_see(db, intake_id, tier, flag)


# --- answers files: assess --save, --amend, batch --save --------------------------------------------------

def answers(tier: str, **more) -> dict:
    data = json.loads((EXAMPLES / "adjacent-tear.json").read_text())
    data.update({flag: "no" for flag in RED_FLAGS})
    data[FLAGS[tier]] = "yes"
    data.update(more)
    return data


@pytest.mark.parametrize("tier", FLAGS)
def test_assess_save(db, tmp_path, tier):
    path = tmp_path / "a.json"
    path.write_text(json.dumps(answers(tier)))
    assert run_cli("assess", str(path), "--save", "--db", str(db)).code == 0
    staff_see(db, newest(db), tier, FLAGS[tier])


@pytest.mark.parametrize("tier", FLAGS)
def test_amend(db, tmp_path, tier):
    path = tmp_path / "a.json"
    path.write_text(json.dumps(answers(tier, patient_id="EXAMPLE-001")))
    assert run_cli("assess", str(path), "--amend", "1", "--db", str(db)).code == 0  # the recorded example
    staff_see(db, 1, tier, FLAGS[tier])


@pytest.mark.parametrize("tier", FLAGS)
def test_batch_save(db, tmp_path, tier):
    path = tmp_path / "batch.jsonl"
    path.write_text(json.dumps(answers(tier, patient_id="P-BATCH")) + "\n")
    run = run_cli("batch", str(path), "-o", str(tmp_path / "out.jsonl"), "--workers", "1", "--save", "--db", str(db))
    assert run.code == 0, run.err
    staff_see(db, newest(db), tier, FLAGS[tier])


# --- no silent overwrite: amend over a draft, another patient's answers ----------------------------------

def test_amend_over_a_draft_in_progress_is_a_conflict_unless_discarded(db, tmp_path):
    """The issue's case: a web draft with an emergency yes, then `assess --amend` of the same intake."""
    visitor, intake_id = web_visitor(db, kiosk=False)
    answer_until_yes(visitor, FLAGS["emergency"])
    path = tmp_path / "a.json"
    path.write_text(json.dumps(answers("soon", patient_id="P-WEB")))
    with open_store(db) as store:  # the web intake's first version, so that --amend has one to amend
        before = store.load_draft(intake_id)
    refused = run_cli("assess", str(path), "--amend", str(intake_id), "--db", str(db))
    assert refused.code == 6 and "has a draft in progress" in refused.err and "--discard-draft" in refused.err
    with open_store(db) as store:
        assert store.load_draft(intake_id) == before  # kept, untouched
    done = run_cli("assess", str(path), "--amend", str(intake_id), "--discard-draft", "--db", str(db))
    assert done.code == 0, done.err
    with open_store(db) as store:
        assert store.load_draft(intake_id) is None
        # The draft's emergency alert stays (answer changed: the recorded answer is no) until acknowledged.
        [alert] = [a for a in store.open_alerts(intake_id) if a.question == FLAGS["emergency"]]
        assert alert.urgency == "emergency" and alert.answer_changed_at is not None
    staff_see(db, intake_id, "emergency", FLAGS["emergency"])
    assert "answer changed" in " ".join(run_cli("show", str(intake_id), "--db", str(db)).out.split())


def test_discard_draft_and_change_patient_go_with_amend_only(db, tmp_path):
    path = tmp_path / "a.json"
    path.write_text("{}")
    for option in ("--discard-draft", "--change-patient"):
        run = run_cli("assess", str(path), "--save", option, "--db", str(db))
        assert run.code == 2 and f"{option}: only goes with --amend ID" in run.err


def test_answers_about_another_patient_are_refused_unless_asked_for(db, tmp_path):
    path = tmp_path / "a.json"
    path.write_text(json.dumps(answers("soon", patient_id="SOMEONE-ELSE")))
    refused = run_cli("assess", str(path), "--amend", "1", "--db", str(db))  # intake 1 is EXAMPLE-001
    assert refused.code == 2 and "another patient reference" in refused.err and "--change-patient" in refused.err
    assert "SOMEONE-ELSE" not in refused.err and "EXAMPLE-001" not in refused.err  # no identifier in messages
    assert len(run_cli("show", "1", "--db", str(db), "--format", "json").json["versions"]) == 1
    path.write_text(json.dumps(answers("soon", patient_id="EXAMPLE-001")))
    assert run_cli("assess", str(path), "--amend", "1", "--db", str(db)).code == 0  # the same patient: fine
    path.write_text(json.dumps(answers("soon", patient_id="SOMEONE-ELSE")))
    assert run_cli("assess", str(path), "--amend", "1", "--change-patient", "--db", str(db)).code == 0
    shown = run_cli("show", "1", "--db", str(db)).out
    assert re.search(r"v3 .*PATIENT REFERENCE CHANGED", shown) and not re.search(r"v2 .*CHANGED", shown)
    staff = sign_in(make_app(db).test_client(), "clint").get("/staff/intakes/1")
    assert "patient reference changed" in staff.text


def test_batch_by_patient_never_writes_a_version_over_a_draft(db, tmp_path):
    with open_store(db) as store:
        draft = store.save_draft({"patient_id": "EXAMPLE-001"}, user="nurse", intake_id=1)
    path = tmp_path / "batch.jsonl"
    path.write_text(json.dumps(answers("soon", patient_id="EXAMPLE-001")) + "\n")
    run = run_cli("batch", str(path), "-o", str(tmp_path / "out.jsonl"), "--workers", "1", "--save", "--by-patient",
                  "--db", str(db))
    assert run.code == 6 and "has a draft in progress" in run.err, run.err
    with open_store(db) as store:
        assert store.load_draft(1) == draft and len(store.history(1)) == 1


# --- an answer changed back to no: the alert stays, marked ---------------------------------------------------

@pytest.mark.parametrize("store_at", ["sqlite", "postgresql"])
def test_a_yes_changed_to_no_keeps_its_alert_marked_until_acknowledged(request, tmp_path, store_at):
    location = tmp_path / "t.db" if store_at == "sqlite" else request.getfixturevalue("pg_url")
    flag = FLAGS["same_day"]
    with open_store(location) as store:
        draft = store.save_draft({"patient_id": "P-1", flag: "yes"}, user="web")
        again = store.save_draft({"patient_id": "P-1", flag: "no"}, user="web", intake_id=draft.intake_id,
                                 expected_revision=draft.revision, durable=False)
        [alert] = store.open_alerts(draft.intake_id)
        assert (alert.question, alert.urgency) == (flag, "same_day") and alert.answer_changed_at
        assert [row.intake_id for row in store.worklist(urgency="same_day")] == [draft.intake_id]
        back = store.save_draft({"patient_id": "P-1", flag: "yes"}, user="web", intake_id=draft.intake_id,
                                expected_revision=again.revision)
        assert store.open_alerts(draft.intake_id)[0].answer_changed_at is None  # yes again: unmarked
        store.save_draft({"patient_id": "P-1", flag: "unknown"}, user="web", intake_id=draft.intake_id,
                         expected_revision=back.revision)
        assert store.verify_audit().ok
        assert store.acknowledge_alerts(draft.intake_id, user="dr-who") == 1
        assert store.open_alerts() == [] and store.worklist(urgency="same_day") == []
        assert store.worklist()[0].status == "draft"  # back with the drafts once acknowledged
        assert store.verify_audit().ok
        # A yes given again after the acknowledged alert's answer had changed: a new alert.
        revision = store.load_draft(draft.intake_id).revision
        again = store.save_draft({"patient_id": "P-1", flag: "yes"}, user="web", intake_id=draft.intake_id,
                                 expected_revision=revision)
        [new] = store.open_alerts()
        assert (new.question, new.answer_changed_at) == (flag, None)
        store.save_draft({"patient_id": "P-1", flag: "yes", "pain_score": 3}, user="web", intake_id=draft.intake_id,
                         expected_revision=again.revision)
        assert len(store.open_alerts()) == 1
        assert store.acknowledge_alerts(draft.intake_id, user="dr-who") == 1
        # The same yes, saved again after it was acknowledged: nothing new to see.
        store.save_draft({"patient_id": "P-1", flag: "yes", "pain_score": 4}, user="web", intake_id=draft.intake_id,
                         expected_revision=again.revision + 1)
        assert store.open_alerts() == []
        assert store.verify_audit().ok


def test_the_answer_changed_mark_is_checked_by_audit_verify(tmp_path):
    import sqlite3

    path = tmp_path / "t.db"
    with open_store(path) as store:
        draft = store.save_draft({FLAGS["emergency"]: "yes"}, user="web")
        store.save_draft({FLAGS["emergency"]: "no"}, user="web", intake_id=draft.intake_id, expected_revision=1)
    connection = sqlite3.connect(path)
    connection.execute("UPDATE alerts SET answer_changed_at = NULL")  # someone hides that it changed
    connection.commit()
    connection.close()
    with open_store(path) as store:
        assert any("answer changed" in problem for problem in store.verify_audit().problems)


def test_drafts_saved_before_schema_8_raise_their_alerts_on_upgrade(tmp_path):
    """A terminal draft with an emergency yes, saved by an older triage (no alert): the upgrade raises it."""
    import sqlite3

    path = tmp_path / "t.db"
    with open_store(path) as store:
        store.red_flag_tiers = {}  # as before: a draft raised nothing
        draft = store.save_draft({"patient_id": "OLD", FLAGS["emergency"]: "yes"}, user="nurse")
    connection = sqlite3.connect(path)
    connection.executescript("DROP TABLE worklist_counts; DROP TABLE access_log; DROP TABLE access_head; DROP INDEX alerts_open_page;"
                             " DROP INDEX alerts_latest; ALTER TABLE alerts DROP COLUMN backlog;"
                             " ALTER TABLE worklist DROP COLUMN alert_backlog;"  # schema 17's (scale)
                             " DROP TABLE record_files;"  # schema 15's (uploads)
                             " DROP TABLE record_requests;"  # schema 14's (records)
                             " DROP INDEX worklist_alert; ALTER TABLE worklist DROP COLUMN alert_urgency;"
                             " ALTER TABLE alerts DROP COLUMN answer_changed_at; ALTER TABLE users DROP COLUMN alert_sound;"
                             " PRAGMA user_version = 11;")  # before schema 12 (and alertsound's 15)
    connection.close()
    with open_store(path) as store:
        assert [(a.intake_id, a.urgency) for a in store.open_alerts()] == [(draft.intake_id, "emergency")]
        assert store.worklist(urgency="emergency")[0].intake_id == draft.intake_id
        assert store.verify_audit().ok


# --- an answers file (`intake -o FILE`): its red flag reaches staff through the store -----------------------

@pytest.mark.parametrize("tier", FLAGS)
@pytest.mark.parametrize("mode", ["coordinator", "patient"])
def test_an_answers_file_red_flag_is_kept_in_the_store_too(monkeypatch, db, tmp_path, mode, tier):
    flag = FLAGS[tier]
    before = COORDINATOR_BEFORE if mode == "coordinator" else PATIENT_BEFORE
    out = tmp_path / "visit.json"
    run = intake_cli(monkeypatch, db, before + flag_lines(flag, upto=True), "--mode", mode, "-o", str(out))
    assert run.code == 2  # input ended at the red flag (interrupted): the file has every answer
    assert json.loads(out.read_text())[flag] == "yes"
    intake_id = newest(db)
    assert f"also kept as intake {intake_id} in {db}" in run.err
    with open_store(db) as store:
        assert store.load_draft(intake_id).answers == json.loads(out.read_text())
    staff_see(db, intake_id, tier, flag)


def test_an_answers_file_without_a_red_flag_stays_out_of_the_store(monkeypatch, db, tmp_path):
    before = run_cli("list", "--db", str(db), "--format", "json").json["total"]
    run = intake_cli(monkeypatch, db, PATIENT_BEFORE + ["n"] * 11, "--mode", "patient", "-o", str(tmp_path / "v.json"))
    assert run.code == 0, run.err
    assert run_cli("list", "--db", str(db), "--format", "json").json["total"] == before


def test_an_answers_file_red_flag_with_no_store_says_staff_are_not_alerted(monkeypatch, db, tmp_path):
    (tmp_path / "ro").mkdir()
    blocked = tmp_path / "ro" / "file-not-folder"
    blocked.write_text("not a store")
    run = intake_cli(monkeypatch, blocked, PATIENT_BEFORE + flag_lines(FLAGS["emergency"], upto=True), "--mode",
                     "patient", "-o", str(tmp_path / "v.json"))
    assert run.code == 2 and "staff are NOT alerted; tell them now" in run.err
    assert json.loads((tmp_path / "v.json").read_text())[FLAGS["emergency"]] == "yes"  # nothing lost


def test_the_staff_page_of_a_draft_marks_what_was_not_answered(db):
    with open_store(db) as store:
        draft = store.save_draft({"patient_id": "P-D", "red_flag_saddle_numbness": "yes",
                                  "red_flag_bladder_bowel": "unknown", "red_flag_immunosuppression": "no"}, user="nurse")
    staff = sign_in(make_app(db).test_client(), "clint").get(f"/staff/intakes/{draft.intake_id}")
    # 8 emergency and same-day questions: one yes, one unknown, six not answered; never like a no
    assert staff.text.count("NOT ANSWERED - ask now") == 7
    assert re.search(r"RF: new bladder/bowel problem\s+NOT ANSWERED - ask now\s+\(unknown\)", staff.text)
    assert staff.text.count("RF: new bladder/bowel problem") == 1  # once: not again among the other answers
    assert "not sent yet" in staff.text and "Red-flag alert not yet acknowledged" in staff.text
    assert 'class="tag tag--red">yes<' in staff.page
