"""Records on the staff pages (issue 30), through Flask's test client: a coordinator requests a missing
record, marks it received with the short answers form (a new version, channel records, triaged by the
rules) or not obtainable; errors come back on the page with what was typed; clinicians cannot; the
worklist shows overdue requests; the summary says which record changed which answer."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

pytest.importorskip("flask")

from conftest import ROOT, run_cli  # noqa: E402
from support.web import add_staff, errors, hidden, make_app, sign_in  # noqa: E402
from triage.records.store import open_store  # noqa: E402

# The shipped example whose operative report, fused levels and MRI are missing, assessed before the
# web tests' day (support/web.py TODAY = 2026-11-27).
EXAMPLE = ROOT / "examples" / "records-missing.json"


@pytest.fixture
def db(tmp_path) -> Path:
    path = tmp_path / "store" / "triage.db"
    add_staff(path, "cora", "coordinator")
    add_staff(path, "clint", "clinician")
    run = run_cli("assess", str(EXAMPLE), "--save", "--db", str(path), "--user", "alice", "-f", "json")
    assert run.code == 0, run.err
    return path


@pytest.fixture
def app(db):
    return make_app(db)


def form_post(staff, path: str, **fields):
    return staff.post(path, data={"csrf_token": hidden(staff.page, "csrf_token"), **fields})


def test_a_coordinator_requests_and_receives_records_until_the_rules_say_ready(app, db):
    staff = sign_in(app.test_client(), "cora")
    staff.get("/staff/intakes/1")
    links = re.findall(r'href="(/staff/intakes/1/records/[a-z_]+)"', staff.page)
    assert links == ["/staff/intakes/1/records/surgical_report", "/staff/intakes/1/records/current_mri"]

    staff.get("/staff/intakes/1/records/surgical_report")
    assert staff.status == 200 and "Intake 1 (EXAMPLE-003): operative report" in staff.page
    form_post(staff, "/staff/intakes/1/records/surgical_report/request", source="Dr Lee's office", via="fax")
    assert staff.path == "/staff/intakes/1"
    assert "Operative report: requested " in staff.page and "from Dr Lee&#39;s office by fax (cora); waiting" in staff.page

    staff.get("/staff/intakes/1/records/surgical_report")
    form_post(staff, "/staff/intakes/1/records/surgical_report/receive", base_version="1", fused_levels="L4-5",
              fusion_date="", note="faxed, 6 pages")
    assert staff.path == "/staff/intakes/1"
    with open_store(db) as store:
        second = store.get(1)
    assert (second.version, second.source, second.status) == (2, "records", "records_needed")
    assert second.answers["surgical_report_available"] == "yes" and second.answers["fused_levels"] == ["L4-L5"]
    assert second.answers["assessment_date"] == "2026-11-27"  # triaged again as of the page's day
    assert "from the record: assessment_date: 2026-11-24 -&gt; 2026-11-27; fused_levels: unknown -&gt; L4-L5;" \
        in staff.page

    staff.get("/staff/intakes/1/records/current_mri")
    form_post(staff, "/staff/intakes/1/records/current_mri/receive", base_version="2", mri_date="2026-11-20",
              annular_tear_levels="")  # an empty levels box: the report names no tear
    with open_store(db) as store:
        third = store.get(1)
        requests = store.record_requests(1)
    assert (third.version, third.status) == (3, "ready_for_evaluation")
    assert third.answers["annular_tear_levels"] == [] and third.answers["mri_available"] == "yes"
    assert [(r.item, r.state, r.received_version) for r in requests] == [
        ("current_mri", "received", 3), ("surgical_report", "received", 2)]
    assert 'id="record-actions"' not in staff.page  # nothing missing: nothing to act on
    assert run_cli("audit", "verify", "--db", str(db)).code == 0


def test_a_form_with_a_problem_comes_back_with_what_was_typed(app, db):
    staff = sign_in(app.test_client(), "cora")
    staff.get("/staff/intakes/1/records/current_mri")
    form_post(staff, "/staff/intakes/1/records/current_mri/receive", base_version="1", mri_date="2026-13-40",
              annular_tear_levels="L3-L4", note="from the patient")
    assert staff.status == 400
    assert errors(staff.page) and errors(staff.page)[0].startswith("Date of the MRI (YYYY-MM-DD or YYYY-MM):")
    assert 'value="2026-13-40"' in staff.page and 'value="L3-L4"' in staff.page and 'value="from the patient"' in staff.page
    staff.get("/staff/intakes/1/records/current_mri")
    form_post(staff, "/staff/intakes/1/records/current_mri/request", source="  ", via="fax")
    assert staff.status == 400 and errors(staff.page) == ["From whom: is empty: say it in a few words"]
    with open_store(db) as store:
        assert store.get(1).version == 1 and store.record_requests(1) == []


def test_a_stale_form_is_a_conflict_and_saves_nothing(app, db):
    staff = sign_in(app.test_client(), "cora")
    staff.get("/staff/intakes/1/records/surgical_report")
    run_cli("records", "receive", "1", "current_mri", "--set", "mri_date=2026-11-20", "--set",
            "annular_tear_levels=none", "--as-of", "2026-11-27", "--db", str(db))
    form_post(staff, "/staff/intakes/1/records/surgical_report/receive", base_version="1")
    assert staff.status == 409
    with open_store(db) as store:
        assert store.get(1).version == 2


def test_not_obtainable_keeps_the_item_missing(app, db):
    staff = sign_in(app.test_client(), "cora")
    staff.get("/staff/intakes/1/records/surgical_report")
    form_post(staff, "/staff/intakes/1/records/surgical_report/unobtainable", reason="hospital closed")
    assert staff.path == "/staff/intakes/1"
    assert "Operative report: not obtainable " in staff.page and "(cora): hospital closed" in staff.page
    with open_store(db) as store:
        assert store.get(1).status == "records_needed"


def test_only_coordinators_and_never_without_the_token(app, db):
    clinician = sign_in(app.test_client(), "clint")
    assert clinician.client.get("/staff/intakes/1/records/surgical_report").status_code == 403
    clinician.get("/staff/intakes/1")
    assert 'id="record-actions"' not in clinician.page
    response = clinician.client.post("/staff/intakes/1/records/surgical_report/request",
                                     data={"csrf_token": hidden(clinician.page, "csrf_token"), "source": "x"})
    assert response.status_code == 403
    coordinator = sign_in(app.test_client(), "cora")
    response = coordinator.client.post("/staff/intakes/1/records/surgical_report/request", data={"source": "x"})
    assert response.status_code == 400  # no CSRF token
    for path in ("/staff/intakes/1/records/pain_score", "/staff/intakes/9/records/surgical_report"):
        assert coordinator.client.get(path).status_code == 404
    with open_store(db) as store:
        assert store.record_requests(1) == []


def test_the_worklist_lists_overdue_requests_first_and_tags_their_rows(app, db):
    with open_store(db, clock=lambda: "2026-11-01T09:00:00Z") as store:
        store.request_record(1, "current_mri", source="City Imaging", via="portal", by="cora")
    staff = sign_in(app.test_client(), "cora")
    staff.get("/staff/")
    assert "Record requests overdue (1): requested over 7 days ago" in staff.page
    assert "Intake 1</a>: Current MRI" not in staff.page  # the record's title, as the definition says
    assert re.search(r"Intake 1</a>: MRI report: requested 2026-11-01 from City Imaging by portal \(cora\); waiting",
                     staff.page)
    assert "request overdue" in staff.page


@pytest.mark.parametrize("overdue", [10, 11])
def test_the_worklist_lists_at_most_ten_overdue_requests_and_counts_them_all(app, db, overdue):
    """A bounded read whatever the backlog: the ten most overdue, the count of all, and where the rest are."""
    for _ in range(overdue - 1):
        assert run_cli("assess", str(EXAMPLE), "--save", "--db", str(db), "--user", "alice").code == 0
    with open_store(db, clock=lambda: "2026-11-01T09:00:00Z") as store:
        for intake_id in range(1, overdue + 1):
            store.request_record(intake_id, "current_mri", source="City Imaging", via="portal", by="cora")
    staff = sign_in(app.test_client(), "cora")
    staff.get("/staff/")
    assert f"Record requests overdue ({overdue}): requested over 7 days ago" in staff.page
    listed = re.search(r'<ul class="list" id="overdue-requests">(.*?)</ul>', staff.page, re.S).group(1)
    assert listed.count("<li>") == 10
    assert ("The 10 most overdue are listed" in staff.page) == (overdue > 10)
    assert staff.page.count("request overdue") == overdue  # every row shown is tagged, listed or not
