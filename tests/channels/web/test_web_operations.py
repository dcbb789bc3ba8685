"""The web service as a clinic's IT runs it (docs/operations.md): trusted proxies and host names from
configuration (never from what a request claims), GET /readyz, request ids, JSON log lines that never
hold a code, an answer, a patient reference or a token, Prometheus metrics, and the real `triage
serve` started from a configuration file in a scratch folder."""

from __future__ import annotations

import io
import json
import logging
import re
import signal
import subprocess
import urllib.error
import urllib.request

import pytest

pytest.importorskip("flask")

from flask import Blueprint, request  # noqa: E402

from support.cli import TRIAGE, installed_env  # noqa: E402
from support.web import PASSWORD, Patient, add_staff, answer_all, invite, make_app, sign_in  # noqa: E402
from triage.core.errors import StoreError  # noqa: E402
from triage.records.store import Store  # noqa: E402

BASE = "https://intake.clinic.example"
LB = "10.0.0.5"  # the load balancer, on another host
PATIENT_ADDRESS = "203.0.113.7"


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "store" / "triage.db"
    add_staff(path, "cora", "coordinator")
    return path


def probe() -> Blueprint:
    """A route that shows what the app believes about the request."""
    blueprint = Blueprint("probe", __name__)

    @blueprint.get("/probe")
    def show():
        return {"client": request.remote_addr, "scheme": request.scheme, "host": request.host}

    return blueprint


def behind_lb(db, **options):
    options.setdefault("base_url", BASE)
    options.setdefault("trusted_proxies", [LB])
    return make_app(db, blueprints=[probe()], **options)


def via_lb(client, path, *, address=LB, method="get", headers=None, **kwargs):
    forwarded = {"X-Forwarded-For": PATIENT_ADDRESS, "X-Forwarded-Proto": "https", **(headers or {})}
    return getattr(client, method)(path, base_url="http://intake.clinic.example", headers=forwarded,
                                   environ_base={"REMOTE_ADDR": address}, **kwargs)


# --- proxies and host names -----------------------------------------------------------------------

def test_forwarding_headers_are_believed_from_a_configured_proxy_only(db):
    client = behind_lb(db).test_client()
    assert via_lb(client, "/probe").json == {"client": PATIENT_ADDRESS, "scheme": "https",
                                             "host": "intake.clinic.example"}
    # The same headers from anyone else (the patient's own machine, another host) are dropped.
    assert via_lb(client, "/probe", address="10.0.0.6").json == {"client": "10.0.0.6", "scheme": "http",
                                                                 "host": "intake.clinic.example"}


def test_with_several_proxies_the_client_is_the_nearest_untrusted_address(db):
    client = behind_lb(db, trusted_proxies=["10.0.0.0/24"]).test_client()
    chain = {"X-Forwarded-For": f"198.51.100.1, {PATIENT_ADDRESS}, 10.0.0.9"}  # first entry forged by the client
    assert via_lb(client, "/probe", headers=chain).json["client"] == PATIENT_ADDRESS


def test_a_count_of_proxies_trusts_that_many_hops(db):
    client = behind_lb(db, trusted_proxies=2).test_client()
    chain = {"X-Forwarded-For": f"198.51.100.1, {PATIENT_ADDRESS}, 10.9.9.9"}
    answer = via_lb(client, "/probe", address="172.16.0.1", headers=chain).json
    assert answer["client"] == PATIENT_ADDRESS and answer["scheme"] == "https"


def test_the_loopback_proxy_of_behind_proxy_is_not_trusted_from_elsewhere(db):
    app = make_app(db, blueprints=[probe()], secure_cookies=True, trusted_proxies=["127.0.0.1"])
    client = app.test_client()
    assert via_lb(client, "/probe", address="127.0.0.1").json["client"] == PATIENT_ADDRESS
    assert via_lb(client, "/probe", address=LB).json["client"] == LB


def test_a_host_name_not_allowed_gets_a_plain_400_page(db):
    client = behind_lb(db).test_client()
    response = via_lb(client, "/intake/", headers={"Host": "evil.example"})
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "<html" in page and "Traceback" not in page and "evil.example" not in page
    assert via_lb(client, "/intake/", headers={"Host": "intake.clinic.example:443"}).status_code == 200
    assert via_lb(client, "/intake/", headers={"Host": "INTAKE.clinic.example"}).status_code == 200
    # Probes name an address, not the public name: they are answered.
    assert via_lb(client, "/healthz", headers={"Host": "10.0.0.20:8765"}).status_code == 200
    assert via_lb(client, "/readyz", headers={"Host": "10.0.0.20:8765"}).status_code == 200


def test_a_refused_host_name_is_logged_once_naming_the_names_served(db, caplog):
    client = behind_lb(db).test_client()
    with caplog.at_level(logging.WARNING, logger="triage.web"):
        for _ in range(3):
            assert via_lb(client, "/staff/sign-in", headers={"Host": "old-name.clinic.example"}).status_code == 400
        assert via_lb(client, "/staff/sign-in", headers={"Host": "intake.clinic.example"}).status_code == 200
    said = [r.getMessage() for r in caplog.records if r.name == "triage.web"]
    assert said == ["refused a request for the host name old-name.clinic.example: this service answers only "
                    "intake.clinic.example (base_url, allowed_hosts; see docs/operations.md)"]


def test_a_scan_of_host_names_cannot_flood_the_log(db, caplog):
    from triage.channels.web.network import REFUSED_NAMES_LOGGED

    client = behind_lb(db).test_client()
    with caplog.at_level(logging.WARNING, logger="triage.web"):
        for n in range(REFUSED_NAMES_LOGGED + 5):
            assert via_lb(client, "/intake/", headers={"Host": f"scan{n}.example"}).status_code == 400
    said = [r.getMessage() for r in caplog.records if r.name == "triage.web"]
    assert len(said) == REFUSED_NAMES_LOGGED and "scan19.example" in said[-1]


def test_allowed_hosts_widen_the_base_urls_name(db):
    client = behind_lb(db, allowed_hosts=["intake.clinic.example", "triage.internal"]).test_client()
    assert via_lb(client, "/intake/", headers={"Host": "triage.internal"}).status_code == 200
    assert via_lb(client, "/intake/", headers={"Host": "other.internal"}).status_code == 400


def test_the_origin_check_follows_the_base_url_not_the_host_header(db):
    """A load balancer on another host: before, every POST failed the Origin check (the app saw
    http:// from an untrusted peer while the browser sent https://)."""
    code, _ = invite(db)
    client = behind_lb(db, trusted_proxies=None).test_client()  # the proxy's scheme is not even believed
    page = via_lb(client, "/intake/").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    response = via_lb(client, "/intake/", method="post", headers={"Origin": BASE},
                      data={"csrf_token": token, "code": code})
    assert response.status_code in (302, 303)
    forged = via_lb(client, "/intake/", method="post", headers={"Origin": "http://intake.clinic.example"},
                    data={"csrf_token": token, "code": code})
    assert forged.status_code == 400


def test_the_origin_check_reads_the_base_url_as_a_browser_writes_an_origin(db):
    code, _ = invite(db)
    client = behind_lb(db, base_url="https://Intake.Clinic.Example:443/").test_client()
    page = via_lb(client, "/intake/").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    response = via_lb(client, "/intake/", method="post", headers={"Origin": BASE},
                      data={"csrf_token": token, "code": code})
    assert response.status_code in (302, 303)
    ipv6 = behind_lb(db, base_url="https://[2001:db8::7]:8443", allowed_hosts=None).test_client()
    assert via_lb(ipv6, "/intake/", headers={"Host": "[2001:db8::7]:8443"}).status_code == 200
    assert via_lb(ipv6, "/intake/", headers={"Host": "[2001:db8::8]:8443"}).status_code == 400


def test_https_base_url_gives_hsts_and_secure_cookies(db):
    client = behind_lb(db).test_client()
    response = via_lb(client, "/intake/")
    assert response.headers["Strict-Transport-Security"] == "max-age=31536000"
    assert "Secure" in response.headers["Set-Cookie"]
    plain = make_app(db).test_client().get("/intake/")
    assert "Strict-Transport-Security" not in plain.headers and "Secure" not in plain.headers["Set-Cookie"]


def test_staff_invitation_links_use_the_base_url(db):
    app = behind_lb(db)
    client = app.test_client()
    client.environ_base.update({"REMOTE_ADDR": LB, "HTTP_X_FORWARDED_PROTO": "https",
                                "HTTP_X_FORWARDED_FOR": PATIENT_ADDRESS})

    class Staff(Patient):
        def get(self, path):
            return super().get(path.replace("http://localhost", ""))

    original = client.open

    def open_on_public_host(*args, **kwargs):
        kwargs.setdefault("base_url", "http://intake.clinic.example")
        kwargs.setdefault("headers", {})
        kwargs["headers"] = {**dict(kwargs["headers"]), "Origin": BASE}
        return original(*args, **kwargs)

    client.open = open_on_public_host
    staff = sign_in(client, "cora").get("/staff/invite")
    staff.post(patient_id="P-LINK", expires_days="3")
    assert staff.status == 200, staff.page
    code = re.search(r'code-display code-display--inline">([^<]+)<', staff.page).group(1)
    assert f"{BASE}/intake/code/{code}" in staff.page


# --- readiness ------------------------------------------------------------------------------------

def test_readyz_says_ready_only_while_the_store_answers(db, monkeypatch):
    client = make_app(db).test_client()
    ready = client.get("/readyz")
    assert (ready.status_code, ready.get_data(as_text=True)) == (200, "ready\n")
    assert ready.headers["Content-Type"].startswith("text/plain")

    def down(self):
        raise StoreError(f"{db}: the database does not answer")

    monkeypatch.setattr(Store, "ping", down)
    not_ready = client.get("/readyz")
    assert (not_ready.status_code, not_ready.get_data(as_text=True)) == (503, "not ready: the store does not answer\n")
    assert not_ready.headers["Content-Type"].startswith("text/plain")
    assert client.get("/healthz").status_code == 200  # liveness is not readiness
    monkeypatch.undo()
    assert client.get("/readyz").status_code == 200  # and back, on a fresh connection


def test_readyz_follows_a_real_postgresql_store_going_away_and_coming_back(pg_url, postgres_cluster):
    name = pg_url.split("/")[3].split("?")[0]
    client = make_app(pg_url).test_client()
    assert client.get("/readyz").status_code == 200
    # The database refuses new connections and ours are cut, as in a restart that has not finished.
    postgres_cluster.admin(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
    postgres_cluster.admin(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'")
    for _ in range(2):  # the cut connection, then a new one that cannot be opened
        not_ready = client.get("/readyz")
        assert (not_ready.status_code, not_ready.get_data(as_text=True)) == (503, "not ready: the store does not answer\n")
    assert client.get("/healthz").status_code == 200
    postgres_cluster.admin(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
    assert client.get("/readyz").status_code == 200  # back by itself, on a fresh connection


# --- request ids and logs -------------------------------------------------------------------------

@pytest.fixture
def json_log():
    from triage.channels.web.observability import setup_logging

    stream = io.StringIO()
    handler = setup_logging("json", stream)
    yield stream
    logging.getLogger().removeHandler(handler)


def log_lines(stream) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


def test_every_response_has_a_request_id_and_a_proxys_is_kept_only_when_trusted(db):
    client = behind_lb(db).test_client()
    own = client.get("/healthz").headers["X-Request-Id"]
    assert re.fullmatch(r"[0-9a-f]{16}", own) and client.get("/healthz").headers["X-Request-Id"] != own
    given = "lb-7f3a9c21e4b04d6e"
    assert via_lb(client, "/healthz", headers={"X-Request-Id": given}).headers["X-Request-Id"] == given
    assert via_lb(client, "/healthz", address="10.0.0.6", headers={"X-Request-Id": given}).headers["X-Request-Id"] != given
    for insane in ("short", "x" * 65, "id with spaces and\tcontrol", 'quote"d-1234567'):
        assert via_lb(client, "/healthz", headers={"X-Request-Id": insane}).headers["X-Request-Id"] != insane


def test_json_logs_of_a_whole_intake_hold_no_code_answer_reference_or_password(db, json_log):
    app = make_app(db)
    code, _ = invite(db, patient_id="PT-SECRET-4711")
    visitor = Patient(app.test_client()).get(f"/intake/code/{code}")
    visitor.post("/intake/", code=code)
    visitor.get(re.search(r'href="(/intake/questions/[a-z_]+)"', visitor.page).group(1))
    answer_all(visitor)
    visitor.post()
    assert visitor.path == "/intake/done"
    staff_client = app.test_client()
    staff = sign_in(staff_client, "cora")
    staff.get("/staff/")
    response = app.test_client().get(f"/intake/code/{code}?lang=es")
    logged = json_log.getvalue()
    tokens = set(re.findall(r'name="csrf_token" value="([^"]+)"', visitor.page + staff.page))
    cookies = {cookie.value for client in (visitor.client, staff_client) for cookie in client._cookies.values()}
    assert tokens and cookies
    for secret in (code, code.replace("-", ""), "PT-SECRET", "2024-03", "L4-L5", "L5-S1", "back_and_leg",
                   "improved_then_returned", "aching", "burning", PASSWORD, *tokens, *cookies):
        assert secret not in logged, secret
    lines = log_lines(json_log)
    access = [line for line in lines if line["logger"] == "triage.web.access"]
    assert len(access) >= 20
    for line in access:
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", line["time"])
        assert {"request_id", "method", "route", "status", "duration_ms"} <= set(line)
    routes = {(line["method"], line["route"], line["status"]) for line in access}
    assert ("POST", "/intake/questions/<qid>", 303) in routes and ("GET", "/intake/code/<code>", 200) in routes
    assert access[-1]["request_id"] == response.headers["X-Request-Id"]


def test_json_logs_of_cds_hooks_calls_hold_no_token_patient_or_answer(tmp_path, json_log):
    import httpx
    from flask import Flask

    from support.cds_hooks_support import (BASE_URL, FHIR_SERVER, ISSUER, PATIENT_ID, SERVICE_URL, FakeEhr,
                                           answers_for, hook_request, response_resource, searchset)
    from triage.interop.cds_hooks import CdsHooksConfig
    from triage.channels.web import observability
    from triage.channels.web.cds_hooks import init_app

    ehr = FakeEhr("ES384")
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps(ehr.jwks()), encoding="utf-8")
    app = Flask("cds")
    observability.install(app)
    init_app(app, CdsHooksConfig(base_url=BASE_URL, clients=[{"issuer": ISSUER, "jwks": str(jwks),
                                                               "fhir_servers": [FHIR_SERVER]}]),
             transport=httpx.MockTransport(lambda request: httpx.Response(200, json={})))
    client = app.test_client()
    answers = answers_for("urgent")
    body = hook_request(searchset(response_resource(answers)))
    headers = ehr.authorization(SERVICE_URL)
    assert client.post("/cds-services/fbss-preconsultation-summary", json=body, headers=headers).status_code == 200
    replayed = client.post("/cds-services/fbss-preconsultation-summary", json=body, headers=headers)
    assert replayed.status_code == 401
    token = headers["Authorization"].split(" ", 1)[1]
    logged = json_log.getvalue()
    assert "cds-hooks" in logged and "/cds-services/<service_id>" in logged
    # (not the as-of date: a log line's own time could hold it)
    values = [value for key, value in answers.items() if isinstance(value, str) and len(value) > 3
              and key != "assessment_date"]
    for secret in (token, token.split(".")[2], PATIENT_ID, *values):
        assert secret not in logged, secret


def test_text_logs_are_utc_with_the_zone_and_the_request_id(db):
    from triage.channels.web.observability import setup_logging

    stream = io.StringIO()
    handler = setup_logging("text", stream)
    try:
        response = make_app(db).test_client().get("/healthz")
    finally:
        logging.getLogger().removeHandler(handler)
    line = stream.getvalue().strip().splitlines()[-1]
    assert re.fullmatch(rf"\d{{4}}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{{3}}Z INFO triage.web.access "
                        rf"\[{response.headers['X-Request-Id']}\] GET /healthz 200 \d+\.\dms", line)


# --- metrics --------------------------------------------------------------------------------------

def metric(text: str, name: str, **labels) -> float | None:
    for line in text.splitlines():
        if line.startswith(name + ("{" if labels else " ")):
            found = dict(re.findall(r'(\w+)="([^"]*)"', line))
            if all(found.get(k) == v for k, v in labels.items()):
                return float(line.rsplit(" ", 1)[1])
    return None


def test_metrics_count_requests_latency_open_alerts_and_store_errors(db, monkeypatch):
    app = make_app(db, metrics=True)
    metrics = app.extensions["triage.metrics"]
    client = app.test_client()
    for _ in range(3):
        client.get("/intake/")
    client.get("/nowhere/secret-path")
    code, _ = invite(db)
    visitor = Patient(client).get(f"/intake/code/{code}")
    visitor.post("/intake/", code=code)
    visitor.get(re.search(r'href="(/intake/questions/[a-z_]+)"', visitor.page).group(1))
    answer_all(visitor, {"red_flag_bladder_bowel": {"answer": "yes"}})
    visitor.post()
    text = metrics.text().decode()
    assert metric(text, "triage_http_requests_total", method="GET", route="/intake/", status="200") == 3.0
    assert metric(text, "triage_http_requests_total", method="POST", route="/intake/", status="303") == 1.0
    assert metric(text, "triage_http_requests_total", route="(no route)", status="404") == 1.0
    assert "secret-path" not in text and code not in text
    assert metric(text, "triage_http_request_duration_seconds_count", route="/intake/") == 4.0  # GET and POST
    assert metric(text, "triage_http_request_duration_seconds_bucket", route="/intake/", le="+Inf") == 4.0
    assert metric(text, "triage_open_alerts") == 1.0
    assert metric(text, "triage_store_errors_total") == 0.0

    def down(self):
        raise StoreError("the database does not answer")

    monkeypatch.setattr(Store, "ping", down)
    client.get("/readyz")
    assert metric(metrics.text().decode(), "triage_store_errors_total") == 1.0


def test_without_metrics_there_is_no_registry(db):
    assert make_app(db).extensions["triage.metrics"] is None


# --- the real service -------------------------------------------------------------------------------

def fetch(url: str, host: str | None = None) -> tuple[int, str, dict]:
    req = urllib.request.Request(url, headers={"Host": host} if host else {})
    try:
        with urllib.request.urlopen(req, timeout=30) as response:
            return response.status, response.read().decode(), dict(response.headers)
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(), dict(error.headers)


def test_the_real_service_runs_from_a_configuration_file(tmp_path):
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    conf = scratch / "triage.toml"
    conf.write_text('[serve]\ndb = "data/triage.db"\nport = 0\nbase_url = "https://intake.test"\n'
                    'log_format = "json"\nmetrics = "on"\nmetrics_port = 0\n', encoding="utf-8")
    env = installed_env(TRIAGE_CONFIG=str(conf), TRIAGE_THREADS="2")
    for name in ("TRIAGE_DB", "TRIAGE_BASE_URL", "TRIAGE_HOST", "TRIAGE_PORT", "TRIAGE_LOG_FORMAT"):
        env.pop(name, None)
    checked = subprocess.run([*TRIAGE, "serve", "--check-config"], cwd=scratch, env=env, capture_output=True,
                             text=True, timeout=120)
    assert checked.returncode == 0, checked.stderr
    assert re.search(r"^  threads\s+2\s+\(TRIAGE_THREADS\)$", checked.stdout, re.M)
    server = subprocess.Popen([*TRIAGE, "serve"], cwd=scratch, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    try:
        first, second = json.loads(server.stderr.readline()), json.loads(server.stderr.readline())
        url = re.search(r"serving on (http://127\.0\.0\.1:\d+)/intake/", first["message"]).group(1)
        metrics_url = re.search(r"metrics on (http://127\.0\.0\.1:\d+/metrics)", second["message"]).group(1)
        third = json.loads(server.stderr.readline())["message"]
        assert third == f"patients open https://intake.test/intake/ (base_url, from {conf})"
        for _ in range(600):  # the socket listens before the hand-over; answers come once the app is built
            try:
                status, body, headers = fetch(url + "/readyz")
                break
            except OSError:
                continue
        assert (status, body) == (200, "ready\n")
        request_id = headers["X-Request-Id"]
        status, body, headers = fetch(url + "/intake/", host="intake.test")
        assert status == 200 and headers["Strict-Transport-Security"] == "max-age=31536000"
        assert "Secure" in headers["Set-Cookie"]
        assert fetch(url + "/intake/", host="evil.example")[0] == 400
        status, text, _ = fetch(metrics_url)
        assert status == 200
        assert metric(text, "triage_http_requests_total", method="GET", route="/intake/", status="200") == 1.0
        assert metric(text, "triage_http_requests_total", method="GET", route="/intake/", status="400") == 1.0
        assert fetch(url + "/metrics", host="intake.test")[0] == 404  # never on the pages' port
    finally:
        server.send_signal(signal.SIGTERM)
        _, err = server.communicate(timeout=60)
    assert server.returncode == 0, err
    assert (scratch / "data" / "triage.db").is_file()  # the file's db, relative to the file
    lines = [json.loads(line) for line in err.splitlines()]  # every line is JSON, to the last
    assert lines[-1]["message"] == "stopped" and lines[-1]["time"].endswith("Z")
    access = [line for line in lines if line["logger"] == "triage.web.access"]
    assert any(line["request_id"] == request_id and line["route"] == "/readyz" for line in access)
    assert "Traceback" not in err
