"""CDS Hooks 2.0.1: discovery, the patient-view service, its cards and the JWT trust of the EHR.

Requests are shaped like the specification's examples (discovery, "Calling a CDS Service", the
prefetch examples, the JWT header and payload of "Trusting CDS Clients"); every response is
validated against a pydantic model of the specification's card schema (extra="forbid"). The fake EHR
generates its own keys in the test; its FHIR server is an httpx MockTransport (no network).
"""

from __future__ import annotations

import io
import json
import logging
import subprocess
import sys
import time
from datetime import date

import httpx
import jwt
import pytest
from flask import Flask

from support.cds_hooks_support import (
    BASE_URL,
    DISCOVERY_URL,
    FHIR_SERVER,
    ISSUER,
    PATIENT_ID,
    SERVICE_URL,
    Discovery,
    FakeEhr,
    answers_for,
    hook_request,
    ready_answers,
    response_resource,
    searchset,
    valid_response,
)
from conftest import ROOT, run_cli
from support.cli import SCRATCH
from triage import cds_hooks
from triage.cds_hooks import CdsHooksConfig, load_config
from triage.errors import DefinitionError
from triage.questionnaire import load_questionnaire
from triage.web.cds_hooks import init_app

# Every canonical URL a response of ours may name (the full questionnaire, and the patient form where
# there is one), as one comma-separated search value.
QUESTIONNAIRES = ",".join(cds_hooks.questionnaire_urls(load_questionnaire()))
STATUSES = ("urgent", "too_early", "records_needed", "ready_for_evaluation")
URGENCIES = ("emergency", "same_day", "soon", "routine")


class FakeFhirServer:
    """The EHR's FHIR server: answers the QuestionnaireResponse search, remembers what was asked."""

    def __init__(self, bundle=None, *, status=200, fail=None, jwks=None):
        self.bundle, self.status, self.fail, self.jwks = bundle, status, fail, jwks
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.jwks is not None and request.url.path == "/jwks.json":
            return httpx.Response(200, json=self.jwks)
        if self.fail:
            raise self.fail
        return httpx.Response(self.status, json=self.bundle if self.bundle is not None else {})


@pytest.fixture
def ehr():
    return FakeEhr("ES384")


@pytest.fixture
def make_client(tmp_path, ehr):
    """A test client of an app with the CDS Hooks routes, trusting ``ehr`` (its JWKS in a file)."""
    def make(*, fhir: FakeFhirServer | None = None, clock=time.time, **config):
        jwks_file = tmp_path / "ehr-jwks.json"
        jwks_file.write_text(json.dumps(ehr.jwks()), encoding="utf-8")
        config.setdefault("clients", [{"issuer": ISSUER, "jwks": str(jwks_file), "fhir_servers": [FHIR_SERVER]}])
        app = Flask("test")
        init_app(app, CdsHooksConfig(base_url=BASE_URL, **config), today=lambda: date(2026, 11, 24), clock=clock,
                 transport=httpx.MockTransport(fhir or FakeFhirServer()))
        return app.test_client()
    return make


@pytest.fixture
def client(make_client):
    return make_client()


def call(client, ehr, body, **claims):
    return client.post("/cds-services/fbss-preconsultation-summary", json=body,
                       headers=ehr.authorization(SERVICE_URL, **claims))


def card_of(response):
    assert response.status_code == 200, response.get_json()
    cards = valid_response(response.get_json()).cards
    assert len(cards) == 1
    return cards[0]


# --- discovery -----------------------------------------------------------------------------------

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
    from triage.ruleset import load_ruleset

    ruleset = load_ruleset()
    response = client.get("/rules")  # public: rules only, no patient data, no token needed
    assert response.status_code == 200 and response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    assert f"{ruleset.ruleset.name}</code> version {ruleset.ruleset.version}" in page
    for rule in ruleset.rules:
        assert f'<section id="{rule.id}"><h2>{rule.id} v{rule.version}: ' in page
    assert "<script" not in page and "style=" not in page


def test_unconfigured_app_has_no_cds_routes(monkeypatch):
    monkeypatch.delenv("TRIAGE_CDS_HOOKS", raising=False)
    app = Flask("test")
    init_app(app)
    assert app.test_client().get("/cds-services").status_code == 404


# --- one card per status and urgency ---------------------------------------------------------------

@pytest.mark.parametrize("status, indicator", [
    ("urgent", "critical"), ("too_early", "warning"), ("records_needed", "warning"), ("ready_for_evaluation", "info"),
])
def test_each_status_becomes_its_card(client, ehr, status, indicator):
    card = card_of(call(client, ehr, hook_request(searchset(response_resource(answers_for(status))))))
    assert card.indicator == indicator
    assert cds_hooks.STATUS_WORDS[status] in card.summary
    assert card.source.label == "fbss-triage " + _ruleset_version()
    assert card.source.url == f"{BASE_URL}/rules"
    assert card.links is None  # no staff summary page configured
    detail = card.detail
    for number in (1, 2, 3, 4):
        assert f"\n{number}. " in detail
    assert "Rules: `" in detail and "Physician consult" in detail


def _ruleset_version():
    from triage.ruleset import load_ruleset

    return load_ruleset().ruleset.version


def test_the_card_says_what_triage_assess_says_about_the_same_response(client, ehr, tmp_path):
    """The same code as `triage assess`: every line of its result appears on the card."""
    answers = answers_for("records_needed") | {"pain_location": None, "veteran": "yes"}
    answers = {key: value for key, value in answers.items() if value is not None}
    resource = response_resource(answers)
    path = tmp_path / "response.json"
    path.write_text(json.dumps(resource), encoding="utf-8")
    run = run_cli("assess", str(path), "--format", "json")
    assert run.code == 0, run.err
    result = run.json
    card = card_of(call(client, ehr, hook_request(searchset(resource))))
    detail = _unescaped(card.detail)
    assert result["status"] == "records_needed"
    for item in result["missing_items"]:
        assert f"{item['label']}: {item['reason']}" in detail
    for step in result["steps"]:
        assert step["title"] in detail and " ".join(step["reasons"]) in detail
    for point in result["discussion_points"]:
        assert " ".join(point["text"].split()) in detail
    for entry in result["trace"]:
        assert f"`{entry['rule']}` v{entry['version']}" in card.detail
    assert {point["id"] for point in result["discussion_points"]} >= {"va_community_care"}


def _unescaped(markdown: str) -> str:
    import re

    return re.sub(r"\\(.)", r"\1", markdown)


def test_too_early_card_says_until_when(client, ehr):
    card = card_of(call(client, ehr, hook_request(searchset(response_resource(answers_for("too_early"))))))
    assert "**Too early to evaluate.** " in card.detail and "(`HEAL-01`)" in card.detail


def test_cards_keep_the_specifications_field_order(client, ehr):
    response = call(client, ehr, hook_request(searchset(response_resource(answers_for("urgent")))))
    text = response.get_data(as_text=True)
    assert text.index('"summary"') < text.index('"indicator"') < text.index('"detail"') < text.index('"source"')


def test_urgent_card_names_the_red_flag_and_the_consult_instruction(client, ehr):
    card = card_of(call(client, ehr, hook_request(searchset(response_resource(answers_for("urgent"))))))
    detail = _unescaped(card.detail)
    assert "Red flags answered yes" in detail and "RF: new bladder/bowel problem" in detail
    assert card.summary.startswith("Spine pre-consultation: URGENT")


def _tier_of_each_red_flag() -> dict[str, str]:
    """Question -> urgency tier, as the shipped rules say (the rule concluding that red flag)."""
    from triage.ruleset import load_ruleset

    return {rule.then.red_flag: rule.then.consult for rule in load_ruleset().rules if rule.then.red_flag}


@pytest.mark.parametrize("question", sorted(_tier_of_each_red_flag()))
def test_each_red_flag_alone_gives_the_card_of_its_tier(client, ehr, question):
    tier = _tier_of_each_red_flag()[question]
    answers = ready_answers() | {question: "yes"}
    card = card_of(call(client, ehr, hook_request(searchset(response_resource(answers)))))
    assert card.indicator == cds_hooks.URGENT_INDICATOR[tier]
    assert card.summary == cds_hooks.summary("urgent", tier)


@pytest.mark.parametrize("status", STATUSES)
@pytest.mark.parametrize("urgency", URGENCIES + ("a_tier_added_later",))
def test_summary_is_under_140_characters_with_status_and_urgency_in_words(status, urgency):
    text = cds_hooks.summary(status, urgency)
    assert len(text) < 140
    assert cds_hooks.STATUS_WORDS[status] in text
    assert cds_hooks.URGENCY_WORDS.get(urgency, urgency) in text


@pytest.mark.parametrize("status, urgency, expected", [
    ("urgent", "emergency", "critical"),
    ("urgent", "same_day", "critical"),
    ("urgent", "soon", "warning"),
    ("urgent", "a_tier_added_later", "critical"),  # unknown tiers are shown as the most urgent
    ("too_early", "routine", "warning"),
    ("records_needed", "routine", "warning"),
    ("ready_for_evaluation", "routine", "info"),
])
def test_indicator_of_each_status_and_tier(status, urgency, expected):
    assert cds_hooks.indicator(status, urgency) == expected


@pytest.mark.parametrize("urgency, expected", [("same_day", "critical"), ("soon", "warning")])
def test_a_result_of_each_urgent_tier_becomes_a_card_of_its_indicator(urgency, expected):
    """Ruleset 2.0.0's tiers: the card follows `physician_consult.urgency` whatever produced it."""
    from support.cds_hooks_support import Card

    result = _result(answers_for("urgent"))
    tiered = result.model_copy(update={"physician_consult": result.physician_consult.model_copy(update={"urgency": urgency})})
    card = Card.model_validate(cds_hooks.card_for_result(tiered, _questionnaire(), _config()))
    assert card.indicator == expected
    assert cds_hooks.URGENCY_WORDS[urgency] in card.summary


def _result(answers):
    from triage.answers import parse_answers
    from triage.assess import assess
    from triage.ruleset import load_ruleset
    from triage.settings import load_settings

    return assess(parse_answers(answers, today=date(2026, 11, 24)), load_ruleset(), load_settings())


def _questionnaire():
    from triage.questionnaire import load_questionnaire

    return load_questionnaire()


def _config(**changes):
    return CdsHooksConfig(base_url=BASE_URL, clients=[{"issuer": ISSUER, "jwks": "/nonexistent"}], **changes)


def test_link_to_the_staff_summary_only_when_the_page_exists(make_client, ehr):
    ours = response_resource(ready_answers(), resource_id="intake-42-v3")
    configured = make_client(staff_summary_url=f"{BASE_URL}/staff/intakes/{{intake_id}}")
    card = card_of(call(configured, ehr, hook_request(searchset(ours))))
    assert [(link.url, link.type) for link in card.links] == [(f"{BASE_URL}/staff/intakes/42", "absolute")]
    # an identifier in our intake system names the intake too
    identified = response_resource(ready_answers()) | {
        "identifier": {"system": "https://fbss-triage.example.org/fhir/intake", "value": "7"}}
    card = card_of(call(configured, ehr, hook_request(searchset(identified))))
    assert card.links[0].url == f"{BASE_URL}/staff/intakes/7"
    # a response that is not one of our intakes, or no staff pages: no link
    card = card_of(call(configured, ehr, hook_request(searchset(response_resource(ready_answers())))))
    assert card.links is None
    card = card_of(call(make_client(), ehr, hook_request(searchset(ours))))
    assert card.links is None


def test_an_unfinished_response_says_so_and_unanswered_is_missing(client, ehr):
    answers = {key: value for key, value in ready_answers().items() if key != "red_flag_major_trauma"}
    card = card_of(call(client, ehr, hook_request(searchset(response_resource(answers, status="in-progress")))))
    assert card.indicator == "warning"
    assert "in\\-progress" in card.detail or "in-progress" in card.detail
    assert "Red-flag screen" in _unescaped(card.detail)


def test_a_response_to_the_patient_form_is_triaged_as_of_today(client, ehr):
    """Patients answer the patient form (no assessment date): the card is measured to today."""
    from triage import fhir

    answers = {key: value for key, value in ready_answers().items() if key != "assessment_date"}
    resource = response_resource(answers) | {"questionnaire": fhir.canonical(load_questionnaire(), "patient")}
    assert resource["questionnaire"].split("|")[0] in QUESTIONNAIRES.split(",")  # the prefetch finds it
    card = card_of(call(client, ehr, hook_request(searchset(resource))))
    assert card.indicator == "info"
    assert "Assessed as of 2026-11-24" in card.detail


def test_the_newest_response_is_triaged_when_the_client_ignored_the_sort(client, ehr):
    old = response_resource(answers_for("urgent")) | {"authored": "2025-01-10T08:00:00Z"}
    new = response_resource(answers_for("ready_for_evaluation")) | {"authored": "2026-11-20"}
    card = card_of(call(client, ehr, hook_request(searchset(old, new))))
    assert card.indicator == "info"


def test_a_response_that_cannot_be_read_gives_a_warning_card_not_silence(client, ehr):
    other = response_resource(ready_answers()) | {"questionnaire": "https://elsewhere.example/Questionnaire/x"}
    card = card_of(call(client, ehr, hook_request(searchset(other))))
    assert card.indicator == "warning"
    assert "could not be triaged" in card.summary
    assert "`questionnaire`" in card.detail


# --- no response, missing prefetch, fetching from the EHR's FHIR server ---------------------------

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


# --- bad requests ----------------------------------------------------------------------------------

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


def test_unknown_service_is_404(client, ehr):
    response = client.post("/cds-services/something-else", json=hook_request(searchset()),
                           headers=ehr.authorization(f"{BASE_URL}/cds-services/something-else"))
    assert response.status_code == 404


# --- trusting the EHR: its signed JWT --------------------------------------------------------------

@pytest.mark.parametrize("algorithm", ["ES384", "RS384", "ES256", "RS256"])
def test_a_correctly_signed_call_is_accepted(make_client, algorithm):
    ehr = FakeEhr(algorithm)
    client = _client_trusting(make_client, ehr)
    assert call(client, ehr, hook_request(searchset())).status_code == 200


def _client_trusting(make_client, ehr, **config):
    import tempfile
    from pathlib import Path

    folder = Path(tempfile.mkdtemp())
    (folder / "jwks.json").write_text(json.dumps(ehr.jwks()), encoding="utf-8")
    return make_client(clients=[{"issuer": ehr.issuer, "jwks": str(folder / "jwks.json")}], **config)


def _forged_tokens(ehr: FakeEhr):
    """Each (name, Authorization header value) a forger or a broken client might send."""
    body_claims = ehr.claims(SERVICE_URL)
    other = FakeEhr("ES384", kid=ehr.kid)  # another key pretending to be the EHR's
    public_pem = ehr.private_key.public_key().public_bytes(
        encoding=__import__("cryptography.hazmat.primitives.serialization", fromlist=["Encoding"]).Encoding.PEM,
        format=__import__("cryptography.hazmat.primitives.serialization", fromlist=["PublicFormat"]).PublicFormat.SubjectPublicKeyInfo)
    unsigned = jwt.encode(body_claims, None, algorithm="none", headers={"kid": ehr.kid})
    yield "no header", None
    yield "not bearer", f"Basic {ehr.token()}"
    yield "not a jwt", "Bearer not-a-jwt"
    yield "unsigned (alg none)", f"Bearer {unsigned}"
    yield "stripped signature", "Bearer " + ehr.token().rsplit(".", 1)[0] + "."
    yield "HS256 with the public key as secret", "Bearer " + _hs256(body_claims, public_pem, ehr.kid)
    yield "signed by another key", f"Bearer {other.token()}"
    yield "unknown kid", "Bearer " + jwt.encode(body_claims, ehr.private_key, algorithm="ES384",
                                                headers={"kid": "nobody"})
    yield "no kid", "Bearer " + jwt.encode(body_claims, ehr.private_key, algorithm="ES384")
    yield "untrusted issuer", f"Bearer {FakeEhr('ES384', issuer='https://evil.example/').token()}"
    yield "issuer changed", f"Bearer {ehr.token(iss='https://evil.example/')}"
    yield "audience of discovery", f"Bearer {ehr.token(DISCOVERY_URL)}"
    yield "audience of another host", "Bearer " + ehr.token("https://evil.example/cds-services/fbss-preconsultation-summary")
    yield "no audience", f"Bearer {ehr.token(None)}"
    yield "expired", f"Bearer {ehr.token(exp=int(time.time()) - 120, iat=int(time.time()) - 180)}"
    yield "issued in the future", f"Bearer {ehr.token(iat=int(time.time()) + 600, exp=int(time.time()) + 660)}"
    yield "valid for a day", f"Bearer {ehr.token(exp=int(time.time()) + 86400)}"
    yield "not valid yet (nbf)", f"Bearer {ehr.token(nbf=int(time.time()) + 120)}"
    yield "no exp", f"Bearer {ehr.token(exp=None)}"
    yield "no jti", f"Bearer {ehr.token(jti=None)}"
    yield "jku elsewhere", "Bearer " + jwt.encode(body_claims, ehr.private_key, algorithm="ES384",
                                                  headers={"kid": ehr.kid, "jku": "https://evil.example/jwks"})
    yield "typ not JWT", "Bearer " + jwt.encode(body_claims, ehr.private_key, algorithm="ES384",
                                                headers={"kid": ehr.kid, "typ": "at+jwt"})


def _hs256(claims, secret: bytes, kid: str) -> str:
    import base64
    import hashlib
    import hmac

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    head = b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": kid}).encode())
    body = b64(json.dumps(claims).encode())
    signature = hmac.new(secret, f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{b64(signature)}"


# Why each is refused: the check that must catch it (so that a test passes for the right reason).
FORGERIES = {
    "no header": "a signed JWT is required",
    "not bearer": "a signed JWT is required",
    "not a jwt": "not a JWT",
    "unsigned (alg none)": "algorithm 'none' is not accepted",
    "stripped signature": "signature does not verify",
    "HS256 with the public key as secret": "algorithm 'HS256' is not accepted",
    "signed by another key": "signature does not verify",
    "unknown kid": "kid is not in the issuer's JWKS",
    "no kid": "has no kid",
    "untrusted issuer": "issuer is not a trusted CDS client",
    "issuer changed": "issuer is not a trusted CDS client",
    "audience of discovery": "audience is not this endpoint's URL",
    "audience of another host": "audience is not this endpoint's URL",
    "no audience": "has no aud claim",
    "expired": "has expired",
    "issued in the future": "issued in the future",
    "valid for a day": "valid for too long",
    "not valid yet (nbf)": "not valid yet",
    "no exp": "has no exp claim",
    "no jti": "has no jti claim",
    "jku elsewhere": "jku is not the JWKS configured",
    "typ not JWT": "typ must be JWT",
}


def test_every_forgery_is_listed_with_its_reason():
    assert [name for name, _ in _forged_tokens(FakeEhr("ES384"))] == list(FORGERIES)


@pytest.mark.parametrize("forgery", FORGERIES)
def test_forged_or_broken_tokens_get_401_saying_only_that_and_the_reason_is_logged(client, ehr, forgery, caplog):
    header = dict(_forged_tokens(ehr))[forgery]
    headers = {"Authorization": header} if header else {}
    with caplog.at_level(logging.INFO, logger="triage.cds_hooks"):
        response = client.post("/cds-services/fbss-preconsultation-summary",
                               json=hook_request(searchset(response_resource(answers_for("urgent")))), headers=headers)
    assert response.status_code == 401, forgery
    assert response.get_json() == {"error": "the request is not authorized"}  # the same for every reason
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert FORGERIES[forgery] in caplog.text


class Tripwire(io.BytesIO):
    """A request body that records whether anything read it."""

    def __init__(self, data: bytes):
        super().__init__(data)
        self.reads = 0

    def read(self, *args):
        self.reads += 1
        return super().read(*args)


@pytest.mark.parametrize("forgery", ["no header", "signed by another key", "expired"])
def test_the_token_is_checked_before_the_body_is_read(client, ehr, forgery):
    header = dict(_forged_tokens(ehr))[forgery]
    headers = ({"Authorization": header} if header else {}) | {"Content-Type": "application/json"}
    for data in (b"{not json", b'{"pad": "' + b"x" * (2 * 1024 * 1024) + b'"}'):
        body = Tripwire(data)
        response = client.post("/cds-services/fbss-preconsultation-summary", input_stream=body, headers=headers,
                               content_length=len(data))
        assert (response.status_code, body.reads) == (401, 0), forgery


def test_a_replayed_token_is_refused(client, ehr):
    token = ehr.token()
    body = hook_request(searchset())
    first = client.post("/cds-services/fbss-preconsultation-summary", json=body,
                        headers={"Authorization": f"Bearer {token}"})
    again = client.post("/cds-services/fbss-preconsultation-summary", json=body,
                        headers={"Authorization": f"Bearer {token}"})
    assert (first.status_code, again.status_code) == (200, 401)


def test_the_replay_cache_forgets_only_expired_tokens_and_refuses_when_full():
    cache = cds_hooks.ReplayCache(max_entries=2)
    cache.remember("iss", "a", expires=100, now=0)
    cache.remember("iss", "b", expires=200, now=0)
    with pytest.raises(cds_hooks.Unavailable):
        cache.remember("iss", "c", expires=300, now=50)  # full of live tokens: never forget one
    cache.remember("iss", "c", expires=300, now=150)  # "a" has expired and is dropped
    with pytest.raises(cds_hooks.Unauthorized):
        cache.remember("iss", "b", expires=200, now=160)
    per_issuer = cds_hooks.ReplayCache()
    per_issuer.remember("iss", "b", expires=200, now=0)
    per_issuer.remember("other-issuer", "b", expires=200, now=0)  # a jti is unique per issuer


def test_jwks_from_a_url_with_rotation(make_client):
    ehr = FakeEhr("ES384")
    jwks_url = "https://ehr.example.org/jwks.json"
    fhir = FakeFhirServer(jwks=ehr.jwks())
    offset = [0.0]
    client = make_client(fhir=fhir, clock=lambda: time.time() + offset[0],
                         clients=[{"issuer": ISSUER, "jwks": jwks_url}])
    assert call(client, ehr, hook_request(searchset())).status_code == 200
    token = jwt.encode(ehr.claims(SERVICE_URL), ehr.private_key, algorithm="ES384",
                       headers={"kid": ehr.kid, "jku": jwks_url})
    response = client.post("/cds-services/fbss-preconsultation-summary", json=hook_request(searchset()),
                           headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200  # jku naming the configured URL is fine
    # The EHR rotates its key: the new kid is looked up again (not more than once per 10 s).
    rotated = FakeEhr("ES384", kid="ehr-key-2")
    fhir.jwks = {"keys": [ehr.jwk(), rotated.jwk()]}
    assert call(client, rotated, hook_request(searchset())).status_code == 401
    offset[0] = 11
    assert call(client, rotated, hook_request(searchset())).status_code == 200
    assert sum(request.url.path == "/jwks.json" for request in fhir.requests) == 2


def test_keys_already_read_stay_usable_while_the_jwks_url_is_down(make_client):
    ehr = FakeEhr("ES384")
    fhir = FakeFhirServer(jwks=ehr.jwks())
    offset = [0.0]
    client = make_client(fhir=fhir, clock=lambda: time.time() + offset[0], jwks_refresh_seconds=10,
                         clients=[{"issuer": ISSUER, "jwks": "https://ehr.example.org/jwks.json"}])
    assert call(client, ehr, hook_request(searchset())).status_code == 200
    fhir.jwks, fhir.fail = None, httpx.ConnectError("down")
    offset[0] = 20  # past jwks_refresh_seconds: a refresh is tried and fails
    assert call(client, ehr, hook_request(searchset())).status_code == 200
    # a key never seen is not accepted (and the URL is not asked again within 10 s)
    assert call(client, FakeEhr("ES384", kid="never-seen"), hook_request(searchset())).status_code == 401
    assert sum(request.url.path == "/jwks.json" for request in fhir.requests) == 2  # once more, not per call


def test_an_engine_failure_gives_no_card_but_500(client, ehr, monkeypatch):
    import triage.assess
    from triage.errors import EngineError

    def broken(*_, **__):
        raise EngineError("no rule concluded a status")

    monkeypatch.setattr(triage.assess, "assess", broken)
    response = call(client, ehr, hook_request(searchset(response_resource(ready_answers()))))
    assert response.status_code == 500
    assert "no card is given" in response.get_json()["error"]


def test_unreachable_jwks_is_503_not_a_pass(make_client, ehr):
    fhir = FakeFhirServer(fail=httpx.ConnectError("refused"))
    client = make_client(fhir=fhir, clients=[{"issuer": ISSUER, "jwks": "https://ehr.example.org/jwks.json"}])
    assert call(client, ehr, hook_request(searchset())).status_code == 503


# --- no patient data in logs, no markup from answers -----------------------------------------------

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


def test_answers_cannot_inject_markup_or_links_into_the_card():
    hostile = "[click](https://evil.example) <img src=x onerror=alert(1)> www.evil.example **bold** | `code`"
    escaped = cds_hooks.md(hostile)
    assert "](" not in escaped.replace("\\](", "")
    assert "<" not in escaped.replace("\\<", "")
    assert "https://" not in escaped and "www." not in escaped
    assert "**" not in escaped.replace("\\*", "")
    result = _result(answers_for("records_needed"))
    step = result.steps[0].model_copy(update={"reasons": [hostile]})
    card = cds_hooks.card_for_result(result.model_copy(update={"steps": [step, *result.steps[1:]]}),
                                     _questionnaire(), _config())
    assert escaped in card["detail"] and hostile not in card["detail"]
    # Rendered as the EHR renders it (CommonMark with raw HTML allowed): text, never markup.
    from markdown_it import MarkdownIt

    rendered = MarkdownIt("commonmark").render(card["detail"])
    assert "<a " not in rendered and "<img" not in rendered and "<strong>bold" not in rendered
    assert "[click](https://evil.example) &lt;img src=x onerror=alert(1)&gt;" in rendered


def test_the_card_shown_in_the_readme_is_what_the_service_gives_today():
    """docs/cds-hooks-card.json (and its screenshot) come from `python tools/render_card.py`."""
    render_card = _tool("render_card")
    shown = json.loads((ROOT / "docs" / "cds-hooks-card.json").read_text(encoding="utf-8"))
    assert shown == {"cards": [render_card.example_card()]}, "run: python tools/render_card.py"
    valid_response(shown)


@pytest.mark.parametrize("path", [*sorted((ROOT / "triage" / "cds_hooks").glob("*.py")), ROOT / "triage" / "web" / "cds_hooks.py"],
                         ids=lambda p: p.parent.name + "/" + p.name)
def test_no_forbidden_phrasing_in_cds_hooks_strings(path):
    from support.wording import code_strings, forbidden_in

    hits = [(where, text) for where, text in code_strings(path) if forbidden_in(text)]
    assert not hits


@pytest.mark.parametrize("status", STATUSES)
def test_no_forbidden_phrasing_on_any_card(client, ehr, status):
    from support.wording import forbidden_in

    document = call(client, ehr, hook_request(searchset(response_resource(answers_for(status))))).get_json()
    card = document["cards"][0]
    for text in (card["summary"], _unescaped(card["detail"])):
        assert forbidden_in(text) is None, text


# --- configuration ---------------------------------------------------------------------------------

def test_config_file_with_a_relative_jwks_path(tmp_path):
    (tmp_path / "ehr.json").write_text("{}", encoding="utf-8")
    path = tmp_path / "cds.toml"
    path.write_text(f'[cds_hooks]\nbase_url = "{BASE_URL}/"\n'
                    f'[[cds_hooks.clients]]\nissuer = "{ISSUER}"\njwks = "ehr.json"\n', encoding="utf-8")
    config = load_config(path)
    assert config.base_url == BASE_URL
    assert config.clients[0].jwks == str(tmp_path / "ehr.json")
    assert config.service_url() == SERVICE_URL


@pytest.mark.parametrize("text, words", [
    ('base_url = "http://triage.clinic.example"', "cds_hooks.base_url: base_url must use https"),
    ('base_url = "https://x.example"\nclients = []', "cds_hooks.clients"),
    ('base_url = "https://x.example"\nsecret = 1\n[[cds_hooks.clients]]\nissuer = "a"\njwks = "b"', "cds_hooks.secret"),
])
def test_a_broken_config_names_the_item(tmp_path, text, words):
    path = tmp_path / "cds.toml"
    path.write_text(f"[cds_hooks]\n{text}\n", encoding="utf-8")
    with pytest.raises(DefinitionError, match=words.replace(".", r"\.")):
        load_config(path)


def _tool(name: str):
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, ROOT / "tools" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_fake_ehr_tool_over_real_http(tmp_path):
    """tools/fake_ehr.py (for trying the service by hand) against a real HTTP server on 127.0.0.1:
    a call for each status, discovery, and forged calls refused."""
    import threading

    from werkzeug.serving import make_server

    fake_ehr = _tool("fake_ehr")
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
        "from triage.cli.main import main\n"
        f"code = main(['assess', {str(ROOT / 'examples' / 'red-flag.json')!r}, '--format', 'json'], out=io.StringIO(), err=io.StringIO())\n"
        "loaded = sorted(m for m in ('flask', 'jwt', 'httpx', 'werkzeug', 'cryptography') if m in sys.modules)\n"
        "print(code, loaded)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=SCRATCH, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "0 []"


def test_triage_serve_s_app_carries_the_cds_hooks_routes_only_when_configured(tmp_path, monkeypatch):
    """`triage serve` builds its app with create_app: with TRIAGE_CDS_HOOKS the service answers there
    (and asks for the EHR's JWT), without it the routes do not exist."""
    from triage.web.app import create_app

    (tmp_path / "ehr.json").write_text('{"keys": []}', encoding="utf-8")
    config = tmp_path / "cds.toml"
    config.write_text(f'[cds_hooks]\nbase_url = "{BASE_URL}/"\n'
                      f'[[cds_hooks.clients]]\nissuer = "{ISSUER}"\njwks = "ehr.json"\n', encoding="utf-8")
    monkeypatch.delenv("TRIAGE_CDS_HOOKS", raising=False)
    plain = create_app(store_path=tmp_path / "a.db").test_client()
    assert plain.get("/cds-services").status_code == 404
    monkeypatch.setenv("TRIAGE_CDS_HOOKS", str(config))
    served = create_app(store_path=tmp_path / "b.db").test_client()
    assert served.get("/cds-services").status_code == 401  # the route exists; no JWT, no answer
    assert served.post("/cds-services/fbss-preconsultation-summary", json={}).status_code == 401
