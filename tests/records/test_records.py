"""Records, from missing to on file (issue 30): requests, receipts and "not obtainable" in the terminal
and the store; a received record becomes a new version of the intake (channel records) that the rules
triage; overdue requests; every change in the audit chain."""

from __future__ import annotations

import json
import re
import sqlite3
import tomllib

import pytest

from conftest import ROOT, run_cli
from support.cli_store import EXAMPLES, save, show
from support.cli_store import db, sqlite_db  # noqa: F401 (fixtures)


def records(*args: str):
    return run_cli("records", *args, "--user", "cora") if args[0] != "list" else run_cli("records", *args)


# -- the definition --------------------------------------------------------------------------------------

def test_the_record_items_are_the_results_missing_records_and_name_real_answers():
    from triage.core.answers import QUESTION_IDS
    from triage.channels.cli import record_requests
    from triage.records.requests import VIA, load_record_items

    items = load_record_items()
    assert tuple(items.items) == record_requests.ITEMS == ("surgical_report", "current_mri")
    assert record_requests.VIA == VIA
    for item in items.items.values():
        assert all(field.answer in QUESTION_IDS for field in item.fields)
    # The report on file sets the answer the rules read for each item (PRODUCT.md, "Missing items").
    fixed = {item_id: {f.answer: f.value for f in item.fields if f.value} for item_id, item in items.items.items()}
    assert fixed == {"surgical_report": {"surgical_report_available": "yes"}, "current_mri": {"mri_available": "yes"}}


def test_a_broken_record_items_file_is_refused_naming_the_field(tmp_path):
    from triage.core.errors import DefinitionError
    from triage.records.items import load_record_items

    text = (ROOT / "rules" / "record-items.toml").read_text(encoding="utf-8").replace(
        'answer = "mri_date"', 'answer = "mri_dat"')
    path = tmp_path / "record-items.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(DefinitionError, match=r"record-items.toml: .*'mri_dat' is not a question id"):
        load_record_items(path)


def test_the_form_sets_only_its_own_answers_and_needs_its_required_fields():
    from triage.core.errors import InvalidInput
    from triage.records.requests import form_value, received_answers

    assert received_answers("surgical_report", {}) == {"surgical_report_available": "yes"}
    assert received_answers("current_mri", {"mri_date": "2026-10", "annular_tear_levels": []}) == {
        "mri_available": "yes", "mri_date": "2026-10", "annular_tear_levels": []}
    with pytest.raises(InvalidInput) as error:
        received_answers("current_mri", {"pain_score": 3, "mri_date": "2026-10"})
    assert [p.where for p in error.value.problems] == ["pain_score", "annular_tear_levels"]
    assert form_value("annular_tear_levels", "none") == []
    assert form_value("annular_tear_levels", "L3-L4, L4-5") == ["L3-L4", "L4-5"]
    assert form_value("fused_levels", "unknown") == "unknown"
    assert form_value("mri_date", " 2026-10 ") == "2026-10"


def test_overdue_is_after_the_setting_the_day_itself_within():
    from triage.records.requests import is_overdue

    asked = "2026-11-01T09:00:00Z"
    assert not is_overdue(asked, "2026-11-08T09:00:00Z", 7)
    assert is_overdue(asked, "2026-11-08T09:00:01Z", 7)


def test_the_overdue_setting_defaults_to_seven_days_and_is_checked(tmp_path):
    from triage.core.errors import DefinitionError
    from triage.core.settings import load_settings

    assert load_settings().record_request_overdue_days == 7
    assert "record_request_overdue_days" not in load_settings().json_data  # changes no result
    path = tmp_path / "clinic.toml"
    path.write_text("record_request_overdue_days = 0\n", encoding="utf-8")
    with pytest.raises(DefinitionError, match="record_request_overdue_days"):
        load_settings(path)


# -- the terminal ------------------------------------------------------------------------------------------

def test_requests_then_receipts_move_the_intake_to_ready_by_the_rules(db):
    intake = save()
    before = show(intake)
    assert before["result"]["status"] == "records_needed"
    run = records("request", str(intake), "surgical_report", "--from", "Dr Lee's office", "--via", "fax")
    assert run.code == 0, run.err
    assert run.err == f"requested: intake {intake} surgical_report from Dr Lee's office by fax (request 1)\n"
    assert records("request", str(intake), "current_mri", "--from", "City Imaging").code == 0

    listing = records("list", "-f", "json").json["requests"]
    assert [(r["item"], r["state"], r["source"], r["via"], r["requested_by"]) for r in listing] == [
        ("surgical_report", "requested", "Dr Lee's office", "fax", "cora"),
        ("current_mri", "requested", "City Imaging", None, "cora")]

    # The operative report: on file, and it names the fused level; the MRI is still missing.
    run = records("receive", str(intake), "surgical_report", "--set", "fused_levels=L4-L5", "--as-of", "2026-12-01")
    assert run.code == 0, run.err
    assert f"received: intake {intake} surgical_report; version 2 is records_needed" in run.err
    assert "  surgical_report_available: unknown -> yes\n" in run.err
    assert "  fused_levels: unknown -> L4-L5\n" in run.err
    second = show(intake)
    assert [m["id"] for m in second["result"]["missing_items"]] == ["current_mri"]

    # The MRI: taken after the first assessment (the new version is assessed as of its own day).
    run = records("receive", str(intake), "current_mri", "--set", "mri_date=2026-11-30",
                  "--set", "annular_tear_levels=L3-L4", "--as-of", "2026-12-01")
    assert run.code == 0, run.err
    assert f"version 3 is ready_for_evaluation" in run.err
    third = show(intake)
    assert third["result"]["status"] == "ready_for_evaluation" and third["result"]["missing_items"] == []
    assert [v["source"] for v in third["versions"]] == ["file", "records", "records"]
    # The tear above the fused L4-L5 is an adjacent level: the rules raise regenerative care.
    assert "regenerative_care" in [p["id"] for p in third["result"]["discussion_points"]]

    listing = records("list", "-f", "json").json["requests"]
    assert [(r["item"], r["state"], r["received_version"], r["closed_by"]) for r in listing] == [
        ("current_mri", "received", 3, "cora"), ("surgical_report", "received", 2, "cora")]
    verify = run_cli("audit", "verify")
    assert verify.code == 0, verify.err


def test_a_record_not_missing_is_refused_naming_the_command_and_nothing_is_written(db):
    intake = save("adjacent-tear")
    run = records("request", str(intake), "surgical_report", "--from", "Dr Lee")
    assert run.code == 2
    assert run.err == (f"error: triage records request: intake {intake}: surgical_report is not missing in version 1 "
                       f"(triage show {intake}); nothing to request, receive or mark\n")
    run = records("receive", str(intake), "current_mri", "--set", "mri_date=2026-10", "--set", "annular_tear_levels=none")
    assert run.code == 2 and "current_mri is not missing" in run.err
    assert records("list", "-f", "json").json["requests"] == []
    assert [v["version"] for v in show(intake)["versions"]] == [1]


def test_a_receipt_without_what_the_triage_needs_names_the_field_and_saves_nothing(sqlite_db):
    intake = save()
    run = records("receive", str(intake), "current_mri", "--set", "mri_date=2026-11-30")
    assert run.code == 2
    assert run.err == ("error: triage records receive: annular_tear_levels: is needed: levels where the report "
                       "names an annular tear (none: leave empty)\n")
    run = records("receive", str(intake), "current_mri", "--set", "mri_date=2026-13-01", "--set",
                  "annular_tear_levels=none", "--as-of", "2026-12-01")
    assert run.code == 2 and "mri_date" in run.err
    run = records("receive", str(intake), "current_mri", "--set", "mri_date=2026-12-02", "--set",
                  "annular_tear_levels=none", "--as-of", "2026-12-01")  # after the assessment date
    assert run.code == 2 and "mri_date" in run.err
    assert [v["version"] for v in show(intake)["versions"]] == [1]
    assert records("list", "-f", "json").json["requests"] == []


def test_receive_reads_the_form_from_an_answers_file(sqlite_db, tmp_path):
    intake = save()
    form = tmp_path / "mri.json"
    form.write_text(json.dumps({"mri_date": "2026-11", "annular_tear_levels": []}), encoding="utf-8")
    run = records("receive", str(intake), "current_mri", "--answers", str(form), "--as-of", "2026-12-01")
    assert run.code == 0, run.err
    assert show(intake)["answers"]["mri_date"] == "2026-11"  # a month stays a month
    form.write_text(json.dumps({"mri_date": "2026-11", "annular_tear_levels": [], "veteran": "yes"}), encoding="utf-8")
    run = records("receive", str(intake), "surgical_report", "--answers", str(form))
    assert run.code == 2
    assert "error: triage records receive: mri_date: is not read from the operative report" in run.err


def test_a_mistyped_item_gets_a_did_you_mean(sqlite_db):
    run = records("request", "1", "surgical_reprot", "--from", "x")
    assert run.code == 2
    assert "invalid choice: 'surgical_reprot' (did you mean 'surgical_report'?)" in run.err
    assert run.err.startswith("error: triage records request:")


def test_unknown_intake_and_empty_texts_are_one_line_errors(sqlite_db):
    save()
    run = records("request", "99", "surgical_report", "--from", "Dr Lee")
    assert run.code == 2 and run.err.startswith("error: triage records request: intake 99 does not exist")
    run = records("request", "1", "surgical_report", "--from", "   ")
    assert run.code == 2 and run.err == "error: triage records request: --from: is empty: say it in a few words\n"
    run = records("unobtainable", "1", "surgical_report", "--reason", "lost\x1b[31m")
    assert run.code == 2 and "control characters" in run.err


def test_not_obtainable_keeps_the_item_missing_and_is_not_marked_twice(sqlite_db):
    intake = save()
    assert records("request", str(intake), "surgical_report", "--from", "County Hospital").code == 0
    run = records("unobtainable", str(intake), "surgical_report", "--reason", "hospital closed, records lost")
    assert run.code == 0, run.err
    (request,) = records("list", "--intake", str(intake), "-f", "json").json["requests"]
    assert (request["state"], request["reason"], request["source"]) == (
        "unobtainable", "hospital closed, records lost", "County Hospital")
    assert show(intake)["result"]["status"] == "records_needed"  # the rules still list it: never set by hand
    run = records("unobtainable", str(intake), "surgical_report", "--reason", "again")
    assert run.code == 2 and "already marked not obtainable" in run.err
    # Found after all: received without a new request.
    assert records("receive", str(intake), "surgical_report", "--as-of", "2026-12-01").code == 0


def test_a_draft_in_progress_is_a_conflict_and_nothing_is_saved(sqlite_db):
    from triage.records.store import open_store

    intake = save()
    with open_store(sqlite_db) as store:
        store.save_draft({"pain_score": 4}, user="pat", intake_id=intake)
    run = records("receive", str(intake), "surgical_report")
    assert run.code == 6 and "draft in progress" in run.err
    assert records("list", "-f", "json").json["requests"] == []


def test_list_puts_overdue_first_and_filters_them(sqlite_db):
    from triage.records.store import open_store

    intake = save()
    now = ["2026-11-01T09:00:00Z"]
    with open_store(sqlite_db, clock=lambda: now[0]) as store:
        store.request_record(intake, "current_mri", source="City Imaging", via="portal", by="cora")
        now[0] = "2026-11-05T09:00:00Z"
        store.request_record(intake, "surgical_report", source="Dr Lee", via="fax", by="cora")
        now[0] = "2026-11-08T09:00:01Z"
        overdue = store.record_requests(overdue_after_days=7)
        assert [r.item for r in overdue] == ["current_mri"]
        assert [r.item for r in store.record_requests()] == ["current_mri", "surgical_report"]
        now[0] = "2026-11-08T09:00:00Z"
        assert store.record_requests(overdue_after_days=7) == []  # exactly 7 days: not yet


def test_list_text_says_overdue_in_words(sqlite_db, monkeypatch):
    from triage.records.store import open_store

    intake = save()
    with open_store(sqlite_db, clock=lambda: "2020-01-01T09:00:00Z") as store:
        store.request_record(intake, "current_mri", source="City Imaging", via="portal", by="cora")
    run = records("list", "--overdue")
    assert run.code == 0, run.err
    assert run.out.splitlines()[:2] == [
        "ID  ITEM         STATE    DATE        DETAIL",
        f"{intake:>2}  current_mri  OVERDUE  2020-01-01  City Imaging by portal; asked by cora"]


def test_audit_verify_catches_a_request_changed_or_removed_by_hand(sqlite_db):
    intake = save()
    assert records("request", str(intake), "surgical_report", "--from", "Dr Lee").code == 0
    assert run_cli("audit", "verify").code == 0
    with sqlite3.connect(sqlite_db) as raw:
        raw.execute("UPDATE record_requests SET state = 'received'")
    run = run_cli("audit", "verify")
    assert run.code == 7 and "record request 1" in run.err and "changed" in run.err
    with sqlite3.connect(sqlite_db) as raw:
        raw.execute("DELETE FROM record_requests")
    run = run_cli("audit", "verify")
    assert run.code == 7 and "record request 1" in run.err and "removed" in run.err


# -- FHIR ---------------------------------------------------------------------------------------------------

def test_record_files_are_document_references_linked_to_the_response_in_one_bundle():
    import base64
    import hashlib
    from types import SimpleNamespace

    from fhir.resources.R4B.bundle import Bundle

    from triage.interop.fhir import records_bundle, response_resource
    from triage.core.questionnaire import load_questionnaire

    answers = json.loads((EXAMPLES / "records-missing.json").read_text(encoding="utf-8"))
    response = response_resource(load_questionnaire(), answers, authored="2026-12-06T04:00:00Z",
                                 resource_id="intake-1-v2", subject="EXAMPLE-003")
    data = b"%PDF-1.4 the operative report"
    file = SimpleNamespace(id=7, intake_id=1, item="surgical_report", filename="op-report.pdf",
                           media_type="application/pdf", size=len(data), sha256=hashlib.sha256(data).hexdigest(),
                           pages=2, added_at="2026-12-05T10:00:00Z", added_by="cora", channel="staff")
    sha1 = base64.b64encode(hashlib.sha1(data).digest()).decode()
    bundle = records_bundle(response, [(file, None)], titles={"surgical_report": "operative report"},
                            data_sha1={7: sha1})
    Bundle.model_validate(bundle)  # a valid R4(B) Bundle of a response and a DocumentReference
    (first, second) = bundle["entry"]
    assert first["resource"] is response
    document = second["resource"]
    assert document["context"]["related"] == [{"reference": first["fullUrl"]}]
    assert document["content"] == [{"attachment": {"contentType": "application/pdf", "size": len(data), "hash": sha1,
                                                   "title": "op-report.pdf", "creation": "2026-12-05T10:00:00Z"}}]
    assert document["subject"] == response["subject"]
    assert document["identifier"][0]["value"].startswith("ni:///sha-256;")
    with_data = records_bundle(response, [(file, data)], titles={}, data_sha1={7: sha1})
    assert base64.b64decode(with_data["entry"][1]["resource"]["content"][0]["attachment"]["data"]) == data
    Bundle.model_validate(with_data)


def test_export_records_goes_with_fhir_only_and_never_deidentified(sqlite_db):
    intake = save()
    run = run_cli("export", str(intake), "-f", "fhir", "--records", "--deidentify")
    assert run.code == 2 and "--records: goes with -f fhir, never with --deidentify" in run.err
    run = run_cli("export", str(intake), "-f", "json", "--records")
    assert run.code == 2
    run = run_cli("export", str(intake), "-f", "fhir", "--record-data")
    assert run.code == 2 and "--record-data: only goes with --records" in run.err


def test_exports_list_the_requests_with_their_dates_but_a_deidentified_one_never(sqlite_db):
    intake = save()
    assert records("request", str(intake), "surgical_report", "--from", "Dr Lee", "--via", "fax").code == 0
    exported = run_cli("export", str(intake), "-f", "json").json
    (request,) = exported["record_requests"]
    assert (request["item"], request["source"], request["state"]) == ("surgical_report", "Dr Lee", "requested")
    assert request["requested_at"]
    assert "record_requests" not in run_cli("export", str(intake), "-f", "json", "--deidentify").json
    markdown = run_cli("export", str(intake), "-f", "markdown").out
    assert "## Record requests" in markdown and "- Operative report: requested " in markdown
    assert "Dr Lee" not in run_cli("export", str(intake), "-f", "markdown", "--deidentify").out
    text = run_cli("show", str(intake), "--no-pager").out
    assert "Operative report: requested " in text and "from Dr Lee by fax (cora); waiting" in text


def test_the_printable_export_lists_the_requests(sqlite_db):
    intake = save()
    assert records("unobtainable", str(intake), "surgical_report", "--reason", "hospital closed").code == 0
    page = run_cli("export", str(intake), "-f", "html").out
    assert "<h3>Record requests</h3>" in page and "Operative report: not obtainable " in page
    assert "(cora): hospital closed</li>" in page
    assert "Record requests" not in run_cli("export", str(intake), "-f", "html", "--deidentify").out


def test_the_cds_hooks_card_says_which_records_are_on_file():
    from datetime import date

    from triage.core.answers import parse_answers
    from triage.decision.assess import assess
    from triage.interop.cds_hooks import card_detail
    from triage.core.questionnaire import load_questionnaire
    from triage.core.ruleset import load_ruleset
    from triage.core.settings import load_settings

    def detail(name: str, **changed) -> str:
        raw = {**json.loads((EXAMPLES / f"{name}.json").read_text(encoding="utf-8")), **changed}
        result = assess(parse_answers(raw, today=date(2026, 12, 1)), load_ruleset(), load_settings())
        text = card_detail(result, load_questionnaire())
        return text[text.index("**Records on file**"):text.index("**Steps**")]

    assert detail("adjacent-tear") == "**Records on file**\n\n- Operative report\n- MRI report\n\n"
    assert detail("records-missing") == "**Records on file**\n\n- none\n\n"
    assert detail("records-missing", mri_date="2026-11") == "**Records on file**\n\n- MRI report\n\n"


def test_a_record_received_already_says_when_and_by_whom(sqlite_db):
    intake = save()
    assert records("receive", str(intake), "surgical_report", "--as-of", "2026-12-01").code == 0
    run = records("receive", str(intake), "surgical_report", "--as-of", "2026-12-01")
    assert run.code == 2
    assert re.fullmatch(rf"error: triage records receive: intake {intake}: surgical_report was already received "
                        rf"\d{{4}}-\d\d-\d\d by cora \(version 2\) and is not missing in version 2 \(triage show "
                        rf"{intake}\); nothing to request, receive or mark\n", run.err), run.err
    run = records("request", str(intake), "surgical_report", "--from", "Dr Lee")
    assert run.code == 2 and "was already received" in run.err
