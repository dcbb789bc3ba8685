"""The staff alerts page at scale: paged by intake (most urgent first, then newest), a backlog's alerts
(`batch --save` of intakes assessed before its recent window) listed apart from the live ones and
still urgent in every worklist, and their bulk acknowledgement, recorded with who and why."""

from __future__ import annotations

import html
import json
import re
from datetime import date, timedelta

import pytest

from conftest import run_cli
from support.web import add_staff, make_app, sign_in
from triage.records.store import BULK_ACKNOWLEDGED, open_store

EMERGENCY, SAME_DAY, SOON = "red_flag_bladder_bowel", "red_flag_fever_or_wound", "red_flag_immunosuppression"


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "store" / "triage.db"
    add_staff(path, "cora", "coordinator")
    add_staff(path, "clint", "clinician")
    return path


@pytest.fixture
def app(db):
    return make_app(db)


def record(db, tmp_path, flags_per_line: list[list[str]], *, assessed: date | None = None, name: str = "in") -> None:
    """One `batch --save` line per entry, each answering those red flags yes (assessed today unless said)."""
    source = tmp_path / f"{name}.jsonl"
    lines = [{"patient_id": f"{name}-{n}", **{flag: "yes" for flag in flags}} for n, flags in enumerate(flags_per_line)]
    source.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    extra = ["--as-of", assessed.isoformat()] if assessed else []
    done = run_cli("batch", str(source), "-o", str(tmp_path / f"{name}.out.jsonl"), "--save", "--db", str(db),
                   "--workers", "1", "--user", "importer", *extra)
    assert done.code == 0, done.err


def rows(page: str) -> list[tuple[int, str]]:
    """(intake, urgency) of each row of the alerts table."""
    table = page.split('id="alerts-table"', 1)[1].split("</table>", 1)[0]
    return [(int(intake), urgency) for urgency, intake in re.findall(
        r'<strong class="tag [^"]+">([a-z_]+)</strong></td>\s*<td><a class="link" href="/staff/intakes/(\d+)"', table)]


def next_link(page: str) -> str | None:
    found = re.search(r'<a class="link" href="([^"]+)" rel="next">Next page</a>', page)
    return html.unescape(found.group(1)) if found else None


def walk(staff, start: str = "/staff/alerts") -> list[list[tuple[int, str]]]:
    pages = [rows(staff.get(start).page)]
    while (following := next_link(staff.page)) is not None:
        pages.append(rows(staff.get(following).page))
    return pages


@pytest.mark.parametrize("emergencies, sizes", [(49, [50]), (50, [50, 1])])
def test_the_alerts_page_pages_by_intake_most_urgent_first_then_newest(app, db, tmp_path, emergencies, sizes):
    # One same-day intake recorded last (newest) still comes after every emergency; an intake with
    # two open alerts is one row, at its most urgent tier.
    record(db, tmp_path, [[EMERGENCY, SOON]] + [[EMERGENCY]] * (emergencies - 1) + [[SAME_DAY]])
    staff = sign_in(app.test_client(), "clint")
    pages = walk(staff)
    assert [len(page) for page in pages] == sizes
    shown = sum(pages, [])
    with open_store(db) as store:
        expected = sorted({alert.intake_id for alert in store.open_alerts()})
    assert sorted(intake for intake, _ in shown) == expected  # each intake once, none missing
    assert [urgency for _, urgency in shown] == ["emergency"] * emergencies + ["same_day"]
    emergency_ids = [intake for intake, urgency in shown if urgency == "emergency"]
    assert emergency_ids == sorted(emergency_ids, reverse=True)  # newest first (same second: by id)
    assert staff.client.get("/staff/alerts?after=nonsense").status_code == 400
    assert staff.client.get("/staff/alerts?list=other").status_code == 400


def test_a_backlog_is_listed_apart_and_stays_urgent_in_the_worklist(app, db, tmp_path):
    record(db, tmp_path, [[EMERGENCY]] * 3, assessed=date.today() - timedelta(days=200), name="old")
    record(db, tmp_path, [[SAME_DAY]], name="new")
    staff = sign_in(app.test_client(), "cora")
    assert staff.client.get("/staff/alerts.json").get_json()["intakes"] == 1  # the banner: live alerts only
    live = rows(staff.get("/staff/alerts").page)
    assert [urgency for _, urgency in live] == ["same_day"] and "From a backlog: 3 intakes" in staff.page
    backlog = rows(staff.get("/staff/alerts?list=backlog").page)
    assert [urgency for _, urgency in backlog] == ["emergency"] * 3
    assert 'id="acknowledge-backlog"' not in staff.page  # a coordinator cannot acknowledge
    # The backlog's emergencies sit at the top of the worklist and of its urgent filters, as urgent.
    worklist = staff.get("/staff/").page
    first = re.findall(r'href="/staff/intakes/(\d+)"', worklist)[:3]
    assert sorted(int(n) for n in first) == sorted(intake for intake, _ in backlog)
    assert worklist.count("urgent EMERGENCY") == 3
    emergency = staff.get("/staff/?urgency=emergency").page
    assert sorted(int(n) for n in re.findall(r'href="/staff/intakes/(\d+)"', emergency)) == sorted(i for i, _ in backlog)


def test_a_clinician_acknowledges_the_backlog_together_saying_why(app, db, tmp_path):
    record(db, tmp_path, [[EMERGENCY], [SOON, EMERGENCY], [SOON]], assessed=date.today() - timedelta(days=30),
           name="old")
    record(db, tmp_path, [[EMERGENCY]], name="live")
    coordinator = sign_in(app.test_client(), "cora").get("/staff/alerts?list=backlog")
    assert coordinator.client.post("/staff/alerts/backlog/acknowledge", data={
        "csrf_token": re.search(r'name="csrf_token" value="([^"]+)"', coordinator.page).group(1),
        "reason": "reviewed on paper by Dr Lee", "up_to": "999"}).status_code == 403
    staff = sign_in(app.test_client(), "clint").get("/staff/alerts?list=backlog")
    up_to = int(re.search(r'name="up_to" value="(\d+)"', staff.page).group(1))
    # A backlog recorded after the page was shown is not acknowledged unseen.
    record(db, tmp_path, [[SOON]], assessed=date.today() - timedelta(days=90), name="later")
    staff.post("/staff/alerts/backlog/acknowledge", reason="too short", up_to=str(up_to))
    assert staff.status == 400 and "10 to 500 characters" in staff.page
    with open_store(db) as store:
        assert len({alert.intake_id for alert in store.open_alerts()}) == 5  # nothing acknowledged
    staff.get("/staff/alerts?list=backlog").post("/staff/alerts/backlog/acknowledge",
                                                 reason="Reviewed on paper by Dr Lee, Nov 2026", up_to=str(up_to))
    assert staff.path.startswith("/staff/alerts?list=backlog") and "3 intakes acknowledged." in staff.page
    with open_store(db) as store:
        still_open = store.open_alerts()
        assert sorted(alert.patient_id for alert in still_open) == ["later-0", "live-0"]
        audit = store._db.execute("SELECT \"user\", action, intake_id, detail FROM audit WHERE action IN (?, ?)"
                                  " ORDER BY seq", ("acknowledged", BULK_ACKNOWLEDGED)).fetchall()
        listed = {row.patient_id: row for row in store.worklist()}
    assert [(user, action) for user, action, _, _ in audit] == [("clint", "acknowledged")] * 3 + [
        ("clint", BULK_ACKNOWLEDGED)]
    for _, action, intake_id, detail in audit[:3]:
        assert json.loads(detail)["reason"] == "Reviewed on paper by Dr Lee, Nov 2026" and json.loads(detail)["bulk"]
    assert json.loads(audit[3][3]) == {"intakes": 3, "alerts": 4, "up_to": up_to,
                                       "reason": "Reviewed on paper by Dr Lee, Nov 2026"}
    # Acknowledged, an emergency from the backlog is still an urgent row of its tier.
    assert listed["old-0"].status == "urgent" and listed["old-0"].urgency == "emergency"
    assert listed["old-0"].alert_urgency is None
    assert run_cli("audit", "verify", "--db", str(db)).code == 0
