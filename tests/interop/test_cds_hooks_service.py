"""CDS Hooks 2.0.1: discovery and the patient-view service end to end (triage/interop/cds_hooks/service.py and
the routes of triage/channels/web/cds_hooks.py): requests shaped like the specification's examples ("Calling a
CDS Service"), responses validated against the specification's schemas, the fake EHR tool over real
HTTP, and no patient data in logs.
"""

from __future__ import annotations

import logging
import subprocess
import sys

import pytest
from flask import Flask

from support.cds_hooks_support import (
    BASE_URL, DISCOVERY_URL, QUESTIONNAIRES, SERVICE_URL, Discovery, answers_for, call, card_of, hook_request,
    load_tool, ready_answers, response_resource, searchset, valid_response,
)
from support.cds_hooks_support import client, ehr, make_client  # noqa: F401 (fixtures)
from conftest import ROOT
from support.cli import SCRATCH
from triage.core.questionnaire import load_questionnaire
from triage.channels.web.cds_hooks import init_app


def test_discovery_lists_one_patient_view_service_with_prefetch(client, ehr):
    response = client.get("/cds-services", headers=ehr.authorization(DISCOVERY_URL))
    assert response.status_code == 200
    document = response.get_json()
    services = Discovery.model_validate(document).services
    assert len(services) == 1
    service = services[0]
    assert (service.hook, service.id) == ("patient-view", "fbss-preconsultation-summary")
    assert service.title and service.description
    assert QUESTIONNAIRES.split(",")[0] == "https://fbss-triage.example.org/fhir/Questionnaire/fbss-intake"
    assert service.prefetch == {
        "patient": "Patient/{{context.patientId}}",
        "questionnaireResponse": "QuestionnaireResponse?subject={{context.patientId}}&questionnaire="
                                 f"{QUESTIONNAIRES}&_sort=-authored&_count=1",
    }


def test_discovery_needs_a_token_for_the_discovery_url(client, ehr):
    assert client.get("/cds-services").status_code == 401
    # a token for the service endpoint is not one for discovery (the audience names the URL called)
    assert client.get("/cds-services", headers=ehr.authorization(SERVICE_URL)).status_code == 401


def test_the_source_url_is_the_rule_catalogue_page(client):
    from triage.core.ruleset import load_ruleset

    ruleset = load_ruleset()
    response = client.get("/rules")  # public: rules only, no patient data, no token needed
    assert response.status_code == 200 and response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    assert f"{ruleset.ruleset.name}</code> version {ruleset.ruleset.version}" in page
    for rule in ruleset.rules:
        assert f'<section id="{rule.id}"><h2>{rule.id} v{rule.version}: ' in page
    assert "<script" not in page and "style=" not in page


def test_a_response_to_the_patient_form_is_triaged_as_of_today(client, ehr):
    """Patients answer the patient form (no assessment date): the card is measured to today."""
    from triage.interop import fhir

    answers = {key: value for key, value in ready_answers().items() if key != "assessment_date"}
    resource = response_resource(answers) | {"questionnaire": fhir.canonical(load_questionnaire(), "patient")}
    assert resource["questionnaire"].split("|")[0] in QUESTIONNAIRES.split(",")  # the prefetch finds it
    card = card_of(call(client, ehr, hook_request(searchset(resource))))
    assert card.indicator == "info"
    assert "Assessed as of 2026-11-24" in card.detail


def test_unknown_service_is_404(client, ehr):
    response = client.post("/cds-services/something-else", json=hook_request(searchset()),
                           headers=ehr.authorization(f"{BASE_URL}/cds-services/something-else"))
    assert response.status_code == 404


def test_an_engine_failure_gives_no_card_but_500(client, ehr, monkeypatch):
    import triage.decision.assess
    from triage.core.errors import EngineError

    def broken(*_, **__):
        raise EngineError("no rule concluded a status")

    monkeypatch.setattr(triage.decision.assess, "assess", broken)
    response = call(client, ehr, hook_request(searchset(response_resource(ready_answers()))))
    assert response.status_code == 500
    assert "no card is given" in response.get_json()["error"]


def test_no_patient_data_in_logs(client, ehr, caplog):
    answers = answers_for("urgent") | {"patient_id": "MRN-5550123"}
    body = hook_request(searchset(response_resource(answers)))
    body["context"]["patientId"] = "PATIENT-77781"
    body["prefetch"]["patient"]["id"] = "PATIENT-77781"
    body["prefetch"]["questionnaireResponse"]["entry"][0]["resource"]["subject"]["reference"] = "Patient/PATIENT-77781"
    with caplog.at_level(logging.DEBUG):
        assert call(client, ehr, body).status_code == 200
        bad = dict(body, context={"patientId": "PATIENT-77781"}, hook="nope")
        assert call(client, ehr, bad).status_code == 400
        client.post("/cds-services/fbss-preconsultation-summary", json=body)  # 401
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "cds-hooks fbss-preconsultation-summary 200 triaged cards=critical" in logged
    for secret in ("PATIENT-77781", "MRN-5550123", "some-opaque-fhir-access-token", "2024-03", "L4-L5"):
        assert secret not in logged


@pytest.mark.parametrize("path", [*sorted((ROOT / "triage" / "interop" / "cds_hooks").glob("*.py")), ROOT / "triage" / "channels" / "web" / "cds_hooks.py"],
                         ids=lambda p: p.parent.name + "/" + p.name)
def test_no_forbidden_phrasing_in_cds_hooks_strings(path):
    from support.wording import code_strings, forbidden_in

    hits = [(where, text) for where, text in code_strings(path) if forbidden_in(text)]
    assert not hits


def test_the_fake_ehr_tool_over_real_http(tmp_path):
    """tools/fake_ehr.py (for trying the service by hand) against a real HTTP server on 127.0.0.1:
    a call for each status, discovery, and forged calls refused."""
    import threading

    from werkzeug.serving import make_server

    fake_ehr = load_tool("fake_ehr")
    app = Flask("test")
    server = make_server("127.0.0.1", 0, app, threaded=True)
    config = fake_ehr.setup(tmp_path, f"http://127.0.0.1:{server.server_port}")
    assert (tmp_path / "ehr-private.pem").stat().st_mode & 0o777 == 0o600
    init_app(app, config)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        expected = {"urgent": "critical", "too_early": "warning", "records_needed": "warning",
                    "ready_for_evaluation": "info", "none": "info"}
        for status, indicator in expected.items():
            [(code, document)] = fake_ehr.call(tmp_path, status)
            assert code == 200, document
            assert [card.indicator for card in valid_response(document).cards] == [indicator], status
        code, document = fake_ehr.discovery(tmp_path)
        assert code == 200 and Discovery.model_validate(document).services[0].hook == "patient-view"
        for forge in ("unsigned", "other-key", "expired", "wrong-audience"):
            assert [code for code, _ in fake_ehr.call(tmp_path, "urgent", forge)] == [401], forge
        assert [code for code, _ in fake_ehr.call(tmp_path, "urgent", "replay")] == [200, 401]
    finally:
        server.shutdown()
        thread.join(timeout=10)


def test_triage_assess_never_imports_the_web_stack(tmp_path):
    script = (
        "import sys, io\n"
        "from triage.channels.cli.main import main\n"
        f"code = main(['assess', {str(ROOT / 'examples' / 'red-flag.json')!r}, '--format', 'json'], out=io.StringIO(), err=io.StringIO())\n"
        "loaded = sorted(m for m in ('flask', 'jwt', 'httpx', 'werkzeug', 'cryptography') if m in sys.modules)\n"
        "print(code, loaded)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=SCRATCH, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "0 []"
