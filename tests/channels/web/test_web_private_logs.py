"""Nothing private in the web process's log (issue 27): with the log set up as `python -m triage.channels.web`
sets it up (text and JSON; plus DEBUG, stricter than the service's INFO), a whole patient web intake, a staff
session and CDS Hooks calls that fetch from a fake EHR write not one line holding the patient
reference, the EHR's patient id, a code, an answer, a password or a token."""

from __future__ import annotations

import io
import json
import logging
import re
from datetime import date

import pytest

pytest.importorskip("flask")
httpx = pytest.importorskip("httpx")

from support.cds_hooks_support import (BASE_URL, FHIR_SERVER, ISSUER, SERVICE_URL, FakeEhr, answers_for,  # noqa: E402
                                       hook_request, response_resource, searchset)
from support.web import PASSWORD, Clock, Patient, add_staff, answer_all, invite, make_app, sign_in  # noqa: E402

PATIENT_REFERENCE = "PT-4471-QZ"
EHR_PATIENT = "ehr-patient-90210"
EHR_MRN = "MRN-5550123"
FHIR_TOKEN = "opaque-ehr-access-token-7d1f"


class FakeEhrFhirServer:
    """The EHR's FHIR server: the latest QuestionnaireResponse of the patient asked for."""

    def __init__(self) -> None:
        self.urls: list[str] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.urls.append(str(request.url))
        resource = response_resource(answers_for("urgent") | {"patient_id": EHR_MRN})
        resource["subject"] = {"reference": f"Patient/{EHR_PATIENT}"}
        return httpx.Response(200, json=searchset(resource))


@pytest.fixture(params=["text", "json"])
def web_log(request):
    """The web entry point's log (``python -m triage.channels.web`` calls setup_logging), into a buffer."""
    from triage.channels.web import logs
    from triage.channels.web.observability import setup_logging

    buffer = io.StringIO()
    root = logging.getLogger()
    before = root.level
    handler = setup_logging(request.param, stream=buffer)
    root.setLevel(logging.DEBUG)  # stricter than the service's INFO
    try:
        yield buffer
    finally:
        root.removeHandler(handler)
        root.setLevel(before)
        for name in logs.QUIET:
            logging.getLogger(name).setLevel(logging.NOTSET)


def test_no_line_of_the_web_log_holds_anything_private(tmp_path, web_log):
    from triage.interop.cds_hooks import CdsHooksConfig, CdsHooksService
    from triage.channels.web.cds_hooks import create_blueprint

    db = tmp_path / "store" / "triage.db"
    add_staff(db, "cora", "coordinator")
    add_staff(db, "clint", "clinician")
    ehr, fhir = FakeEhr("ES384"), FakeEhrFhirServer()
    jwks = tmp_path / "ehr-jwks.json"
    jwks.write_text(json.dumps(ehr.jwks()), encoding="utf-8")
    config = CdsHooksConfig(base_url=BASE_URL, clients=[{"issuer": ISSUER, "jwks": str(jwks),
                                                         "fhir_servers": [FHIR_SERVER]}])
    service = CdsHooksService(config, today=lambda: date(2026, 11, 24), transport=httpx.MockTransport(fhir))
    app = make_app(db, clock=Clock(), blueprints=[create_blueprint(service)])
    secrets = [PATIENT_REFERENCE, EHR_PATIENT, EHR_MRN, FHIR_TOKEN, PASSWORD]

    # A coordinator invites the patient (the code is on the page), the patient answers everything
    # (a red flag yes) and sends; a wrong code is tried too.
    coordinator = sign_in(app.test_client(), "cora")
    coordinator.get("/staff/invite").post(patient_id=PATIENT_REFERENCE, expires_days="7", language="en")
    code = re.search(r"[2-9A-Z]{5}-[2-9A-Z]{5}", coordinator.page).group(0)
    own_code, intake_id = invite(db, patient_id=PATIENT_REFERENCE)
    secrets += [code, own_code, code.replace("-", ""), own_code.replace("-", "")]
    Patient(app.test_client()).open_code("ZZZZZ-ZZZZZ")
    visitor = Patient(app.test_client()).open_code(own_code)
    visitor.get(re.search(r'href="(/intake/questions/[a-z_]+)"', visitor.page).group(1))
    answer_all(visitor, {"red_flag_bladder_bowel": {"answer": "yes"}})
    visitor.post()
    assert visitor.path == "/intake/done"
    secrets += [visitor.client.get_cookie("triage_session").value]

    # A clinician signs in, reads the summary and its print view, acknowledges the alert, signs out.
    clinician = sign_in(app.test_client(), "clint")
    for path in ("/staff/", f"/staff/intakes/{intake_id}", f"/staff/intakes/{intake_id}/print", "/staff/alerts"):
        assert clinician.get(path).status == 200, path
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', clinician.page).group(1)
    secrets += [csrf, clinician.client.get_cookie("triage_session").value,
                *clinician.client.get_cookie("triage_device", path="/staff/").value.split(".")]
    clinician.post(f"/staff/alerts/{intake_id}/acknowledge")
    clinician.post("/staff/sign-out")
    Patient(app.test_client()).get("/staff/sign-in").post(name="clint", password="not the password at all")

    # The EHR calls the service without prefetch: it fetches from the EHR's FHIR server; then a call
    # with a forged token and one that is malformed.
    cds = app.test_client()
    body = hook_request(without=("prefetch",), context={"userId": "Practitioner/example", "patientId": EHR_PATIENT},
                        fhirAuthorization={"access_token": FHIR_TOKEN, "token_type": "Bearer", "expires_in": 300,
                                           "scope": "user/QuestionnaireResponse.read", "subject": "cds-service4"})
    token = ehr.token(SERVICE_URL)
    secrets.append(token)
    url = "/cds-services/fbss-preconsultation-summary"
    response = cds.post(url, json=body, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200 and response.get_json()["cards"][0]["indicator"] == "critical"
    assert fhir.urls and EHR_PATIENT in fhir.urls[0]  # the fetch named the patient, as it must
    forged = FakeEhr("ES384").token(SERVICE_URL)
    secrets.append(forged)
    assert cds.post(url, json=body, headers={"Authorization": f"Bearer {forged}"}).status_code == 401
    assert cds.post(url, json={**body, "hook": "nope"}, headers=ehr.authorization(SERVICE_URL)).status_code == 400

    logged = web_log.getvalue()
    assert "cds-hooks fbss-preconsultation-summary 200 triaged" in logged  # the log was written to
    assert "httpx" not in logged or "QuestionnaireResponse" not in logged
    leaks = [secret for secret in secrets if secret and secret in logged]
    assert leaks == [], [line for line in logged.splitlines() if any(secret in line for secret in leaks)]
    for answer in ("2024-03", "L4-L5", "L5-S1", "back_and_leg", "improved_then_returned"):
        assert answer not in logged, answer


def test_other_libraries_urls_are_cut_to_the_host(web_log):
    logging.getLogger("waitress").error("Exception while serving /intake/code/ABCDE-FGHJK")
    logging.getLogger("somelib").warning("GET %s failed", f"https://ehr.example.org/fhir/Patient?subject={EHR_PATIENT}")
    logging.getLogger("httpx").info("HTTP Request: GET https://ehr.example.org/fhir/x?subject=%s", EHR_PATIENT)
    logged = web_log.getvalue()
    assert "Exception while serving /intake/..." in logged
    assert "GET https://ehr.example.org/... failed" in logged
    assert "ABCDE" not in logged and EHR_PATIENT not in logged
