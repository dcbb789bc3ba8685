"""CDS Hooks: the request an EHR sends, checked field by field (triage/interop/cds_hooks/protocol.py); a
malformed request is 400 naming the field, never echoing a value.
"""

from __future__ import annotations

import pytest

from support.cds_hooks_support import SERVICE_URL, call, hook_request, ready_answers, response_resource, searchset
from support.cds_hooks_support import client, ehr, make_client  # noqa: F401 (fixtures)


@pytest.mark.parametrize("change, words", [
    ({"hook": "order-sign"}, "hook must be patient-view"),
    ({"context": {"userId": "Practitioner/example"}}, "context.patientId"),
    ({"context": {"patientId": 1288992}}, "context.patientId"),
    ({"hookInstance": ""}, "hookInstance"),
    ({"fhirServer": None}, "fhirServer is required with fhirAuthorization"),
    ({"fhirServer": "http://ehr.example.org/fhir"}, "https"),
])
def test_malformed_requests_are_400_naming_the_field(client, ehr, change, words):
    body = hook_request(searchset(response_resource(ready_answers())))
    body.update(change)
    body = {key: value for key, value in body.items() if value is not None}
    response = call(client, ehr, body)
    assert response.status_code == 400
    assert words in response.get_json()["error"]


def test_a_body_that_is_not_json_or_too_large(client, ehr):
    headers = ehr.authorization(SERVICE_URL) | {"Content-Type": "application/json"}
    response = client.post("/cds-services/fbss-preconsultation-summary", data=b"{not json", headers=headers)
    assert response.status_code == 400
    big = b'{"pad": "' + b"x" * (1024 * 1024) + b'"}'
    headers = ehr.authorization(SERVICE_URL) | {"Content-Type": "application/json"}
    assert client.post("/cds-services/fbss-preconsultation-summary", data=big, headers=headers).status_code == 413
