"""CDS Hooks: the QuestionnaireResponse a call triages (triage/interop/cds_hooks/prefetch.py): prefetched as in
the specification's prefetch examples, or fetched from the EHR's FHIR server (an httpx MockTransport,
no network), only from a configured server, and never about another patient.
"""

from __future__ import annotations

import httpx
import pytest

from support.cds_hooks_support import (
    FHIR_SERVER, ISSUER, PATIENT_ID, QUESTIONNAIRES, FakeFhirServer, answers_for, call, card_of, hook_request,
    ready_answers, response_resource, searchset, valid_response,
)
from support.cds_hooks_support import client, ehr, make_client  # noqa: F401 (fixtures)
from triage.interop import cds_hooks
from triage.interop.cds_hooks import CdsHooksConfig


def test_the_newest_response_is_triaged_when_the_client_ignored_the_sort(client, ehr):
    old = response_resource(answers_for("urgent")) | {"authored": "2025-01-10T08:00:00Z"}
    new = response_resource(answers_for("ready_for_evaluation")) | {"authored": "2026-11-20"}
    card = card_of(call(client, ehr, hook_request(searchset(old, new))))
    assert card.indicator == "info"


def test_no_response_on_file_gives_no_card_or_one_info_card(make_client, ehr):
    response = call(make_client(), ehr, hook_request(searchset()))
    assert valid_response(response.get_json()).cards == []
    response = call(make_client(card_when_no_response=True), ehr, hook_request(searchset()))
    card = card_of(response)
    assert card.indicator == "info" and "no questionnaire on file" in card.summary


@pytest.mark.parametrize("prefetched", ["absent", None, {"resourceType": "OperationOutcome", "issue": [
    {"severity": "error", "code": "processing"}]}])
def test_412_when_the_response_is_not_prefetched_and_cannot_be_fetched(client, ehr, prefetched):
    body = hook_request(without=("fhirServer", "fhirAuthorization"))
    if prefetched != "absent":
        body["prefetch"]["questionnaireResponse"] = prefetched
    response = call(client, ehr, body)
    assert response.status_code == 412
    assert "questionnaireResponse" in response.get_json()["error"]


def test_without_prefetch_the_response_is_fetched_from_the_fhir_server(make_client, ehr):
    fhir = FakeFhirServer(searchset(response_resource(answers_for("urgent"))))
    card = card_of(call(make_client(fhir=fhir), ehr, hook_request()))
    assert card.indicator == "critical"
    [sent] = fhir.requests
    assert sent.url.path == "/fhir/QuestionnaireResponse"
    assert dict(sent.url.params) == {
        "subject": PATIENT_ID, "questionnaire": QUESTIONNAIRES,
        "_sort": "-authored", "_count": "1"}
    assert sent.headers["Authorization"] == "Bearer some-opaque-fhir-access-token"
    assert sent.headers["Accept"] == "application/fhir+json"


def test_only_a_configured_fhir_server_is_ever_contacted(make_client, ehr, tmp_path):
    fhir = FakeFhirServer(searchset(response_resource(answers_for("urgent"))))
    jwks = tmp_path / "ehr-jwks.json"
    client = make_client(fhir=fhir, clients=[{"issuer": ISSUER, "jwks": str(jwks)}])  # no fhir_servers
    response = call(client, ehr, hook_request())
    assert response.status_code == 412 and "fhir_servers" in response.get_json()["error"]
    client = make_client(fhir=fhir)  # FHIR_SERVER configured, but the request names another host
    response = call(client, ehr, hook_request(fhirServer="https://elsewhere.example/fhir"))
    assert response.status_code == 412
    assert fhir.requests == []


@pytest.mark.parametrize("fhir, words", [
    (FakeFhirServer(fail=httpx.ReadTimeout("slow")), "did not answer within 5 s"),
    (FakeFhirServer(fail=httpx.ConnectError("refused")), "could not be reached"),
    (FakeFhirServer(status=403), "HTTP 403"),
    (FakeFhirServer({"resourceType": "OperationOutcome"}), "did not return"),
])
def test_412_when_the_fhir_server_fails(make_client, ehr, fhir, words):
    response = call(make_client(fhir=fhir), ehr, hook_request())
    assert response.status_code == 412
    assert words in response.get_json()["error"]


def test_the_fhir_client_has_a_timeout():
    fetcher = cds_hooks.FhirFetcher(timeout=2.5)
    assert fetcher.timeout == 2.5
    assert CdsHooksConfig.model_fields["fhir_timeout_seconds"].default == 5.0


def test_data_about_another_patient_is_refused(client, ehr):
    elsewhere = response_resource(ready_answers()) | {"subject": {"reference": "Patient/someone-else"}}
    assert call(client, ehr, hook_request(searchset(elsewhere))).status_code == 400
    body = hook_request(searchset(response_resource(ready_answers())))
    body["prefetch"]["patient"]["id"] = "someone-else"
    assert call(client, ehr, body).status_code == 400
    absolute = response_resource(ready_answers()) | {"subject": {"reference": f"{FHIR_SERVER}/Patient/{PATIENT_ID}"}}
    assert call(client, ehr, hook_request(searchset(absolute))).status_code == 200
    # the clinic's own patient reference as an identifier (as `triage export` writes it) cannot be
    # compared with the EHR's id: the EHR's search chose the response
    by_identifier = response_resource(ready_answers()) | {"subject": {"identifier": {"value": "P-1"}}}
    assert call(client, ehr, hook_request(searchset(by_identifier))).status_code == 200
    malformed = response_resource(ready_answers()) | {"subject": "Patient/1288992"}
    assert call(client, ehr, hook_request(searchset(malformed))).status_code == 400
