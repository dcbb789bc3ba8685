"""While the PostgreSQL server is down, every page answers 503 with a plain page (a patient's in their
language, a staff page in plain English; never a 500, never a traceback) and /readyz says not ready;
an answer sent meanwhile is refused, and the answers saved before are kept. When the server is back,
the same app answers 200 again by itself: its pool checks each connection before handing it out.

Each test has its own cluster (stopping the suite's shared one would disturb other tests)."""

from __future__ import annotations

import time

import pytest

from support.postgres import start_cluster
from support.web import Clock, Patient, add_staff, make_app, sign_in

pytest.importorskip("flask")

RECOVERY_SECONDS = 20.0
KNOWN = {"fusion_date": "2024-03", "fused_levels": ["L4-L5"], "surgical_report_available": "yes",
         "mri_available": "no", "pain_location": "back"}


@pytest.fixture
def cluster():
    running = start_cluster()
    try:
        yield running
    finally:
        running.stop()


def _invite(db: str, language: str = "en") -> tuple[str, int]:
    from triage.records import invites
    from triage.records.store import open_store

    code = invites.new_code()
    with open_store(db) as store:
        draft = store.create_invite(invites.code_hash(code), expires_at=invites.expiry(7), user="cora",
                                    answers=dict(KNOWN), language=language)
    return code, draft.intake_id


def _ready_again(client) -> float:
    """Seconds until /readyz says ready (the pool reconnects by itself), or fail."""
    started = time.monotonic()
    while client.get("/readyz").status_code != 200:
        assert time.monotonic() - started < RECOVERY_SECONDS, "the app did not recover by itself"
        time.sleep(0.1)
    return time.monotonic() - started


def test_with_the_database_down_pages_answer_503_and_come_back_by_themselves(cluster):
    from triage.records.store import open_store

    db = cluster.new_database()
    app = make_app(db, clock=Clock())
    code, intake_id = _invite(db, language="es")
    patient = Patient(app.test_client()).open_code(code)
    patient.get("/intake/questions/pain_quality").answer(answer=["aching"])
    waiting = "/intake/questions/pain_pattern_since_surgery"  # the next question, as the patient sees it
    assert (patient.status, patient.path) == (200, waiting)
    page_before = patient.page
    add_staff(db, "cora", "coordinator")
    staff = sign_in(app.test_client(), "cora")
    assert staff.get("/staff/").status == 200

    cluster.stop_server()
    try:
        ready = app.test_client().get("/readyz")
        assert (ready.status_code, ready.get_data(as_text=True)) == (503, "not ready: the store does not answer\n")
        # The patient's next page: in Spanish, plain, asked to come back.
        response = patient.client.get(waiting)
        text = response.get_data(as_text=True)
        assert response.status_code == 503 and response.headers["Retry-After"]
        assert "el servicio no funciona en este momento" in text and "Traceback" not in text
        assert 'lang="es"' in text
        # An answer sent now is refused, not half-kept: the page says so and nothing is recorded.
        patient.page = page_before
        patient.post(waiting, answer="never_improved", follow=False)
        assert patient.status == 503 and "vuelva atrás y pruebe otra vez" in patient.page
        # A staff page: plain English, no patient words.
        response = staff.client.get("/staff/")
        assert response.status_code == 503
        assert "The service is not available just now" in response.get_data(as_text=True)
        # The health check (liveness) does not need the store: the process is alive.
        assert app.test_client().get("/healthz").status_code == 200
    finally:
        cluster.start_server()

    _ready_again(app.test_client())
    # The same sessions, the same draft: the answer saved before the outage is there, the one refused
    # during it is not, and sending it again works.
    patient.get(waiting)
    assert patient.status == 200 and patient.path == waiting
    with open_store(db) as store:
        saved = store.load_draft(intake_id).answers
    assert saved["pain_quality"] == ["aching"] and "pain_pattern_since_surgery" not in saved
    patient.answer(answer="never_improved")
    assert (patient.status, patient.path) == (200, "/intake/questions/pain_score")
    with open_store(db) as store:
        assert store.load_draft(intake_id).answers["pain_pattern_since_surgery"] == "never_improved"
    assert staff.get("/staff/").status == 200  # still signed in


def test_after_a_restart_every_server_thread_serves_again(cluster):
    """The issue's finding: with one connection per server thread, never renewed, a thread whose
    connection died with the restart answered 500 to everything it served afterwards. Now a request
    borrows a checked connection: after the restart, every request on every thread is answered."""
    import re
    from concurrent.futures import ThreadPoolExecutor

    import httpx

    from support.web_browser import Server

    server = Server(make_app(cluster.new_database()))  # waitress, 4 threads
    try:
        with httpx.Client(base_url=server.url, timeout=30) as client:
            token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/intake/").text).group(1)

            def wrong_codes(count: int) -> list[int]:
                # A wrong code touches the store (the wrong-code limit's counter) without a session.
                post = lambda _: client.post("/intake/", data={"csrf_token": token, "code": "ABCD-EFGH-JK"}).status_code
                with ThreadPoolExecutor(4) as pool:
                    return list(pool.map(post, range(count)))

            assert set(wrong_codes(8)) <= {400, 429}  # every thread has used the store
            cluster.stop_server()
            try:
                assert client.get("/readyz").status_code == 503
                assert client.get("/healthz").status_code == 200  # alive: nothing to restart
                assert set(wrong_codes(4)) == {503}
            finally:
                cluster.start_server()
            started = time.monotonic()
            while client.get("/readyz").status_code != 200:
                assert time.monotonic() - started < RECOVERY_SECONDS, "the app did not recover by itself"
                time.sleep(0.1)
            assert set(wrong_codes(12)) <= {400, 429}
    finally:
        server.stop()


def test_a_server_without_its_connection_pool_says_so_at_start(cluster, monkeypatch):
    """Upgraded with --no-deps, psycopg_pool missing: one line before listening (it served 503 forever)."""
    import sys

    from triage.core.errors import StoreError
    from triage.records.store import postgresql

    db = cluster.new_database()
    monkeypatch.setitem(sys.modules, "psycopg_pool", None)  # import psycopg_pool now raises ImportError
    monkeypatch.setattr(postgresql, "_pools", {})
    with pytest.raises(StoreError, match=r"needs psycopg_pool: pip install 'fbss-triage\[postgresql\]'"):
        make_app(db)
